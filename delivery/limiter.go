package delivery

import (
	"sync"
	"time"
)

// Kinesis write limits of one shard.
const (
	ShardRecordsPerSecond = 1000
	ShardBytesPerSecond   = 1 << 20
)

// Limiter paces Kinesis records per shard with two token buckets (records and bytes), so that a hot
// shard is not hammered into throttling while the records for other shards go out. Its rates adapt
// to what Kinesis says (AIMD): halved when a shard throttles, raised by a step per accepted record
// back up to the configured ceiling. One Limiter is shared by every flush of an instance; it is safe
// for concurrent use. A nil *Limiter lets everything through.
type Limiter struct {
	mu        sync.Mutex
	ceiling   float64 // multiple of the shard limits
	maxRecord float64 // the stream's record limit: a bucket always has room for one such record
	buckets   map[string]*bucket
	now       func() time.Time
}

type bucket struct {
	scale          float64 // current rate as a multiple of the shard limits, in [minScale, ceiling]
	records, bytes float64 // tokens
	last           time.Time
}

// minScale keeps a throttled shard moving at a tenth of its nominal rate.
const minScale = 0.1

// NewLimiter returns a limiter whose rates start at and never exceed factor times the shard limits
// (KPL's default is 1.5), for a stream whose records are at most maxRecordBytes. factor <= 0
// returns nil: no limiting.
func NewLimiter(factor float64, maxRecordBytes int) *Limiter {
	if factor <= 0 {
		return nil
	}
	return &Limiter{ceiling: factor, maxRecord: float64(max(maxRecordBytes, 1)), buckets: make(map[string]*bucket), now: time.Now}
}

// get returns shard's bucket with its tokens refilled; l.mu is held.
func (l *Limiter) get(shard string, now time.Time) *bucket {
	b := l.buckets[shard]
	if b == nil {
		b = &bucket{scale: l.ceiling, last: now}
		b.records, b.bytes = b.capRecords(), l.capBytes(b)
		l.buckets[shard] = b
		return b
	}
	if dt := now.Sub(b.last).Seconds(); dt > 0 {
		b.records = min(b.capRecords(), b.records+dt*b.scale*ShardRecordsPerSecond)
		b.bytes = min(l.capBytes(b), b.bytes+dt*b.scale*ShardBytesPerSecond)
		b.last = now
	}
	return b
}

// One second of burst, but always room for one record of the largest size (10 MiB streams).
func (b *bucket) capRecords() float64         { return max(1, b.scale*ShardRecordsPerSecond) }
func (l *Limiter) capBytes(b *bucket) float64 { return max(l.maxRecord, b.scale*ShardBytesPerSecond) }

// Take asks to send one Kinesis record of size bytes to shard. It takes the tokens and returns 0,
// or takes nothing and returns how long until the tokens will be there.
func (l *Limiter) Take(shard string, size int) time.Duration {
	if l == nil || shard == "" {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.get(shard, l.now())
	need := float64(size)
	if b.records >= 1 && b.bytes >= need {
		b.records--
		b.bytes -= need
		return 0
	}
	wait := 0.0
	if b.records < 1 {
		wait = (1 - b.records) / (b.scale * ShardRecordsPerSecond)
	}
	if b.bytes < need {
		wait = max(wait, (need-b.bytes)/(b.scale*ShardBytesPerSecond))
	}
	return time.Duration(wait*float64(time.Second)) + time.Millisecond
}

// Throttled halves shard's rate: Kinesis refused a record for throughput.
func (l *Limiter) Throttled(shard string) {
	if l == nil || shard == "" {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.get(shard, l.now())
	b.scale = max(minScale, b.scale/2)
	b.records, b.bytes = min(b.records, b.capRecords()), min(b.bytes, l.capBytes(b))
}

// Accepted raises shard's rate a little for each accepted Kinesis record, back towards the ceiling.
func (l *Limiter) Accepted(shard string) {
	if l == nil || shard == "" {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if b := l.buckets[shard]; b != nil && b.scale < l.ceiling {
		b.scale = min(l.ceiling, b.scale+0.01)
	}
}

// Scale returns shard's current rate as a multiple of the shard limits (for metrics).
func (l *Limiter) Scale(shard string) float64 {
	if l == nil {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if b := l.buckets[shard]; b != nil {
		return b.scale
	}
	return l.ceiling
}

// Retain forgets the buckets of shards not in open (closed by a split or merge).
func (l *Limiter) Retain(open func(shard string) bool) {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for id := range l.buckets {
		if !open(id) {
			delete(l.buckets, id)
		}
	}
}

// Headroom returns the bytes shard may take now: the Steering score of records without shard
// affinity, which so go to shards that are neither busy nor throttling.
func (l *Limiter) Headroom(shard string) float64 {
	if l == nil {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.get(shard, l.now()).bytes
}

// evenSpread steers records without shard affinity evenly over the shards when nothing paces them.
type evenSpread struct{}

func (evenSpread) Headroom(string) float64 { return 0 }
