package bench

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/kinesis-agg/kinesis_agg/internal/fakekinesis"
)

// childFakeEnv makes the test binary serve a fakekinesis instead of running tests, so that the
// in-process flush benchmarks count the plugin's CPU time and allocations alone, as the C host
// does (its endpoint runs in another process too).
const childFakeEnv = "KINESIS_AGG_BENCH_CHILD_FAKE"

// Paths the child serves besides the Kinesis API.
const (
	childStatsPath = "/_bench/stats"
	childResetPath = "/_bench/reset"
)

// serveChildFake runs in the child: it prints the endpoint, serves until stdin closes, exits.
func serveChildFake() {
	fake, err := fakekinesis.New(fakekinesis.Options{Shards: benchShards, StreamName: benchStream})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	mux := http.NewServeMux()
	mux.HandleFunc(childStatsPath, func(w http.ResponseWriter, _ *http.Request) { json.NewEncoder(w).Encode(fake.Stats()) })
	mux.HandleFunc(childResetPath, func(http.ResponseWriter, *http.Request) { fake.ResetStats() })
	mux.Handle("/", fake)
	go (&http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}).Serve(ln)
	fmt.Printf("http://%s\n", ln.Addr())
	io.Copy(io.Discard, os.Stdin) // the parent closes stdin (or dies)
	os.Exit(0)
}

// childFake is a fakekinesis in a child process.
type childFake struct {
	url   string
	cmd   *exec.Cmd
	stdin io.Closer
}

func startChildFake(tb testing.TB) *childFake {
	tb.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childFakeEnv+"=1")
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		tb.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		stdin.Close()
		cmd.Wait()
		tb.Fatalf("child fakekinesis: %v", err)
	}
	c := &childFake{url: strings.TrimSpace(line), cmd: cmd, stdin: stdin}
	tb.Cleanup(func() {
		c.stdin.Close()
		c.cmd.Wait()
	})
	return c
}

// Stats returns the child fake's totals.
func (c *childFake) Stats() fakekinesis.Stats {
	var st fakekinesis.Stats
	resp, err := http.Get(c.url + childStatsPath)
	if err != nil {
		panic(fmt.Sprintf("bench: child fakekinesis stats: %v", err))
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		panic(fmt.Sprintf("bench: child fakekinesis stats: %v", err))
	}
	return st
}

// ResetStats zeroes the child fake's totals.
func (c *childFake) ResetStats() {
	resp, err := http.Post(c.url+childResetPath, "text/plain", nil)
	if err != nil {
		panic(fmt.Sprintf("bench: child fakekinesis reset: %v", err))
	}
	resp.Body.Close()
}
