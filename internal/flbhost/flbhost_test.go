package flbhost

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// e_retry_delivery*.msgpack sha256, from testdata/flb-chunks/README.md.
const retryChunkSHA = "d9c568a9245ba768fe0c83c308144a98618945ba19322a72cae76a9cd970b029"

// fixtureDir holds the host and plugins built once per test binary; TestMain removes it.
var fixtureDir string

type fixtures struct {
	host    string // flbhost binary
	capture string // testplugin built normally (FlushCtx/ExitCtx)
	legacy  string // testplugin built with -tags flbhost_legacy (Flush/Exit only)
	zlib    bool
}

// buildFixtures builds lazily so that tests which need no binaries stay fast.
var buildFixtures = sync.OnceValues(func() (fixtures, error) {
	var f fixtures
	var err error
	if f.host, err = BuildHost(fixtureDir); err != nil {
		return f, err
	}
	feat, err := HostFeatures(context.Background(), f.host)
	if err != nil {
		return f, err
	}
	f.zlib = feat.Zlib
	f.capture = filepath.Join(fixtureDir, "capture.so")
	f.legacy = filepath.Join(fixtureDir, "capture-legacy.so")
	// The second build reuses the first one's cache, so run them one after the other.
	if err := BuildPlugin("testplugin", f.capture); err != nil {
		return f, err
	}
	if err := BuildPlugin("testplugin", f.legacy, "-tags", "flbhost_legacy"); err != nil {
		return f, err
	}
	return f, nil
})

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "flbhost-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fixtureDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func getFixtures(t testing.TB) fixtures {
	t.Helper()
	f, err := buildFixtures()
	if err != nil {
		t.Fatalf("building fixtures: %v", err)
	}
	return f
}

// The capture plugin's file formats (testplugin/main.go).
type delivery struct {
	ID       string `json:"id"`
	Tag      string `json:"tag"`
	SHA256   string `json:"sha256"`
	Size     int    `json:"size"`
	Attempt  int    `json:"attempt"`
	RC       int    `json:"rc"`
	InFlight int64  `json:"in_flight"`
}

type propView struct {
	Value   string `json:"value"`
	Null    bool   `json:"null"`
	Stable  bool   `json:"stable"`
	ViaFLBG string `json:"via_flb"`
}

type initRecord struct {
	ID       string              `json:"id"`
	OIns     string              `json:"o_ins"`
	LogCheck int                 `json:"log_check"`
	Props    map[string]propView `json:"props"`
}

type exitRecord struct {
	ID          string `json:"id"`
	Flushes     int64  `json:"flushes"`
	MaxInFlight int64  `json:"max_in_flight"`
}

func execHost(t *testing.T, args ...string) *Run {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	run, err := Exec(ctx, getFixtures(t).host, args...)
	if err != nil {
		t.Fatalf("Exec: %v", err)
	}
	checkSummary(t, run)
	return run
}

// checkSummary asserts that the summary agrees with the individual events.
func checkSummary(t *testing.T, run *Run) {
	t.Helper()
	s := run.Summary
	var ok, retry, errs int64
	var bytesOK uint64
	for _, f := range run.Flushes {
		switch f.RC {
		case FlbOK:
			ok++
			bytesOK += uint64(f.Size)
		case FlbRetry:
			retry++
		default:
			errs++
		}
	}
	if !run.HasSummary {
		t.Fatal("no summary event")
	}
	if got := run.Kinds()[len(run.Events)-1]; got != "summary" {
		t.Errorf("last event = %q, want summary", got)
	}
	if s.Flushes != int64(len(run.Flushes)) || s.OK != ok || s.Retry != retry || s.Error != errs {
		t.Errorf("summary flushes/ok/retry/error = %d/%d/%d/%d, events say %d/%d/%d/%d",
			s.Flushes, s.OK, s.Retry, s.Error, len(run.Flushes), ok, retry, errs)
	}
	if s.DeliveredChunks != ok || s.BytesOK != bytesOK {
		t.Errorf("summary delivered=%d bytes_ok=%d, events say %d/%d", s.DeliveredChunks, s.BytesOK, ok, bytesOK)
	}
	if s.DroppedChunks != int64(len(run.Dropped)) {
		t.Errorf("summary dropped_chunks = %d, %d dropped events", s.DroppedChunks, len(run.Dropped))
	}
	if s.Instances != len(run.Inits) {
		t.Errorf("summary instances = %d, %d init events", s.Instances, len(run.Inits))
	}
	if s.WallNS <= 0 || s.FlushPhaseNS <= 0 || s.FlushPhaseNS > s.WallNS {
		t.Errorf("wall_ns = %d, flush_phase_ns = %d", s.WallNS, s.FlushPhaseNS)
	}
	if s.CPUUserNS+s.CPUSysNS <= 0 {
		t.Errorf("cpu_user_ns + cpu_sys_ns = %d, want > 0", s.CPUUserNS+s.CPUSysNS)
	}
	if s.RSSAfterInitKB <= 0 || s.MaxRSSKB < s.RSSAfterInitKB {
		t.Errorf("rss_after_init_kb = %d, max_rss_kb = %d", s.RSSAfterInitKB, s.MaxRSSKB)
	}
}

func readDeliveries(t *testing.T, dir string) []delivery {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, "deliveries.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []delivery
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var d delivery
		if err := json.Unmarshal(sc.Bytes(), &d); err != nil {
			t.Fatalf("deliveries.jsonl %q: %v", sc.Text(), err)
		}
		out = append(out, d)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func readJSON[T any](t *testing.T, path string) T {
	t.Helper()
	var v T
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return v
}

func fileSHA(t *testing.T, path string) (string, int) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), len(b)
}

func chunk(t *testing.T, name string) string {
	t.Helper()
	p, err := ChunkFile(name, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func lifecycleLines(stderr string) []string {
	var out []string
	for _, l := range strings.Split(stderr, "\n") {
		if s, ok := strings.CutPrefix(l, "capture-lifecycle: "); ok {
			out = append(out, s)
		}
	}
	return out
}

func TestLifecycleOrder(t *testing.T) {
	f := getFixtures(t)
	out := t.TempDir()
	run := execHost(t, "--plugin", f.capture,
		"--instance", "--prop", "id=A", "--prop", "out_dir="+out,
		"--instance", "--prop", "id=B", "--prop", "out_dir="+out,
		"--chunk", chunk(t, "a_dummy_nested.msgpack")+":kube.prod.web", "--flush-instance", "all")

	wantKinds := []string{"load", "preregister", "register", "init", "init", "prerun", "prerun",
		"flush", "flush", "exit", "exit", "unregister", "summary"}
	if got := run.Kinds(); !slices.Equal(got, wantKinds) {
		t.Errorf("events = %v, want %v", got, wantKinds)
	}
	wantCalls := []string{"PreRegister 0", "Register", "Init A", "Init B", "PreRun 0", "PreRun 0",
		"PreExit 0", "ExitCtx A", "PreExit 0", "ExitCtx B", "Unregister"}
	if got := lifecycleLines(run.Stderr); !slices.Equal(got, wantCalls) {
		t.Errorf("plugin saw calls %v, want %v", got, wantCalls)
	}
	wantSyms := map[string]bool{"PreRegister": true, "Register": true, "Init": true, "OutputPreRun": true,
		"FlushCtx": true, "Flush": false, "OutputPreExit": true, "ExitCtx": true, "Exit": false, "Unregister": true}
	for k, v := range wantSyms {
		if run.Load.Symbols[k] != v {
			t.Errorf("symbol %s exported = %v, want %v", k, run.Load.Symbols[k], v)
		}
	}
	if r := run.Register; r.RC != 0 || r.Name != "capture" || r.Type != 2 || r.Proxy != 11 || r.Flags != 0 {
		t.Errorf("register = %+v", r)
	}
	if run.PreRegister == nil || *run.PreRegister != 0 {
		t.Errorf("preregister rc = %v, want 0", run.PreRegister)
	}
	for i, in := range run.Inits {
		if in.Instance != i || in.RC != FlbOK || !in.Context {
			t.Errorf("init %d = %+v", i, in)
		}
	}
	for i, e := range run.Exits {
		if e.Instance != i || e.Called != "ExitCtx" || e.RC != FlbOK || e.InFlight != 0 {
			t.Errorf("exit %d = %+v", i, e)
		}
	}
	for _, id := range []string{"A", "B"} {
		ex := readJSON[exitRecord](t, filepath.Join(out, "exit-"+id+".json"))
		if ex.Flushes != 1 {
			t.Errorf("instance %s: ExitCtx saw %d flushes, want 1", id, ex.Flushes)
		}
	}
	if !run.Unregistered {
		t.Error("Unregister not called")
	}
}

func TestProperties(t *testing.T) {
	f := getFixtures(t)
	out := t.TempDir()
	t.Setenv("FLBHOST_TEST_REGION", "eu-central-1")
	t.Setenv("FLBHOST_TEST_EMPTY", "")
	run := execHost(t, "--plugin", f.capture,
		"--prop", "id=A", "--prop", "OUT_DIR="+out,
		"--prop", "Region=eu-west-1", "--prop", "REGION=us-east-1", // first match wins
		"--prop", "empty=", "--prop", "spaced= a b ",
		"--prop", "expanded=pre-${FLBHOST_TEST_REGION}-post", "--prop", "unset=${FLBHOST_TEST_UNSET}",
		"--prop", "env_empty=${FLBHOST_TEST_EMPTY}", "--prop", "literal=${NOT_CLOSED",
		"--prop", "Host=h.example", "--prop", "port=443", "--prop", "net.keepalive=on",
		"--prop", "tls=off", "--prop", "Workers=2", "--prop", "match=*",
		"--prop", "log_msg=hello host",
		"--prop", "echo_keys=region,Region,REGION,empty,missing,spaced,out_dir,stream,"+
			"expanded,unset,env_empty,literal,host,port,net.keepalive,tls,workers,match",
		"--instance", "--prop", "Id=B", "--prop", "out_dir="+out,
		"--prop", "region=ap-south-1", "--prop", "stream=s1",
		"--prop", "echo_keys=region,empty,stream",
		"--chunk", chunk(t, "a_dummy_nested.msgpack"))

	a := readJSON[initRecord](t, filepath.Join(out, "init-A.json"))
	b := readJSON[initRecord](t, filepath.Join(out, "init-B.json"))
	tests := []struct {
		inst    initRecord
		key     string
		want    string
		wantNil bool
	}{
		{a, "region", "eu-west-1", false},
		{a, "Region", "eu-west-1", false},
		{a, "REGION", "eu-west-1", false},
		{a, "empty", "", true},
		{a, "missing", "", true},
		{a, "spaced", " a b ", false},
		{a, "out_dir", out, false},
		{a, "stream", "", true}, // B's property is not A's
		{a, "expanded", "pre-eu-central-1-post", false},
		{a, "unset", "", true},
		{a, "env_empty", "", true},
		{a, "literal", "${NOT_CLOSED", false},
		{a, "host", "", true}, // keys Fluent Bit's core consumes
		{a, "port", "", true},
		{a, "net.keepalive", "", true},
		{a, "tls", "", true},
		{a, "workers", "", true},
		{a, "match", "", true},
		{b, "region", "ap-south-1", false},
		{b, "empty", "", true},
		{b, "stream", "s1", false},
	}
	for _, tc := range tests {
		got, ok := tc.inst.Props[tc.key]
		if !ok {
			t.Errorf("%s: key %q not echoed", tc.inst.ID, tc.key)
			continue
		}
		if got.Value != tc.want || got.Null != tc.wantNil || got.ViaFLBG != tc.want || !got.Stable {
			t.Errorf("%s: %q = %+v, want value %q null=%v stable", tc.inst.ID, tc.key, got, tc.want, tc.wantNil)
		}
	}
	if a.OIns == b.OIns {
		t.Errorf("both instances saw o_ins %s", a.OIns)
	}
	if a.LogCheck != 1 {
		t.Errorf("output_log_check = %d, want 1", a.LogCheck)
	}
	if want := "[flbhost log level=3 capture.go:42] capture says: hello host\n"; !strings.Contains(run.Stderr, want) {
		t.Errorf("stderr %q lacks log_print output %q", run.Stderr, want)
	}
	if !strings.Contains(run.Stderr, `property "Host" is consumed by Fluent Bit's core`) {
		t.Errorf("stderr %q lacks the core-key note for Host", run.Stderr)
	}
	// Only instance 0 gets chunks by default.
	if d := readDeliveries(t, out); len(d) != 1 || d[0].ID != "A" || run.Flushes[0].Instance != 0 {
		t.Errorf("deliveries = %+v, flushes = %+v; want one to A (instance 0)", d, run.Flushes)
	}
}

func TestChunksByteIdentical(t *testing.T) {
	f := getFixtures(t)
	root, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(filepath.Join(root, ChunksDir))
	if err != nil {
		t.Fatal(err)
	}
	type want struct {
		name, path, gzPath, tag, sha string
		size                         int
	}
	var chunks []want
	tmp := t.TempDir()
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".msgpack") && !strings.HasSuffix(name, ".msgpack.gz") {
			continue
		}
		p, err := ChunkFile(name, tmp)
		if err != nil {
			t.Fatal(err)
		}
		sha, size := fileSHA(t, p)
		w := want{name: name, path: p, tag: "t." + strings.SplitN(name, ".", 2)[0], sha: sha, size: size}
		if strings.HasSuffix(name, ".gz") {
			w.gzPath = filepath.Join(root, ChunksDir, name)
		}
		if strings.HasPrefix(name, "e_retry_delivery") && sha != retryChunkSHA {
			t.Errorf("%s: sha256 %s, README says %s", name, sha, retryChunkSHA)
		}
		chunks = append(chunks, w)
	}
	if len(chunks) < 10 {
		t.Fatalf("found %d chunks in %s", len(chunks), ChunksDir)
	}
	var big bool
	for _, c := range chunks {
		big = big || c.size == 2909960
	}
	if !big {
		t.Fatal("the 2,909,960-byte b_tail_app_json_1 chunk is missing")
	}

	modes := []struct {
		name  string
		args  []string
		useGz bool
	}{
		{"coroutine-stack", nil, false},
		{"thread-stack-3-workers", []string{"--coro-stack-kb", "0", "--threads", "3"}, false},
		{"gz-direct", nil, true},
	}
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			if m.useGz && !f.zlib {
				t.Skip("host built without zlib")
			}
			out := t.TempDir()
			args := append([]string{"--plugin", f.capture, "--prop", "out_dir=" + out, "--prop", "id=A"}, m.args...)
			for _, c := range chunks {
				p := c.path
				if m.useGz && c.gzPath != "" {
					p = c.gzPath
				}
				args = append(args, "--chunk", p+":"+c.tag)
			}
			run := execHost(t, args...)
			got := readDeliveries(t, out)
			if len(got) != len(chunks) || len(run.Flushes) != len(chunks) {
				t.Fatalf("%d deliveries, %d flush events, want %d", len(got), len(run.Flushes), len(chunks))
			}
			byTag := map[string]delivery{}
			for _, d := range got {
				byTag[d.Tag] = d
			}
			for _, c := range chunks {
				d, ok := byTag[c.tag]
				if !ok {
					t.Errorf("%s: not delivered", c.name)
					continue
				}
				if d.SHA256 != c.sha || d.Size != c.size || d.RC != FlbOK {
					t.Errorf("%s: delivered sha256 %s size %d rc %d, want %s size %d", c.name, d.SHA256, d.Size, d.RC, c.sha, c.size)
				}
			}
			for _, fl := range run.Flushes {
				c := chunks[fl.ChunkID]
				if fl.Size != c.size || fl.Tag != c.tag || fl.Attempt != 1 || fl.RC != FlbOK {
					t.Errorf("flush event %+v, want size %d tag %s", fl, c.size, c.tag)
				}
			}
		})
	}
}

func TestRetry(t *testing.T) {
	f := getFixtures(t)
	tests := []struct {
		name       string
		props      []string
		retryLimit string
		wantRCs    []int
		wantDrop   string
	}{
		{"retry twice then ok", []string{"retry_first=2"}, "3", []int{2, 2, 1}, ""},
		{"default limit 1 exhausted", []string{"retry_first=2"}, "", []int{2, 2}, DropRetriesExhausted},
		{"limit 1 exhausted", []string{"retry_first=5"}, "1", []int{2, 2}, DropRetriesExhausted},
		{"no_retries", []string{"retry_first=1"}, "0", []int{2}, DropRetriesExhausted},
		{"no limit", []string{"retry_first=5"}, "-1", []int{2, 2, 2, 2, 2, 1}, ""},
		{"error is not retried", []string{"flush_rc=0"}, "5", []int{0}, DropError},
		{"unknown code is an error", []string{"flush_rc=7"}, "5", []int{7}, DropError},
		{"retry then error", []string{"retry_first=1", "flush_rc=0"}, "5", []int{2, 0}, DropError},
	}
	src := chunk(t, "e_retry_delivery1.msgpack")
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := t.TempDir()
			args := []string{"--plugin", f.capture, "--prop", "out_dir=" + out, "--retry-delay-ms", "5",
				"--chunk", src + ":retry.web"}
			for _, p := range tc.props {
				args = append(args, "--prop", p)
			}
			if tc.retryLimit != "" {
				args = append(args, "--retry-limit", tc.retryLimit)
			}
			run := execHost(t, args...)
			var rcs []int
			for i, fl := range run.Flushes {
				rcs = append(rcs, fl.RC)
				if fl.Attempt != i+1 {
					t.Errorf("flush %d attempt = %d", i, fl.Attempt)
				}
			}
			if !slices.Equal(rcs, tc.wantRCs) {
				t.Errorf("flush rcs = %v, want %v", rcs, tc.wantRCs)
			}
			del := readDeliveries(t, out)
			if len(del) != len(tc.wantRCs) {
				t.Fatalf("%d deliveries, want %d", len(del), len(tc.wantRCs))
			}
			for i, d := range del {
				if d.SHA256 != retryChunkSHA || d.Attempt != i+1 || d.Tag != "retry.web" {
					t.Errorf("delivery %d = %+v, want sha %s", i, d, retryChunkSHA)
				}
			}
			switch {
			case tc.wantDrop == "" && len(run.Dropped) != 0:
				t.Errorf("dropped = %+v, want none", run.Dropped)
			case tc.wantDrop != "" && (len(run.Dropped) != 1 || run.Dropped[0].Reason != tc.wantDrop ||
				run.Dropped[0].Attempts != len(tc.wantRCs)):
				t.Errorf("dropped = %+v, want one %s after %d attempts", run.Dropped, tc.wantDrop, len(tc.wantRCs))
			}
		})
	}
}

// A chunk waiting for its retry must not hold up the chunks behind it, and the
// re-delivery must wait for --retry-delay-ms.
func TestRetryRequeue(t *testing.T) {
	f := getFixtures(t)
	out := t.TempDir()
	const delay = 80 * time.Millisecond
	run := execHost(t, "--plugin", f.capture, "--prop", "out_dir="+out, "--prop", "retry_first=1",
		"--retry-limit", "2", "--retry-delay-ms", fmt.Sprint(delay.Milliseconds()),
		"--chunk", chunk(t, "a_dummy_nested.msgpack"), "--chunk", chunk(t, "d_dummy_metadata.msgpack"))
	type key struct {
		chunk   int64
		attempt int
	}
	var got []key
	for _, fl := range run.Flushes {
		got = append(got, key{fl.ChunkID, fl.Attempt})
	}
	want := []key{{0, 1}, {1, 1}, {0, 2}, {1, 2}}
	if !slices.Equal(got, want) {
		t.Fatalf("delivery order (chunk, attempt) = %v, want %v", got, want)
	}
	for id := int64(0); id < 2; id++ {
		fl := run.FlushesOf(0, id)
		if gap := time.Duration(fl[1].TNS - fl[0].TNS); gap < delay {
			t.Errorf("chunk %d re-delivered %v after the RETRY, want >= %v", id, gap, delay)
		}
	}
}

func TestWorkerThreads(t *testing.T) {
	f := getFixtures(t)
	out := t.TempDir()
	run := execHost(t, "--plugin", f.capture, "--prop", "id=A", "--prop", "out_dir="+out,
		"--prop", "flush_sleep_ms=150", "--threads", "4", "--repeat", "8",
		"--chunk", chunk(t, "a_dummy_nested.msgpack"))
	if len(run.Flushes) != 8 {
		t.Fatalf("%d flushes, want 8", len(run.Flushes))
	}
	threads := map[int]int{}
	ids := map[int64]bool{}
	for _, fl := range run.Flushes {
		threads[fl.Thread]++
		ids[fl.ChunkID] = true
		if fl.Repeat != int(fl.ChunkID) {
			t.Errorf("flush %+v: repeat != chunk_id with one chunk", fl)
		}
	}
	if len(threads) != 4 || len(ids) != 8 {
		t.Errorf("flushes per thread = %v, distinct chunks = %d; want 4 threads, 8 chunks", threads, len(ids))
	}
	ex := readJSON[exitRecord](t, filepath.Join(out, "exit-A.json"))
	if ex.Flushes != 8 || ex.MaxInFlight < 3 {
		t.Errorf("plugin saw %d flushes, at most %d at once; want 8 and >= 3 concurrent on one ctx", ex.Flushes, ex.MaxInFlight)
	}
	for _, d := range readDeliveries(t, out) {
		if d.ID != "A" {
			t.Errorf("delivery to instance %q, want A", d.ID)
		}
	}
}

func TestRepeatFlushAll(t *testing.T) {
	f := getFixtures(t)
	out := t.TempDir()
	a, b := chunk(t, "a_dummy_nested.msgpack"), chunk(t, "c_forward_groups.msgpack")
	shaA, _ := fileSHA(t, a)
	shaB, _ := fileSHA(t, b)
	run := execHost(t, "--plugin", f.capture,
		"--prop", "id=X", "--prop", "out_dir="+out, "--instance", "--prop", "id=Y", "--prop", "out_dir="+out,
		"--instance", "--prop", "id=Z", "--prop", "out_dir="+out,
		"--flush-instance", "all", "--repeat", "3", "--threads", "2",
		"--chunk", a+":tag.a", "--chunk", b+":tag.b")
	if run.Summary.Jobs != 6 || len(run.Flushes) != 18 {
		t.Fatalf("jobs = %d, flushes = %d; want 6 and 18", run.Summary.Jobs, len(run.Flushes))
	}
	count := map[string]int{}
	for _, d := range readDeliveries(t, out) {
		want := map[string]string{"tag.a": shaA, "tag.b": shaB}[d.Tag]
		if d.SHA256 != want {
			t.Errorf("delivery %+v: sha256 want %s", d, want)
		}
		count[d.ID+" "+d.Tag]++
	}
	for _, id := range []string{"X", "Y", "Z"} {
		for _, tag := range []string{"tag.a", "tag.b"} {
			if count[id+" "+tag] != 3 {
				t.Errorf("instance %s got %s %d times, want 3", id, tag, count[id+" "+tag])
			}
		}
	}
	// --flush-instance 1 sends everything to the second instance only.
	out2 := t.TempDir()
	run = execHost(t, "--plugin", f.capture, "--prop", "id=X", "--prop", "out_dir="+out2,
		"--instance", "--prop", "id=Y", "--prop", "out_dir="+out2, "--flush-instance", "1", "--chunk", a)
	if d := readDeliveries(t, out2); len(d) != 1 || d[0].ID != "Y" || run.Flushes[0].Instance != 1 {
		t.Errorf("deliveries = %+v, flushes = %+v; want one to Y (instance 1)", d, run.Flushes)
	}
}

func TestChunkList(t *testing.T) {
	f := getFixtures(t)
	out := t.TempDir()
	a, d := chunk(t, "a_dummy_nested.msgpack"), chunk(t, "d_dummy_metadata.msgpack")
	list := filepath.Join(t.TempDir(), "chunks.txt")
	content := "# comment\n\n" + a + " kube.prod.web\n  " + d + "\tmeta.dummy\r\n" + a + "\n"
	if err := os.WriteFile(list, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	run := execHost(t, "--plugin", f.capture, "--prop", "out_dir="+out, "--chunk-list", list)
	var got []string
	for _, fl := range run.Flushes {
		got = append(got, fl.Chunk+" "+fl.Tag)
	}
	want := []string{a + " kube.prod.web", d + " meta.dummy", a + " test"}
	if !slices.Equal(got, want) {
		t.Errorf("chunks = %q, want %q", got, want)
	}
}

func TestLegacyPlugin(t *testing.T) {
	f := getFixtures(t)
	out := t.TempDir()
	src := chunk(t, "b_tail_app_json_2.msgpack.gz")
	sha, size := fileSHA(t, src)
	run := execHost(t, "--plugin", f.legacy, "--prop", "id=A", "--prop", "out_dir="+out,
		"--instance", "--prop", "id=B", "--prop", "out_dir="+out, "--flush-instance", "1",
		"--chunk", src+":tail.app")
	if run.Load.Symbols["FlushCtx"] || !run.Load.Symbols["Flush"] || run.Load.Symbols["ExitCtx"] || !run.Load.Symbols["Exit"] {
		t.Errorf("symbols = %v, want Flush and Exit only", run.Load.Symbols)
	}
	if len(run.Exits) != 2 || run.Exits[0].Called != "Exit" || run.Exits[1].Called != "Exit" {
		t.Errorf("exits = %+v, want Exit once per instance", run.Exits)
	}
	del := readDeliveries(t, out)
	// The legacy Flush has no ctx, so the plugin can only use its last instance (B).
	if len(del) != 1 || del[0].SHA256 != sha || del[0].Size != size || del[0].ID != "B" || del[0].Tag != "tail.app" {
		t.Errorf("deliveries = %+v, want one of %d bytes sha256 %s to B", del, size, sha)
	}
	calls := lifecycleLines(run.Stderr)
	want := []string{"PreRegister 0", "Register", "Init A", "Init B", "PreRun 0", "PreRun 0",
		"PreExit 0", "Exit B", "PreExit 0", "Exit B", "Unregister"}
	if !slices.Equal(calls, want) {
		t.Errorf("plugin saw calls %v, want %v", calls, want)
	}
}

func TestInitFailure(t *testing.T) {
	f := getFixtures(t)
	tests := []struct {
		name      string
		instances [][]string
		wantRCs   []int
	}{
		{"only instance fails", [][]string{{"fail_init=1"}}, []int{0}},
		{"second instance fails", [][]string{{"id=A"}, {"id=B", "fail_init=yes"}}, []int{1, 0}},
		{"missing out_dir", [][]string{{"id=A", "out_dir="}}, []int{0}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := t.TempDir()
			args := []string{"--plugin", f.capture, "--chunk", chunk(t, "a_dummy_nested.msgpack")}
			for _, props := range tc.instances {
				args = append(args, "--instance")
				if !slices.ContainsFunc(props, func(p string) bool { return strings.HasPrefix(p, "out_dir=") }) {
					args = append(args, "--prop", "out_dir="+out)
				}
				for _, p := range props {
					args = append(args, "--prop", p)
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			run, err := Exec(ctx, f.host, args...)
			if err == nil || run == nil || run.ExitCode != 2 {
				t.Fatalf("Exec err = %v, exit code = %v; want exit 2", err, run)
			}
			var rcs []int
			for _, in := range run.Inits {
				rcs = append(rcs, in.RC)
			}
			if !slices.Equal(rcs, tc.wantRCs) {
				t.Errorf("init rcs = %v, want %v", rcs, tc.wantRCs)
			}
			if len(run.Flushes) != 0 || len(run.Exits) != 0 || !run.Unregistered || !run.HasSummary {
				t.Errorf("after failed init: %d flushes, %d exits, unregistered=%v, summary=%v; want 0, 0, true, true",
					len(run.Flushes), len(run.Exits), run.Unregistered, run.HasSummary)
			}
		})
	}
}

func TestExitAfter(t *testing.T) {
	f := getFixtures(t)
	a := chunk(t, "a_dummy_nested.msgpack")
	t.Run("flush still running", func(t *testing.T) {
		out := t.TempDir()
		run := execHost(t, "--plugin", f.capture, "--prop", "out_dir="+out, "--prop", "flush_sleep_ms=800",
			"--exit-after-ms", "200", "--repeat", "3", "--chunk", a)
		if len(run.Exits) != 1 || run.Exits[0].InFlight != 1 {
			t.Fatalf("exits = %+v, want one with 1 flush in flight", run.Exits)
		}
		if len(run.Flushes) != 1 || run.Flushes[0].TNS < run.Exits[0].TNS {
			t.Fatalf("flushes = %+v, want the one in flight to end after ExitCtx", run.Flushes)
		}
		// The capture plugin refuses a flush that ends after its ExitCtx.
		if run.Flushes[0].RC != FlbError || run.Summary.JobsNotStarted != 2 {
			t.Errorf("flush rc = %d, jobs_not_started = %d; want 0 and 2", run.Flushes[0].RC, run.Summary.JobsNotStarted)
		}
		if k := run.Kinds(); k[len(k)-2] != "unregister" {
			t.Errorf("events = %v: Unregister must come after the last flush", k)
		}
	})
	t.Run("retries pending", func(t *testing.T) {
		out := t.TempDir()
		run := execHost(t, "--plugin", f.capture, "--prop", "out_dir="+out, "--prop", "retry_first=1",
			"--retry-delay-ms", "5000", "--exit-after-ms", "400", "--chunk", a, "--chunk", chunk(t, "d_dummy_metadata.msgpack"))
		if len(run.Flushes) != 2 || len(run.Dropped) != 2 {
			t.Fatalf("%d flushes, %d dropped; want 2 and 2", len(run.Flushes), len(run.Dropped))
		}
		for _, d := range run.Dropped {
			if d.Reason != DropShutdown || d.Attempts != 1 {
				t.Errorf("dropped %+v, want reason shutdown after 1 attempt", d)
			}
		}
		if run.Summary.WallNS > int64(3*time.Second) {
			t.Errorf("wall = %v: the host waited for the retry instead of shutting down", time.Duration(run.Summary.WallNS))
		}
	})
}

func TestUsageErrors(t *testing.T) {
	f := getFixtures(t)
	a := chunk(t, "a_dummy_nested.msgpack")
	notGz := filepath.Join(t.TempDir(), "x.msgpack.gz")
	if err := os.WriteFile(notGz, []byte("plain"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"no plugin", []string{"--chunk", a}, "--plugin is required"},
		{"prop without =", []string{"--plugin", f.capture, "--prop", "key"}, `--prop "key"`},
		{"prop with empty key", []string{"--plugin", f.capture, "--prop", "=v"}, `--prop "=v"`},
		{"zero threads", []string{"--plugin", f.capture, "--threads", "0"}, `invalid value "0"`},
		{"bad retry limit", []string{"--plugin", f.capture, "--retry-limit", "-2"}, `invalid value "-2"`},
		{"flush instance out of range", []string{"--plugin", f.capture, "--flush-instance", "1"}, "want all or 0..0"},
		{"unknown flag", []string{"--plugin", f.capture, "--bogus"}, `unknown argument "--bogus"`},
		{"tls on", []string{"--plugin", f.capture, "--prop", "TLS=On"}, "does not support TLS"},
		{"missing value", []string{"--plugin"}, "--plugin needs a value"},
		{"missing chunk", []string{"--plugin", f.capture, "--chunk", "/nonexistent/c.msgpack"}, "/nonexistent/c.msgpack"},
		{"missing chunk list", []string{"--plugin", f.capture, "--chunk-list", "/nonexistent/list"}, "/nonexistent/list"},
		{"missing plugin", []string{"--plugin", "/nonexistent/p.so", "--chunk", a}, "dlopen /nonexistent/p.so"},
		{"not a plugin", []string{"--plugin", a, "--chunk", a}, "dlopen"},
	}
	if f.zlib {
		tests = append(tests, struct {
			name    string
			args    []string
			wantErr string
		}{"not gzip", []string{"--plugin", f.capture, "--chunk", notGz}, "not gzip data"})
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			run, err := Exec(context.Background(), f.host, tc.args...)
			if err == nil || run.ExitCode != 1 {
				t.Fatalf("err = %v, exit code %d; want exit 1", err, run.ExitCode)
			}
			if !strings.Contains(run.Stderr, tc.wantErr) {
				t.Errorf("stderr %q does not mention %q", run.Stderr, tc.wantErr)
			}
			if len(run.Inits) != 0 {
				t.Errorf("Init was called: %+v", run.Inits)
			}
		})
	}
}

func TestChunkFile(t *testing.T) {
	tmp := t.TempDir()
	p, err := ChunkFile("a_dummy_nested.msgpack", tmp)
	if err != nil || !filepath.IsAbs(p) {
		t.Fatalf("ChunkFile = %q, %v; want an absolute path", p, err)
	}
	gz, err := ChunkFile("b_tail_app_json_1.msgpack.gz", tmp)
	if err != nil {
		t.Fatal(err)
	}
	if _, size := fileSHA(t, gz); filepath.Dir(gz) != tmp || size != 2909960 {
		t.Errorf("gunzipped to %s (%d bytes), want %s/b_tail_app_json_1.msgpack of 2909960 bytes", gz, size, tmp)
	}
	if _, err := ChunkFile("no_such_chunk.msgpack", tmp); err == nil || !strings.Contains(err.Error(), "no_such_chunk") {
		t.Errorf("missing chunk: err = %v", err)
	}
	if _, err := Gunzip(p, tmp); err == nil || !strings.Contains(err.Error(), p) {
		t.Errorf("Gunzip of a plain file: err = %v, want one naming %s", err, p)
	}
	root, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, HostSource)); err != nil {
		t.Errorf("RepoRoot %s: %v", root, err)
	}
}

func TestParseEvents(t *testing.T) {
	out := `{"ev":"load","t_ns":1,"plugin":"/p.so","symbols":{"FlushCtx":true}}
{"ev":"init","t_ns":2,"instance":0,"rc":1,"ns":5,"context":true}

{"ev":"flush","t_ns":3,"instance":0,"chunk":"c","chunk_id":4,"repeat":0,"tag":"t\n","size":9,"attempt":1,"rc":2,"ns":7,"thread":1}
{"ev":"future_kind","t_ns":4}
{"ev":"summary","t_ns":5,"flushes":1,"retry":1}
`
	run, err := parseEvents([]byte(out))
	if err != nil {
		t.Fatal(err)
	}
	if got := run.Kinds(); !slices.Equal(got, []string{"load", "init", "flush", "future_kind", "summary"}) {
		t.Errorf("kinds = %v", got)
	}
	want := Flush{Chunk: "c", ChunkID: 4, Tag: "t\n", Size: 9, Attempt: 1, RC: 2, NS: 7, Thread: 1, TNS: 3}
	if len(run.Flushes) != 1 || run.Flushes[0] != want {
		t.Errorf("flushes = %+v, want %+v", run.Flushes, want)
	}
	if !run.HasSummary || run.Summary.Retry != 1 || !run.Load.Symbols["FlushCtx"] || !run.Inits[0].Context {
		t.Errorf("run = %+v", run)
	}

	_, err = parseEvents([]byte("{\"ev\":\"load\",\"t_ns\":1}\nnot json\n"))
	if err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("bad line: err = %v, want one naming line 2", err)
	}
	_, err = parseEvents([]byte(`{"ev":"flush","rc":"x"}`))
	if err == nil || !strings.Contains(err.Error(), "line 1") {
		t.Errorf("bad field: err = %v, want one naming line 1", err)
	}
}

func FuzzParseEvents(f *testing.F) {
	f.Add([]byte(`{"ev":"flush","t_ns":3,"instance":0,"chunk":"c","rc":1}` + "\n" + `{"ev":"summary","flushes":1}`))
	f.Add([]byte(`{"ev":"preregister","rc":-1}`))
	f.Add([]byte("{\"ev\":\"exit\"}\n\n{"))
	f.Fuzz(func(t *testing.T, data []byte) {
		run, err := parseEvents(data)
		if run == nil {
			t.Fatal("nil run")
		}
		typed := len(run.Inits) + len(run.PreRuns) + len(run.Flushes) + len(run.Dropped) + len(run.Exits)
		if typed > len(run.Events) {
			t.Fatalf("%d typed events from %d lines", typed, len(run.Events))
		}
		if err != nil {
			return
		}
		lines := 0
		for _, l := range bytes.Split(data, []byte("\n")) {
			if len(bytes.TrimSpace(l)) > 0 {
				lines++
			}
		}
		if len(run.Events) != lines {
			t.Fatalf("%d events from %d non-blank lines", len(run.Events), lines)
		}
	})
}

func TestBuildHostReuse(t *testing.T) {
	f := getFixtures(t)
	before, err := os.Stat(f.host)
	if err != nil {
		t.Fatal(err)
	}
	p, err := BuildHost(filepath.Dir(f.host))
	if err != nil || p != f.host {
		t.Fatalf("BuildHost = %q, %v; want %q", p, err, f.host)
	}
	after, err := os.Stat(p)
	if err != nil || !after.ModTime().Equal(before.ModTime()) {
		t.Errorf("BuildHost rebuilt an up-to-date binary (mtime %v -> %v, err %v)", before.ModTime(), after.ModTime(), err)
	}
	if err := BuildPlugin("no-such-dir", filepath.Join(t.TempDir(), "x.so")); err == nil || !strings.Contains(err.Error(), "no-such-dir") {
		t.Errorf("BuildPlugin of a missing dir: err = %v", err)
	}
}

// TestPeakRSSIsTheHosts: the host reports its own peak RSS, not the peak of the process that
// started it (ru_maxrss carries the parent's across vfork+exec, which os/exec uses).
func TestPeakRSSIsTheHosts(t *testing.T) {
	f := getFixtures(t)
	const parentMiB = 256
	big := make([]byte, parentMiB<<20)
	for i := 0; i < len(big); i += 4096 {
		big[i] = 1 // resident in this process
	}
	run := execHost(t, "--plugin", f.capture, "--prop", "id=X", "--prop", "out_dir="+t.TempDir(),
		"--chunk", chunk(t, "a_dummy_nested.msgpack"))
	if got := run.Summary.MaxRSSKB; got >= parentMiB<<10 {
		t.Errorf("max_rss_kb = %d with a test process of more than %d MiB: the parent's peak, not the host's", got, parentMiB)
	}
	runtime.KeepAlive(big)
}
