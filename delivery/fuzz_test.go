package delivery

import (
	"context"
	"errors"
	"sort"
	"testing"

	"github.com/aws/smithy-go"

	"github.com/kinesis-agg/kinesis_agg/aggregation"
)

// script hands out fuzz bytes one at a time (zero when exhausted).
type script struct{ b []byte }

func (s *script) next() byte {
	if len(s.b) == 0 {
		return 0
	}
	c := s.b[0]
	s.b = s.b[1:]
	return c
}

// mergeAdjacent merges the open shard at position i (by starting hash key) with the next one.
func (f *fakeKinesis) mergeAdjacent(i int) {
	f.mu.Lock()
	var open []*fakeShard
	for _, s := range f.shards {
		if !s.closed {
			open = append(open, s)
		}
	}
	f.mu.Unlock()
	if len(open) < 2 {
		return
	}
	sort.Slice(open, func(a, b int) bool { return open[a].rng.Start.Less(open[b].rng.Start) })
	i %= len(open) - 1
	f.merge(open[i].id, open[i+1].id)
}

func (f *fakeKinesis) openIDs() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var ids []string
	for _, s := range f.shards {
		if !s.closed {
			ids = append(ids, s.id)
		}
	}
	return ids
}

// FuzzDeliver drives the fake stream with a byte script: reshards between calls, failed entries
// and requests, lost acks, a refresh that fails. Whatever happens, every record is exactly one of
// delivered / rejected / undelivered, everything reported delivered reaches a KCL consumer, and
// duplicates never exceed PossibleDuplicates.
func FuzzDeliver(f *testing.F) {
	f.Add([]byte{0})
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10})
	f.Add([]byte{0x81, 0x10, 0x33, 0x07, 0x90, 0xff, 0x00, 0x42})
	f.Add([]byte{0x40, 0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48, 0x49, 0x4a})
	f.Fuzz(func(t *testing.T, data []byte) {
		sc := &script{b: data}
		hdr := sc.next()
		fk := newFakeKinesis(1 + int(hdr%4))
		topo := &fakeTopology{stream: fk}
		if hdr&0x10 == 0 {
			topo.set(fk.shardMap())
		}
		if hdr&0x20 != 0 {
			topo.invalidErr = errors.New("ListShards throttled")
		}
		fk.beforeCall = func(call int) {
			switch op := sc.next(); op % 8 {
			case 1:
				ids := fk.openIDs()
				if len(ids) < 16 {
					fk.split(ids[int(op/8)%len(ids)])
				}
			case 2:
				fk.mergeAdjacent(int(op / 8))
			}
		}
		fk.failRequest = func(int) error {
			switch sc.next() % 16 {
			case 1:
				return apiError("InternalFailure", smithy.FaultServer)
			case 2:
				return apiError("LimitExceededException", smithy.FaultClient)
			case 3:
				return &timeoutErr{}
			case 4:
				return apiError("ResourceNotFoundException", smithy.FaultClient)
			}
			return nil
		}
		fk.loseAck = func(int) bool { return sc.next()%16 == 1 }
		fk.failEntry = func(_, _ int, _, _ string) string {
			switch sc.next() % 8 {
			case 1:
				return "ProvisionedThroughputExceededException"
			case 2:
				return "InternalFailure"
			}
			return ""
		}
		n := 1 + int(sc.next())*2
		limits := aggregation.Limits{MaxAggregateRecords: int(sc.next() % 32), MaxRecordBytes: 400 + int(sc.next())*4}
		var api PutRecordsAPI = fk // requests built ahead, as over kinesisapi.PutRecordsClient
		if hdr&0x80 != 0 {
			api = sequential{fk} // as over the SDK client
		}
		s, _ := newTestSender(api, topo, Options{Aggregate: hdr&0x40 == 0, Limits: limits, MaxEntries: 1 + int(sc.next()%20)})
		recs := makeRecords(t, n, 1+int(sc.next()), 10+int(sc.next())*3)
		res := s.Deliver(context.Background(), recs)

		checkResult(t, fk, n, res, false)
		if d := duplicates(t, fk); d > res.Stats.PossibleDuplicates {
			t.Fatalf("%d duplicates > PossibleDuplicates %d (stats %+v)", d, res.Stats.PossibleDuplicates, res.Stats)
		}
		for _, r := range res.Rejected {
			if len(recs[r.Index].Data)+len(recs[r.Index].PartitionKey) <= limits.MaxRecordBytes {
				t.Fatalf("record %d rejected (%s) but fits the limit", r.Index, r.Reason)
			}
		}
	})
}
