package delivery

import (
	"context"
	"testing"

	"github.com/kinesis-agg/kinesis_agg/hashkey"
	"github.com/kinesis-agg/kinesis_agg/topology"
)

// staticTopology always returns one map.
type staticTopology struct{ m *topology.ShardMap }

func (s staticTopology) Current() *topology.ShardMap { return s.m }
func (s staticTopology) Invalidate(context.Context, *topology.ShardMap) (*topology.ShardMap, error) {
	return s.m, nil
}
func (s staticTopology) Routed(int) {}

// BenchmarkDeliver measures the sender's own cost per flush (routing, aggregation, batching,
// verification) against an API that accepts everything at once.
func BenchmarkDeliver(b *testing.B) {
	m, err := topology.New([]topology.Shard{{ID: "shardId-000000000000", Range: hashkey.Range{End: hashkey.Max}}})
	if err != nil {
		b.Fatal(err)
	}
	api := putFunc(func(_ context.Context, n int) (int, error) { return n, nil })
	for _, bc := range []struct {
		name      string
		aggregate bool
	}{{"aggregated", true}, {"plain", false}} {
		b.Run(bc.name, func(b *testing.B) {
			s := New(api, staticTopology{m}, Options{StreamName: "logs", Aggregate: bc.aggregate})
			recs := makeRecords(b, 5000, 1000, 200)
			b.SetBytes(5000 * 200)
			b.ReportAllocs()
			for b.Loop() {
				res := s.Deliver(context.Background(), recs)
				if res.Undelivered != 0 {
					b.Fatal(res.Err)
				}
			}
		})
	}
}
