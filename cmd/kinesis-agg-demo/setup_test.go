package main

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kinesis-agg/kinesis_agg/conf"
)

func TestParseFlags(t *testing.T) {
	def := defaultOptions()
	for _, tc := range []struct {
		args    []string
		want    func(o options) bool
		wantErr string // in stderr
	}{
		{nil, func(o options) bool {
			return o.Records == 100_000 && o.Shards == 4 && o.Duration == 6*time.Second && !o.Keep &&
				!o.Verbose && o.Plugin == "" && o.FluentBit == "" && !o.NoFluentBit && slices.Equal(o.BuildFlags, def.BuildFlags)
		}, ""},
		{[]string{"--records", "20000", "--shards", "2", "--keep", "-v", "--plugin", "x.so", "--no-fluent-bit", "--duration", "3s"},
			func(o options) bool {
				return o.Records == 20000 && o.Shards == 2 && o.Keep && o.Verbose && o.Plugin == "x.so" && o.NoFluentBit &&
					o.Duration == 3*time.Second
			}, ""},
		{[]string{"--fluent-bit", "/usr/bin/fluent-bit"}, func(o options) bool { return o.FluentBit == "/usr/bin/fluent-bit" }, ""},
		{[]string{"--records", "0"}, nil, "--records 0: want 1 to 10000000"},
		{[]string{"--shards", "65"}, nil, "--shards 65: want 1 to 64"},
		{[]string{"--duration", "0s"}, nil, "--duration 0s"},
		{[]string{"--fluent-bit", "fb", "--no-fluent-bit"}, nil, "exclude each other"},
		{[]string{"extra"}, nil, `unexpected argument "extra"`},
		{[]string{"--records", "many"}, nil, `invalid value "many"`},
	} {
		var stderr bytes.Buffer
		o, err := parseFlags(tc.args, &stderr)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(stderr.String(), tc.wantErr) {
				t.Errorf("%q: error %v, stderr %q; want %q", tc.args, err, stderr.String(), tc.wantErr)
			}
			continue
		}
		if err != nil || !tc.want(o) {
			t.Errorf("%q: %+v, %v", tc.args, o, err)
		}
	}
}

func TestMainExitOnBadFlags(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := mainExit([]string{"--records", "-1"}, &stdout, &stderr); code != 2 || stdout.Len() != 0 {
		t.Errorf("exit %d, stdout %q", code, stdout.String())
	}
	stderr.Reset()
	if code := mainExit([]string{"-h"}, &stdout, &stderr); code != 0 || !strings.Contains(stderr.String(), "usage: kinesis-agg-demo") {
		t.Errorf("-h: exit %d, stderr %q", code, stderr.String())
	}
}

func TestChildEnv(t *testing.T) {
	t.Setenv("AWS_PROFILE", "production")
	t.Setenv("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/real")
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIAREAL")
	t.Setenv("AWS_ENDPOINT_URL", "https://kinesis.eu-west-1.amazonaws.com")
	t.Setenv("KINESIS_AGG_DEMO_TEST", "kept")
	env := childEnv()
	got := map[string][]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		got[k] = append(got[k], v)
	}
	for k, want := range map[string]string{
		"AWS_ACCESS_KEY_ID": "kinesis-agg-demo", "AWS_SECRET_ACCESS_KEY": "kinesis-agg-demo", "AWS_REGION": "us-east-1",
		"AWS_EC2_METADATA_DISABLED": "true", "AWS_CONFIG_FILE": os.DevNull, "AWS_SHARED_CREDENTIALS_FILE": os.DevNull,
		"KINESIS_AGG_DEMO_TEST": "kept",
	} {
		if !slices.Equal(got[k], []string{want}) {
			t.Errorf("%s = %q, want exactly %q", k, got[k], want)
		}
	}
	for _, k := range []string{"AWS_PROFILE", "AWS_ROLE_ARN", "AWS_ENDPOINT_URL"} {
		if _, ok := got[k]; ok {
			t.Errorf("%s leaked into the child environment", k)
		}
	}
}

func TestPluginPropsParse(t *testing.T) {
	props := pluginProps("http://127.0.0.1:9")
	cfg, err := conf.Parse(func(key string) string {
		for _, kv := range props {
			if strings.EqualFold(kv[0], key) {
				return kv[1]
			}
		}
		return ""
	})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.StreamName != streamName || cfg.Endpoint != "http://127.0.0.1:9" || !slices.Equal(cfg.PartitionKey, []string{"kubernetes", "pod_name"}) {
		t.Errorf("%+v", cfg)
	}
}

func TestPreparePluginGiven(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "out_kinesis_agg.so")
	flb := filepath.Join(dir, "flb-kinesis.so")
	for _, f := range []string{good, flb} {
		if err := os.WriteFile(f, []byte("ELF"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	announce := func() { t.Error("a given plugin was built") }
	if p, built, err := preparePlugin("/nonexistent", "/nonexistent", good, nil, announce); p != good || built || err != nil {
		t.Errorf("given plugin: %q, %v, %v", p, built, err)
	}
	for given, want := range map[string]string{
		filepath.Join(dir, "missing.so"): "no such file",
		dir:                              "not a regular file",
		flb:                              "as C plugins",
	} {
		if _, _, err := preparePlugin("/nonexistent", "/nonexistent", given, nil, announce); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want %q", given, err, want)
		}
	}
}

func TestFindFluentBit(t *testing.T) {
	dir := t.TempDir()
	fb := filepath.Join(dir, "fluent-bit")
	if err := os.WriteFile(fb, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if p, _, err := findFluentBit(options{NoFluentBit: true}); p != "" || err != nil {
		t.Errorf("--no-fluent-bit: %q, %v", p, err)
	}
	if p, _, err := findFluentBit(options{FluentBit: fb}); p != fb || err != nil {
		t.Errorf("--fluent-bit %s: %q, %v", fb, p, err)
	}
	if _, _, err := findFluentBit(options{FluentBit: filepath.Join(dir, "nope")}); err == nil {
		t.Error("a missing --fluent-bit: no error")
	}
	t.Setenv("PATH", dir)
	if p, why, err := findFluentBit(options{}); p != fb || why != "found on PATH" || err != nil {
		t.Errorf("on PATH: %q, %q, %v", p, why, err)
	}
}

func TestHostArgs(t *testing.T) {
	j := hostJob{host: "h", plugin: "/p.so", props: [][2]string{{"stream", "demo"}, {"partition_key", "$a['b']"}}, duration: 2 * time.Second}
	got := j.args([]string{"/c/0", "/c/1", "/c/2", "/c/3", "/c/4"})
	want := []string{"--plugin", "/p.so", "--prop", "stream=demo", "--prop", "partition_key=$a['b']",
		"--chunk", "/c/0:kube.shop", "--chunk", "/c/1:kube.shop", "--chunk", "/c/2:kube.shop", "--chunk", "/c/3:kube.shop", "--chunk", "/c/4:kube.shop",
		"--threads", "2", "--pace-ms", "666", "--retry-limit", "-1", "--retry-delay-ms", "1000"}
	if !slices.Equal(got, want) {
		t.Errorf("args\n%q\nwant\n%q", got, want)
	}
}

func TestReadHostEvents(t *testing.T) {
	stream := `{"ev":"load","plugin":"/p.so","t_ns":1}
{"ev":"flush","instance":0,"rc":1,"t_ns":2}
{"ev":"flush","instance":0,"rc":2,"t_ns":3}
{"ev":"flush","instance":0,"rc":1,"t_ns":4}
{"ev":"dropped","instance":0,"reason":"error","t_ns":5}
{"ev":"summary","chunks":3,"delivered_chunks":2,"dropped_chunks":1,"t_ns":6}
`
	prog := newProgress(3)
	s, dropped, err := readHostEvents(bufio.NewScanner(strings.NewReader(stream)), prog)
	if err != nil {
		t.Fatal(err)
	}
	if s == nil || s.Chunks != 3 || s.DroppedChunks != 1 || dropped != 1 || prog.done != 2 {
		t.Errorf("summary %+v, dropped %d, progress %d", s, dropped, prog.done)
	}
	if _, _, err := readHostEvents(bufio.NewScanner(strings.NewReader("{\"ev\":\"flush\"}\nnot json\n")), newProgress(1)); err == nil ||
		!strings.Contains(err.Error(), `"not json"`) {
		t.Errorf("bad line: %v", err)
	}
	if s, _, err := readHostEvents(bufio.NewScanner(strings.NewReader("")), newProgress(1)); s != nil || err != nil {
		t.Errorf("no events: %v, %v", s, err)
	}
}
