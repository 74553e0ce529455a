package faultproxy

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/kinesis-agg/kinesis_agg/hashkey"
)

// listedShard is the part of a ListShards shard the proxy reads.
type listedShard struct {
	ShardId      string
	HashKeyRange struct {
		StartingHashKey string
		EndingHashKey   string
	}
	SequenceNumberRange struct {
		EndingSequenceNumber *string
	}
}

// shardInfo is one shard as upstream listed it.
type shardInfo struct {
	raw     json.RawMessage // passed on to clients unchanged
	id      string
	open    bool
	rng     hashkey.Range
	rangeOK bool
}

// upstreamAnswer is a non-200 answer from upstream, to relay to the client.
type upstreamAnswer struct {
	resp *http.Response
	body []byte
}

// fetchShards lists every shard of stream, open and closed, with one upstream ListShards naming
// only the stream (kinesalite returns all shards at once and ignores MaxResults).
func (p *Proxy) fetchShards(ctx context.Context, stream string) ([]shardInfo, *upstreamAnswer, error) {
	resp, body, err := p.call(ctx, "ListShards", map[string]string{"StreamName": stream})
	if err != nil {
		return nil, nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, &upstreamAnswer{resp, body}, nil
	}
	var out struct{ Shards []json.RawMessage }
	if err := json.Unmarshal(body, &out); err != nil {
		return nil, nil, fmt.Errorf("decoding ListShards answer for stream %q: %w", stream, err)
	}
	shards := make([]shardInfo, 0, len(out.Shards))
	for _, raw := range out.Shards {
		var ls listedShard
		if err := json.Unmarshal(raw, &ls); err != nil {
			return nil, nil, fmt.Errorf("decoding shard of stream %q: %w", stream, err)
		}
		s := shardInfo{raw: raw, id: ls.ShardId, open: ls.SequenceNumberRange.EndingSequenceNumber == nil}
		start, err1 := hashkey.ParseDecimal(ls.HashKeyRange.StartingHashKey)
		end, err2 := hashkey.ParseDecimal(ls.HashKeyRange.EndingHashKey)
		if err1 == nil && err2 == nil {
			s.rng, s.rangeOK = hashkey.Range{Start: start, End: end}, true
		}
		shards = append(shards, s)
	}
	return shards, nil, nil
}

// shardCache keeps each stream's open shards, sorted by starting hash key, for routing entries.
type shardCache struct {
	p  *Proxy
	mu sync.Mutex // held while fetching, so concurrent requests share one fetch
	m  map[string]cachedShards
}

type cachedShards struct {
	at   time.Time
	open []shardInfo
}

func newShardCache(p *Proxy) *shardCache { return &shardCache{p: p, m: map[string]cachedShards{}} }

// open returns the stream's open shards, fetching them when the cached list is older than ttl.
// It returns nil when they cannot be listed; callers then route nothing.
func (c *shardCache) open(ctx context.Context, stream string, ttl time.Duration) []shardInfo {
	if stream == "" {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.m[stream]; ok && time.Since(e.at) < ttl {
		return e.open
	}
	all, _, err := c.p.fetchShards(ctx, stream)
	if err != nil || all == nil {
		return nil
	}
	open := make([]shardInfo, 0, len(all))
	for _, s := range all {
		if s.open && s.rangeOK {
			open = append(open, s)
		}
	}
	sort.Slice(open, func(i, j int) bool { return open[i].rng.Start.Less(open[j].rng.Start) })
	c.m[stream] = cachedShards{at: time.Now(), open: open}
	return open
}

func (c *shardCache) invalidate(stream string) {
	c.mu.Lock()
	delete(c.m, stream)
	c.mu.Unlock()
}

// route returns the id of the open shard whose range contains h, or "".
func route(open []shardInfo, h hashkey.Key) string {
	i := sort.Search(len(open), func(i int) bool { return h.Less(open[i].rng.Start) }) - 1
	if i >= 0 && open[i].rng.Contains(h) {
		return open[i].id
	}
	return ""
}

// limiter is a token bucket per shard: rate tokens per second, a burst of one second's worth.
type limiter struct {
	mu sync.Mutex
	b  map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

func newLimiter() *limiter { return &limiter{b: map[string]*bucket{}} }

// allow takes one token from key's bucket if it has one.
func (l *limiter) allow(key string, rate float64, now time.Time) bool {
	burst := rate
	if burst < 1 {
		burst = 1
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.b[key]
	if !ok {
		b = &bucket{tokens: burst, last: now}
		l.b[key] = b
	}
	b.tokens += now.Sub(b.last).Seconds() * rate
	if b.tokens > burst {
		b.tokens = burst
	}
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}
