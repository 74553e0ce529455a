package ledger

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sync"
	"testing"
	"time"
)

func TestChunkKey(t *testing.T) {
	// Independent construction of the documented encoding.
	want := sha256.Sum256([]byte("\x00\x00\x00\x00\x00\x00\x00\x04kin0" +
		"\x00\x00\x00\x00\x00\x00\x00\x08app.logs" +
		"\x00\x00\x00\x00\x00\x00\x00\x03abc"))
	if got := ChunkKey("kin0", "app.logs", []byte("abc")); got != Key(want) {
		t.Fatalf("ChunkKey = %s, want %s", hex.EncodeToString(got[:]), hex.EncodeToString(want[:]))
	}

	distinct := []struct{ inst, tag, chunk string }{
		{"ab", "c", "d"},
		{"a", "bc", "d"},
		{"a", "b", "cd"},
		{"", "abc", "d"},
		{"abcd", "", ""},
		{"", "", "abcd"},
		{"a", "b", "c\x00"},
	}
	seen := map[Key]int{}
	for i, d := range distinct {
		k := ChunkKey(d.inst, d.tag, []byte(d.chunk))
		if j, dup := seen[k]; dup {
			t.Errorf("cases %d and %d share a key", i, j)
		}
		seen[k] = i
		if k != ChunkKey(d.inst, d.tag, []byte(d.chunk)) {
			t.Errorf("case %d: not deterministic", i)
		}
	}
}

type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

func newTestLedger(max int, age time.Duration) (*Ledger, *fakeClock) {
	c := &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	l := New(max, age)
	l.now = c.now
	return l, c
}

func key(i int) Key { return ChunkKey("i", "t", []byte(fmt.Sprint(i))) }

func set(idx ...int) Set {
	var s Set
	for _, i := range idx {
		s.Add(i)
	}
	return s
}

func members(s Set) []int {
	var out []int
	for i := 0; i < s.Len(); i++ {
		if s.Has(i) {
			out = append(out, i)
		}
	}
	return out
}

func TestRememberLookupForget(t *testing.T) {
	l, _ := newTestLedger(10, time.Hour)
	if _, ok := l.Lookup(key(1)); ok {
		t.Fatal("found in empty ledger")
	}
	in := set(0, 2, 5)
	l.Remember(key(1), in)
	in.Add(7) // the ledger keeps its own copy
	got, ok := l.Lookup(key(1))
	if !ok || fmt.Sprint(members(got)) != "[0 2 5]" {
		t.Fatalf("Lookup = %v, %v", members(got), ok)
	}
	got.Add(9) // and hands out copies
	again, _ := l.Lookup(key(1))
	if fmt.Sprint(members(again)) != "[0 2 5]" {
		t.Fatalf("Lookup after caller mutation = %v", members(again))
	}

	l.Remember(key(1), set(0, 1, 2, 5)) // replace
	got, _ = l.Lookup(key(1))
	if fmt.Sprint(members(got)) != "[0 1 2 5]" || l.Len() != 1 {
		t.Fatalf("after replace: %v, Len %d", members(got), l.Len())
	}
	l.Forget(key(1))
	l.Forget(key(2)) // absent: no-op
	if _, ok := l.Lookup(key(1)); ok || l.Len() != 0 {
		t.Fatalf("Forget: still found, Len %d", l.Len())
	}
}

func TestEvictionByCount(t *testing.T) {
	l, clk := newTestLedger(3, 0)
	for i := 1; i <= 3; i++ {
		l.Remember(key(i), set(i))
		clk.advance(time.Second)
	}
	l.Remember(key(1), set(1, 10)) // refresh 1: now 2 is the oldest
	l.Remember(key(4), set(4))
	tests := []struct {
		k    int
		want bool
	}{{1, true}, {2, false}, {3, true}, {4, true}}
	for _, tt := range tests {
		if _, ok := l.Lookup(key(tt.k)); ok != tt.want {
			t.Errorf("key %d present = %v, want %v", tt.k, ok, tt.want)
		}
	}
	if l.Len() != 3 {
		t.Errorf("Len = %d, want 3", l.Len())
	}
}

func TestEvictionByAge(t *testing.T) {
	l, clk := newTestLedger(100, time.Minute)
	l.Remember(key(1), set(1))
	clk.advance(40 * time.Second)
	l.Remember(key(2), set(2))
	clk.advance(19 * time.Second) // key 1 is 59 s old
	if _, ok := l.Lookup(key(1)); !ok {
		t.Fatal("key 1 expired early")
	}
	clk.advance(time.Second) // 60 s
	if _, ok := l.Lookup(key(1)); ok {
		t.Fatal("key 1 returned after maxAge")
	}
	if l.Len() != 1 {
		t.Fatalf("Len = %d, want 1 (expired entry evicted)", l.Len())
	}
	clk.advance(time.Hour)
	if l.Len() != 0 {
		t.Fatalf("Len = %d after everything expired, want 0", l.Len())
	}
	l.Remember(key(3), set(3))
	if _, ok := l.Lookup(key(3)); !ok || l.Len() != 1 {
		t.Fatal("fresh entry after expiry not kept")
	}
}

func TestRememberRefreshesAge(t *testing.T) {
	l, clk := newTestLedger(100, time.Minute)
	l.Remember(key(1), set(1))
	l.Remember(key(2), set(2))
	clk.advance(50 * time.Second)
	l.Remember(key(1), set(1, 2))
	clk.advance(20 * time.Second)
	if _, ok := l.Lookup(key(1)); !ok {
		t.Error("re-remembered entry expired with its old age")
	}
	if _, ok := l.Lookup(key(2)); ok {
		t.Error("old entry kept")
	}
}

func TestDisabled(t *testing.T) {
	for _, max := range []int{0, -1} {
		l := New(max, time.Hour)
		l.Remember(key(1), set(1))
		if _, ok := l.Lookup(key(1)); ok || l.Len() != 0 {
			t.Errorf("maxEntries %d: ledger not disabled", max)
		}
		l.Forget(key(1))
	}
}

func TestConcurrent(t *testing.T) {
	l := New(64, time.Hour)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 500; i++ {
				k := key(g*1000 + i%100)
				l.Remember(k, set(i, g))
				if s, ok := l.Lookup(k); ok && (!s.Has(g) || !s.Has(i)) {
					// Another goroutine never writes this key, so the set is ours.
					t.Errorf("goroutine %d: lost its own entry content", g)
					return
				}
				if i%7 == 0 {
					l.Forget(k)
				}
				_ = l.Len()
			}
		}(g)
	}
	wg.Wait()
	if n := l.Len(); n > 64 {
		t.Fatalf("Len = %d beyond maxEntries", n)
	}
}

func TestSet(t *testing.T) {
	var s Set
	if s.Len() != 0 || s.Count() != 0 || s.Has(0) || s.Has(-1) {
		t.Fatal("zero Set not empty")
	}
	for _, i := range []int{0, 63, 64, 200, 63, -5} {
		s.Add(i)
	}
	if got := fmt.Sprint(members(s)); got != "[0 63 64 200]" {
		t.Fatalf("members = %s", got)
	}
	if s.Len() != 201 || s.Count() != 4 {
		t.Fatalf("Len %d Count %d", s.Len(), s.Count())
	}
	if s.Has(1) || s.Has(199) || s.Has(201) || s.Has(100000) {
		t.Fatal("Has reports absent members")
	}

	n := NewSet(130)
	if n.Len() != 130 || n.Count() != 0 {
		t.Fatalf("NewSet: Len %d Count %d", n.Len(), n.Count())
	}
	n.Add(129)
	n.Add(5)
	if n.Len() != 130 {
		t.Fatalf("Len grew to %d", n.Len())
	}
	if NewSet(-3).Len() != 0 {
		t.Fatal("NewSet(-3)")
	}

	c := n.Clone()
	c.Add(7)
	if n.Has(7) {
		t.Fatal("Clone shares memory")
	}
	n.Union(s)
	if got := fmt.Sprint(members(n)); got != "[0 5 63 64 129 200]" || n.Len() != 201 {
		t.Fatalf("Union = %s Len %d", got, n.Len())
	}
	var z Set
	if z.Clone().Len() != 0 {
		t.Fatal("Clone of zero")
	}
}

func BenchmarkChunkKey2MiB(b *testing.B) {
	chunk := bytes.Repeat([]byte("0123456789abcdef"), 2<<20/16)
	b.SetBytes(int64(len(chunk)))
	b.ReportAllocs()
	for b.Loop() {
		_ = ChunkKey("kinesis_agg.0", "app.logs", chunk)
	}
}

func BenchmarkLookupHit(b *testing.B) {
	l := New(1024, time.Hour)
	s := NewSet(5000)
	for i := 0; i < 5000; i += 2 {
		s.Add(i)
	}
	for i := 0; i < 1024; i++ {
		l.Remember(key(i), s)
	}
	k := key(512)
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := l.Lookup(k); !ok {
			b.Fatal("miss")
		}
	}
}

func BenchmarkLenEmpty(b *testing.B) {
	l := New(1024, time.Hour)
	b.ReportAllocs()
	for b.Loop() {
		if l.Len() != 0 {
			b.Fatal("not empty")
		}
	}
}
