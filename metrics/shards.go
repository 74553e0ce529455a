package metrics

import (
	"sync"
	"sync/atomic"
)

// ShardCounters counts Kinesis records, bytes and throttles per shard for Snapshot.Shards. It is
// safe for concurrent use; the zero value is ready. Adding to a shard already seen takes a read
// lock and atomic adds, and allocates nothing.
type ShardCounters struct {
	mu     sync.RWMutex
	shards map[string]*shardCount
}

type shardCount struct {
	records, bytes, throttles atomic.Int64
}

func (c *ShardCounters) get(shard string) *shardCount {
	c.mu.RLock()
	sc := c.shards[shard]
	c.mu.RUnlock()
	if sc != nil {
		return sc
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if sc = c.shards[shard]; sc == nil {
		if c.shards == nil {
			c.shards = map[string]*shardCount{}
		}
		sc = new(shardCount)
		c.shards[shard] = sc
	}
	return sc
}

// Accepted counts records Kinesis records totalling bytes bytes stored on shard.
func (c *ShardCounters) Accepted(shard string, records, bytes int64) {
	sc := c.get(shard)
	sc.records.Add(records)
	sc.bytes.Add(bytes)
}

// Throttled counts n entries shard throttled.
func (c *ShardCounters) Throttled(shard string, n int64) {
	c.get(shard).throttles.Add(n)
}

// Snapshot returns the counters of the shards in open, in that order (a shard never counted has
// zeros), and forgets every other shard, so counters of closed shards do not accumulate. A count
// added to a closed shard while it is being forgotten may be lost; its series is gone anyway.
func (c *ShardCounters) Snapshot(open []string) []ShardStats {
	out := make([]ShardStats, len(open))
	keep := make(map[string]bool, len(open))
	c.mu.RLock()
	for i, id := range open {
		keep[id] = true
		out[i].ID = id
		if sc := c.shards[id]; sc != nil {
			out[i].Records = sc.records.Load()
			out[i].Bytes = sc.bytes.Load()
			out[i].Throttles = sc.throttles.Load()
		}
	}
	stale := len(c.shards) > len(keep)
	if !stale {
		for id := range c.shards {
			if !keep[id] {
				stale = true
				break
			}
		}
	}
	c.mu.RUnlock()
	if stale {
		c.mu.Lock()
		for id := range c.shards {
			if !keep[id] {
				delete(c.shards, id)
			}
		}
		c.mu.Unlock()
	}
	return out
}
