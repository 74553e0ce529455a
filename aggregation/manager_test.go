package aggregation

import (
	"bytes"
	"crypto/md5"
	"errors"
	"fmt"
	"math/big"
	mathrand "math/rand"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/kinesis-agg/kinesis_agg/hashkey"
	"github.com/kinesis-agg/kinesis_agg/internal/racedetect"
	"github.com/kinesis-agg/kinesis_agg/topology"
)

func bigOf(k hashkey.Key) *big.Int {
	b := new(big.Int).SetUint64(k.Hi)
	b.Lsh(b, 64)
	return b.Or(b, new(big.Int).SetUint64(k.Lo))
}

func keyOf(b *big.Int) hashkey.Key {
	lo := new(big.Int).And(b, new(big.Int).SetUint64(^uint64(0)))
	hi := new(big.Int).Rsh(b, 64)
	return hashkey.Key{Hi: hi.Uint64(), Lo: lo.Uint64()}
}

// randomTopology starts from n even shards and applies random splits and merges, the way a
// stream's open shards evolve.
func randomTopology(t testing.TB, rng *rand.Rand, n, ops int) *topology.ShardMap {
	t.Helper()
	next := 0
	newID := func() string { next++; return fmt.Sprintf("shardId-%012d", next-1) }
	var shards []topology.Shard
	width := new(big.Int).Div(new(big.Int).Lsh(big.NewInt(1), 128), big.NewInt(int64(n)))
	for i := 0; i < n; i++ {
		start := new(big.Int).Mul(width, big.NewInt(int64(i)))
		end := new(big.Int).Sub(new(big.Int).Add(start, width), big.NewInt(1))
		if i == n-1 {
			end = bigOf(hashkey.Max)
		}
		shards = append(shards, topology.Shard{ID: newID(), Range: hashkey.Range{Start: keyOf(start), End: keyOf(end)}})
	}
	for o := 0; o < ops; o++ {
		i := rng.IntN(len(shards))
		if rng.IntN(2) == 0 && len(shards) > 1 { // merge i with its neighbour
			j := i + 1
			if j == len(shards) {
				i, j = i-1, i
			}
			merged := topology.Shard{ID: newID(), Range: hashkey.Range{Start: shards[i].Range.Start, End: shards[j].Range.End}}
			shards = append(shards[:i], append([]topology.Shard{merged}, shards[j+1:]...)...)
			continue
		}
		s := shards[i]
		w := new(big.Int).Sub(bigOf(s.Range.End), bigOf(s.Range.Start))
		if w.Sign() == 0 {
			continue
		}
		off := randBelow(rng, w)
		mid := keyOf(new(big.Int).Add(bigOf(s.Range.Start), off.Add(off, big.NewInt(1))))
		below, _ := mid.Sub1()
		a := topology.Shard{ID: newID(), Range: hashkey.Range{Start: s.Range.Start, End: below}}
		b := topology.Shard{ID: newID(), Range: hashkey.Range{Start: mid, End: s.Range.End}}
		shards = append(shards[:i], append([]topology.Shard{a, b}, shards[i+1:]...)...)
	}
	m, err := topology.New(shards)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

type randSource struct{ r *rand.Rand }

func (s randSource) Int63() int64 { return s.r.Int64() }
func (s randSource) Seed(int64)   {}

// randBelow returns a uniform random integer in [0, n).
func randBelow(rng *rand.Rand, n *big.Int) *big.Int {
	return new(big.Int).Rand(mathrand.New(randSource{rng}), n)
}

// Every sealed aggregate passes KCL's filter on its predicted shard with all its records, fits the
// limit, and every input record comes out exactly once.
func TestManagerProperty(t *testing.T) {
	for seed := uint64(1); seed <= 40; seed++ {
		rng := rand.New(rand.NewPCG(seed, seed*7))
		sm := randomTopology(t, rng, 1+rng.IntN(8), rng.IntN(30))
		limits := Limits{MaxRecordBytes: 1 << 20}
		switch seed % 4 {
		case 1:
			limits.MaxAggregateBytes = 1000 + rng.IntN(60000)
		case 2:
			limits.MaxAggregateRecords = 1 + rng.IntN(50)
		case 3:
			limits.MaxRecordBytes = 4096 + rng.IntN(100000)
		}
		m := NewManager(limits)
		for round := 0; round < 2; round++ { // the second round reuses every buffer
			m.Reset(sm)
			n := 500 + rng.IntN(3000)
			inputs := make([]UserRecord, n)
			tooLarge := map[int]bool{}
			for i := range inputs {
				pk := fmt.Sprintf("pk-%d", rng.IntN(300))
				if rng.IntN(10) == 0 {
					pk = strings.Repeat("é", 1+rng.IntN(128)) // 2-byte UTF-8
				}
				ehk := ""
				if rng.IntN(5) == 0 {
					ehk = keyOf(randBelow(rng, bigOf(hashkey.Max))).String()
				}
				size := rng.IntN(600)
				if rng.IntN(200) == 0 {
					size = rng.IntN(limits.recordLimit() + 100)
				}
				data := make([]byte, size)
				for j := range data {
					data[j] = byte(rng.IntN(256))
				}
				r, err := NewUserRecord(pk, ehk, data, i)
				if err != nil {
					t.Fatal(err)
				}
				inputs[i] = r
				if err := m.Add(&inputs[i]); err != nil {
					if !errors.Is(err, ErrTooLarge) || len(data)+len(pk) <= limits.recordLimit() {
						t.Fatalf("seed %d: Add(%d bytes): %v", seed, len(data)+len(pk), err)
					}
					tooLarge[i] = true
				}
			}
			seen := make([]int, n)
			for _, s := range m.Seal() {
				if len(s.Members) == 0 {
					t.Fatalf("seed %d: sealed record without members", seed)
				}
				if s.Size() > limits.recordLimit() {
					t.Fatalf("seed %d: sealed %d bytes > limit %d", seed, s.Size(), limits.recordLimit())
				}
				want := sm.Lookup(s.Members[0].Hash)
				if s.ShardID != want.ID || s.Range != want.Range {
					t.Fatalf("seed %d: predicted %s, first member belongs to %s", seed, s.ShardID, want.ID)
				}
				if !s.Aggregated {
					if len(s.Members) != 1 {
						t.Fatalf("seed %d: plain record with %d members", seed, len(s.Members))
					}
					in := inputs[s.Members[0].Ref]
					if s.PartitionKey != in.PartitionKey || s.ExplicitHashKey != in.ExplicitHashKey || !bytes.Equal(s.Data, in.Data) {
						t.Fatalf("seed %d: plain record differs from its input", seed)
					}
					seen[s.Members[0].Ref]++
					continue
				}
				if limits.MaxAggregateBytes > 0 && s.Size() > limits.aggregateLimit() {
					t.Fatalf("seed %d: aggregate %d bytes > cap %d", seed, s.Size(), limits.aggregateLimit())
				}
				if limits.MaxAggregateRecords > 0 && len(s.Members) > limits.MaxAggregateRecords {
					t.Fatalf("seed %d: %d members > cap %d", seed, len(s.Members), limits.MaxAggregateRecords)
				}
				// The outer explicit hash key routes the blob into the predicted shard.
				outer, err := hashkey.ParseDecimal(s.ExplicitHashKey)
				if err != nil || !s.Range.Contains(outer) {
					t.Fatalf("seed %d: outer explicit hash key %q outside %s", seed, s.ExplicitHashKey, s.ShardID)
				}
				res := Deaggregate(s.PartitionKey, s.Data, &s.Range)
				if res.Outcome != Deaggregated || len(res.Records) != len(s.Members) {
					t.Fatalf("seed %d: KCL would give %v with %d of %d records", seed, res.Outcome, len(res.Records), len(s.Members))
				}
				for k, rec := range res.Records {
					in := inputs[s.Members[k].Ref]
					if rec.PartitionKey != in.PartitionKey || rec.ExplicitHashKey != in.ExplicitHashKey ||
						!bytes.Equal(rec.Data, in.Data) || rec.Hash != s.Members[k].Hash {
						t.Fatalf("seed %d: member %d differs from input %d", seed, k, s.Members[k].Ref)
					}
					seen[s.Members[k].Ref]++
				}
			}
			for i, c := range seen {
				want := 1
				if tooLarge[i] {
					want = 0
				}
				if c != want {
					t.Fatalf("seed %d: record %d came out %d times", seed, i, c)
				}
			}
		}
	}
}

func evenMap(t testing.TB, n int) *topology.ShardMap {
	return randomTopology(t, rand.New(rand.NewPCG(1, 1)), n, 0)
}

func TestManagerRules(t *testing.T) {
	sm := evenMap(t, 4)
	rec := func(pk string, size int, ref int) *UserRecord {
		r, err := NewUserRecord(pk, "", bytes.Repeat([]byte{'x'}, size), ref)
		if err != nil {
			t.Fatal(err)
		}
		return &r
	}
	t.Run("lone record goes out plain with its own keys", func(t *testing.T) {
		m := NewManager(Limits{})
		m.Reset(sm)
		if err := m.Add(rec("solo", 10, 7)); err != nil {
			t.Fatal(err)
		}
		out := m.Seal()
		if len(out) != 1 || out[0].Aggregated || out[0].PartitionKey != "solo" || len(out[0].Data) != 10 ||
			out[0].ShardID != sm.Lookup(hashkey.FromPartitionKey("solo")).ID || out[0].Members[0].Ref != 7 {
			t.Fatalf("got %+v", out)
		}
	})
	t.Run("no topology means no aggregation", func(t *testing.T) {
		m := NewManager(Limits{})
		m.Reset(nil)
		for i := 0; i < 5; i++ {
			if err := m.Add(rec("same", 10, i)); err != nil {
				t.Fatal(err)
			}
		}
		out := m.Seal()
		if len(out) != 5 {
			t.Fatalf("%d records, want 5", len(out))
		}
		for i, s := range out {
			if s.Aggregated || s.ShardID != "" || s.Members[0].Ref != i {
				t.Fatalf("record %d: %+v", i, s)
			}
		}
	})
	t.Run("one aggregate per shard, empty shards emit nothing", func(t *testing.T) {
		m := NewManager(Limits{})
		m.Reset(sm)
		for i := 0; i < 100; i++ {
			if err := m.Add(rec("same-key", 10, i)); err != nil {
				t.Fatal(err)
			}
		}
		out := m.Seal()
		if len(out) != 1 || !out[0].Aggregated || len(out[0].Members) != 100 || out[0].PartitionKey != "a" {
			t.Fatalf("got %d sealed, first %+v", len(out), out[0].ShardID)
		}
		if m.Seal(); len(m.Seal()) != 1 {
			t.Fatal("sealing twice emitted more records")
		}
	})
	t.Run("exact fill", func(t *testing.T) {
		// Size the limit so that exactly 3 records fit, then check the 4th starts a new aggregate.
		a := NewAggregator(1<<20, 0)
		for i := 0; i < 3; i++ {
			a.Add(rec("k", 100, i))
		}
		limit := a.Size()
		m := NewManager(Limits{MaxRecordBytes: limit})
		m.Reset(sm)
		for i := 0; i < 4; i++ {
			if err := m.Add(rec("k", 100, i)); err != nil {
				t.Fatal(err)
			}
		}
		out := m.Seal()
		if len(out) != 2 || len(out[0].Members) != 3 || out[0].Size() != limit || out[1].Aggregated {
			t.Fatalf("got %d records: %d members, size %d (limit %d)", len(out), len(out[0].Members), out[0].Size(), limit)
		}
	})
	t.Run("too large for an aggregate but fits plain", func(t *testing.T) {
		m := NewManager(Limits{MaxRecordBytes: 1000})
		m.Reset(sm)
		if err := m.Add(rec("k", 990, 1)); err != nil {
			t.Fatal(err)
		}
		if err := m.Add(rec("k", 1000, 2)); !errors.Is(err, ErrTooLarge) {
			t.Fatalf("1000-byte record with a 1-byte key over a 1000-byte limit: %v", err)
		}
		out := m.Seal()
		if len(out) != 1 || out[0].Aggregated || out[0].Size() != 991 {
			t.Fatalf("got %+v", out)
		}
	})
}

func FuzzDeaggregate(f *testing.F) {
	for _, v := range loadVectors(f) {
		for _, ar := range v.AggregatedRecords {
			if data := b64(f, ar.DataB64); len(data) < 4096 {
				f.Add(data)
			}
		}
	}
	f.Add([]byte{0xF3, 0x89, 0x9A, 0xC2})
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, rng := range []*hashkey.Range{nil, {Start: hashkey.Key{Hi: 1 << 62}, End: hashkey.Key{Hi: 1 << 63}}} {
			res := Deaggregate("p", data, rng)
			switch res.Outcome {
			case Passthrough:
				if len(res.Records) != 1 || !bytes.Equal(res.Records[0].Data, data) {
					t.Fatal("passthrough must return the record unchanged")
				}
			case DroppedOutOfRange:
				if len(res.Records) != 0 || res.OutOfRange == 0 {
					t.Fatal("a dropped aggregate returns nothing")
				}
			case Deaggregated:
				if len(res.Records) != res.Total {
					t.Fatal("deaggregated must return every record")
				}
			}
			// Re-encoding what KCL returned (with real keys) must round-trip.
			if res.Outcome == Deaggregated && len(res.Records) > 0 {
				a := NewAggregator(1<<30, 0)
				for i, r := range res.Records {
					ur := UserRecord{PartitionKey: r.PartitionKey, ExplicitHashKey: r.ExplicitHashKey, Data: r.Data, Ref: i}
					a.Add(&ur)
				}
				again := Deaggregate("p", a.AppendBlob(nil), nil)
				if len(again.Records) != len(res.Records) && again.Outcome == Deaggregated {
					t.Fatal("re-encoded aggregate lost records")
				}
			}
		}
	})
}

type fixedHeadroom map[string]float64

func (f fixedHeadroom) Headroom(shard string) float64 { return f[shard] }

// Steered records fill one aggregate at a time for the shard with the most headroom; each carries
// that shard's starting hash key, so KCL keeps every aggregate.
func TestManagerSteering(t *testing.T) {
	sm := evenMap(t, 4)
	shards := sm.Shards()
	for _, tc := range []struct {
		name     string
		headroom fixedHeadroom
		check    func(t *testing.T, perShard map[string]int)
	}{
		{"even spread", fixedHeadroom{}, func(t *testing.T, perShard map[string]int) {
			for _, s := range shards {
				if n := perShard[s.ID]; n < 2000/4-200 || n > 2000/4+200 {
					t.Errorf("%s got %d of 2000 records: %v", s.ID, n, perShard)
				}
			}
		}},
		{"away from a throttled shard", fixedHeadroom{shards[0].ID: -1e9, shards[1].ID: 0, shards[2].ID: 0, shards[3].ID: 0},
			func(t *testing.T, perShard map[string]int) {
				if perShard[shards[0].ID] != 0 {
					t.Errorf("the shard without headroom got records: %v", perShard)
				}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := NewManager(Limits{MaxAggregateBytes: 16 << 10})
			m.SetSteering(tc.headroom)
			m.Reset(sm)
			for i := 0; i < 2000; i++ {
				r, _ := NewUserRecord(fmt.Sprintf("rnd-%d", i), "", bytes.Repeat([]byte{'d'}, 100), i)
				r.Steerable = true
				if err := m.Add(&r); err != nil {
					t.Fatal(err)
				}
			}
			perShard, partial := map[string]int{}, map[string]int{}
			seen := map[int]bool{}
			for _, s := range m.Seal() {
				res := Deaggregate(s.PartitionKey, s.Data, &s.Range)
				if !s.Aggregated || res.Outcome != Deaggregated || len(res.Records) != len(s.Members) {
					t.Fatalf("aggregate for %s: %v", s.ShardID, res.Outcome)
				}
				for k, rec := range res.Records {
					if rec.ExplicitHashKey != s.Range.Start.String() || seen[s.Members[k].Ref] {
						t.Fatalf("member %d: explicit hash key %q, want the shard start", k, rec.ExplicitHashKey)
					}
					seen[s.Members[k].Ref] = true
				}
				perShard[s.ShardID] += len(s.Members)
				if s.Size() < (16<<10)*9/10 {
					partial[s.ShardID]++
				}
			}
			for id, n := range partial {
				if n > 1 {
					t.Errorf("%s: %d aggregates under 90%% full; only the last of a round may be", id, n)
				}
			}
			if len(seen) != 2000 {
				t.Fatalf("%d of 2000 records sealed", len(seen))
			}
			tc.check(t, perShard)
		})
	}
}

// A producer may leave the hash of a random key unset for a steering Manager; a Manager without
// steering computes it, so KCL (which hashes the key) still finds every record in range.
func TestManagerSteerableWithoutSteering(t *testing.T) {
	sm := evenMap(t, 4)
	m := NewManager(Limits{})
	m.Reset(sm)
	for i := 0; i < 50; i++ {
		r := UserRecord{PartitionKey: fmt.Sprintf("rnd-%d", i), Data: []byte("x"), Ref: i, Steerable: true}
		if err := m.Add(&r); err != nil {
			t.Fatal(err)
		}
	}
	n := 0
	for _, s := range m.Seal() {
		if !s.Aggregated {
			n++
			continue
		}
		res := Deaggregate(s.PartitionKey, s.Data, &s.Range)
		if res.Outcome != Deaggregated || len(res.Records) != len(s.Members) {
			t.Fatalf("KCL would drop the aggregate for %s: %v", s.ShardID, res.Outcome)
		}
		n += len(res.Records)
	}
	if n != 50 {
		t.Fatalf("%d of 50 records sealed", n)
	}
}

// TestManagerSealsInPlace covers both ways an aggregate is sealed: in the aggregator's buffer when
// its key tables fit the room in front of the records, and by copying when they outgrew it (many
// long keys). Every aggregate must read back as exactly its input, across rounds that reuse the
// buffers, and the Manager must adapt the room so that later aggregates are sealed in place.
func TestManagerSealsInPlace(t *testing.T) {
	sm := evenMap(t, 1)
	m := NewManager(Limits{MaxAggregateBytes: 64 << 10})
	for round, keys := range []int{3, 200, 200, 5, 200} {
		m.Reset(sm)
		type want struct {
			pk   string
			data string
		}
		var wants []want
		for i := range 600 {
			pk := fmt.Sprintf("round-%d-a-rather-long-partition-key-%04d", round, i%keys)
			data := fmt.Sprintf("round %d record %d %s", round, i, bytes.Repeat([]byte{byte('a' + i%26)}, i%300))
			r, err := NewUserRecord(pk, "", []byte(data), i)
			if err != nil {
				t.Fatal(err)
			}
			if err := m.Add(&r); err != nil {
				t.Fatal(err)
			}
			wants = append(wants, want{pk, data})
		}
		out := m.Seal()
		if len(out) < 2 {
			t.Fatalf("round %d: %d records sealed, want several aggregates", round, len(out))
		}
		next := 0
		for _, s := range out {
			res := Deaggregate(s.PartitionKey, s.Data, &s.Range)
			if !s.Aggregated || res.Outcome != Deaggregated || len(res.Records) != len(s.Members) {
				t.Fatalf("round %d: %s with %d members deaggregated as %v, %d records (%v)", round, s.ShardID, len(s.Members), res.Outcome, len(res.Records), res.Err)
			}
			for i, r := range res.Records {
				w := wants[s.Members[i].Ref]
				if s.Members[i].Ref != next || r.PartitionKey != w.pk || string(r.Data) != w.data {
					t.Fatalf("round %d: member %d is ref %d %q/%q, want ref %d %q/%q", round, i, s.Members[i].Ref, r.PartitionKey, r.Data, next, w.pk, w.data)
				}
				next++
			}
		}
		if next != len(wants) {
			t.Fatalf("round %d: %d records came out, want %d", round, next, len(wants))
		}
		// 200 keys of ~45 bytes make ~9 KiB of table, more than the initial room: the first such
		// round copies, the rooms grow, and from then on aggregates are sealed in place.
		if inPlace := len(m.lent); (round == 1) == (inPlace == len(out)) {
			t.Errorf("round %d (%d keys): %d of %d aggregates sealed in place", round, keys, inPlace, len(out))
		}
	}
}

// TestManagerSteadyStateAllocatesNothing checks that a Manager reused across flushes, as each
// plugin worker does, reaches a state where a whole flush allocates nothing and seals every
// aggregate in place.
func TestManagerSteadyStateAllocatesNothing(t *testing.T) {
	for _, shards := range []int{4, 64} {
		sm := evenMap(t, shards)
		recs := benchRecords(t, benchRecordsPerFlush)
		m := NewManager(Limits{})
		flush := func() {
			m.Reset(sm)
			for j := range recs {
				if err := m.Add(&recs[j]); err != nil {
					t.Fatal(err)
				}
			}
			m.Seal()
		}
		for range 5 {
			flush()
		}
		if allocs := testing.AllocsPerRun(20, flush); allocs != 0 && !racedetect.Enabled {
			t.Errorf("%d shards: %.1f allocations per flush, want 0", shards, allocs)
		}
		if out := m.Seal(); len(m.lent) != len(out) {
			t.Errorf("%d shards: %d of %d aggregates sealed in place", shards, len(m.lent), len(out))
		}
	}
}

// Checksums are written by Seal for every aggregate of the round, those sealed early because
// they were full included; a round reset before Seal leaves nothing behind for the next one.
func TestManagerChecksumsAtSeal(t *testing.T) {
	sm := evenMap(t, 4)
	m := NewManager(Limits{MaxAggregateBytes: 16 << 10})
	recs := benchRecords(t, 2000)
	for round := range 3 {
		m.Reset(sm)
		for j := range recs {
			if err := m.Add(&recs[j]); err != nil {
				t.Fatal(err)
			}
		}
		if round == 0 {
			continue // abandoned: the next Reset drops it
		}
		out := m.Seal()
		aggregates := 0
		for _, s := range out {
			if !s.Aggregated {
				continue
			}
			aggregates++
			msg := s.Data[magicLen : len(s.Data)-checksumLen]
			if sum := md5.Sum(msg); !bytes.Equal(sum[:], s.Data[len(s.Data)-checksumLen:]) {
				t.Fatalf("round %d: %s: checksum %x, want %x", round, s.ShardID, s.Data[len(s.Data)-checksumLen:], sum)
			}
		}
		if aggregates < 8 {
			t.Fatalf("round %d: %d aggregates, want several per shard", round, aggregates)
		}
		if len(m.unsummed) != 0 {
			t.Fatalf("round %d: %d checksums left pending after Seal", round, len(m.unsummed))
		}
	}
}
