package main

import (
	"fmt"
	"github.com/kinesis-agg/kinesis_agg/output"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// printer serialises the demo's output lines, which come from several goroutines.
type printer struct {
	mu sync.Mutex
	w  io.Writer
}

func (p *printer) printf(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, format, args...)
}

// step prints numbered progress line n.
func (p *printer) step(n int, format string, args ...any) {
	p.printf("[%d/%d] %s\n", n, stepCount, fmt.Sprintf(format, args...))
}

// Markers in the plugin's log (output/log.go, output/instance.go).
const (
	instancePrefix = "[output:kinesis_agg:"
	stoppedMarker  = output.SummaryMarker
	initMarker     = "] configuration: "
)

// tailLines is how many log lines are kept for error messages.
const tailLines = 30

// logSink receives the stderr (and for fluent-bit the stdout) of the shipper: it echoes lines
// when verbose, keeps the last few for error messages, adds up the plugin's exit summaries and
// notices when the plugin has initialised.
type logSink struct {
	p    *printer
	echo bool

	mu          sync.Mutex
	partial     []byte
	last        []string
	summary     pluginSummary
	initialised chan struct{}
	initSeen    bool
}

func newLogSink(p *printer, echo bool) *logSink {
	return &logSink{p: p, echo: echo, initialised: make(chan struct{})}
}

// Write takes process output in arbitrary pieces.
func (s *logSink) Write(b []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.partial = append(s.partial, b...)
	for {
		i := slices.Index(s.partial, '\n')
		if i < 0 {
			break
		}
		s.lineLocked(strings.TrimRight(string(s.partial[:i]), "\r"))
		s.partial = s.partial[i+1:]
	}
	if len(s.partial) == 0 {
		s.partial = nil // let a large buffer go
	}
	return len(b), nil
}

// close handles a last line without a newline; call it once the process has exited.
func (s *logSink) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.partial) > 0 {
		s.lineLocked(string(s.partial))
		s.partial = nil
	}
}

func (s *logSink) lineLocked(line string) {
	if s.echo {
		s.p.printf("      | %s\n", line)
	}
	if s.last = append(s.last, line); len(s.last) > tailLines {
		s.last = s.last[len(s.last)-tailLines:]
	}
	if !s.initSeen && strings.Contains(line, instancePrefix) && strings.Contains(line, initMarker) {
		s.initSeen = true
		close(s.initialised)
	}
	if instance, counts, ok := parseStopped(line); ok {
		s.summary.add(instance, counts)
	}
}

// ready is closed once the plugin has logged its configuration, i.e. Init succeeded.
func (s *logSink) ready() <-chan struct{} { return s.initialised }

// tail returns the last lines logged, indented.
func (s *logSink) tail() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var b strings.Builder
	for _, l := range s.last {
		b.WriteString("    ")
		b.WriteString(l)
		b.WriteByte('\n')
	}
	return strings.TrimRight(b.String(), "\n")
}

// pluginTotals returns the exit summaries added up over the plugin's instances.
func (s *logSink) pluginTotals() pluginSummary {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.summary.clone()
}

// pluginSummary is the plugin's exit summary (output.Counters.Summary), added up over instances.
type pluginSummary struct {
	instances []string
	counts    map[string]int64
}

func (s *pluginSummary) add(instance string, counts map[string]int64) {
	if s.counts == nil {
		s.counts = map[string]int64{}
	}
	s.instances = append(s.instances, instance)
	for k, v := range counts {
		s.counts[k] += v
	}
}

func (s pluginSummary) clone() pluginSummary {
	out := pluginSummary{instances: slices.Clone(s.instances)}
	if s.counts != nil {
		out.counts = make(map[string]int64, len(s.counts))
		for k, v := range s.counts {
			out.counts[k] = v
		}
	}
	return out
}

// get returns one counter, 0 when absent.
func (s pluginSummary) get(key string) int64 { return s.counts[key] }

// brief shows the counters a reader of the demo cares about.
func (s pluginSummary) brief() string {
	if len(s.instances) == 0 {
		return "(no exit summary)"
	}
	var parts []string
	for _, k := range []string{"events", "delivered", "kinesis_records", "calls", "misroutes", "rerouted", "retried", "possible_duplicates"} {
		parts = append(parts, k+"="+strconv.FormatInt(s.get(k), 10))
	}
	return strings.Join(parts, " ")
}

// parseStopped reads the plugin's exit summary line (see output.ParseSummaryLine).
func parseStopped(line string) (instance string, counts map[string]int64, ok bool) {
	return output.ParseSummaryLine(line)
}
