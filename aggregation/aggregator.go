package aggregation

import (
	"crypto/md5"

	"github.com/kinesis-agg/kinesis_agg/hashkey"
)

// Aggregator packs user records for one shard into one aggregated record, knowing its exact
// encoded size at every step. The zero value is not usable; create one with NewAggregator.
//
// Records keep the order they were added in; the partition key and explicit hash key tables are in
// first-use order, which is what KPL and the aws-kinesis-agg libraries write.
type Aggregator struct {
	limit      int // bytes of blob + outer partition key
	maxRecords int // 0 = no cap

	pkIndex  keyIndex
	pkCount  uint64 // partition key table entries
	ehkIndex map[string]uint64
	pkTable  []byte // encoded partition_key_table entries
	ehkTable []byte // encoded explicit_hash_key_table entries
	// buf holds the encoded records entries at buf[head:]; the room in front lets the Manager
	// seal the aggregate where it is (see sealInPlace). A Manager's aggregators take buf from
	// pool when they get their first record and give it up when they are sealed, so that idle
	// aggregators hold no memory.
	buf     []byte
	pool    *bufferPool
	head    int
	room    int // the head wanted from the next aggregate on, after tables outgrew head
	members []Member

	// The first record, kept so that a lone record can go out as a plain Kinesis record.
	firstPK   string
	firstEHK  string
	firstData []byte
}

// NewAggregator returns an empty aggregator whose aggregates, counted as Kinesis counts them
// (data plus the outer partition key), never exceed limit bytes, with at most maxRecords user
// records (0 means no cap).
func NewAggregator(limit, maxRecords int) *Aggregator {
	return &Aggregator{
		limit:      limit,
		maxRecords: maxRecords,
		ehkIndex:   make(map[string]uint64),
	}
}

// Len returns the number of user records added since the last Reset.
func (a *Aggregator) Len() int { return len(a.members) }

// Members returns the user records added since the last Reset, in order.
func (a *Aggregator) Members() []Member { return a.members }

func (a *Aggregator) protoSize() int {
	n := len(a.pkTable) + len(a.ehkTable)
	if a.buf != nil {
		n += len(a.buf) - a.head
	}
	return n
}

// Size returns the exact size Kinesis would count for the aggregate holding the records added so
// far: magic, protobuf message, MD5 and the one-byte outer partition key.
func (a *Aggregator) Size() int {
	return frameOverhead + a.protoSize() + len(outerPartitionKey)
}

// SizeWith returns what Size would return after adding r.
func (a *Aggregator) SizeWith(r *UserRecord) int {
	var p placement
	a.plan(r, &p)
	return a.Size() + p.cost
}

// placement is where r's keys go: existing table indexes or new entries, and the bytes it adds.
type placement struct {
	pkIdx, ehkIdx uint64
	pkHash        uint64 // of the partition key in pkIndex; unused for Steerable records
	newPK, newEHK bool
	cost          int
}

func (a *Aggregator) plan(r *UserRecord, p *placement) {
	var ok bool
	if !r.Steerable {
		p.pkHash = keyHash(r)
		p.pkIdx, ok = a.pkIndex.find(p.pkHash, r.PartitionKey, a.pkTable)
	}
	// A random partition key (Steerable) is unique: not worth looking up or indexing.
	if !ok {
		p.pkIdx, p.newPK = a.pkCount, true
		p.cost += tableEntrySize(len(r.PartitionKey))
	}
	hasEHK := r.ExplicitHashKey != ""
	if hasEHK {
		if p.ehkIdx, ok = a.ehkIndex[r.ExplicitHashKey]; !ok {
			p.ehkIdx, p.newEHK = uint64(len(a.ehkIndex)), true
			p.cost += tableEntrySize(len(r.ExplicitHashKey))
		}
	}
	p.cost += recordEntrySize(recordBodySize(p.pkIdx, p.ehkIdx, hasEHK, len(r.Data)))
}

// keyHash hashes r's partition key for pkIndex: the low half of its MD5, which is r's hash key
// already unless r has an explicit one.
func keyHash(r *UserRecord) uint64 {
	if r.ExplicitHashKey == "" {
		return r.Hash.Lo
	}
	return hashkey.FromPartitionKey(r.PartitionKey).Lo
}

// Add appends r if the aggregate stays within the limits and reports whether it did. The record's
// bytes are copied; r.Data is only referenced again if r ends up alone (see Manager.Seal).
func (a *Aggregator) Add(r *UserRecord) bool {
	if a.maxRecords > 0 && len(a.members) >= a.maxRecords {
		return false
	}
	var p placement
	a.plan(r, &p)
	if a.Size()+p.cost > a.limit {
		return false
	}
	if p.newPK {
		a.pkTable = appendTableEntry(a.pkTable, fieldPartitionKeyTable, r.PartitionKey)
		if !r.Steerable {
			a.pkIndex.insert(p.pkHash, len(a.pkTable)-len(r.PartitionKey), len(r.PartitionKey), p.pkIdx)
		}
		a.pkCount++
	}
	if p.newEHK {
		a.ehkIndex[r.ExplicitHashKey] = p.ehkIdx
		a.ehkTable = appendTableEntry(a.ehkTable, fieldExplicitHashKeyTable, r.ExplicitHashKey)
	}
	if a.buf == nil {
		a.buf = a.pool.get(a.head)
	}
	a.buf = appendRecord(a.buf, p.pkIdx, p.ehkIdx, r.ExplicitHashKey != "", r.Data)
	if len(a.members) == 0 {
		a.firstPK, a.firstEHK, a.firstData = r.PartitionKey, r.ExplicitHashKey, r.Data
	}
	a.members = append(a.members, Member{Hash: r.Hash, Ref: r.Ref})
	return true
}

// AppendBlob appends the aggregated record's data (magic, protobuf message, MD5 of the message)
// to dst. It needs Size()-1 bytes of room to append without growing dst.
func (a *Aggregator) AppendBlob(dst []byte) []byte {
	start := len(dst)
	dst = a.appendUnsummed(dst)
	sum := md5.Sum(dst[start+magicLen : len(dst)-checksumLen])
	copy(dst[len(dst)-checksumLen:], sum[:])
	return dst
}

// appendUnsummed is AppendBlob with the checksum left as zeros, for the caller to fill in.
func (a *Aggregator) appendUnsummed(dst []byte) []byte {
	dst = append(dst, Magic[:]...)
	dst = append(dst, a.pkTable...)
	dst = append(dst, a.ehkTable...)
	if a.buf != nil {
		dst = append(dst, a.buf[a.head:]...)
	}
	return append(dst, make([]byte, checksumLen)...)
}

// sealInPlace returns the aggregated record's data (as AppendBlob) built inside the aggregator's
// buffer: the magic and the key tables go into the room in front of the records and the MD5 after
// them, so the records, most of the bytes, are not copied again. The aggregator gives up the
// buffer, which holds the returned blob, and takes a new one from its pool for its next record.
// ok is false, and nothing changes, when the key tables outgrew the room; AppendBlob is the way
// then. The checksum is left as zeros: the Manager computes the checksums of all the aggregates
// of a round together (see Manager.Seal).
func (a *Aggregator) sealInPlace() (blob []byte, ok bool) {
	prefix := magicLen + len(a.pkTable) + len(a.ehkTable)
	// Room for the next aggregate's tables: what these needed and a quarter more.
	a.room = max(a.head, prefix+prefix/4)
	if prefix > a.head || a.buf == nil {
		return nil, false // Reset makes the room
	}
	start := a.head - prefix
	n := copy(a.buf[start:], Magic[:])
	n += copy(a.buf[start+n:], a.pkTable)
	copy(a.buf[start+n:], a.ehkTable)
	blob = append(a.buf[start:], make([]byte, checksumLen)...)

	a.head = a.room
	a.buf = nil
	return blob, true
}

// Reset empties the aggregator, keeping its buffers for reuse.
func (a *Aggregator) Reset() {
	a.pkIndex.reset()
	a.pkCount = 0
	clear(a.ehkIndex)
	a.pkTable = a.pkTable[:0]
	a.ehkTable = a.ehkTable[:0]
	if a.room > a.head {
		a.head = a.room
		if a.buf != nil && cap(a.buf) < a.head {
			a.buf = make([]byte, 0, a.head+64<<10)
		}
	}
	if a.buf != nil {
		a.buf = a.buf[:a.head]
	}
	a.members = a.members[:0]
	a.firstPK, a.firstEHK, a.firstData = "", "", nil
}

// Member is one user record inside a sealed Kinesis record: its hash key, so delivery can check it
// against the shard that accepted the record, and the caller's reference.
type Member struct {
	Hash hashkey.Key
	Ref  int
}
