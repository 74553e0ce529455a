package bench

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/kinesis-agg/kinesis_agg/aggregation"
	"github.com/kinesis-agg/kinesis_agg/output"
)

// TestWorkload checks that the generated chunks are the workload the issue describes, and that
// each pipeline stage hands the next what delivery would.
func TestWorkload(t *testing.T) {
	chunks := generated()
	if len(chunks) != benchChunks {
		t.Fatalf("%d chunks, want %d", len(chunks), benchChunks)
	}
	for _, v := range []variant{varJSONPK, varNoAggPK} {
		p := newPipelineN(t, v, 1)
		perChunk := p.records
		dataBytes, pods := 0, map[string]bool{}
		for _, b := range p.batches {
			for _, r := range b.Records {
				dataBytes += len(r.Data)
				pods[r.PartitionKey] = true
			}
		}
		avg := dataBytes / p.records
		t.Logf("%s: %d records per chunk, %d bytes of data per record, %d partition keys", v.name, perChunk, avg, len(pods))
		if perChunk < 5500 || perChunk > 6500 || avg < 300 || avg > 380 || len(pods) < 950 || len(pods) > benchPods {
			t.Errorf("%s: %d records per chunk (want ~6000), %d bytes each (want ~330), %d partition keys (want ~1000)",
				v.name, perChunk, avg, len(pods))
		}

		sealedMembers, aggregated := 0, 0
		sm := p.fake.ShardMap()
		for c, sealed := range p.sealed {
			for _, sd := range sealed {
				sealedMembers += len(sd.Members)
				if !sd.Aggregated {
					continue
				}
				aggregated++
				// Every member must belong to the shard the aggregate is routed to.
				rng, ok := sm.RangeOf(sd.ShardID)
				if !ok {
					t.Fatalf("%s: aggregate for unknown shard %q", v.name, sd.ShardID)
				}
				res := aggregation.Deaggregate(sd.PartitionKey, sd.Data, &rng)
				if res.Outcome != aggregation.Deaggregated || len(res.Records) != len(sd.Members) {
					t.Fatalf("%s: chunk %d: aggregate for %s deaggregates as %v with %d of %d records (%v)",
						v.name, c, sd.ShardID, res.Outcome, len(res.Records), len(sd.Members), res.Err)
				}
			}
		}
		if sealedMembers != p.records {
			t.Errorf("%s: sealed records carry %d user records, want %d", v.name, sealedMembers, p.records)
		}
		if p.cfg.Aggregation != (aggregated > 0) {
			t.Errorf("%s: %d aggregates with aggregation=%v", v.name, aggregated, p.cfg.Aggregation)
		}

		// The captured bodies are what the SDK sends: JSON with every entry.
		if len(p.bodies) != len(p.requests) {
			t.Fatalf("%s: %d bodies for %d requests", v.name, len(p.bodies), len(p.requests))
		}
		entries := 0
		for i, body := range p.bodies {
			var doc struct {
				StreamName string
				Records    []struct {
					Data            []byte
					PartitionKey    string
					ExplicitHashKey string
				}
			}
			if err := json.Unmarshal(body, &doc); err != nil {
				t.Fatalf("%s: body %d: %v", v.name, i, err)
			}
			if doc.StreamName != benchStream || len(doc.Records) != len(p.requests[i]) ||
				!bytes.Equal(doc.Records[0].Data, p.requests[i][0].Data) {
				t.Fatalf("%s: body %d does not match its request", v.name, i)
			}
			entries += len(doc.Records)
		}
		if want := sealedCount(p); entries != want {
			t.Errorf("%s: %d entries in the bodies, want %d", v.name, entries, want)
		}

		// Every floor part runs on these records.
		for _, part := range floorParts {
			floorFunc(p, part)()
		}
	}
}

func sealedCount(p *pipeline) int {
	n := 0
	for _, s := range p.sealed {
		n += len(s)
	}
	return n
}

// TestFlushAgainstFake checks the whole-flush set-up: the instance delivers every record of a
// chunk to the fake, aggregated over every shard.
func TestFlushAgainstFake(t *testing.T) {
	for _, v := range []variant{varJSONPK, varJSON, varNoAggPK} {
		fl := newFlusher(t, v)
		chunk := generated()[1]
		records := countRecords(t, v, chunk)
		before := fl.in.Counters.Delivered.Load()
		if st := fl.in.Flush(chunk, benchTag); st != output.OK {
			t.Fatalf("%s: flush: %s", v.name, st)
		}
		if got := fl.in.Counters.Delivered.Load() - before; got != int64(records) {
			t.Errorf("%s: %d records delivered, want %d", v.name, got, records)
		}
		st := fl.fake.Stats()
		cfg := v.config(t, fl.url)
		switch {
		case cfg.Aggregation && (st.AggregatedEntries == 0 || st.AggregatedEntries != st.Entries):
			t.Errorf("%s: %d of %d entries aggregated, want all", v.name, st.AggregatedEntries, st.Entries)
		case !cfg.Aggregation && (st.AggregatedEntries != 0 || st.Entries != int64(records)):
			t.Errorf("%s: %d entries (%d aggregated), want %d plain", v.name, st.Entries, st.AggregatedEntries, records)
		}
		// Records spread over every shard (steered ones fill one aggregate per shard at a time).
		used := 0
		for _, n := range st.ShardEntries {
			if n > 0 {
				used++
			}
		}
		if want := min(int64(benchShards), st.Entries); int64(used) != want {
			t.Errorf("%s: %d shards got entries, want %d: %v", v.name, used, want, st.ShardEntries)
		}
		if st.Errors != 0 || fl.in.Counters.Misroutes.Load() != 0 {
			t.Errorf("%s: %d error answers, %d misroutes", v.name, st.Errors, fl.in.Counters.Misroutes.Load())
		}
	}
}
