package e2e

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/kinesis-agg/kinesis_agg/internal/chunkgen"
	"github.com/kinesis-agg/kinesis_agg/internal/faultproxy"
)

// Scenario 5: bad input gets its documented answer, nothing else in the chunk is lost, nothing
// crashes.
func TestBadInput(t *testing.T) {
	e := newEnv(t, 2, false, faultproxy.Options{})
	ts := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	next := 0
	good := func(extra ...[2]any) [][2]any {
		r := append([][2]any{{"id", chunkgen.ID(next)}, {"pod", "web-1"}, {"msg", "hello"}}, extra...)
		next++
		return r
	}
	var delivered []string // ids that must arrive
	event := func(b []byte, rec [][2]any, deliver bool) []byte {
		if deliver {
			delivered = append(delivered, rec[0][1].(string))
		}
		return chunkgen.AppendEvent(b, ts, rec)
	}
	type chunk struct {
		name   string
		data   []byte
		wantRC int
	}
	var chunks []chunk

	// A truncated chunk: the complete events before the damage are delivered, then FLB_ERROR.
	var trunc []byte
	for i := 0; i < 50; i++ {
		trunc = event(trunc, good(), true)
	}
	cut := len(trunc)
	trunc = event(trunc, good(), false)
	chunks = append(chunks, chunk{"truncated", trunc[:cut+20], 0})

	// Random bytes: nothing decodes, FLB_ERROR, no crash.
	rng := rand.New(rand.NewPCG(5, 5))
	noise := make([]byte, 4096)
	for i := range noise {
		noise[i] = byte(rng.IntN(256))
	}
	chunks = append(chunks, chunk{"random bytes", noise, 0})

	// A record that is not a map: rejected; its neighbours delivered; FLB_OK.
	var notMap []byte
	notMap = event(notMap, good(), true)
	notMap = append(notMap, 0x92, 0x92, 0xd7, 0x00, 0, 0, 0, 1, 0, 0, 0, 0, 0x80, 0xa5, 'h', 'e', 'l', 'l', 'o')
	notMap = event(notMap, good(), true)
	chunks = append(chunks, chunk{"record not a map", notMap, 1})

	// An empty chunk: FLB_OK, nothing sent.
	chunks = append(chunks, chunk{"empty", []byte{}, 1})

	// A record over the stream's record limit: rejected and logged; the rest delivered.
	var big []byte
	big = event(big, good(), true)
	big = event(big, good([2]any{"blob", strings.Repeat("x", 1<<20)}), false)
	big = event(big, good(), true)
	chunks = append(chunks, chunk{"record too large", big, 1})

	// Invalid UTF-8 in keys and values, a partition key holding a number or a map: delivered.
	var odd []byte
	odd = event(odd, good([2]any{"k\xff\xfe", "v\xc3"}), true)
	odd = event(odd, [][2]any{{"id", chunkgen.ID(next)}, {"pod", 12345}}, true)
	next++
	odd = event(odd, [][2]any{{"id", chunkgen.ID(next)}, {"pod", [][2]any{{"a", 1}}}}, true)
	next++
	odd = event(odd, [][2]any{{"id", chunkgen.ID(next)}}, true) // no partition key field at all
	next++
	chunks = append(chunks, chunk{"odd keys", odd, 1})

	var args []string
	var files [][]byte
	for _, c := range chunks {
		files = append(files, c.data)
	}
	args = writeChunks(t, files, "bad.input")
	run := runHost(t, e.ctx, hostArgs(e.props("partition_key=pod", "max_record_bytes=1MiB"), append(args, "--retry-limit", "0")...)...)
	if run.ExitCode != 0 || len(run.Flushes) != len(chunks) {
		t.Fatalf("host exit %d with %d flushes\n%s", run.ExitCode, len(run.Flushes), tail(run.Stderr, 30))
	}
	for i, c := range chunks {
		var rc = -1
		for _, f := range run.Flushes {
			if f.ChunkID == int64(i) {
				rc = f.RC
			}
		}
		if rc != c.wantRC {
			t.Errorf("%s: flush answered %d, want %d", c.name, rc, c.wantRC)
		}
	}
	for _, want := range []string{
		"malformed chunk: event 50 at byte offset",
		"record is not a map",
		"record too large",
	} {
		if !strings.Contains(run.Stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, tail(run.Stderr, 30))
		}
	}
	s := exitSummary(t, run.Stderr, 0)
	if s["rejected"] != 2 || s["malformed_chunks"] != 2 || s["random_keys"] != 2 {
		t.Errorf("summary %v: want 2 rejected, 2 malformed chunks, 2 random keys (map value, missing field)", s)
	}
	ids, rep := e.readIDs(nil)
	if len(ids) != len(delivered) {
		t.Errorf("%d ids delivered, want %d", len(ids), len(delivered))
	}
	for _, id := range delivered {
		if ids[id] != 1 {
			t.Errorf("%s delivered %d times", id, ids[id])
		}
	}
	for _, d := range rep.Delivered {
		if strings.Contains(string(d.Data), `"k\ufffd\ufffd":"v\ufffd"`) {
			return
		}
	}
	t.Errorf("invalid UTF-8 was not escaped as U+FFFD in the delivered JSON")
}
