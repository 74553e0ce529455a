package deadletter

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 123456789, time.UTC)

func open(t *testing.T, r *registry, path string, maxBytes int64, keep int) *Writer {
	t.Helper()
	w, err := r.open(path, maxBytes, keep)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return w
}

func newRegistry() *registry { return &registry{files: map[string]*file{}} }

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestEncoding(t *testing.T) {
	loc := time.FixedZone("CET", 3600)
	for _, tc := range []struct {
		name string
		e    Entry
		want string
	}{
		{"utf8 record with event time",
			Entry{Time: t0, Tag: "kube.app", EventTime: time.Date(2025, 3, 1, 12, 59, 59, 500000000, loc), Reason: "record too large: 2000000 bytes > limit 1048576", Size: 2000000, Record: []byte(`{"log":"<a & b>"}`)},
			`{"time":"2025-03-01T12:00:00.123456789Z","tag":"kube.app","event_time":"2025-03-01T11:59:59.5Z","reason":"record too large: 2000000 bytes > limit 1048576","size":2000000,"record":"{\"log\":\"<a & b>\"}"}`},
		{"binary record, size from data, no event time",
			Entry{Time: t0, Tag: "t", Reason: "record is not a map (msgpack type str)", Record: []byte{0x92, 0xa1, 'x', 0xff}},
			`{"time":"2025-03-01T12:00:00.123456789Z","tag":"t","reason":"record is not a map (msgpack type str)","size":4,"record_base64":"kqF4/w=="}`},
		{"no record",
			Entry{Time: t0, Tag: "t", Reason: "r", Size: 9},
			`{"time":"2025-03-01T12:00:00.123456789Z","tag":"t","reason":"r","size":9}`},
		{"empty record",
			Entry{Time: t0, Tag: "t", Reason: "r", Record: []byte{}},
			`{"time":"2025-03-01T12:00:00.123456789Z","tag":"t","reason":"r","size":0,"record":""}`},
		{"control characters and invalid UTF-8 in tag",
			Entry{Time: t0, Tag: "a\xffb", Reason: "line\nbreak", Record: []byte("tab\there\u2028")},
			// U+2028 is valid in JSON; only JavaScript source needed it escaped.
			"{\"time\":\"2025-03-01T12:00:00.123456789Z\",\"tag\":\"a\ufffdb\",\"reason\":\"line\\nbreak\",\"size\":11,\"record\":\"tab\\there\u2028\"}"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			ends, err := appendEntries(&buf, []Entry{tc.e}, t0.Add(time.Hour))
			if err != nil {
				t.Fatal(err)
			}
			if got := buf.String(); got != tc.want+"\n" {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
			if len(ends) != 1 || ends[0] != buf.Len() {
				t.Errorf("ends %v, buffer %d bytes", ends, buf.Len())
			}
		})
	}
	// A zero Time is the time of the write.
	var buf bytes.Buffer
	if _, err := appendEntries(&buf, []Entry{{Tag: "t"}}, t0); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(buf.String(), `{"time":"2025-03-01T12:00:00.123456789Z",`) {
		t.Errorf("zero time: %s", buf.String())
	}
}

// entry returns an entry whose line is exactly 100 bytes long (with its newline).
func entry(i int) Entry {
	e := Entry{Time: t0, Tag: "t", Reason: "r", Record: []byte(fmt.Sprintf("record-%03d", i))}
	var buf bytes.Buffer
	appendEntries(&buf, []Entry{e}, t0)
	e.Record = append(e.Record, strings.Repeat("x", 100-buf.Len())...)
	return e
}

func lineOf(e Entry) string {
	var buf bytes.Buffer
	appendEntries(&buf, []Entry{e}, t0)
	return buf.String()
}

func TestRotation(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "dead.jsonl")
	// 250 bytes hold two 100-byte lines; keep two rotated files.
	w := open(t, newRegistry(), path, 250, 2)
	var all []string
	for i := range 9 {
		all = append(all, lineOf(entry(i)))
		if len(lineOf(entry(i))) != 100 {
			t.Fatalf("line %d is %d bytes", i, len(lineOf(entry(i))))
		}
	}
	// One at a time, then a batch of four that spans two rotations, then one.
	for i := range 4 {
		if err := w.Write([]Entry{entry(i)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Write([]Entry{entry(4), entry(5), entry(6), entry(7)}); err != nil {
		t.Fatal(err)
	}
	if err := w.Write([]Entry{entry(8)}); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		path:        all[8],
		path + ".1": all[6] + all[7],
		path + ".2": all[4] + all[5],
	}
	for p, c := range want {
		if got := read(t, p); got != c {
			t.Errorf("%s:\n%s\nwant\n%s", filepath.Base(p), got, c)
		}
	}
	if _, err := os.Stat(path + ".3"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("%s.3 exists beyond keep=2: %v", path, err)
	}
}

func TestRotationKeepZero(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dead.jsonl")
	w := open(t, newRegistry(), path, 200, 0)
	if err := w.Write([]Entry{entry(0), entry(1), entry(2)}); err != nil {
		t.Fatal(err)
	}
	if got := read(t, path); got != lineOf(entry(2)) {
		t.Errorf("got %q", got)
	}
	if m, _ := filepath.Glob(path + ".*"); len(m) != 0 {
		t.Errorf("rotated files with keep=0: %v", m)
	}
}

// A line larger than the cap gets a file of its own; the next line starts a new one.
func TestOversizedLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dead.jsonl")
	w := open(t, newRegistry(), path, 150, 3)
	big := Entry{Time: t0, Tag: "t", Reason: "too large", Record: bytes.Repeat([]byte("y"), 400)}
	if err := w.Write([]Entry{entry(0), big, entry(1)}); err != nil {
		t.Fatal(err)
	}
	for p, c := range map[string]string{path + ".2": lineOf(entry(0)), path + ".1": lineOf(big), path: lineOf(entry(1))} {
		if got := read(t, p); got != c {
			t.Errorf("%s: %q, want %q", filepath.Base(p), got, c)
		}
	}
}

func TestReopenAppends(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dead.jsonl")
	r := newRegistry()
	w, err := r.open(path, 250, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write([]Entry{entry(0)}); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if len(r.files) != 0 {
		t.Fatal("file still registered after the last Close")
	}
	w = open(t, r, path, 250, 1)
	if err := w.Write([]Entry{entry(1)}); err != nil {
		t.Fatal(err)
	}
	if got, want := read(t, path), lineOf(entry(0))+lineOf(entry(1)); got != want {
		t.Fatalf("after reopen: %q, want %q", got, want)
	}
	// The size found at open counts toward the cap: the third line rotates.
	if err := w.Write([]Entry{entry(2)}); err != nil {
		t.Fatal(err)
	}
	if got := read(t, path); got != lineOf(entry(2)) {
		t.Errorf("after the cap: %q", got)
	}
}

// A file left ending inside a line (a crash mid-write) gets its line terminated first.
func TestReopenAfterPartialLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dead.jsonl")
	if err := os.WriteFile(path, []byte(`{"time":"cut`), 0o600); err != nil {
		t.Fatal(err)
	}
	w := open(t, newRegistry(), path, 1<<20, 1)
	if err := w.Write([]Entry{entry(0)}); err != nil {
		t.Fatal(err)
	}
	if got, want := read(t, path), `{"time":"cut`+"\n"+lineOf(entry(0)); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	// An existing file keeps its mode.
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Errorf("existing file's mode changed to %v", st.Mode().Perm())
	}
}

func TestPermissions(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dead.jsonl")
	w := open(t, newRegistry(), path, 150, 1)
	check := func(p string) {
		t.Helper()
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o640 {
			t.Errorf("%s: mode %v, want 0640", filepath.Base(p), st.Mode().Perm())
		}
	}
	check(path)
	if err := w.Write([]Entry{entry(0), entry(1)}); err != nil {
		t.Fatal(err)
	}
	check(path)
	check(path + ".1")
}

func TestBigBinaryRecord(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dead.jsonl")
	w := open(t, newRegistry(), path, DefaultMaxBytes, DefaultKeep)
	rec := make([]byte, 3<<20)
	rng := rand.NewChaCha8([32]byte{1})
	rng.Read(rec)
	rec[0] = 0xff // certainly not UTF-8
	if err := w.Write([]Entry{{Time: t0, Tag: "big", Reason: "record too large", Size: len(rec) + 36, Record: rec}}); err != nil {
		t.Fatal(err)
	}
	raw := read(t, path)
	var l struct {
		Tag          string  `json:"tag"`
		Size         int     `json:"size"`
		Record       *string `json:"record"`
		RecordBase64 string  `json:"record_base64"`
	}
	if err := json.Unmarshal([]byte(raw), &l); err != nil {
		t.Fatal(err)
	}
	got, err := base64.StdEncoding.DecodeString(l.RecordBase64)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, rec) || l.Record != nil || l.Size != len(rec)+36 || l.Tag != "big" {
		t.Errorf("round trip: %d bytes back (equal %v), record %v, size %d", len(got), bytes.Equal(got, rec), l.Record, l.Size)
	}
	if want := base64.StdEncoding.EncodedLen(len(rec)); len(raw) < want || strings.Count(raw, "\n") != 1 {
		t.Errorf("line of %d bytes with %d newlines", len(raw), strings.Count(raw, "\n"))
	}
}

// Several instances open the same path, each with several flush workers: one shared file, no
// interleaved lines, nothing lost across rotations.
func TestConcurrentWriters(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "dead.jsonl")
	r := newRegistry()
	const instances, workers, batches, perBatch = 3, 3, 40, 5
	ws := make([]*Writer, instances)
	for i := range ws {
		p := path
		if i == 1 {
			// A relative spelling of the same path shares the same file.
			wd, _ := os.Getwd()
			rel, err := filepath.Rel(wd, path)
			if err != nil {
				t.Skip(err)
			}
			p = rel
		}
		ws[i] = open(t, r, p, 4096, 1000)
	}
	if len(r.files) != 1 {
		t.Fatalf("%d files open, want one shared", len(r.files))
	}
	var wg sync.WaitGroup
	for i, w := range ws {
		for k := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for b := range batches {
					es := make([]Entry, perBatch)
					for j := range es {
						es[j] = Entry{Time: t0, Tag: fmt.Sprintf("i%d.w%d", i, k), Reason: "r",
							Record: []byte(fmt.Sprintf(`{"b":%d,"j":%d,"pad":"%s"}`, b, j, strings.Repeat("p", (b*7+j)%50)))}
					}
					if err := w.Write(es); err != nil {
						t.Error(err)
						return
					}
				}
			}()
		}
	}
	wg.Wait()

	files, _ := filepath.Glob(path + "*")
	seen := map[string]int{}
	lines := 0
	for _, p := range files {
		st, _ := os.Stat(p)
		if st.Size() > 4096 {
			t.Errorf("%s is %d bytes, over the cap", filepath.Base(p), st.Size())
		}
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			var l struct {
				Tag    string `json:"tag"`
				Record string `json:"record"`
			}
			if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
				t.Fatalf("%s: broken line %q: %v", filepath.Base(p), sc.Text(), err)
			}
			seen[l.Tag+" "+l.Record]++
			lines++
		}
		f.Close()
	}
	if want := instances * workers * batches * perBatch; lines != want || len(seen) != want {
		t.Errorf("%d lines, %d distinct, want %d", lines, len(seen), want)
	}
	if len(files) < 10 {
		t.Errorf("only %d files: rotation did not happen under concurrency", len(files))
	}
}

func TestSharing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dead.jsonl")
	r := newRegistry()
	a := open(t, r, path, 1000, 2)
	b := open(t, r, path, 1000, 2)
	if a.f != b.f {
		t.Fatal("two Opens of one path opened two files")
	}
	if _, err := r.open(path, 2000, 2); err == nil || !strings.Contains(err.Error(), "already open with max bytes 1000 and keep 2, not 2000 and 2") {
		t.Errorf("mismatched Open: %v", err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil { // idempotent, and must not drop b's reference
		t.Fatal(err)
	}
	if err := a.Write([]Entry{entry(0)}); !errors.Is(err, ErrClosed) {
		t.Errorf("Write after Close: %v", err)
	}
	if err := b.Write([]Entry{entry(1)}); err != nil {
		t.Fatalf("the other writer stopped working: %v", err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if len(r.files) != 0 || b.f.f != nil {
		t.Error("file not closed after the last Close")
	}
	if got := read(t, path); got != lineOf(entry(1)) {
		t.Errorf("content %q", got)
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		path     string
		maxBytes int64
		keep     int
		want     string
	}{
		{"", 1, 1, "deadletter: empty path"},
		{filepath.Join(dir, "a"), 0, 1, "max bytes 0: want a size above 0"},
		{filepath.Join(dir, "a"), 1, -1, "keep -1: want 0 to 1000"},
		{filepath.Join(dir, "a"), 1, 1001, "keep 1001: want 0 to 1000"},
		{filepath.Join(dir, "missing", "a"), 1, 1, "no such file or directory"},
		{dir, 1, 1, "is a directory"},
		{os.DevNull, 1, 1, "/dev/null is not a regular file"},
	} {
		w, err := newRegistry().open(tc.path, tc.maxBytes, tc.keep)
		if err == nil {
			w.Close()
			t.Errorf("Open(%q, %d, %d) succeeded", tc.path, tc.maxBytes, tc.keep)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Open(%q, %d, %d) = %v, want %q", tc.path, tc.maxBytes, tc.keep, err, tc.want)
		}
	}
}

// The process-wide Open shares as the registry does.
func TestOpenProcessWide(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dead.jsonl")
	a, err := Open(path, DefaultMaxBytes, DefaultKeep)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Open(path, DefaultMaxBytes, DefaultKeep)
	if err != nil {
		t.Fatal(err)
	}
	if a.f != b.f || a.Path() != path {
		t.Error("not shared")
	}
	a.Close()
	b.Close()
	process.mu.Lock()
	defer process.mu.Unlock()
	if _, ok := process.files[path]; ok {
		t.Error("still registered")
	}
}

// A Write that cannot get the file in time fails with ErrBusy instead of blocking delivery.
func TestBusy(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dead.jsonl")
	w := open(t, newRegistry(), path, 1000, 1)
	w.f.wait = 50 * time.Millisecond
	w.f.lock <- struct{}{} // a write that hangs
	start := time.Now()
	err := w.Write([]Entry{entry(0)})
	if !errors.Is(err, ErrBusy) || !strings.Contains(err.Error(), path) {
		t.Errorf("Write while busy: %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("waited %v", d)
	}
	<-w.f.lock
	if err := w.Write([]Entry{entry(0)}); err != nil {
		t.Errorf("after the lock was freed: %v", err)
	}
}

// A write error is returned, and the next Write reopens the file and goes on.
func TestWriteErrorRecovers(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dead.jsonl")
	w := open(t, newRegistry(), path, 1000, 1)
	if err := w.Write([]Entry{entry(0)}); err != nil {
		t.Fatal(err)
	}
	w.f.f.Close() // the descriptor goes bad behind the writer's back
	err := w.Write([]Entry{entry(1)})
	if err == nil || !strings.Contains(err.Error(), "deadletter: writing "+path) {
		t.Fatalf("write on a bad descriptor: %v", err)
	}
	if err := w.Write([]Entry{entry(2)}); err != nil {
		t.Fatalf("after the error: %v", err)
	}
	if got, want := read(t, path), lineOf(entry(0))+lineOf(entry(2)); got != want {
		t.Errorf("content %q, want %q", got, want)
	}
}

// A rotation that fails is reported and nothing goes over the cap; once the obstacle is gone,
// rotation resumes.
func TestRotationErrorRecovers(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "dead.jsonl")
	w := open(t, newRegistry(), path, 150, 1)
	if err := w.Write([]Entry{entry(0)}); err != nil {
		t.Fatal(err)
	}
	// path.1 is a non-empty directory: it cannot be removed to make room.
	if err := os.MkdirAll(filepath.Join(path+".1", "x"), 0o755); err != nil {
		t.Fatal(err)
	}
	err := w.Write([]Entry{entry(1)})
	if err == nil || !strings.Contains(err.Error(), "deadletter: rotating") || !strings.Contains(err.Error(), path+".1") {
		t.Fatalf("blocked rotation: %v", err)
	}
	if got := read(t, path); got != lineOf(entry(0)) {
		t.Errorf("file changed by a failed rotation: %q", got)
	}
	if err := os.RemoveAll(path + ".1"); err != nil {
		t.Fatal(err)
	}
	if err := w.Write([]Entry{entry(2)}); err != nil {
		t.Fatalf("after the obstacle was removed: %v", err)
	}
	if read(t, path) != lineOf(entry(2)) || read(t, path+".1") != lineOf(entry(0)) {
		t.Errorf("after recovery: %q / %q", read(t, path), read(t, path+".1"))
	}
}

func TestEmptyWrite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dead.jsonl")
	w := open(t, newRegistry(), path, 1000, 1)
	if err := w.Write(nil); err != nil {
		t.Fatal(err)
	}
	if read(t, path) != "" {
		t.Error("empty Write wrote")
	}
}

func BenchmarkWrite(b *testing.B) {
	path := filepath.Join(b.TempDir(), "dead.jsonl")
	w, err := newRegistry().open(path, 16<<20, 1)
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	batch := make([]Entry, 16)
	for i := range batch {
		batch[i] = Entry{Time: t0, Tag: "kube.var.log.containers.app", Reason: "record too large", Size: 2 << 20,
			Record: []byte(`{"log":"` + strings.Repeat("a", 500) + `","kubernetes":{"pod_name":"app-1"}}`)}
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := w.Write(batch); err != nil {
			b.Fatal(err)
		}
	}
}

// FuzzEncode: any entry becomes exactly one line of valid JSON that gives the record back.
func FuzzEncode(f *testing.F) {
	f.Add("kube.app", "record too large", []byte(`{"log":"x"}`), int64(0))
	f.Add("\xff", "\n", []byte{0xff, 0x00, '"'}, int64(-1))
	f.Add("", "", []byte{}, int64(1<<62))
	f.Fuzz(func(t *testing.T, tag, reason string, rec []byte, ns int64) {
		var buf bytes.Buffer
		e := Entry{Time: t0, Tag: tag, Reason: reason, Record: rec, EventTime: time.Unix(0, ns)}
		ends, err := appendEntries(&buf, []Entry{e}, t0)
		if err != nil {
			t.Fatal(err)
		}
		out := buf.Bytes()
		if len(ends) != 1 || ends[0] != len(out) || bytes.IndexByte(out, '\n') != len(out)-1 {
			t.Fatalf("not one line: %q", out)
		}
		var l struct {
			Record       *string `json:"record"`
			RecordBase64 []byte  `json:"record_base64"`
			Size         int     `json:"size"`
		}
		if err := json.Unmarshal(out, &l); err != nil {
			t.Fatalf("invalid JSON %q: %v", out, err)
		}
		var back []byte
		if l.Record != nil {
			back = []byte(*l.Record)
		} else {
			back = l.RecordBase64
		}
		if !bytes.Equal(back, rec) || l.Size != len(rec) {
			t.Fatalf("record %q came back as %q (size %d)", rec, back, l.Size)
		}
	})
}
