package freelist

import (
	"runtime"
	"sync"
	"testing"
)

type item struct{ id int }

func TestGetPut(t *testing.T) {
	made := 0
	l := New(2, func() *item { made++; return &item{id: made} })
	a, b, c := l.Get(), l.Get(), l.Get()
	if a.id != 1 || b.id != 2 || c.id != 3 || made != 3 {
		t.Fatalf("new objects %d %d %d, made %d", a.id, b.id, c.id, made)
	}
	l.Put(a)
	l.Put(b)
	l.Put(c) // over the limit: dropped
	if n := l.Idle(); n != 2 {
		t.Fatalf("%d idle, want 2", n)
	}
	if x := l.Get(); x != b {
		t.Errorf("got %d, want the last put (2)", x.id)
	}
	if x := l.Get(); x != a {
		t.Errorf("got %d, want 1", x.id)
	}
	if x := l.Get(); x.id != 4 {
		t.Errorf("got %d, want a new object (4)", x.id)
	}
}

// TestKeptAcrossGC is the point of the package: sync.Pool would lose these.
func TestKeptAcrossGC(t *testing.T) {
	l := New(4, func() *item { return &item{} })
	x := l.Get()
	x.id = 42
	l.Put(x)
	runtime.GC()
	runtime.GC()
	if y := l.Get(); y != x || y.id != 42 {
		t.Fatalf("idle object lost across collections")
	}
}

func TestConcurrent(t *testing.T) {
	l := New(8, func() *item { return &item{} })
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 1000 {
				x := l.Get()
				x.id++
				l.Put(x)
			}
		}()
	}
	wg.Wait()
	if n := l.Idle(); n < 1 || n > 8 {
		t.Fatalf("%d idle after concurrent use, want 1..8", n)
	}
}
