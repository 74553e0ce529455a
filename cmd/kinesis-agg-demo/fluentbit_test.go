package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kinesis-agg/kinesis_agg/conf"
	"github.com/kinesis-agg/kinesis_agg/internal/flbconfig"
)

// pluginView looks keys up in an [OUTPUT] section as the plugin sees them through Fluent Bit,
// which consumes its core keys and hands the plugin NULL for them.
func pluginView(s flbconfig.Section) func(string) string {
	core := []string{"name", "match", "workers", "retry_limit"}
	return func(key string) string {
		if slices.Contains(core, strings.ToLower(key)) {
			return ""
		}
		return s.Get(key)
	}
}

func TestFluentBitMainConfig(t *testing.T) {
	for _, dir := range []string{"/tmp/kinesis-agg-demo-1/fluent-bit", "/tmp/a dir with spaces/fb"} {
		t.Run(dir, func(t *testing.T) {
			c := newFluentBitConfig(dir, "/work/build/out_kinesis_agg.so", pluginProps("http://127.0.0.1:4567"))
			sections, err := flbconfig.Parse(c.mainText(), nil)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, s := range sections {
				names = append(names, s.Name)
			}
			if want := []string{"SERVICE", "INPUT", "OUTPUT"}; !slices.Equal(names, want) {
				t.Fatalf("sections %v, want %v", names, want)
			}
			check := func(s flbconfig.Section, want map[string]string) {
				t.Helper()
				for k, v := range want {
					if got := s.Get(k); got != v {
						t.Errorf("[%s] %s = %q, want %q", s.Name, k, got, v)
					}
				}
			}
			check(sections[0], map[string]string{
				"flush": "1", "grace": "5", "plugins_file": filepath.Join(dir, "plugins.conf"),
				"parsers_file": filepath.Join(dir, "parsers.conf"), "storage.path": filepath.Join(dir, "storage"),
			})
			check(sections[1], map[string]string{
				"name": "tail", "tag": "kube.shop", "path": filepath.Join(dir, "logs", "app.log"),
				"parser": "json", "read_from_head": "On", "storage.type": "filesystem",
			})

			outs := flbconfig.Outputs(sections, "kinesis_agg")
			if len(outs) != 1 {
				t.Fatalf("%d kinesis_agg outputs, want 1", len(outs))
			}
			check(outs[0], map[string]string{"match": "*", "workers": "2", "retry_limit": "no_limits"})
			cfg, err := conf.Parse(pluginView(outs[0]))
			if err != nil {
				t.Fatalf("the plugin rejects the [OUTPUT]: %v", err)
			}
			if cfg.StreamName != "demo" || cfg.Region != "us-east-1" || cfg.Endpoint != "http://127.0.0.1:4567" ||
				!slices.Equal(cfg.PartitionKey, []string{"kubernetes", "pod_name"}) || !cfg.Aggregation ||
				cfg.LogLevel != conf.LogInfo || len(cfg.Warnings) != 0 {
				t.Errorf("parsed config: stream %q region %q endpoint %q partition key %v aggregation %v log level %v warnings %v",
					cfg.StreamName, cfg.Region, cfg.Endpoint, cfg.PartitionKey, cfg.Aggregation, cfg.LogLevel, cfg.Warnings)
			}
		})
	}
}

func TestFluentBitPluginsAndParsers(t *testing.T) {
	c := newFluentBitConfig("/x", "/opt/plugins/out_kinesis_agg.so", nil)
	for _, tc := range []struct {
		text    string
		section string
		want    map[string]string
	}{
		{c.pluginsText(), "PLUGINS", map[string]string{"path": "/opt/plugins/out_kinesis_agg.so"}},
		{parsersText(), "PARSER", map[string]string{"name": "json", "format": "json"}},
	} {
		sections, err := flbconfig.Parse(tc.text, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(sections) != 1 || sections[0].Name != tc.section || len(sections[0].Props) != len(tc.want) {
			t.Fatalf("%q: got %+v, want one [%s] with %d keys", tc.text, sections, tc.section, len(tc.want))
		}
		for k, v := range tc.want {
			if got := sections[0].Get(k); got != v {
				t.Errorf("[%s] %s = %q, want %q", tc.section, k, got, v)
			}
		}
	}
}

func TestFluentBitConfigWrite(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "fluent-bit")
	c := newFluentBitConfig(dir, "/p/out_kinesis_agg.so", pluginProps("http://127.0.0.1:1"))
	if err := c.write(); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{
		c.Main: c.mainText(), c.Plugins: c.pluginsText(), c.Parsers: parsersText(), c.LogFile: "",
	} {
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != want {
			t.Errorf("%s holds %q, want %q", path, got, want)
		}
	}
	if fi, err := os.Stat(c.Storage); err != nil || !fi.IsDir() {
		t.Errorf("storage directory %s: %v", c.Storage, err)
	}
}

func TestAppendLogs(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app.log")
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	slices := [][]byte{[]byte("{\"a\":1}\n"), []byte("{\"a\":2}\n{\"a\":3}\n"), []byte("{\"a\":4}\n")}
	prog := newProgress(len(slices))
	if err := appendLogs(t.Context(), path, slices, 30*time.Millisecond, prog, make(chan struct{})); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(path)
	if want := "{\"a\":1}\n{\"a\":2}\n{\"a\":3}\n{\"a\":4}\n"; string(got) != want {
		t.Errorf("log file %q, want %q", got, want)
	}
	if prog.done != 3 {
		t.Errorf("progress %d, want 3", prog.done)
	}

	exited := make(chan struct{})
	close(exited)
	if err := appendLogs(t.Context(), path, slices, time.Second, newProgress(3), exited); err != errFluentBitExited {
		t.Errorf("fluent-bit gone: error %v, want %v", err, errFluentBitExited)
	}
}

// fakeFluentBit writes a shell script that stands in for fluent-bit: it checks its command line,
// logs the plugin's Init line (with the credentials it was given) and, on SIGTERM, the plugin's
// exit summary.
func fakeFluentBit(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "fluent-bit")
	script := "#!/bin/sh\n" +
		"[ \"$1\" = -c ] && [ -f \"$2\" ] || { echo \"usage: $0 -c FILE\" >&2; exit 3; }\n" + body
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestShipWithFluentBitProcess(t *testing.T) {
	if _, err := os.Stat("/bin/sh"); err != nil {
		t.Skip("no /bin/sh")
	}
	const ready = `echo "[ info] [output:kinesis_agg:kinesis_agg.0] configuration: key=$AWS_ACCESS_KEY_ID" >&2` + "\n"
	for _, tc := range []struct {
		name    string
		body    string
		wantErr string
	}{
		{"stops on SIGTERM", ready +
			`trap 'echo "[ info] [output:kinesis_agg:kinesis_agg.0] stopped: events=3 delivered=3 misroutes=1" >&2; exit 0' TERM` + "\n" +
			"while :; do sleep 0.05; done\n", ""},
		{"fails to start", "echo '[error] [config] bad' >&2; exit 1\n", "fluent-bit exited while starting"},
		{"dies while shipping", ready + "sleep 0.3; exit 0\n", errFluentBitExited.Error()},
		{"no summary", ready + "trap 'exit 0' TERM\nwhile :; do sleep 0.05; done\n", errNoSummary.Error()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			p := &printer{w: &out}
			log := newLogSink(p, false)
			polls := 0
			job := fluentBitJob{
				binary: fakeFluentBit(t, tc.body), dir: filepath.Join(t.TempDir(), "fb"), plugin: "/p/out_kinesis_agg.so",
				props: pluginProps("http://127.0.0.1:1"), records: 3,
				lines:    [][]byte{[]byte("{\"id\":\"id-000000000\"}\n"), []byte("{\"id\":\"id-000000001\"}\n{\"id\":\"id-000000002\"}\n")},
				duration: 200 * time.Millisecond, timeout: 5 * time.Second, env: childEnv(), log: log, p: p,
				delivered: func(context.Context) (int, error) {
					if polls++; polls < 2 {
						return 1, nil
					}
					return 3, nil
				},
			}
			prog := newProgress(1)
			res, err := shipWithFluentBit(t.Context(), job, prog)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q; log:\n%s", err, tc.wantErr, log.tail())
				}
				return
			}
			if err != nil {
				t.Fatalf("%v; log:\n%s", err, log.tail())
			}
			if res.plugin.get("events") != 3 || res.plugin.get("misroutes") != 1 || prog.done != 2 || polls != 2 {
				t.Errorf("summary %v, progress %d, polls %d", res.plugin.counts, prog.done, polls)
			}
			if !strings.Contains(log.tail(), "configuration: key=kinesis-agg-demo") {
				t.Errorf("fluent-bit did not get the demo's credentials:\n%s", log.tail())
			}
			if !strings.Contains(out.String(), "all 3 records readable") {
				t.Errorf("output %q", out.String())
			}
			logged, _ := os.ReadFile(filepath.Join(job.dir, "logs", "app.log"))
			if want := string(job.lines[0]) + string(job.lines[1]); string(logged) != want {
				t.Errorf("tailed file %q, want %q", logged, want)
			}
		})
	}
}
