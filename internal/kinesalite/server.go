// Package kinesalite runs kinesalite, the in-memory Kinesis emulator pinned in testenv/, as a child
// process on a loopback port, and offers the stream administration helpers that tests and demo
// programs need (create, split, merge, list) over the AWS SDK.
//
// The core API takes no *testing.T so that non-test programs can use it; StartT wraps it for tests.
//
// Known kinesalite 3.3.3 gaps, which callers must work around (the faultproxy package fills most):
// ListShards ignores MaxResults and ShardFilter and never returns a NextToken (a request carrying
// only a NextToken crashes the process), every request naming a stream by StreamARN is rejected,
// UpdateShardCount and UpdateMaxRecordSize do not exist, PutRecords never fails an entry or
// throttles, DescribeStreamSummary has no MaxRecordSizeInKiB, GetShardIterator AT_TIMESTAMP never
// answers when the shard holds no record at or after the timestamp, and GetRecords returns no
// ExplicitHashKey (neither does real Kinesis).
package kinesalite

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Options configure Start. The zero value is ready to use.
type Options struct {
	// TestEnv is the directory holding node_modules/kinesalite. "" finds the repository root by
	// walking up from the working directory to go.mod and uses its testenv/ directory.
	TestEnv string
	// Node is the node executable. "" looks up "node" in PATH.
	Node string
	// CreateStreamDelay, DeleteStreamDelay and UpdateStreamDelay are how long a stream stays in
	// CREATING, DELETING and UPDATING (split, merge). 0 means 20 ms; kinesalite's own default,
	// 500 ms, would make resharding tests slow.
	CreateStreamDelay time.Duration
	DeleteStreamDelay time.Duration
	UpdateStreamDelay time.Duration
	// ShardLimit is the account-wide shard limit (closed shards count too). 0 means 100000.
	ShardLimit int
	// StartTimeout bounds the wait for the server to answer. 0 means 20 s.
	StartTimeout time.Duration
	// Log, when set, also receives everything the process writes to stdout and stderr.
	Log io.Writer
}

// DefaultStreamDelay is the CREATING/DELETING/UPDATING duration used when Options leave it 0.
const DefaultStreamDelay = 20 * time.Millisecond

// maxOutput bounds the diagnostic output kept in memory.
const maxOutput = 64 << 10

// ErrNotInstalled is returned (wrapped) by Start when kinesalite is not installed in testenv/.
var ErrNotInstalled = errors.New("kinesalite is not installed: run `npm ci --prefix testenv` in the repository root")

// launcher starts kinesalite from its module directory on 127.0.0.1 with a kernel-chosen port,
// so that there is no window between picking a free port and binding it, and nothing listens on
// a non-loopback address. It exits when its stdin closes, which happens when the parent dies.
const launcher = `'use strict'
const [mod, createMs, deleteMs, updateMs, shardLimit] = process.argv.slice(1)
const server = require(mod)({
  createStreamMs: Number(createMs), deleteStreamMs: Number(deleteMs),
  updateStreamMs: Number(updateMs), shardLimit: Number(shardLimit),
})
server.on('error', (err) => { console.error('kinesalite: ' + (err.stack || err)); process.exit(3) })
server.listen(0, '127.0.0.1', () => {
  console.log('kinesalite listening on port ' + server.address().port)
})
process.stdin.on('end', () => process.exit(0))
process.stdin.on('error', () => process.exit(0))
process.stdin.resume()
`

// Server is a running kinesalite process.
type Server struct {
	// Endpoint is the base URL, http://127.0.0.1:PORT.
	Endpoint string
	// Port is the TCP port it listens on.
	Port int

	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *ringBuffer
	done  chan struct{} // closed when the process has exited
	// waitErr is the process's exit status; valid after done is closed.
	waitErr error

	mu      sync.Mutex
	stopped bool
	stopErr error
}

// Start launches kinesalite and returns once it answers requests. The process is killed if ctx is
// cancelled before that; after Start returns, ctx no longer matters and Stop ends the process.
func Start(ctx context.Context, o Options) (*Server, error) {
	o = o.withDefaults()
	dir, err := resolveTestEnv(o.TestEnv)
	if err != nil {
		return nil, err
	}
	mod := filepath.Join(dir, "node_modules", "kinesalite")
	if _, err := os.Stat(filepath.Join(mod, "index.js")); err != nil {
		return nil, fmt.Errorf("kinesalite: %s: %w", mod, ErrNotInstalled)
	}
	node := o.Node
	if node == "" {
		if node, err = exec.LookPath("node"); err != nil {
			return nil, fmt.Errorf("kinesalite: node executable not found in PATH: %w", err)
		}
	}

	s := &Server{out: &ringBuffer{max: maxOutput}, done: make(chan struct{})}
	ms := func(d time.Duration) string { return strconv.FormatInt(d.Milliseconds(), 10) }
	s.cmd = exec.Command(node, "-e", launcher, mod,
		ms(o.CreateStreamDelay), ms(o.DeleteStreamDelay), ms(o.UpdateStreamDelay), strconv.Itoa(o.ShardLimit))
	s.cmd.Dir = dir
	s.cmd.Env = append(os.Environ(), "AWS_REGION=us-east-1")
	var sink io.Writer = s.out
	if o.Log != nil {
		sink = io.MultiWriter(s.out, o.Log)
	}
	portc := make(chan int, 1)
	s.cmd.Stderr = sink
	// A Writer rather than StdoutPipe: Wait then returns only after all output has been copied.
	s.cmd.Stdout = &portWatcher{sink: sink, portc: portc}
	if s.stdin, err = s.cmd.StdinPipe(); err != nil {
		return nil, fmt.Errorf("kinesalite: stdin pipe: %w", err)
	}
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("kinesalite: starting %s: %w", node, err)
	}

	go func() {
		s.waitErr = s.cmd.Wait()
		close(s.done)
	}()

	fail := func(err error) (*Server, error) {
		_ = s.Stop()
		return nil, fmt.Errorf("kinesalite: %w; output:\n%s", err, s.Output())
	}
	timer := time.NewTimer(o.StartTimeout)
	defer timer.Stop()
	select {
	case s.Port = <-portc:
	case <-s.done:
		return fail(fmt.Errorf("exited before listening: %v", s.waitErr))
	case <-timer.C:
		return fail(fmt.Errorf("no listening line within %v", o.StartTimeout))
	case <-ctx.Done():
		return fail(ctx.Err())
	}
	s.Endpoint = "http://127.0.0.1:" + strconv.Itoa(s.Port)
	if err := s.waitReady(ctx, timer.C); err != nil {
		return fail(err)
	}
	return s, nil
}

func (o Options) withDefaults() Options {
	for _, d := range []*time.Duration{&o.CreateStreamDelay, &o.DeleteStreamDelay, &o.UpdateStreamDelay} {
		if *d <= 0 {
			*d = DefaultStreamDelay
		}
	}
	if o.ShardLimit <= 0 {
		o.ShardLimit = 100000
	}
	if o.StartTimeout <= 0 {
		o.StartTimeout = 20 * time.Second
	}
	return o
}

// portWatcher passes the process's stdout on to sink and reports the port announced by the
// launcher's first line.
type portWatcher struct {
	sink  io.Writer
	portc chan<- int
	line  []byte // the start of the current line, until the port is found
	found bool
}

func (w *portWatcher) Write(p []byte) (int, error) {
	const prefix = "kinesalite listening on port "
	if !w.found {
		w.line = append(w.line, p...)
		for {
			i := bytes.IndexByte(w.line, '\n')
			if i < 0 {
				break
			}
			line := strings.TrimSpace(string(w.line[:i]))
			w.line = w.line[i+1:]
			if port, err := strconv.Atoi(strings.TrimPrefix(line, prefix)); err == nil &&
				strings.HasPrefix(line, prefix) && port > 0 {
				w.found, w.line = true, nil
				w.portc <- port
				break
			}
		}
		if len(w.line) > 4096 {
			w.line = w.line[len(w.line)-4096:]
		}
	}
	return w.sink.Write(p)
}

// waitReady polls ListStreams until the server answers it with 200.
func (s *Server) waitReady(ctx context.Context, deadline <-chan time.Time) error {
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		err := ping(ctx, client, s.Endpoint)
		if err == nil {
			return nil
		}
		select {
		case <-s.done:
			return fmt.Errorf("exited while starting: %v", s.waitErr)
		case <-deadline:
			return fmt.Errorf("not answering at %s: %w", s.Endpoint, err)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func ping(ctx context.Context, client *http.Client, endpoint string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint+"/", strings.NewReader("{}"))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", "Kinesis_20131202.ListStreams")
	req.Header.Set("X-Amz-Date", time.Now().UTC().Format("20060102T150405Z"))
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKID/20200101/us-east-1/kinesis/aws4_request, SignedHeaders=host;x-amz-date, Signature=00")
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("ListStreams answered %d: %s", resp.StatusCode, bytes.TrimSpace(body))
	}
	return nil
}

// Stop kills the process and waits for it to exit. It is idempotent. It returns an error if the
// process had already exited on its own (kinesalite crashes on some requests), with its output.
func (s *Server) Stop() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return s.stopErr
	}
	s.stopped = true
	select {
	case <-s.done:
		s.stopErr = fmt.Errorf("kinesalite: process exited before Stop: %v; output:\n%s", s.waitErr, s.Output())
	default:
		_ = s.stdin.Close()
		_ = s.cmd.Process.Kill()
		<-s.done
	}
	return s.stopErr
}

// Done is closed when the process has exited, whether through Stop or on its own.
func (s *Server) Done() <-chan struct{} { return s.done }

// Output returns the last 64 KiB the process wrote to stdout and stderr.
func (s *Server) Output() string { return s.out.String() }

// resolveTestEnv returns dir, or the testenv directory of the repository enclosing the working
// directory.
func resolveTestEnv(dir string) (string, error) {
	if dir != "" {
		return filepath.Abs(dir)
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("kinesalite: working directory: %w", err)
	}
	root, err := RepoRoot(wd)
	if err != nil {
		return "", err
	}
	return filepath.Join(root, "testenv"), nil
}

// RepoRoot returns the nearest directory at or above dir that holds a go.mod.
func RepoRoot(dir string) (string, error) {
	for d := dir; ; {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", fmt.Errorf("kinesalite: no go.mod at or above %s; set Options.TestEnv", dir)
		}
		d = parent
	}
}

// ringBuffer keeps the last max bytes written to it.
type ringBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (r *ringBuffer) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.buf = append(r.buf, p...)
	if over := len(r.buf) - r.max; over > 0 {
		r.buf = append(r.buf[:0], r.buf[over:]...)
	}
	return len(p), nil
}

func (r *ringBuffer) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return string(r.buf)
}
