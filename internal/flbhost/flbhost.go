// Package flbhost builds and drives testhost/flbhost.c, a C program that loads a Go
// output plugin (.so) and calls it exactly as Fluent Bit v5.1.1 does
// (shared/spec/fluent-bit-go-plugin-abi.md). It is test support only: the product
// never imports it.
//
// The host must be C because a c-shared plugin carries its own Go runtime; loading it
// into a Go test binary would put two runtimes in one process. So tests build the
// host and the plugin, run the host as a subprocess with Exec, and read its JSON event
// stream back as a Run.
package flbhost

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
)

// Return codes of FLBPluginFlushCtx (include/fluent-bit/flb_macros.h).
const (
	FlbError = 0
	FlbOK    = 1
	FlbRetry = 2
)

// Reasons reported in Dropped.Reason.
const (
	DropError            = "error"             // the plugin answered FLB_ERROR (or any unknown code)
	DropRetriesExhausted = "retries_exhausted" // FLB_RETRY with --retry-limit used up
	DropShutdown         = "shutdown"          // still queued or retrying at --exit-after-ms
)

// HostSource is the host's C source, relative to the repository root.
const HostSource = "testhost/flbhost.c"

// ChunksDir is the Fluent Bit chunk corpus, relative to the repository root.
const ChunksDir = "testdata/flb-chunks"

// RepoRoot returns the directory holding go.mod, found by walking up from the working
// directory (go test runs in the package directory).
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("flbhost: repo root: %w", err)
	}
	for d := dir; ; {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", fmt.Errorf("flbhost: no go.mod in %s or any parent", dir)
		}
		d = parent
	}
}

// BuildHost compiles the host into dir/flbhost and returns its path. A binary newer
// than the source is reused, so calling it once per test is cheap. zlib (reading .gz
// chunks directly) is linked when available; Features reports whether it was.
func BuildHost(dir string) (string, error) {
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	src := filepath.Join(root, HostSource)
	srcInfo, err := os.Stat(src)
	if err != nil {
		return "", fmt.Errorf("flbhost: host source: %w", err)
	}
	out := filepath.Join(dir, "flbhost")
	if bin, err := os.Stat(out); err == nil && !bin.ModTime().Before(srcInfo.ModTime()) {
		return out, nil
	}
	tmp, err := os.CreateTemp(dir, ".flbhost-*")
	if err != nil {
		return "", fmt.Errorf("flbhost: build host: %w", err)
	}
	tmp.Close()
	defer os.Remove(tmp.Name())

	base := []string{"-std=gnu11", "-O2", "-g", "-Wall", "-Wextra", "-o", tmp.Name(), src}
	withZlib := slices.Concat([]string{"-DFLBHOST_HAVE_ZLIB"}, base, []string{"-ldl", "-lpthread", "-lz"})
	plain := slices.Concat(base, []string{"-ldl", "-lpthread"})
	var firstErr error
	for _, args := range [][]string{withZlib, plain} {
		cmd := exec.Command("gcc", args...)
		if outp, err := cmd.CombinedOutput(); err != nil {
			if firstErr == nil {
				firstErr = fmt.Errorf("flbhost: gcc %s: %w\n%s", src, err, outp)
			}
			continue
		}
		// Rename last so a concurrent caller never runs a half-written binary.
		if err := os.Rename(tmp.Name(), out); err != nil {
			return "", fmt.Errorf("flbhost: build host: %w", err)
		}
		return out, nil
	}
	return "", firstErr
}

// BuildPlugin runs `go build -buildmode=c-shared -o out` on the main package in
// pkgDir, with extra build flags (e.g. "-tags", "x") before the package. The first
// build of the runtime for c-shared is slow (a minute on a cold cache); build once per
// test binary.
func BuildPlugin(pkgDir, out string, buildFlags ...string) error {
	absOut, err := filepath.Abs(out)
	if err != nil {
		return fmt.Errorf("flbhost: plugin output %q: %w", out, err)
	}
	args := append([]string{"build", "-buildmode=c-shared", "-o", absOut}, buildFlags...)
	args = append(args, ".")
	cmd := exec.Command("go", args...)
	cmd.Dir = pkgDir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
	if outp, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("flbhost: go %s in %s: %w\n%s", strings.Join(args, " "), pkgDir, err, outp)
	}
	return nil
}

// ChunkFile returns the absolute path of a file in testdata/flb-chunks. A name ending in
// .gz is gunzipped into tmpDir first and the plain copy's path is returned, so its bytes
// are exactly what Fluent Bit handed the plugin.
func ChunkFile(name, tmpDir string) (string, error) {
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	src := filepath.Join(root, ChunksDir, name)
	if !strings.HasSuffix(name, ".gz") {
		if _, err := os.Stat(src); err != nil {
			return "", fmt.Errorf("flbhost: chunk %q: %w", name, err)
		}
		return src, nil
	}
	return Gunzip(src, tmpDir)
}

// Gunzip decompresses the gzip file src into dir, naming the result after src without
// its .gz suffix, and returns that path.
func Gunzip(src, dir string) (string, error) {
	in, err := os.Open(src)
	if err != nil {
		return "", fmt.Errorf("flbhost: gunzip: %w", err)
	}
	defer in.Close()
	zr, err := gzip.NewReader(in)
	if err != nil {
		return "", fmt.Errorf("flbhost: gunzip %s: %w", src, err)
	}
	dst := filepath.Join(dir, strings.TrimSuffix(filepath.Base(src), ".gz"))
	out, err := os.Create(dst)
	if err != nil {
		return "", fmt.Errorf("flbhost: gunzip: %w", err)
	}
	if _, err := io.Copy(out, zr); err != nil {
		out.Close()
		return "", fmt.Errorf("flbhost: gunzip %s: %w", src, err)
	}
	if err := out.Close(); err != nil {
		return "", fmt.Errorf("flbhost: gunzip %s: %w", src, err)
	}
	return dst, nil
}

// Features is what `flbhost --features` reports about a build.
type Features struct {
	Zlib      bool   `json:"zlib"`       // .gz chunks can be passed directly
	FluentBit string `json:"fluent_bit"` // the Fluent Bit version whose ABI it mimics
}

// HostFeatures asks the host binary at hostPath what it was built with.
func HostFeatures(ctx context.Context, hostPath string) (Features, error) {
	out, err := exec.CommandContext(ctx, hostPath, "--features").Output()
	if err != nil {
		return Features{}, fmt.Errorf("flbhost: %s --features: %w", hostPath, err)
	}
	var f Features
	if err := json.Unmarshal(out, &f); err != nil {
		return Features{}, fmt.Errorf("flbhost: %s --features: %q: %w", hostPath, out, err)
	}
	return f, nil
}

// Event is one line of the host's stdout, kept raw so that tests can check order or
// fields the typed views leave out.
type Event struct {
	Ev  string          `json:"ev"`
	TNS int64           `json:"t_ns"` // nanoseconds since the host started
	Raw json.RawMessage `json:"-"`
}

// Load reports the plugin file and which ABI symbols it exports.
type Load struct {
	Plugin  string          `json:"plugin"`
	Symbols map[string]bool `json:"symbols"` // "FlushCtx", "ExitCtx", "PreRegister", ...
}

// Register is the result of FLBPluginRegister and the def it filled in.
type Register struct {
	RC          int    `json:"rc"`
	Name        string `json:"name"`
	Description string `json:"description"`
	Type        int    `json:"type"`
	Proxy       int    `json:"proxy"`
	Flags       int    `json:"flags"`
	EventType   int    `json:"event_type"`
}

// Init is one FLBPluginInit call.
type Init struct {
	Instance int   `json:"instance"`
	RC       int   `json:"rc"`
	NS       int64 `json:"ns"`      // duration of the call
	Context  bool  `json:"context"` // the plugin set remote_context (FLBPluginSetContext)
	TNS      int64 `json:"t_ns"`
}

// PreRun is one FLBPluginOutputPreRun call.
type PreRun struct {
	Instance int   `json:"instance"`
	RC       int   `json:"rc"`
	TNS      int64 `json:"t_ns"`
}

// Flush is one FlushCtx (or Flush) call.
type Flush struct {
	Instance int    `json:"instance"`
	Chunk    string `json:"chunk"`    // file path as given to the host
	ChunkID  int64  `json:"chunk_id"` // position in the chunk list across --repeat passes
	Repeat   int    `json:"repeat"`   // which --repeat pass
	Tag      string `json:"tag"`
	Size     int    `json:"size"`
	Attempt  int    `json:"attempt"` // 1 = first delivery, 2 = first retry, ...
	RC       int    `json:"rc"`
	NS       int64  `json:"ns"`     // duration of the call
	Thread   int    `json:"thread"` // worker index, 0..threads-1
	TNS      int64  `json:"t_ns"`   // when the call returned
}

// Dropped is a chunk delivery that ended without FLB_OK.
type Dropped struct {
	Instance int    `json:"instance"`
	Chunk    string `json:"chunk"`
	ChunkID  int64  `json:"chunk_id"`
	Tag      string `json:"tag"`
	Attempts int    `json:"attempts"`
	Reason   string `json:"reason"` // DropError, DropRetriesExhausted or DropShutdown
	TNS      int64  `json:"t_ns"`
}

// Exit is the shutdown of one instance: OutputPreExit then ExitCtx (or Exit).
type Exit struct {
	Instance  int    `json:"instance"`
	Called    string `json:"called"` // "ExitCtx", "Exit" or "none"
	RC        int    `json:"rc"`
	NS        int64  `json:"ns"`         // duration of ExitCtx/Exit
	PreExitNS int64  `json:"preexit_ns"` // duration of OutputPreExit
	InFlight  int    `json:"in_flight"`  // flushes running when the shutdown of this instance began
	TNS       int64  `json:"t_ns"`
}

// Summary is the host's last line.
type Summary struct {
	Instances       int    `json:"instances"`
	Chunks          int    `json:"chunks"`           // entries in the chunk list
	Jobs            int64  `json:"jobs"`             // chunks × repeat
	JobsNotStarted  int64  `json:"jobs_not_started"` // never dispatched (shutdown came first)
	Flushes         int64  `json:"flushes"`
	OK              int64  `json:"ok"`
	Retry           int64  `json:"retry"`
	Error           int64  `json:"error"`
	DeliveredChunks int64  `json:"delivered_chunks"` // (chunk, instance) pairs that ended in FLB_OK
	DroppedChunks   int64  `json:"dropped_chunks"`
	BytesOK         uint64 `json:"bytes_ok"`
	WallNS          int64  `json:"wall_ns"`
	FlushPhaseNS    int64  `json:"flush_phase_ns"` // first flush dispatch until the workers ended
	CPUUserNS       int64  `json:"cpu_user_ns"`
	CPUSysNS        int64  `json:"cpu_sys_ns"`
	RSSAfterInitKB  int64  `json:"rss_after_init_kb"` // VmRSS once every Init returned
	MaxRSSKB        int64  `json:"max_rss_kb"`        // VmHWM at exit (not ru_maxrss, which holds the parent's peak after vfork+exec)
}

// Run is everything one host process reported.
type Run struct {
	Events       []Event // every line, in order
	Load         Load
	PreRegister  *int // FLBPluginPreRegister's result; nil when not exported
	Register     Register
	Inits        []Init
	PreRuns      []PreRun
	Flushes      []Flush
	Dropped      []Dropped
	Exits        []Exit
	Unregistered bool
	Summary      Summary
	HasSummary   bool
	ExitCode     int // -1 when killed by a signal
	Stdout       string
	Stderr       string
}

// Exec runs the host with args and parses its output. The Run is returned whenever the
// process started, also together with an error when it exited non-zero (Run.ExitCode
// says how), so tests can check failure paths.
func Exec(ctx context.Context, hostPath string, args ...string) (*Run, error) {
	cmd := exec.CommandContext(ctx, hostPath, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	runErr := cmd.Run()
	if runErr != nil && cmd.ProcessState == nil {
		return nil, fmt.Errorf("flbhost: start %s: %w", hostPath, runErr)
	}
	run, parseErr := parseEvents(stdout.Bytes())
	run.Stdout = stdout.String()
	run.Stderr = stderr.String()
	run.ExitCode = cmd.ProcessState.ExitCode()
	if runErr != nil {
		return run, fmt.Errorf("flbhost: %s %s: %w\nstderr:\n%s", hostPath, strings.Join(args, " "),
			runErr, tail(run.Stderr, 4000))
	}
	if parseErr != nil {
		return run, parseErr
	}
	if !run.HasSummary {
		return run, errors.New("flbhost: host exited 0 without a summary line")
	}
	return run, nil
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n:]
}

// parseEvents decodes the host's stdout. Unknown event kinds stay in Events only. On a
// malformed line it returns what it parsed so far plus an error naming the line.
func parseEvents(out []byte) (*Run, error) {
	run := &Run{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 0, 64*1024), 16<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Bytes()
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var ev Event
		if err := json.Unmarshal(line, &ev); err != nil {
			return run, fmt.Errorf("flbhost: stdout line %d %q: %w", n, truncate(line), err)
		}
		ev.Raw = append(json.RawMessage(nil), line...)
		run.Events = append(run.Events, ev)
		if err := run.add(ev); err != nil {
			return run, fmt.Errorf("flbhost: stdout line %d %q: %w", n, truncate(line), err)
		}
	}
	if err := sc.Err(); err != nil {
		return run, fmt.Errorf("flbhost: reading stdout: %w", err)
	}
	return run, nil
}

func truncate(b []byte) string {
	if len(b) > 200 {
		return string(b[:200]) + "..."
	}
	return string(b)
}

func (r *Run) add(ev Event) error {
	var err error
	switch ev.Ev {
	case "load":
		err = json.Unmarshal(ev.Raw, &r.Load)
	case "preregister":
		var v struct {
			RC int `json:"rc"`
		}
		if err = json.Unmarshal(ev.Raw, &v); err == nil {
			r.PreRegister = &v.RC
		}
	case "register":
		err = json.Unmarshal(ev.Raw, &r.Register)
	case "init":
		err = appendJSON(ev.Raw, &r.Inits)
	case "prerun":
		err = appendJSON(ev.Raw, &r.PreRuns)
	case "flush":
		err = appendJSON(ev.Raw, &r.Flushes)
	case "dropped":
		err = appendJSON(ev.Raw, &r.Dropped)
	case "exit":
		err = appendJSON(ev.Raw, &r.Exits)
	case "unregister":
		r.Unregistered = true
	case "summary":
		err = json.Unmarshal(ev.Raw, &r.Summary)
		r.HasSummary = err == nil
	}
	return err
}

func appendJSON[T any](raw []byte, dst *[]T) error {
	var v T
	if err := json.Unmarshal(raw, &v); err != nil {
		return err
	}
	*dst = append(*dst, v)
	return nil
}

// Kinds returns the ev field of every event, in order.
func (r *Run) Kinds() []string {
	out := make([]string, len(r.Events))
	for i, e := range r.Events {
		out[i] = e.Ev
	}
	return out
}

// FlushesOf returns the deliveries of one chunk (by ChunkID) to one instance, in the
// order they were made.
func (r *Run) FlushesOf(instance int, chunkID int64) []Flush {
	var out []Flush
	for _, f := range r.Flushes {
		if f.Instance == instance && f.ChunkID == chunkID {
			out = append(out, f)
		}
	}
	return out
}
