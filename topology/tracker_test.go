package topology

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeLister serves a fixed listing in pages of pageSize and records every call.
type fakeLister struct {
	mu       sync.Mutex
	shards   []ListedShard
	pageSize int
	err      error
	delay    time.Duration
	calls    []string // tokens asked for
	walks    atomic.Int64
}

func (f *fakeLister) set(shards []ListedShard, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.shards, f.err = shards, err
}

func (f *fakeLister) ListShards(ctx context.Context, token string) (ShardPage, error) {
	f.mu.Lock()
	f.calls = append(f.calls, token)
	shards, err, size, delay := f.shards, f.err, f.pageSize, f.delay
	f.mu.Unlock()
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			return ShardPage{}, ctx.Err()
		}
	}
	if err != nil {
		return ShardPage{}, err
	}
	start := 0
	if token == "" {
		f.walks.Add(1)
	} else if _, err := fmt.Sscanf(token, "page-%d", &start); err != nil {
		return ShardPage{}, fmt.Errorf("bad token %q", token)
	}
	if size <= 0 {
		size = len(shards)
	}
	end := min(start+size, len(shards))
	p := ShardPage{Shards: shards[start:end]}
	if end < len(shards) {
		p.NextToken = fmt.Sprintf("page-%d", end)
	}
	return p, nil
}

func (f *fakeLister) tokens() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

func fourShards() []ListedShard {
	return []ListedShard{
		{ShardID: "s0", StartingHashKey: "0", EndingHashKey: "85070591730234615865843651857942052863"},
		{ShardID: "s1", StartingHashKey: "85070591730234615865843651857942052864", EndingHashKey: "170141183460469231731687303715884105727"},
		{ShardID: "s2", StartingHashKey: "170141183460469231731687303715884105728", EndingHashKey: "255211775190703847597530955573826158591"},
		{ShardID: "s3", StartingHashKey: "255211775190703847597530955573826158592", EndingHashKey: max128},
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestTrackerFollowsPages(t *testing.T) {
	l := &fakeLister{shards: fourShards(), pageSize: 3}
	tr := NewTracker(l, TrackerOptions{})
	defer tr.Close()
	waitFor(t, "first load", func() bool { return tr.Current() != nil })
	if got := tr.Current().Len(); got != 4 {
		t.Fatalf("%d open shards, want 4", got)
	}
	if toks := l.tokens(); len(toks) != 2 || toks[0] != "" || toks[1] != "page-3" {
		t.Fatalf("tokens %q, want [\"\" page-3]", toks)
	}
}

func TestTrackerRefreshTriggers(t *testing.T) {
	t.Run("every N records", func(t *testing.T) {
		l := &fakeLister{shards: fourShards()}
		tr := NewTracker(l, TrackerOptions{RefreshRecords: 100})
		defer tr.Close()
		waitFor(t, "first load", func() bool { return tr.Current() != nil })
		tr.Routed(99)
		time.Sleep(20 * time.Millisecond)
		if n := l.walks.Load(); n != 1 {
			t.Fatalf("%d walks after 99 records, want 1", n)
		}
		tr.Routed(1)
		waitFor(t, "refresh after 100 records", func() bool { return l.walks.Load() == 2 })
		if s := tr.Stats(); s.Loads[CauseStart] != 1 || s.Loads[CauseRecords] != 1 {
			t.Fatalf("stats %+v", s)
		}
	})
	t.Run("interval", func(t *testing.T) {
		l := &fakeLister{shards: fourShards()}
		tr := NewTracker(l, TrackerOptions{RefreshInterval: 20 * time.Millisecond})
		defer tr.Close()
		waitFor(t, "three interval loads", func() bool { return tr.Stats().Loads[CauseInterval] >= 3 })
	})
	t.Run("min spacing", func(t *testing.T) {
		const spacing = 100 * time.Millisecond
		l := &fakeLister{shards: fourShards()}
		t0 := time.Now() // before the first walk: walk k starts at least (k-1)*spacing after t0
		tr := NewTracker(l, TrackerOptions{RefreshRecords: 1, MinSpacing: spacing})
		defer tr.Close()
		waitFor(t, "first load", func() bool { return tr.Current() != nil })
		start := time.Now()
		for time.Since(start) < 250*time.Millisecond {
			tr.Routed(1)
			time.Sleep(time.Millisecond)
		}
		// The refreshes asked for are made (a loaded machine may make them late) ...
		waitFor(t, "a second walk", func() bool { return l.walks.Load() >= 2 })
		// ... but never closer together than spacing, however many records asked.
		n, limit := l.walks.Load(), 1+int64(time.Since(t0)/spacing)
		if n > limit {
			t.Fatalf("%d ListShards walks within %v of the first with %v spacing, want at most %d", n, time.Since(t0), spacing, limit)
		}
	})
}

func TestTrackerInvalidateCoalesces(t *testing.T) {
	l := &fakeLister{shards: fourShards()}
	tr := NewTracker(l, TrackerOptions{})
	defer tr.Close()
	waitFor(t, "first load", func() bool { return tr.Current() != nil })
	seen := tr.Current()

	l.mu.Lock()
	l.delay = 50 * time.Millisecond
	l.mu.Unlock()
	var wg sync.WaitGroup
	results := make([]*ShardMap, 20)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m, err := tr.Invalidate(context.Background(), seen)
			if err != nil {
				t.Error(err)
			}
			results[i] = m
		}()
	}
	wg.Wait()
	if n := l.walks.Load(); n != 2 {
		t.Fatalf("%d ListShards walks for 20 concurrent invalidations, want 2 (start + 1)", n)
	}
	for _, m := range results {
		if m == seen || m != results[0] {
			t.Fatal("callers did not all get the one new map")
		}
	}
	// A caller holding an older map gets the newer one without another load.
	if m, err := tr.Invalidate(context.Background(), seen); err != nil || m != results[0] || l.walks.Load() != 2 {
		t.Fatalf("stale caller: %v %v, walks %d", m, err, l.walks.Load())
	}
}

func TestTrackerKeepsLastGoodMap(t *testing.T) {
	l := &fakeLister{shards: fourShards()}
	var logs atomic.Int64
	tr := NewTracker(l, TrackerOptions{RetryBase: 5 * time.Millisecond, RetryMax: 10 * time.Millisecond,
		Logf: func(string, ...any) { logs.Add(1) }})
	defer tr.Close()
	waitFor(t, "first load", func() bool { return tr.Current() != nil })
	good := tr.Current()

	boom := errors.New("LimitExceededException: rate exceeded")
	l.set(nil, boom)
	m, err := tr.Invalidate(context.Background(), good)
	if !errors.Is(err, boom) || m != good {
		t.Fatalf("failed refresh: map %v err %v", m, err)
	}
	// A listing that does not tile the space (a page read across a reshard) is not used either.
	gap := fourShards()[1:]
	l.set(gap, nil)
	m, err = tr.Invalidate(context.Background(), good)
	if !errors.Is(err, ErrInvalidMap) || m != good {
		t.Fatalf("invalid listing: map %v err %v", m, err)
	}
	// It keeps retrying with backoff and recovers by itself.
	l.set(fourShards(), nil)
	waitFor(t, "recovery", func() bool { s := tr.Stats(); return s.LastError == nil && s.Loads[CauseRetry] >= 1 })
	if s := tr.Stats(); s.Failures < 2 || tr.Current() == good || tr.Current().Len() != 4 {
		t.Fatalf("stats %+v", s)
	}
}

func TestTrackerNoMapUntilLoaded(t *testing.T) {
	l := &fakeLister{err: errors.New("unavailable")}
	tr := NewTracker(l, TrackerOptions{RetryBase: time.Millisecond, RetryMax: 2 * time.Millisecond})
	defer tr.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if m, err := tr.Invalidate(ctx, nil); m != nil || err == nil {
		t.Fatalf("Invalidate without a map: %v %v", m, err)
	}
	if tr.Current() != nil {
		t.Fatal("a map appeared from a failing lister")
	}
	l.set(fourShards(), nil)
	waitFor(t, "load after recovery", func() bool { return tr.Current() != nil })
}

func TestTrackerCloseStopsGoroutine(t *testing.T) {
	before := runtime.NumGoroutine()
	l := &fakeLister{shards: fourShards(), delay: time.Hour}
	tr := NewTracker(l, TrackerOptions{RefreshInterval: time.Millisecond})
	time.Sleep(10 * time.Millisecond) // a load is now blocked in ListShards
	done := make(chan struct{})
	go func() { tr.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		t.Fatal("Close did not return while a load was in flight")
	}
	waitFor(t, "goroutines to end", func() bool { return runtime.NumGoroutine() <= before })
	if _, err := tr.Invalidate(context.Background(), nil); err == nil {
		t.Fatal("Invalidate on a closed tracker succeeded")
	}
}
