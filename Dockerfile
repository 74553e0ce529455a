# syntax=docker/dockerfile:1
# Fluent Bit with the kinesis_agg output plugin.
#
#   docker build -t kinesis-agg-fluent-bit .
#   docker run -e AWS_REGION=eu-west-1 -e KINESIS_STREAM=logs -v /var/log/containers:/var/log/containers:ro kinesis-agg-fluent-bit
#
# The build stage runs the same command as `make plugin`. Its Debian release (bookworm, glibc 2.36)
# matches the official Fluent Bit image's, so the cgo .so loads there.
ARG GO_VERSION=1.26
ARG FLUENT_BIT_VERSION=5.1.1

FROM golang:${GO_VERSION}-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN make plugin

FROM fluent/fluent-bit:${FLUENT_BIT_VERSION}
COPY --from=build /src/build/out_kinesis_agg.so /fluent-bit/plugins/out_kinesis_agg.so
COPY deploy/docker/plugins.conf /fluent-bit/etc/plugins.conf
COPY deploy/docker/fluent-bit.conf /fluent-bit/etc/fluent-bit.conf
CMD ["/fluent-bit/bin/fluent-bit", "-c", "/fluent-bit/etc/fluent-bit.conf"]
