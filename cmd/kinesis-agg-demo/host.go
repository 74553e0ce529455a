package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"github.com/kinesis-agg/kinesis_agg/internal/flbhost"
)

// shipResult is what a shipper reports once it has stopped.
type shipResult struct {
	plugin pluginSummary
	// droppedChunks are chunks the shipper gave up on (host: error or retries exhausted).
	droppedChunks int64
}

// hostJob is one run of the C test host.
type hostJob struct {
	host, plugin string
	props        [][2]string
	dir          string // where the chunk files go
	chunks       [][]byte
	duration     time.Duration
	env          []string
	log          *logSink
}

// hostRetryDelay is the host's wait before re-delivering a chunk the plugin answered FLB_RETRY.
const hostRetryDelay = time.Second

// args is the host's command line: one instance with the demo's properties, Workers-like
// threads, unlimited retries (as Retry_Limit no_limits) and a pace that spreads the chunks over
// the wanted duration.
func (j hostJob) args(chunkFiles []string) []string {
	args := []string{"--plugin", j.plugin}
	for _, kv := range j.props {
		args = append(args, "--prop", kv[0]+"="+kv[1])
	}
	for _, f := range chunkFiles {
		args = append(args, "--chunk", f+":"+recordTag)
	}
	perThread := max((len(chunkFiles)+workers-1)/workers, 1)
	pace := j.duration / time.Duration(perThread)
	return append(args,
		"--threads", strconv.Itoa(workers),
		"--pace-ms", strconv.FormatInt(pace.Milliseconds(), 10),
		"--retry-limit", "-1",
		"--retry-delay-ms", strconv.FormatInt(hostRetryDelay.Milliseconds(), 10),
	)
}

// shipWithHost writes the chunks to files and has the host flush them through the plugin,
// counting each chunk the plugin accepted as progress.
func shipWithHost(ctx context.Context, j hostJob, prog *progress) (*shipResult, error) {
	if err := os.MkdirAll(j.dir, 0o755); err != nil {
		return nil, fmt.Errorf("chunk directory: %w", err)
	}
	files := make([]string, len(j.chunks))
	for i, c := range j.chunks {
		files[i] = filepath.Join(j.dir, fmt.Sprintf("chunk-%04d.msgpack", i))
		if err := os.WriteFile(files[i], c, 0o644); err != nil {
			return nil, fmt.Errorf("writing chunk: %w", err)
		}
	}
	prog.setTotal(len(files))

	cmd := exec.CommandContext(ctx, j.host, j.args(files)...)
	cmd.Env = j.env
	cmd.Stderr = j.log
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("host stdout: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting the host %s: %w", j.host, err)
	}
	summary, dropped, readErr := readHostEvents(bufio.NewScanner(stdout), prog)
	_, _ = io.Copy(io.Discard, stdout) // after a bad line, so that the host never blocks writing
	waitErr := cmd.Wait()
	j.log.close()
	switch {
	case ctx.Err() != nil:
		return nil, ctx.Err()
	case waitErr != nil:
		return nil, fmt.Errorf("the host failed: %w", waitErr)
	case readErr != nil:
		return nil, readErr
	case summary == nil:
		return nil, fmt.Errorf("the host exited without its summary line")
	}
	res := &shipResult{plugin: j.log.pluginTotals(), droppedChunks: max(summary.DroppedChunks, dropped)}
	if len(res.plugin.instances) == 0 {
		return nil, errNoSummary
	}
	return res, nil
}

// hostEvent is the part of a host event line the demo reads.
type hostEvent struct {
	Ev string `json:"ev"`
	RC int    `json:"rc"`
}

// readHostEvents follows the host's JSON event stream (see flbhost): each flush the plugin
// accepted advances prog; dropped chunks are counted; the summary ends the run.
func readHostEvents(sc *bufio.Scanner, prog *progress) (*flbhost.Summary, int64, error) {
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	var (
		summary *flbhost.Summary
		dropped int64
	)
	for sc.Scan() {
		line := sc.Bytes()
		var ev hostEvent
		if err := json.Unmarshal(line, &ev); err != nil {
			return nil, 0, fmt.Errorf("host event %.200q: %w", line, err)
		}
		switch ev.Ev {
		case "flush":
			if ev.RC == flbhost.FlbOK {
				prog.add(1)
			}
		case "dropped":
			dropped++
		case "summary":
			var s flbhost.Summary
			if err := json.Unmarshal(line, &s); err != nil {
				return nil, 0, fmt.Errorf("host summary %.200q: %w", line, err)
			}
			summary = &s
		}
	}
	if err := sc.Err(); err != nil {
		return nil, 0, fmt.Errorf("reading host events: %w", err)
	}
	return summary, dropped, nil
}
