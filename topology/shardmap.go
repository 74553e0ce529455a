// Package topology knows which open shard owns which hash keys. A ShardMap is an immutable,
// validated snapshot of the stream's open shards; a Tracker loads it with ListShards, refreshes it
// every N routed records, on an interval and on demand, and swaps snapshots atomically so that
// routing never blocks.
package topology

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/kinesis-agg/kinesis_agg/hashkey"
)

// Shard is an open shard and the hash keys it owns.
type Shard struct {
	ID    string
	Range hashkey.Range
}

// ShardMap is an immutable snapshot of a stream's open shards, sorted by starting hash key, that
// tiles the hash key space 0..2^128-1 without gaps or overlaps.
type ShardMap struct {
	open   []Shard
	starts []hashkey.Key // open[i].Range.Start, for the binary search
	// jump[b] is the index of the shard owning the first hash key whose top jumpBits bits are b,
	// so that a lookup searches only the shards that share those bits: none for evenly split
	// streams of up to 2^jumpBits shards.
	jump     []uint32
	ranges   map[string]hashkey.Range
	loadedAt time.Time
}

// ErrInvalidMap is wrapped by the errors of maps that do not tile the hash key space.
var ErrInvalidMap = errors.New("open shards do not tile the hash key space")

// FromListed builds a map from a full ListShards listing. Closed shards are left out of routing but
// their ranges stay known to RangeOf, because a record accepted just before a split reports its
// then-open parent.
func FromListed(all []ListedShard) (*ShardMap, error) {
	m := &ShardMap{ranges: make(map[string]hashkey.Range, len(all))}
	for _, s := range all {
		if s.ShardID == "" {
			return nil, fmt.Errorf("topology: shard with empty id: %w", ErrInvalidMap)
		}
		start, err := hashkey.ParseDecimal(s.StartingHashKey)
		if err != nil {
			return nil, fmt.Errorf("topology: shard %s: starting hash key: %w", s.ShardID, err)
		}
		end, err := hashkey.ParseDecimal(s.EndingHashKey)
		if err != nil {
			return nil, fmt.Errorf("topology: shard %s: ending hash key: %w", s.ShardID, err)
		}
		if end.Less(start) {
			return nil, fmt.Errorf("topology: shard %s: ending hash key %s below starting hash key %s: %w",
				s.ShardID, s.EndingHashKey, s.StartingHashKey, ErrInvalidMap)
		}
		r := hashkey.Range{Start: start, End: end}
		if prev, dup := m.ranges[s.ShardID]; dup {
			// Pages read across a reshard may repeat a shard; the same range is harmless.
			if prev != r {
				return nil, fmt.Errorf("topology: shard %s listed twice with different ranges: %w", s.ShardID, ErrInvalidMap)
			}
			continue
		}
		m.ranges[s.ShardID] = r
		if s.Open() {
			m.open = append(m.open, Shard{ID: s.ShardID, Range: r})
		}
	}
	if err := m.index(); err != nil {
		return nil, err
	}
	return m, nil
}

// New builds a map from open shards directly.
func New(open []Shard) (*ShardMap, error) {
	m := &ShardMap{open: slices.Clone(open), ranges: make(map[string]hashkey.Range, len(open))}
	for _, s := range open {
		if _, dup := m.ranges[s.ID]; dup {
			return nil, fmt.Errorf("topology: shard %s listed twice: %w", s.ID, ErrInvalidMap)
		}
		m.ranges[s.ID] = s.Range
	}
	if err := m.index(); err != nil {
		return nil, err
	}
	return m, nil
}

// index sorts the open shards and checks that they tile 0..2^128-1.
func (m *ShardMap) index() error {
	if len(m.open) == 0 {
		return fmt.Errorf("topology: no open shards: %w", ErrInvalidMap)
	}
	slices.SortFunc(m.open, func(a, b Shard) int { return a.Range.Start.Compare(b.Range.Start) })
	if m.open[0].Range.Start != (hashkey.Key{}) {
		return fmt.Errorf("topology: lowest open shard %s starts at %s, not 0: %w",
			m.open[0].ID, m.open[0].Range.Start, ErrInvalidMap)
	}
	for i := 1; i < len(m.open); i++ {
		prev, cur := m.open[i-1], m.open[i]
		next, overflow := prev.Range.End.Add1()
		if overflow || next != cur.Range.Start {
			kind := "gap"
			if !prev.Range.End.Less(cur.Range.Start) {
				kind = "overlap"
			}
			return fmt.Errorf("topology: %s between shard %s (ends %s) and shard %s (starts %s): %w",
				kind, prev.ID, prev.Range.End, cur.ID, cur.Range.Start, ErrInvalidMap)
		}
	}
	if last := m.open[len(m.open)-1]; last.Range.End != hashkey.Max {
		return fmt.Errorf("topology: highest open shard %s ends at %s, not 2^128-1: %w",
			last.ID, last.Range.End, ErrInvalidMap)
	}
	m.starts = make([]hashkey.Key, len(m.open))
	for i, s := range m.open {
		m.starts[i] = s.Range.Start
	}
	m.jump = make([]uint32, 1<<jumpBits+1)
	for b := range 1 << jumpBits {
		m.jump[b] = uint32(m.search(hashkey.Key{Hi: uint64(b) << (64 - jumpBits)}, 0, len(m.starts)))
	}
	m.jump[1<<jumpBits] = uint32(len(m.starts) - 1)
	return nil
}

const jumpBits = 10

// Lookup returns the open shard that owns h.
func (m *ShardMap) Lookup(h hashkey.Key) Shard { return m.open[m.LookupIndex(h)] }

// LookupIndex returns the position in Shards of the open shard that owns h.
func (m *ShardMap) LookupIndex(h hashkey.Key) int {
	b := h.Hi >> (64 - jumpBits)
	// The owner is at or after the owner of the bucket's first key, and at or before the owner
	// of the next bucket's first key.
	return m.search(h, int(m.jump[b]), int(m.jump[b+1])+1)
}

// search returns the last shard in [lo, hi) whose start is <= h; starts[lo] must be <= h.
func (m *ShardMap) search(h hashkey.Key, lo, hi int) int {
	for hi-lo > 1 {
		mid := int(uint(lo+hi) >> 1)
		if h.Less(m.starts[mid]) {
			hi = mid
		} else {
			lo = mid
		}
	}
	return lo
}

// Shards returns the open shards sorted by starting hash key. The slice must not be modified.
func (m *ShardMap) Shards() []Shard { return m.open }

// Len returns the number of open shards.
func (m *ShardMap) Len() int { return len(m.open) }

// RangeOf returns the range of any shard of the listing the map was built from, open or closed.
func (m *ShardMap) RangeOf(id string) (hashkey.Range, bool) {
	r, ok := m.ranges[id]
	return r, ok
}

// LoadedAt returns when the listing behind the map was read (zero for maps built with New).
func (m *ShardMap) LoadedAt() time.Time { return m.loadedAt }

// String lists the open shards, for logs.
func (m *ShardMap) String() string {
	var b strings.Builder
	for i, s := range m.open {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(s.ID)
	}
	return fmt.Sprintf("%d open shards [%s]", len(m.open), b.String())
}

// IsOpen reports whether id is one of the map's open shards.
func (m *ShardMap) IsOpen(id string) bool {
	for _, s := range m.open {
		if s.ID == id {
			return true
		}
	}
	return false
}
