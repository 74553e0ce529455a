# kinesis_agg: a zero-loss, shard-aware KPL-aggregating Kinesis output for Fluent Bit.
#
#   make          build the plugin (build/out_kinesis_agg.so) and the audit command
#   make test     install what the tests need (Go modules, kinesalite from npm), then run every test
#   make demo     local Kinesis (kinesalite) + the plugin + resharding midway + a KCL-exact report
#   make bench    benchmarks (Go stages and the whole .so driven by the C host)
#   make lint     gofmt and go vet
#   make docker   build the container image (needs a Docker engine)

GO       ?= go
NPM      ?= npm
BUILD    := build
PLUGIN   := $(BUILD)/out_kinesis_agg.so
IMAGE    ?= kinesis-agg-fluent-bit:latest
GOFLAGS_BUILD := -trimpath -buildvcs=false

.PHONY: all plugin audit deps test test-unit test-race lint demo bench docker clean

all: plugin audit

plugin: $(PLUGIN)

# The plugin: a cgo c-shared object. Fluent Bit treats basenames starting with "flb-" as C plugins,
# so the name must not start with that.
$(PLUGIN): go.mod go.sum $(shell find . -name '*.go' -not -path './testenv/*' -not -name '*_test.go')
	@mkdir -p $(BUILD)
	CGO_ENABLED=1 $(GO) build $(GOFLAGS_BUILD) -buildmode=c-shared -o $@ .

# The audit command: reads a stream with KCL's rules and reports what consumers lose.
audit:
	@mkdir -p $(BUILD)
	$(GO) build $(GOFLAGS_BUILD) -o $(BUILD)/kinesis-agg-audit ./cmd/kinesis-agg-audit

deps:
	$(GO) mod download
	$(NPM) ci --prefix testenv --no-audit --no-fund

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './testenv/*')); \
	  if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

# Every test: unit tests with the race detector, the integration and end-to-end tests that
# start kinesalite and drive the built .so through the C host; then the allocation counts.
test: deps lint
	$(GO) test -race -count=1 -timeout 20m ./...
	$(GO) test -count=1 -timeout 10m -run '$(ALLOC_TESTS)' $(ALLOC_PKGS)

# The allocation tests skip their counts under the race detector (it allocates for itself, and
# sync.Pool drops a quarter of what it is given there), so they run again without it.
ALLOC_PKGS = ./aggregation ./events ./kinesisapi ./strftime ./internal/md5x ./internal/fastbase64 ./internal/h1
ALLOC_TESTS = Alloc|TestArena|TestAppendEncode

# DEMOFLAGS passes flags, e.g. make demo DEMOFLAGS="--records 500000 -v".
demo: deps plugin
	$(GO) run ./cmd/kinesis-agg-demo --plugin $(PLUGIN) $(DEMOFLAGS)

# Go benchmarks of every package, then the tables the README's performance section shows: each
# stage, the floor (work no implementation can skip), the whole flush in-process, and the built .so
# driven by the C host against a fast local fake Kinesis endpoint.
bench: deps
	$(GO) test -run '^$$' -bench . -benchmem -count 1 ./...
	@mkdir -p $(BUILD) && rm -f $(BUILD)/bench.md
	$(GO) test ./bench -count=1 -timeout 30m -run 'TestBenchTable|TestPluginBenchmark' -v \
		-bench-table -plugin-bench -bench-out=$(CURDIR)/$(BUILD)/bench.md
	@echo "tables written to $(BUILD)/bench.md"

docker:
	docker build -t $(IMAGE) .

clean:
	rm -rf $(BUILD)
