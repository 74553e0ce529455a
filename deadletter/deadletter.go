// Package deadletter appends records that kinesis_agg rejected permanently (too large for the
// stream, not convertible, ...) to a size-capped, rotated JSON-lines file, so that they can be
// inspected and replayed instead of only being counted and logged.
//
// Each line is one object:
//
//	{"time":"2025-03-01T12:00:00.123456789Z","tag":"kube.app","event_time":"2025-03-01T11:59:59.5Z","reason":"record too large: ...","size":1048700,"record":"{\"log\":\"...\"}"}
//
// time is when the record was rejected and event_time the log event's own time (absent when
// unknown), both RFC 3339 in UTC with nanoseconds. record holds the record's bytes as a JSON
// string when they are valid UTF-8; otherwise record_base64 holds them base64-encoded (standard
// alphabet, padded). Neither is present when the caller had no bytes to give.
//
// Rotation: before a line would take the file past maxBytes, path is renamed to path.1 (path.1
// to path.2, ... up to path.keep; the oldest is deleted) and a new path is started. A file only
// exceeds maxBytes when a single line is larger than maxBytes; such a line gets a file of its own.
// New files are created with mode 0640; an existing file keeps its mode.
//
// Durability: each Write encodes its entries, then issues one write(2) per file it touches and
// returns. Nothing is buffered in the process between calls, so a crash of Fluent Bit loses
// nothing already written; there is no fsync, so a power loss can lose the last seconds.
//
// Concurrency: Fluent Bit may flush from several workers and run several kinesis_agg instances
// in one process. Every Open of the same path in a process shares one file (reference-counted),
// and writes to it are serialised, so lines never interleave. A Write waits at most LockTimeout
// for another Write in progress and then fails with ErrBusy rather than stalling delivery. Other
// processes writing the same path are not coordinated with.
package deadletter

import (
	"bytes"
	"errors"
	"fmt"
	jsoniter "github.com/json-iterator/go"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"
)

// Defaults for the dead_letter_max_bytes and dead_letter_keep settings.
const (
	DefaultMaxBytes int64 = 100 << 20
	DefaultKeep           = 3
	// MaxKeep bounds keep, so one Write's rotation renames a bounded number of files.
	MaxKeep = 1000
)

// FileMode is the permission of the files the package creates: the records are log data, so
// they are not world-readable.
const FileMode fs.FileMode = 0o640

// LockTimeout is how long a Write waits for another Write of the same file to finish.
const LockTimeout = 5 * time.Second

var (
	// ErrClosed is returned by Write after Close.
	ErrClosed = errors.New("deadletter: writer closed")
	// ErrBusy is returned (wrapped, with the path) when another Write held the file for longer
	// than LockTimeout.
	ErrBusy = errors.New("deadletter: file busy")
)

// Entry is one rejected record.
type Entry struct {
	// Time is when the record was rejected; the zero time means the time of the Write.
	Time time.Time
	// Tag is the Fluent Bit tag of the record's chunk.
	Tag string
	// EventTime is the log event's timestamp; zero when unknown (omitted from the line).
	EventTime time.Time
	// Reason says why the record was rejected.
	Reason string
	// Size is the record's size as the rejection measured it; 0 means len(Record).
	Size int
	// Record is the record's data; nil omits it from the line.
	Record []byte
}

// line is an Entry as written; field order is the line's key order.
type line struct {
	Time         string  `json:"time"`
	Tag          string  `json:"tag"`
	EventTime    string  `json:"event_time,omitempty"`
	Reason       string  `json:"reason"`
	Size         int     `json:"size"`
	Record       *string `json:"record,omitempty"`
	RecordBase64 []byte  `json:"record_base64,omitempty"`
}

// lineJSON encodes dead-letter lines like encoding/json (base64 for []byte, a newline after each
// value) without HTML escaping, so records read back as they were.
var lineJSON = jsoniter.Config{EscapeHTML: false, SortMapKeys: true, ValidateJsonRawMessage: true}.Froze()

// appendEntries appends one JSON line per entry to buf and returns it with the end offset of
// each line.
func appendEntries(buf *bytes.Buffer, entries []Entry, now time.Time) ([]int, error) {
	enc := lineJSON.NewEncoder(buf)
	ends := make([]int, 0, len(entries))
	for i := range entries {
		e := &entries[i]
		l := line{Tag: strings.ToValidUTF8(e.Tag, "\uFFFD"), Reason: strings.ToValidUTF8(e.Reason, "\uFFFD"), Size: e.Size}
		t := e.Time
		if t.IsZero() {
			t = now
		}
		l.Time = t.UTC().Format(time.RFC3339Nano)
		if !e.EventTime.IsZero() {
			l.EventTime = e.EventTime.UTC().Format(time.RFC3339Nano)
		}
		if l.Size == 0 {
			l.Size = len(e.Record)
		}
		switch {
		case e.Record == nil:
		case utf8.Valid(e.Record):
			s := string(e.Record)
			l.Record = &s
		default:
			l.RecordBase64 = e.Record
		}
		if err := enc.Encode(&l); err != nil { // cannot fail for these types; kept for safety
			return nil, fmt.Errorf("deadletter: encoding entry %d: %w", i, err)
		}
		ends = append(ends, buf.Len())
	}
	return ends, nil
}

// registry is the process's set of open files, keyed by absolute path. It is the package's one
// piece of process-wide state, and deliberately so: Fluent Bit loads the plugin once per process
// and starts every [OUTPUT] instance separately, so instances naming the same dead_letter_path
// can only find each other's file here.
type registry struct {
	mu    sync.Mutex
	files map[string]*file
}

var process = &registry{files: map[string]*file{}}

// file is one dead-letter file shared by every Writer of its path.
type file struct {
	path     string
	maxBytes int64
	keep     int
	refs     int // guarded by registry.mu
	wait     time.Duration

	lock    chan struct{} // one slot: holding it guards the fields below
	f       *os.File      // nil after a failed write or rotation: the next Write reopens
	size    int64
	partial bool // the file may end inside a line: start the next write with "\n"
}

// Writer appends entries to a dead-letter file. It is safe for concurrent use.
type Writer struct {
	r      *registry
	f      *file
	closed atomic.Bool
}

// Open returns a Writer appending to path, which is created if absent (its directory must
// exist). maxBytes (> 0) caps each file and keep (0 to MaxKeep) is how many rotated files are
// kept; see the package comment. Opening a path already open in this process shares its file,
// and then maxBytes and keep must be the same.
func Open(path string, maxBytes int64, keep int) (*Writer, error) {
	return process.open(path, maxBytes, keep)
}

func (r *registry) open(path string, maxBytes int64, keep int) (*Writer, error) {
	if path == "" {
		return nil, errors.New("deadletter: empty path")
	}
	if maxBytes <= 0 {
		return nil, fmt.Errorf("deadletter: %s: max bytes %d: want a size above 0", path, maxBytes)
	}
	if keep < 0 || keep > MaxKeep {
		return nil, fmt.Errorf("deadletter: %s: keep %d: want 0 to %d", path, keep, MaxKeep)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("deadletter: %s: %w", path, err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if f, ok := r.files[abs]; ok {
		if f.maxBytes != maxBytes || f.keep != keep {
			return nil, fmt.Errorf("deadletter: %s is already open with max bytes %d and keep %d, not %d and %d",
				abs, f.maxBytes, f.keep, maxBytes, keep)
		}
		f.refs++
		return &Writer{r: r, f: f}, nil
	}
	f := &file{path: abs, maxBytes: maxBytes, keep: keep, wait: LockTimeout, lock: make(chan struct{}, 1)}
	if err := f.reopen(); err != nil {
		return nil, err
	}
	f.refs = 1
	r.files[abs] = f
	return &Writer{r: r, f: f}, nil
}

// reopen opens f.path for appending, creating it with FileMode, and finds its size and whether
// it ends inside a line.
func (f *file) reopen() error {
	fd, err := os.OpenFile(f.path, os.O_RDWR|os.O_APPEND|os.O_CREATE|os.O_EXCL, FileMode)
	if err == nil {
		// Created: set the mode exactly, whatever the umask.
		if err := fd.Chmod(FileMode); err != nil {
			fd.Close()
			return fmt.Errorf("deadletter: %w", err)
		}
	} else if errors.Is(err, fs.ErrExist) {
		fd, err = os.OpenFile(f.path, os.O_RDWR|os.O_APPEND, 0)
	}
	if err != nil {
		return fmt.Errorf("deadletter: %w", err)
	}
	st, err := fd.Stat()
	if err != nil {
		fd.Close()
		return fmt.Errorf("deadletter: %w", err)
	}
	if !st.Mode().IsRegular() {
		// Rotation renames the file: never do that to a device or a FIFO.
		fd.Close()
		return fmt.Errorf("deadletter: %s is not a regular file (%s)", f.path, st.Mode().Type())
	}
	f.f, f.size, f.partial = fd, st.Size(), false
	if f.size > 0 {
		var last [1]byte
		if _, err := fd.ReadAt(last[:], f.size-1); err != nil || last[0] != '\n' {
			f.partial = true
		}
	}
	return nil
}

// Path returns the absolute path of the file.
func (w *Writer) Path() string { return w.f.path }

// Write appends one line per entry, rotating as needed, and returns when they are handed to the
// kernel. On error some leading entries may have been written; a line cut short by an error is
// terminated before the next one, so every complete line stays valid JSON.
func (w *Writer) Write(entries []Entry) error {
	if w.closed.Load() {
		return ErrClosed
	}
	if len(entries) == 0 {
		return nil
	}
	var buf bytes.Buffer
	ends, err := appendEntries(&buf, entries, time.Now())
	if err != nil {
		return err
	}
	f := w.f
	t := time.NewTimer(f.wait)
	defer t.Stop()
	select {
	case f.lock <- struct{}{}:
	case <-t.C:
		return fmt.Errorf("%w: %s: another write took more than %s", ErrBusy, f.path, f.wait)
	}
	defer func() { <-f.lock }()
	if w.closed.Load() {
		return ErrClosed
	}
	return f.write(buf.Bytes(), ends)
}

// write appends the lines of b (ending at ends); the caller holds f.lock.
func (f *file) write(b []byte, ends []int) error {
	if f.f == nil {
		if err := f.reopen(); err != nil {
			return err
		}
	}
	if f.partial {
		if err := f.writeBytes([]byte{'\n'}); err != nil {
			return err
		}
		f.partial = false
	}
	start := 0
	for i := 0; i < len(ends); {
		if f.size > 0 && f.size+int64(ends[i]-start) > f.maxBytes {
			if err := f.rotate(); err != nil {
				return err
			}
		}
		// As many lines as fit, and always at least one.
		j := i + 1
		for j < len(ends) && f.size+int64(ends[j]-start) <= f.maxBytes {
			j++
		}
		if err := f.writeBytes(b[start:ends[j-1]]); err != nil {
			return err
		}
		start, i = ends[j-1], j
	}
	return nil
}

func (f *file) writeBytes(p []byte) error {
	n, err := f.f.Write(p)
	f.size += int64(n)
	if err != nil {
		// Start afresh next time: this also recovers from a descriptor gone bad.
		f.f.Close()
		f.f = nil
		return fmt.Errorf("deadletter: writing %s: %w", f.path, err)
	}
	return nil
}

// rotate shifts path.N-1 to path.N ... path to path.1 and starts a new path.
func (f *file) rotate() error {
	if f.f != nil {
		f.f.Close()
		f.f = nil
	}
	notExist := func(err error) error {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return err
	}
	if f.keep == 0 {
		if err := notExist(os.Remove(f.path)); err != nil {
			return fmt.Errorf("deadletter: rotating: %w", err)
		}
	} else {
		if err := notExist(os.Remove(f.rotated(f.keep))); err != nil {
			return fmt.Errorf("deadletter: rotating: %w", err)
		}
		for i := f.keep - 1; i >= 1; i-- {
			if err := notExist(os.Rename(f.rotated(i), f.rotated(i+1))); err != nil {
				return fmt.Errorf("deadletter: rotating: %w", err)
			}
		}
		if err := os.Rename(f.path, f.rotated(1)); err != nil {
			return fmt.Errorf("deadletter: rotating: %w", err)
		}
	}
	return f.reopen()
}

func (f *file) rotated(i int) string { return f.path + "." + strconv.Itoa(i) }

// Close releases the Writer; the last Writer of a path closes the file. Calling it again does
// nothing. It waits at most LockTimeout for a Write in progress.
func (w *Writer) Close() error {
	if !w.closed.CompareAndSwap(false, true) {
		return nil
	}
	r, f := w.r, w.f
	r.mu.Lock()
	f.refs--
	last := f.refs == 0
	if last && r.files[f.path] == f {
		delete(r.files, f.path)
	}
	r.mu.Unlock()
	if !last {
		return nil
	}
	t := time.NewTimer(f.wait)
	defer t.Stop()
	select {
	case f.lock <- struct{}{}:
	case <-t.C:
		return fmt.Errorf("%w: %s: not closed, a write took more than %s", ErrBusy, f.path, f.wait)
	}
	defer func() { <-f.lock }()
	if f.f == nil {
		return nil
	}
	err := f.f.Close()
	f.f = nil
	if err != nil {
		return fmt.Errorf("deadletter: %w", err)
	}
	return nil
}
