package delivery

import (
	"testing"
	"time"
)

func TestLimiterBuckets(t *testing.T) {
	now := time.Unix(1000, 0)
	l := NewLimiter(1, 1<<20)
	l.now = func() time.Time { return now }

	// A fresh shard has one second of burst: 1000 records or 1 MiB, whichever runs out first.
	for i := 0; i < 1000; i++ {
		if d := l.Take("s0", 100); d != 0 {
			t.Fatalf("record %d of the burst waited %v", i, d)
		}
	}
	if d := l.Take("s0", 100); d <= 0 || d > 2*time.Millisecond {
		t.Fatalf("record 1001 should wait ~1ms for one token, got %v", d)
	}
	if d := l.Take("s1", 1<<20); d != 0 {
		t.Fatalf("another shard is not limited by s0: %v", d)
	}
	if d := l.Take("s1", 1); d < time.Millisecond {
		t.Fatalf("s1 spent its bytes, got %v", d)
	}
	now = now.Add(500 * time.Millisecond)
	if d := l.Take("s1", 512<<10); d != 0 {
		t.Fatalf("half a second refills half a MiB: %v", d)
	}

	// AIMD: a throttle halves the rate, accepted records raise it back to the ceiling.
	l.Throttled("s0")
	l.Throttled("s0")
	if got := l.Scale("s0"); got != 0.25 {
		t.Fatalf("scale after two throttles %v, want 0.25", got)
	}
	for i := 0; i < 10; i++ {
		l.Throttled("s0")
	}
	if got := l.Scale("s0"); got != minScale {
		t.Fatalf("scale floor %v, want %v", got, minScale)
	}
	for i := 0; i < 200; i++ {
		l.Accepted("s0")
	}
	if got := l.Scale("s0"); got != 1 {
		t.Fatalf("scale after recovery %v, want the ceiling 1", got)
	}

	l.Retain(func(id string) bool { return id == "s1" })
	if _, ok := l.buckets["s0"]; ok || len(l.buckets) != 1 {
		t.Fatalf("closed shard kept: %v", l.buckets)
	}
	var nilLimiter *Limiter
	if nilLimiter.Take("x", 1<<30) != 0 || NewLimiter(0, 1) != nil {
		t.Fatal("a nil limiter must let everything through")
	}
}

// A record as large as the stream allows never waits forever, even at the slowest rate.
func TestLimiterLargeRecord(t *testing.T) {
	now := time.Unix(0, 0)
	l := NewLimiter(0.5, 10<<20)
	l.now = func() time.Time { return now }
	if d := l.Take("s", 10<<20); d != 0 {
		t.Fatalf("a 10 MiB record on a fresh bucket waited %v", d)
	}
	d := l.Take("s", 10<<20)
	if d < 19*time.Second || d > 21*time.Second {
		t.Fatalf("next 10 MiB at 0.5 MiB/s should wait ~20s, got %v", d)
	}
	now = now.Add(d)
	if d := l.Take("s", 10<<20); d != 0 {
		t.Fatalf("after waiting, still %v", d)
	}
}
