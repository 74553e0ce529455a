package deploy

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/kinesis-agg/kinesis_agg/conf"
	"github.com/kinesis-agg/kinesis_agg/internal/flbconfig"
)

// The engine is not available in CI, so check what can be checked: the build stage runs the same
// command as the Makefile, every file the image copies exists, the runtime is the official Fluent
// Bit 5.x image, and our configuration parser accepts the example's [OUTPUT].
func TestDockerfile(t *testing.T) {
	raw, err := os.ReadFile("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	df := string(raw)
	if !regexp.MustCompile(`(?m)^RUN make plugin$`).MatchString(df) {
		t.Error("the build stage must run `make plugin`, the Makefile's own build")
	}
	mk, err := os.ReadFile("../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?m)^plugin: \$\(PLUGIN\)$`).Match(mk) || !strings.Contains(string(mk), "-buildmode=c-shared") {
		t.Error("Makefile has no c-shared `plugin` target")
	}
	if !regexp.MustCompile(`(?m)^ARG FLUENT_BIT_VERSION=5\.\d+\.\d+$`).MatchString(df) ||
		!strings.Contains(df, "FROM fluent/fluent-bit:${FLUENT_BIT_VERSION}") {
		t.Error("runtime stage is not the official Fluent Bit 5.x image")
	}
	if !strings.Contains(df, "FROM golang:${GO_VERSION}-bookworm AS build") {
		t.Error("build stage must be a bookworm Go image (glibc matching the Fluent Bit image)")
	}
	copies := regexp.MustCompile(`(?m)^COPY (deploy/\S+) (\S+)$`).FindAllStringSubmatch(df, -1)
	if len(copies) < 2 {
		t.Fatalf("expected the plugins file and the configuration to be copied, got %v", copies)
	}
	for _, c := range copies {
		if _, err := os.Stat(filepath.Join("..", c[1])); err != nil {
			t.Errorf("Dockerfile copies %s: %v", c[1], err)
		}
	}
	if !strings.Contains(df, "/src/build/out_kinesis_agg.so /fluent-bit/plugins/out_kinesis_agg.so") {
		t.Error("the built plugin is not copied into the image")
	}
	plugins, err := os.ReadFile("docker/plugins.conf")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(plugins), "Path /fluent-bit/plugins/out_kinesis_agg.so") {
		t.Error("plugins.conf does not load the plugin the image installs")
	}
	checkOutputs(t, "docker/fluent-bit.conf", 1)
}

// checkOutputs parses a classic configuration and runs every kinesis_agg [OUTPUT] through
// conf.Parse, with ${VAR}s set to plausible values.
func checkOutputs(t *testing.T, path string, want int) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"AWS_REGION": "eu-west-1", "KINESIS_STREAM": "logs"}
	sections, err := flbconfig.Parse(string(raw), func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	outs := flbconfig.Outputs(sections, "kinesis_agg")
	if len(outs) != want {
		t.Fatalf("%s: %d kinesis_agg outputs, want %d", path, len(outs), want)
	}
	for _, o := range outs {
		cfg, err := conf.Parse(o.Get)
		if err != nil {
			t.Fatalf("%s line %d: %v", path, o.Line, err)
		}
		if len(cfg.Warnings) > 0 {
			t.Errorf("%s: warnings %v", path, cfg.Warnings)
		}
		if w := o.Get("workers"); w == "" || w == "0" {
			t.Errorf("%s: set Workers >= 1 so a slow flush does not stall the pipeline", path)
		}
	}
}
