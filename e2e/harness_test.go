package e2e

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/kinesis-agg/kinesis_agg/internal/faultproxy"
	"github.com/kinesis-agg/kinesis_agg/internal/flbhost"
	"github.com/kinesis-agg/kinesis_agg/internal/kclreader"
	"github.com/kinesis-agg/kinesis_agg/internal/kinesalite"
	"github.com/kinesis-agg/kinesis_agg/output"
)

var soak = flag.Bool("soak", false, "run the long soak variants")

// Built once per test binary.
var (
	pluginPath string
	hostPath   string
	buildDir   string
)

func TestMain(m *testing.M) {
	flag.Parse()
	code, err := setup(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e setup:", err)
		os.Exit(1)
	}
	os.Exit(code)
}

func setup(m *testing.M) (int, error) {
	// The host (and the plugin in it) inherits these: kinesalite takes any key, and nothing may
	// go looking for instance metadata.
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID": "e2e", "AWS_SECRET_ACCESS_KEY": "e2e", "AWS_SESSION_TOKEN": "",
		"AWS_EC2_METADATA_DISABLED": "true", "AWS_PROFILE": "", "AWS_REGION": "us-east-1",
	} {
		os.Setenv(k, v)
	}
	root, err := flbhost.RepoRoot()
	if err != nil {
		return 0, err
	}
	buildDir, err = os.MkdirTemp("", "kinesis-agg-e2e-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(buildDir)
	pluginPath = filepath.Join(buildDir, "out_kinesis_agg.so")
	if err := flbhost.BuildPlugin(root, pluginPath); err != nil {
		return 0, fmt.Errorf("building the plugin: %w", err)
	}
	if hostPath, err = flbhost.BuildHost(buildDir); err != nil {
		return 0, fmt.Errorf("building the host: %w", err)
	}
	return m.Run(), nil
}

// env is one kinesalite with one stream, optionally behind the fault proxy.
type env struct {
	t        *testing.T
	ctx      context.Context
	server   *kinesalite.Server
	admin    *kinesis.Client // straight to kinesalite
	proxy    *faultproxy.Proxy
	endpoint string // what the plugin talks to
	stream   string
}

func newEnv(t *testing.T, shards int, withProxy bool, po faultproxy.Options) *env {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	t.Cleanup(cancel)
	e := &env{t: t, ctx: ctx, server: kinesalite.StartT(t), stream: "e2e"}
	e.admin = kinesalite.NewClient(e.server.Endpoint)
	if err := kinesalite.CreateStream(ctx, e.admin, e.stream, shards); err != nil {
		t.Fatal(err)
	}
	e.endpoint = e.server.Endpoint
	if withProxy {
		p, err := faultproxy.New(e.server.Endpoint, po)
		if err != nil {
			t.Fatal(err)
		}
		ep, err := p.Start()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { p.Close() })
		e.proxy, e.endpoint = p, ep
	}
	return e
}

// props are the plugin properties every scenario starts from.
func (e *env) props(extra ...string) []string {
	base := []string{
		"region=us-east-1", "stream=" + e.stream, "endpoint=" + e.endpoint,
		"shard_refresh_min_spacing=50ms", "plugin_log_level=info",
	}
	return append(base, extra...)
}

// writeChunks stores chunks as files for the host.
func writeChunks(t *testing.T, chunks [][]byte, tag string) []string {
	t.Helper()
	dir := t.TempDir()
	var args []string
	for i, c := range chunks {
		p := filepath.Join(dir, fmt.Sprintf("chunk-%04d.msgpack", i))
		if err := os.WriteFile(p, c, 0o644); err != nil {
			t.Fatal(err)
		}
		args = append(args, "--chunk", p+":"+tag)
	}
	return args
}

// hostArgs builds a host command line: one instance with props, then the rest.
func hostArgs(props []string, rest ...string) []string {
	args := []string{"--plugin", pluginPath}
	for _, p := range props {
		args = append(args, "--prop", p)
	}
	return append(args, rest...)
}

func runHost(t *testing.T, ctx context.Context, args ...string) *flbhost.Run {
	t.Helper()
	run, err := flbhost.Exec(ctx, hostPath, args...)
	if err != nil && run == nil {
		t.Fatalf("host: %v", err)
	}
	if testing.Verbose() {
		t.Logf("host stderr (tail):\n%s", tail(run.Stderr, 40))
	}
	return run
}

func tail(s string, lines int) string {
	parts := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(parts) > lines {
		parts = parts[len(parts)-lines:]
	}
	return strings.Join(parts, "\n")
}

var kvRe = regexp.MustCompile(`(\w+)=(\d+)`)

// exitSummary parses the plugin's "stopped:" line for instance i.
func exitSummary(t *testing.T, stderr string, instance int) map[string]int {
	t.Helper()
	values, ok := output.ParseSummary(stderr, fmt.Sprintf("kinesis_agg.%d", instance))
	if !ok {
		t.Fatalf("no exit summary for instance %d in stderr:\n%s", instance, tail(stderr, 30))
	}
	out := make(map[string]int, len(values))
	for k, v := range values {
		out[k] = int(v)
	}
	return out
}

var idRe = regexp.MustCompile(`(id-\d{9})`)

// readIDs reads the stream with KCL's rules and counts every id delivered.
func (e *env) readIDs(decode func([]byte) []byte) (map[string]int, *kclreader.Report) {
	e.t.Helper()
	rep, err := kclreader.ReadAll(e.ctx, e.admin, e.stream)
	if err != nil {
		e.t.Fatal(err)
	}
	ids := make(map[string]int, len(rep.Delivered))
	for _, d := range rep.Delivered {
		data := d.Data
		if decode != nil {
			data = decode(data)
		}
		m := idRe.FindSubmatch(data)
		if m == nil {
			e.t.Fatalf("delivered record without an id: %.200q", data)
		}
		ids[string(m[1])]++
	}
	return ids, rep
}

// checkIDs asserts that ids first..first+n-1 all arrived and returns how many arrived twice or more.
func checkIDs(t *testing.T, ids map[string]int, first, n int) (dups int) {
	t.Helper()
	var missing []string
	for i := first; i < first+n; i++ {
		id := fmt.Sprintf("id-%09d", i)
		switch c := ids[id]; {
		case c == 0:
			missing = append(missing, id)
		case c > 1:
			dups += c - 1
		}
	}
	if len(missing) > 0 {
		t.Fatalf("%d of %d ids missing (first: %v)", len(missing), n, missing[:min(5, len(missing))])
	}
	if extra := len(ids) - n; extra != 0 {
		t.Fatalf("%d unexpected ids delivered", extra)
	}
	return dups
}

// reshard splits three shards and merges two, spaced out, while the plugin ships.
func (e *env) reshard(gap time.Duration) (done <-chan error) {
	ch := make(chan error, 1)
	go func() {
		ch <- func() error {
			for i := 0; i < 3; i++ {
				time.Sleep(gap)
				open, err := kinesalite.OpenShards(e.ctx, e.admin, e.stream)
				if err != nil {
					return err
				}
				if err := kinesalite.SplitShardEvenly(e.ctx, e.admin, e.stream, *open[i%len(open)].ShardId); err != nil {
					return fmt.Errorf("split %d: %w", i, err)
				}
			}
			for i := 0; i < 2; i++ {
				time.Sleep(gap)
				a, b, err := e.adjacentPair(i)
				if err != nil {
					return err
				}
				if err := kinesalite.MergeShards(e.ctx, e.admin, e.stream, a, b); err != nil {
					return fmt.Errorf("merge %d: %w", i, err)
				}
			}
			return nil
		}()
	}()
	return ch
}

// adjacentPair returns the ids of two open shards whose ranges touch, picking the k-th such pair.
func (e *env) adjacentPair(k int) (string, string, error) {
	open, err := kinesalite.OpenShards(e.ctx, e.admin, e.stream)
	if err != nil {
		return "", "", err
	}
	type sr struct {
		id         string
		start, end string
	}
	var pairs [][2]string
	for _, a := range open {
		ra, _ := kinesalite.ShardRange(a)
		for _, b := range open {
			rb, _ := kinesalite.ShardRange(b)
			if next, _ := ra.End.Add1(); next == rb.Start {
				pairs = append(pairs, [2]string{*a.ShardId, *b.ShardId})
			}
		}
	}
	if len(pairs) == 0 {
		return "", "", fmt.Errorf("no adjacent open shards among %d", len(open))
	}
	p := pairs[k%len(pairs)]
	return p[0], p[1], nil
}

// startWithin runs f after d in the background; the returned func waits for it.
func startAfter(d time.Duration, f func()) (wait func()) {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		time.Sleep(d)
		f()
	}()
	return wg.Wait
}
