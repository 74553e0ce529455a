package topology

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
)

// TrackerOptions say when a Tracker reloads the shard map.
type TrackerOptions struct {
	// RefreshRecords reloads after this many routed records (0 = never).
	RefreshRecords int64
	// RefreshInterval reloads periodically (0 = never).
	RefreshInterval time.Duration
	// MinSpacing keeps two ListShards loads at least this far apart: thousands of agents may share
	// a stream, and ListShards is throttled per stream.
	MinSpacing time.Duration
	// RetryBase and RetryMax bound the backoff after a failed load (defaults 1s and 30s, as KPL).
	RetryBase, RetryMax time.Duration
	// Logf receives one line per map change and per failure; nil discards them.
	Logf func(format string, args ...any)
}

// Refresh causes, as counted in TrackerStats.
const (
	CauseStart = iota
	CauseRecords
	CauseInterval
	CauseInvalidate
	CauseRetry
	numCauses
)

// CauseNames names the refresh causes for logs and metrics.
var CauseNames = [numCauses]string{"start", "records", "interval", "invalidate", "retry"}

// TrackerStats are cumulative counters.
type TrackerStats struct {
	Loads    [numCauses]int64 // successful loads by cause
	Failures int64
	// LastError is the error of the most recent failed load, nil after a success.
	LastError error
}

// Tracker keeps the current ShardMap. Reads never block: Current is one atomic load. Loads run in
// one goroutine owned by the Tracker, so concurrent refresh requests coalesce into one ListShards
// walk.
type Tracker struct {
	lister Lister
	opts   TrackerOptions

	cur    atomic.Pointer[ShardMap]
	routed atomic.Int64

	mu       sync.Mutex
	waiters  chan struct{} // closed when the next load attempt finishes
	inflight chan struct{} // closed when the running attempt finishes; nil when none runs
	pending  bool          // a load was requested and has not started yet
	cause    int           // cause of the pending request
	lastErr  error
	stats    TrackerStats

	wake   chan struct{}
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
}

// NewTracker starts a Tracker; the first load starts at once in the background.
func NewTracker(l Lister, o TrackerOptions) *Tracker {
	if o.RetryBase <= 0 {
		o.RetryBase = time.Second
	}
	if o.RetryMax <= 0 {
		o.RetryMax = 30 * time.Second
	}
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	ctx, cancel := context.WithCancel(context.Background())
	t := &Tracker{
		lister:  l,
		opts:    o,
		waiters: make(chan struct{}),
		pending: true,
		cause:   CauseStart,
		wake:    make(chan struct{}, 1),
		ctx:     ctx,
		cancel:  cancel,
		done:    make(chan struct{}),
	}
	t.wake <- struct{}{}
	go t.run()
	return t
}

// Current returns the latest good map, or nil before the first successful load.
func (t *Tracker) Current() *ShardMap { return t.cur.Load() }

// Routed counts n routed records and asks for a reload every RefreshRecords records.
func (t *Tracker) Routed(n int) {
	if t.opts.RefreshRecords <= 0 {
		return
	}
	if t.routed.Add(int64(n)) >= t.opts.RefreshRecords {
		t.routed.Store(0)
		t.request(CauseRecords)
	}
}

// Invalidate asks for a reload because Kinesis put a record on a shard that `seen` did not
// predict. If the current map is already newer than seen, it is returned at once; otherwise the
// call joins the load in flight, or starts one, shared with every concurrent caller. On failure it
// returns the last good map (possibly nil) and the error. Correctness never depends on the answer
// being fresh: delivery verifies every round against what Kinesis reports.
func (t *Tracker) Invalidate(ctx context.Context, seen *ShardMap) (*ShardMap, error) {
	t.mu.Lock()
	if cur := t.cur.Load(); cur != nil && cur != seen {
		t.mu.Unlock()
		return cur, nil
	}
	ch, join := t.inflight, t.inflight != nil
	if !join {
		ch = t.waiters
	}
	t.mu.Unlock()
	if !join {
		t.request(CauseInvalidate)
	}
	select {
	case <-ch:
	case <-ctx.Done():
		return t.cur.Load(), fmt.Errorf("topology: waiting for shard map refresh: %w", ctx.Err())
	case <-t.done:
		return t.cur.Load(), fmt.Errorf("topology: tracker closed")
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	cur := t.cur.Load()
	if cur == seen || cur == nil {
		return cur, t.lastErr
	}
	return cur, nil
}

// Stats returns the counters.
func (t *Tracker) Stats() TrackerStats {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.stats
	s.LastError = t.lastErr
	return s
}

// Close stops the Tracker's goroutine and waits for it, cancelling a load in flight.
func (t *Tracker) Close() {
	t.cancel()
	<-t.done
}

func (t *Tracker) request(cause int) {
	t.mu.Lock()
	if !t.pending || cause == CauseInvalidate {
		t.pending, t.cause = true, cause
	}
	t.mu.Unlock()
	select {
	case t.wake <- struct{}{}:
	default:
	}
}

func (t *Tracker) run() {
	defer close(t.done)
	var (
		timer       = time.NewTimer(time.Hour)
		lastAttempt time.Time
		failures    int
	)
	timer.Stop()
	defer timer.Stop()
	for {
		cause := CauseRetry
		select {
		case <-t.ctx.Done():
			return
		case <-t.wake:
		case <-timer.C:
			cause = CauseInterval
			if failures > 0 {
				cause = CauseRetry
			}
		}
		if wait := time.Until(lastAttempt.Add(t.opts.MinSpacing)); wait > 0 {
			select {
			case <-t.ctx.Done():
				return
			case <-time.After(wait):
			}
		}
		t.mu.Lock()
		waiters := t.waiters
		t.waiters = make(chan struct{})
		t.inflight = waiters
		if t.pending {
			cause = t.cause
		}
		t.pending = false
		t.mu.Unlock()
		// A wake that arrived while we slept is served by this attempt.
		select {
		case <-t.wake:
		default:
		}

		lastAttempt = time.Now()
		err := t.load(cause)
		t.mu.Lock()
		t.lastErr = err
		t.inflight = nil
		if err != nil {
			t.stats.Failures++
		} else {
			t.stats.Loads[cause]++
		}
		t.mu.Unlock()
		close(waiters)

		var next time.Duration
		if err != nil {
			failures++
			next = t.backoff(failures)
			t.opts.Logf("topology: %v (attempt %d, next in %v)", err, failures, next.Round(time.Millisecond))
		} else {
			failures = 0
			next = t.opts.RefreshInterval
			t.routed.Store(0)
		}
		if next > 0 {
			timer.Reset(next)
		} else {
			timer.Stop()
		}
	}
}

// backoff is KPL's 1s x1.5 up to 30s, with full jitter above half of it.
func (t *Tracker) backoff(failures int) time.Duration {
	d := float64(t.opts.RetryBase)
	for i := 1; i < failures && d < float64(t.opts.RetryMax); i++ {
		d *= 1.5
	}
	d = min(d, float64(t.opts.RetryMax))
	d = d/2 + rand.Float64()*d/2
	return max(time.Duration(d), t.opts.MinSpacing)
}

// load walks ListShards to the end and swaps in the new map if it tiles the hash key space.
func (t *Tracker) load(cause int) error {
	var all []ListedShard
	token := ""
	for page := 0; ; page++ {
		if page > 10000 {
			return fmt.Errorf("topology: ListShards returned more than %d pages", page)
		}
		p, err := t.lister.ListShards(t.ctx, token)
		if err != nil {
			return fmt.Errorf("topology: ListShards (page %d): %w", page+1, err)
		}
		all = append(all, p.Shards...)
		if p.NextToken == "" {
			break
		}
		token = p.NextToken
	}
	m, err := FromListed(all)
	if err != nil {
		return err
	}
	m.loadedAt = time.Now()
	prev := t.cur.Swap(m)
	if prev == nil || prev.String() != m.String() {
		t.opts.Logf("topology: %s (refresh cause: %s)", m, CauseNames[cause])
	}
	return nil
}
