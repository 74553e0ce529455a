package aggregation

import (
	"errors"
	"fmt"
	"slices"

	"github.com/kinesis-agg/kinesis_agg/hashkey"
	"github.com/kinesis-agg/kinesis_agg/internal/md5x"
	"github.com/kinesis-agg/kinesis_agg/topology"
)

// DefaultMaxRecordBytes is a stream's record limit unless it was raised (up to 10 MiB).
const DefaultMaxRecordBytes = 1 << 20

// Limits bound what the Manager seals.
type Limits struct {
	// MaxRecordBytes is the stream's per-record limit: data plus partition key bytes.
	// 0 means DefaultMaxRecordBytes.
	MaxRecordBytes int
	// MaxAggregateBytes optionally caps aggregates below MaxRecordBytes (0 = MaxRecordBytes).
	// Smaller aggregates cost less to resend when a reshard makes one land on the wrong shard.
	MaxAggregateBytes int
	// MaxAggregateRecords optionally caps the user records in one aggregate (0 = no cap).
	MaxAggregateRecords int
}

func (l Limits) recordLimit() int {
	if l.MaxRecordBytes <= 0 {
		return DefaultMaxRecordBytes
	}
	return l.MaxRecordBytes
}

func (l Limits) aggregateLimit() int {
	if l.MaxAggregateBytes > 0 && l.MaxAggregateBytes < l.recordLimit() {
		return l.MaxAggregateBytes
	}
	return l.recordLimit()
}

// ErrTooLarge is wrapped by the error for a user record that does not fit in a Kinesis record
// even on its own.
var ErrTooLarge = errors.New("record larger than the stream's record limit")

// bufferPool keeps the buffers of aggregates sealed in place for the aggregators' next records.
type bufferPool struct {
	free [][]byte
}

// get returns a buffer of length head (the room for the key tables) with capacity to spare. A
// nil pool (a standalone Aggregator's) allocates.
func (p *bufferPool) get(head int) []byte {
	if p == nil {
		return make([]byte, head, head+4<<10)
	}
	if n := len(p.free); n > 0 {
		b := p.free[n-1]
		p.free[n-1] = nil
		p.free = p.free[:n-1]
		if cap(b) >= head {
			return b[:head]
		}
	}
	return make([]byte, head, head+64<<10)
}

func (p *bufferPool) put(b []byte) { p.free = append(p.free, b[:0]) }

// trim drops all but the n most recently returned buffers.
func (p *bufferPool) trim(n int) {
	if extra := len(p.free) - n; extra > 0 {
		copy(p.free, p.free[extra:])
		clear(p.free[n:])
		p.free = p.free[:n]
	}
}

// initialTableRoom is the room a new aggregator keeps in front of its records for the key tables;
// each aggregator adapts it to the tables it has seen.
const initialTableRoom = 1 << 10

// Sealed is one Kinesis record ready for PutRecords, with what delivery needs to verify it.
type Sealed struct {
	Data            []byte
	PartitionKey    string
	ExplicitHashKey string // decimal; "" = none
	// ShardID is the shard the record was built for, "" when it was routed without a topology.
	ShardID string
	// Range is the predicted shard's hash key range (zero when ShardID is "").
	Range hashkey.Range
	// Aggregated is false for a plain record carrying exactly one user record; KCL never filters
	// plain records, so they are delivered wherever they land.
	Aggregated bool
	// Members are the user records the Kinesis record carries, in order.
	Members []Member
}

// Size is what Kinesis counts against the record and request limits.
func (s *Sealed) Size() int { return len(s.Data) + len(s.PartitionKey) }

// Manager routes user records to one Aggregator per destination shard of a ShardMap and seals
// them into Kinesis records. Every aggregate it seals holds only records that the map puts in one
// shard, and its explicit hash key (its first member's hash key) routes it into that shard.
//
// A Manager is not safe for concurrent use; use one per flush and reuse it across flushes.
type Manager struct {
	limits Limits
	sm     *topology.ShardMap
	plain  bool          // route with sm, but never aggregate
	aggs   []*Aggregator // by position in sm.Shards()
	sealed []Sealed
	// members and blobs back the Members and Data of sealed records until the next Reset;
	// so do the aggregators' buffers sealed in place (lent), which Reset returns to pool.
	members []Member
	blobs   arena
	lent    [][]byte
	pool    bufferPool
	// unsummed are the aggregates sealed this round whose checksum Seal has yet to write.
	unsummed [][]byte
	sums     [][md5x.Size]byte
	msgs     [][]byte

	steering Steering
	target   int      // shard index steered records go to, -1 before the first
	assigned []int    // bytes steered to each shard this round
	starts   []string // decimal starting hash key of each shard, computed when first needed
	turn     int      // rotates ties between equally good shards across rounds
}

// Steering scores shards for records without shard affinity.
type Steering interface {
	// Headroom is how many bytes shard can take now; the shard with the most (less what this
	// round already steered to it) gets the next aggregate.
	Headroom(shard string) float64
}

// SetSteering makes the Manager place Steerable records itself: it fills one aggregate at a time
// for the open shard with the most headroom, giving each record the shard's starting hash key as
// its explicit hash key (which KCL checks, and which stays inside one shard even if that shard is
// split before the record lands). nil routes Steerable records by their own hash key.
func (m *Manager) SetSteering(s Steering) {
	m.steering = s
}

// NewManager returns a Manager with no topology: until Reset is given a map, every record is
// sealed un-aggregated.
func NewManager(l Limits) *Manager {
	return &Manager{limits: l}
}

// Reset forgets everything sealed and starts routing with sm. A nil map sends every record
// un-aggregated, which is always safe for KCL's filter.
func (m *Manager) Reset(sm *topology.ShardMap) {
	m.reset(sm, false)
}

// ResetPlain is Reset for a round that predicts each record's shard with sm (for verification and
// per-shard pacing) but sends every record un-aggregated.
func (m *Manager) ResetPlain(sm *topology.ShardMap) {
	m.reset(sm, true)
}

func (m *Manager) reset(sm *topology.ShardMap, plain bool) {
	m.plain = plain
	for _, a := range m.aggs {
		a.Reset()
	}
	m.sm = sm
	if sm != nil {
		for len(m.aggs) < sm.Len() {
			a := NewAggregator(m.limits.aggregateLimit(), m.limits.MaxAggregateRecords)
			a.head, a.pool = initialTableRoom, &m.pool
			m.aggs = append(m.aggs, a)
		}
	}
	m.target = -1
	m.turn++
	m.assigned = m.assigned[:0]
	m.starts = m.starts[:0]
	if sm != nil && m.steering != nil {
		m.assigned = append(m.assigned, make([]int, sm.Len())...)
		m.starts = append(m.starts, make([]string, sm.Len())...)
	}
	clear(m.unsummed) // a round reset before Seal: its records are dropped with it
	m.unsummed = m.unsummed[:0]
	clear(m.sealed) // drop references to the previous round's data
	m.sealed = m.sealed[:0]
	m.members = m.members[:0]
	m.blobs.reset()
	for _, b := range m.lent {
		m.pool.put(b)
	}
	// Keep what a round like this one needs; a burst does not pin its buffers forever.
	m.pool.trim(len(m.lent) + 4)
	clear(m.lent)
	m.lent = m.lent[:0]
}

// Add routes r to its shard's aggregator, sealing that aggregate first if r does not fit. A record
// too large to aggregate goes out on its own as a plain record. The error wraps ErrTooLarge when
// even that exceeds the record limit; nothing else fails.
func (m *Manager) Add(r *UserRecord) error {
	if m.sm == nil {
		return m.addPlain(r, topology.Shard{})
	}
	if r.Steerable && m.steering != nil {
		return m.addSteered(r)
	}
	if r.Steerable && r.Hash == (hashkey.Key{}) {
		// Producers may leave the hash of a random key out when a Manager steers; this one
		// does not, so route by the key's real hash (the one KCL will compute).
		steered := *r
		steered.Hash = hashkey.FromPartitionKey(r.PartitionKey)
		r = &steered
	}
	i := m.sm.LookupIndex(r.Hash)
	if m.plain {
		return m.addPlain(r, m.sm.Shards()[i])
	}
	a := m.aggs[i]
	if a.Add(r) {
		return nil
	}
	if a.Len() > 0 {
		m.seal(i)
		if a.Add(r) {
			return nil
		}
	}
	return m.addPlain(r, m.sm.Shards()[i])
}

// addSteered places r on the steering target: the current one while its aggregate takes r, else
// (after sealing the full one) the shard with the most headroom.
func (m *Manager) addSteered(r *UserRecord) error {
	if m.target < 0 {
		m.target = m.pickTarget()
	}
	t := m.target
	if m.plain {
		if m.assigned[t] >= m.limits.aggregateLimit() {
			t = m.pickTarget()
			m.target = t
		}
		steered := m.steerTo(r, t)
		m.assigned[t] += len(r.Data)
		return m.addPlain(&steered, m.sm.Shards()[t])
	}
	steered := m.steerTo(r, t)
	if m.aggs[t].Add(&steered) {
		m.assigned[t] += len(r.Data)
		return nil
	}
	if m.aggs[t].Len() > 0 {
		m.seal(t)
	}
	t = m.pickTarget()
	m.target = t
	steered = m.steerTo(r, t)
	m.assigned[t] += len(r.Data)
	if m.aggs[t].Add(&steered) {
		return nil
	}
	if m.aggs[t].Len() > 0 {
		m.seal(t)
		if m.aggs[t].Add(&steered) {
			return nil
		}
	}
	return m.addPlain(&steered, m.sm.Shards()[t])
}

// steerTo returns r with shard t's starting hash key as its explicit hash key.
func (m *Manager) steerTo(r *UserRecord, t int) UserRecord {
	if m.starts[t] == "" {
		m.starts[t] = m.sm.Shards()[t].Range.Start.String()
	}
	out := *r
	out.Hash = m.sm.Shards()[t].Range.Start
	out.ExplicitHashKey = m.starts[t]
	return out
}

func (m *Manager) pickTarget() int {
	shards := m.sm.Shards()
	best, bestScore := -1, 0.0
	for k := range shards {
		i := (k + m.turn) % len(shards)
		score := m.steering.Headroom(shards[i].ID) - float64(m.assigned[i])
		if best < 0 || score > bestScore {
			best, bestScore = i, score
		}
	}
	return best
}

func (m *Manager) addPlain(r *UserRecord, shard topology.Shard) error {
	if n := len(r.Data) + len(r.PartitionKey); n > m.limits.recordLimit() {
		return fmt.Errorf("aggregation: record of %d bytes (data %d + partition key %d) > limit %d: %w",
			n, len(r.Data), len(r.PartitionKey), m.limits.recordLimit(), ErrTooLarge)
	}
	start := len(m.members)
	m.members = append(m.members, Member{Hash: r.Hash, Ref: r.Ref})
	m.sealed = append(m.sealed, Sealed{
		Data:            r.Data,
		PartitionKey:    r.PartitionKey,
		ExplicitHashKey: r.ExplicitHashKey,
		ShardID:         shard.ID,
		Range:           shard.Range,
		Members:         m.members[start:len(m.members):len(m.members)],
	})
	return nil
}

// seal turns the aggregate of shard i into a Kinesis record.
func (m *Manager) seal(i int) {
	a := m.aggs[i]
	if a.Len() == 0 {
		return // never emit an aggregate without records: KCL would make it vanish
	}
	shard := m.sm.Shards()[i]
	start := len(m.members)
	m.members = append(m.members, a.Members()...)
	s := Sealed{
		ShardID: shard.ID,
		Range:   shard.Range,
		Members: m.members[start:len(m.members):len(m.members)],
	}
	if a.Len() == 1 {
		// A lone record goes out plain with its own keys: cheaper, and KCL never filters it.
		s.Data, s.PartitionKey, s.ExplicitHashKey = a.firstData, a.firstPK, a.firstEHK
	} else {
		full := a.buf
		if blob, ok := a.sealInPlace(); ok {
			s.Data = blob
			m.lent = append(m.lent, full)
		} else {
			blob := m.blobs.alloc(a.Size() - len(outerPartitionKey))
			s.Data = a.appendUnsummed(blob[:0])
		}
		m.unsummed = append(m.unsummed, s.Data)
		s.PartitionKey = outerPartitionKey
		s.ExplicitHashKey = m.blobs.decimal(s.Members[0].Hash)
		s.Aggregated = true
	}
	m.sealed = append(m.sealed, s)
	a.Reset()
}

// Seal seals every open aggregate and returns all records sealed since Reset, in the order they
// were sealed. The result and its byte slices are valid until the next Reset.
func (m *Manager) Seal() []Sealed {
	if m.sm != nil && !m.plain {
		for i := range m.sm.Len() {
			m.seal(i)
		}
	}
	m.checksum()
	return m.sealed
}

// checksum writes the MD5 checksums of the aggregates sealed since the last call. They are
// computed together because hashing several messages at once (md5x) costs a fraction of hashing
// them one after the other, and a round seals one aggregate per shard at the same moment.
func (m *Manager) checksum() {
	if len(m.unsummed) == 0 {
		return
	}
	m.msgs = m.msgs[:0]
	for _, blob := range m.unsummed {
		m.msgs = append(m.msgs, blob[magicLen:len(blob)-checksumLen])
	}
	m.sums = slices.Grow(m.sums[:0], len(m.msgs))[:len(m.msgs)]
	md5x.SumMany(m.sums, m.msgs)
	for i, blob := range m.unsummed {
		copy(blob[len(blob)-checksumLen:], m.sums[i][:])
	}
	clear(m.unsummed)
	m.unsummed = m.unsummed[:0]
	clear(m.msgs)
}
