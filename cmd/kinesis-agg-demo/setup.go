package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/kinesis-agg/kinesis_agg/internal/flbhost"
)

// pluginFile is the plugin's file name, as the Makefile builds it. It must not start with
// "flb-": Fluent Bit would load it as a C plugin.
const pluginFile = "out_kinesis_agg.so"

// packagedFluentBit is where Fluent Bit's official packages install the binary, off PATH.
const packagedFluentBit = "/opt/fluent-bit/bin/fluent-bit"

// repoRoot returns the kinesis_agg repository enclosing the working directory.
func repoRoot() (string, error) {
	root, err := flbhost.RepoRoot()
	if err != nil {
		return "", fmt.Errorf("run the demo inside the kinesis_agg repository (make demo): %w", err)
	}
	for _, f := range []string{"out_kinesis_agg.go", flbhost.HostSource} {
		if _, err := os.Stat(filepath.Join(root, f)); err != nil {
			return "", fmt.Errorf("run the demo inside the kinesis_agg repository (make demo): %s has no %s", root, f)
		}
	}
	return root, nil
}

// preparePlugin returns the plugin to load: given, when set, else a fresh build in buildDir.
// built says whether it was built; announce is called before a build starts.
func preparePlugin(root, buildDir, given string, flags []string, announce func()) (path string, built bool, err error) {
	if given != "" {
		abs, err := filepath.Abs(given)
		if err != nil {
			return "", false, fmt.Errorf("--plugin %q: %w", given, err)
		}
		fi, err := os.Stat(abs)
		if err != nil {
			return "", false, fmt.Errorf("--plugin %q: %w", given, err)
		}
		if !fi.Mode().IsRegular() {
			return "", false, fmt.Errorf("--plugin %q: not a regular file", given)
		}
		if strings.HasPrefix(filepath.Base(abs), "flb-") {
			return "", false, fmt.Errorf("--plugin %q: Fluent Bit loads files named flb-* as C plugins; rename it", given)
		}
		return abs, false, nil
	}
	if err := os.MkdirAll(buildDir, 0o755); err != nil {
		return "", false, fmt.Errorf("build directory: %w", err)
	}
	out := filepath.Join(buildDir, pluginFile)
	announce()
	if err := flbhost.BuildPlugin(root, out, flags...); err != nil {
		return "", false, err
	}
	return out, true, nil
}

// buildHost compiles the C test host into buildDir (reusing an up-to-date binary).
func buildHost(buildDir string) (string, error) {
	if err := os.MkdirAll(buildDir, 0o755); err != nil {
		return "", fmt.Errorf("build directory: %w", err)
	}
	return flbhost.BuildHost(buildDir)
}

// findFluentBit picks the fluent-bit binary to ship through, or "" for the C host, and says why.
func findFluentBit(o options) (path, why string, err error) {
	switch {
	case o.NoFluentBit:
		return "", "--no-fluent-bit given", nil
	case o.FluentBit != "":
		p, err := exec.LookPath(o.FluentBit)
		if err != nil {
			return "", "", fmt.Errorf("--fluent-bit %q: %w", o.FluentBit, err)
		}
		abs, err := filepath.Abs(p)
		if err != nil {
			return "", "", fmt.Errorf("--fluent-bit %q: %w", o.FluentBit, err)
		}
		return abs, "--fluent-bit given", nil
	}
	if p, err := exec.LookPath("fluent-bit"); err == nil {
		if abs, err := filepath.Abs(p); err == nil {
			return abs, "found on PATH", nil
		}
	}
	if fi, err := os.Stat(packagedFluentBit); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
		return packagedFluentBit, "installed by the Fluent Bit package", nil
	}
	return "", "no fluent-bit on PATH", nil
}

// childEnv is the environment of the processes the demo starts: the user's, without any AWS_*
// variable (no real profile, role, credentials or endpoint can leak in), plus dummy credentials
// that kinesalite accepts and nothing that would look for instance metadata or ~/.aws.
func childEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") {
			env = append(env, kv)
		}
	}
	return append(env,
		"AWS_ACCESS_KEY_ID=kinesis-agg-demo",
		"AWS_SECRET_ACCESS_KEY=kinesis-agg-demo",
		"AWS_REGION="+region,
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_CONFIG_FILE="+os.DevNull,
		"AWS_SHARED_CREDENTIALS_FILE="+os.DevNull,
	)
}

// pluginProps are the kinesis_agg properties of the demo's [OUTPUT], in file order. Everything
// else keeps its production default.
func pluginProps(endpoint string) [][2]string {
	return [][2]string{
		{"region", region},
		{"stream", streamName},
		{"endpoint", endpoint},
		{"partition_key", partitionKey},
		{"plugin_log_level", "info"},
	}
}

// errNoSummary is returned when the plugin never logged its exit summary.
var errNoSummary = errors.New("the plugin logged no exit summary (stopped: ...)")
