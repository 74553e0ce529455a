package bench

import (
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/kinesis-agg/kinesis_agg/aggregation"
	"github.com/kinesis-agg/kinesis_agg/delivery"
	"github.com/kinesis-agg/kinesis_agg/events"
	"github.com/kinesis-agg/kinesis_agg/internal/fakekinesis"
	"github.com/kinesis-agg/kinesis_agg/internal/fastbase64"
	"github.com/kinesis-agg/kinesis_agg/internal/md5x"
	"github.com/kinesis-agg/kinesis_agg/kinesisapi"
	"github.com/kinesis-agg/kinesis_agg/output"
)

// stageVariants are the configurations the per-stage and floor benchmarks run.
var stageVariants = []variant{varJSONPK, varJSON, varLogKey, varNoAggPK}

// BenchmarkStage measures each stage of a flush on the same records; one op is every generated
// chunk (see ns/record for the cost per user record).
func BenchmarkStage(b *testing.B) {
	for _, v := range stageVariants {
		p := newPipeline(b, v)
		b.Run("convert/"+v.name, func(b *testing.B) { benchConvert(b, p) })
		b.Run("aggregate/"+v.name, func(b *testing.B) { benchAggregate(b, p) })
		b.Run("putrecords/"+v.name, func(b *testing.B) { benchPutRecords(b, p) })
	}
}

// benchConvert: chunk -> user records (events.Converter), reusing one Batch as output does.
func benchConvert(b *testing.B, p *pipeline) {
	chunks := generated()
	var batch events.Batch
	m := startMeter(b, p.records)
	for b.Loop() {
		for _, c := range chunks {
			batch.Reset()
			p.conv.Convert(c, benchTag, &batch)
		}
	}
	m.stop()
}

// benchAggregate: routing + aggregation + sealing over the shards (aggregation.Manager), one
// Manager reused across flushes as delivery does.
func benchAggregate(b *testing.B, p *pipeline) {
	mgr := newManager(p)
	m := startMeter(b, p.records)
	for b.Loop() {
		for _, batch := range p.batches {
			if _, err := route(mgr, p, batch.Records); err != nil {
				b.Fatal(err)
			}
		}
	}
	m.stop()
}

// benchPutRecords: request entries from sealed records, then the product's PutRecords
// (kinesisapi.PutRecordsClient): JSON body (base64), SigV4 signing (SHA-256 of the body), the
// body read to the end by the HTTP client, and the decoding of a canned answer.
func benchPutRecords(b *testing.B, p *pipeline) {
	rec := &recordingClient{discard: true}
	runPutCalls(b, p, kinesisapi.NewPutRecordsClient(sdkClient(rec)), rec, putCalls(p))
}

// putCall is one PutRecords request of a pipeline's records and the answer the endpoint gives.
type putCall struct {
	batch  []aggregation.Sealed
	answer []byte
}

// putCalls returns the PutRecords requests that deliver p's sealed records.
func putCalls(p *pipeline) []putCall {
	var calls []putCall
	for _, sealed := range p.sealed {
		for _, batch := range putBatches(sealed) {
			calls = append(calls, putCall{batch, cannedAnswer(len(batch))})
		}
	}
	return calls
}

// runPutCalls measures sending calls with api, whose HTTP client is rec.
func runPutCalls(b *testing.B, p *pipeline, api delivery.PutRecordsAPI, rec *recordingClient, calls []putCall) {
	var e []types.PutRecordsRequestEntry
	ctx := context.Background()
	m := startMeter(b, p.records)
	for b.Loop() {
		for _, c := range calls {
			e = entries(e, c.batch)
			rec.answer = c.answer
			if _, err := api.PutRecords(ctx, putInput(e)); err != nil {
				b.Fatal(err)
			}
		}
	}
	m.stop()
}

// Floor parts: the work no implementation can skip.
const (
	floorMD5Aggregate = "md5-aggregate"    // KPL checksum over each aggregate's protobuf
	floorBase64       = "base64"           // the JSON protocol's encoding of every Kinesis record
	floorSHA256Body   = "sha256-body"      // SigV4 payload hash of every request body
	floorMD5Key       = "md5-partitionkey" // routing: MD5 of every user record's partition key
	floorSum          = "sum"              // all four in one loop
	// floorSumFast is the sum computed the way the plugin computes it: base64 with its own
	// encoder (internal/fastbase64, AVX2) and the checksums of each flush's aggregates together
	// (internal/md5x, several messages per AVX2 register): the floor the plugin itself could reach.
	floorSumFast = "sum-fast"
)

var floorParts = []string{floorMD5Aggregate, floorBase64, floorSHA256Body, floorMD5Key, floorSum, floorSumFast}

// floorFunc returns one op of a floor part over all of p's records.
func floorFunc(p *pipeline, part string) func() {
	var b64 []byte
	md5Aggregates := func() {
		for _, sealed := range p.sealed {
			for i := range sealed {
				if d := sealed[i].Data; sealed[i].Aggregated {
					_ = md5.Sum(d[len(aggregation.Magic) : len(d)-md5.Size])
				}
			}
		}
	}
	base64s := func() {
		for _, sealed := range p.sealed {
			for i := range sealed {
				d := sealed[i].Data
				if n := base64.StdEncoding.EncodedLen(len(d)); cap(b64) < n {
					b64 = make([]byte, n)
				}
				base64.StdEncoding.Encode(b64[:base64.StdEncoding.EncodedLen(len(d))], d)
			}
		}
	}
	var sums [][md5x.Size]byte
	var msgs [][]byte
	md5xAggregates := func() {
		for _, sealed := range p.sealed {
			msgs = msgs[:0]
			for i := range sealed {
				if d := sealed[i].Data; sealed[i].Aggregated {
					msgs = append(msgs, d[len(aggregation.Magic):len(d)-md5.Size])
				}
			}
			sums = slices.Grow(sums[:0], len(msgs))[:len(msgs)]
			md5x.SumMany(sums, msgs)
		}
	}
	fastBase64s := func() {
		for _, sealed := range p.sealed {
			for i := range sealed {
				b64 = fastbase64.AppendEncode(b64[:0], sealed[i].Data)
			}
		}
	}
	sha256s := func() {
		for _, body := range p.bodies {
			_ = sha256.Sum256(body)
		}
	}
	md5Keys := func() {
		for _, batch := range p.batches {
			for i := range batch.Records {
				_ = md5.Sum([]byte(batch.Records[i].PartitionKey))
			}
		}
	}
	switch part {
	case floorMD5Aggregate:
		return md5Aggregates
	case floorBase64:
		return base64s
	case floorSHA256Body:
		return sha256s
	case floorMD5Key:
		return md5Keys
	case floorSumFast:
		return func() { md5xAggregates(); fastBase64s(); sha256s(); md5Keys() }
	}
	return func() { md5Aggregates(); base64s(); sha256s(); md5Keys() }
}

// BenchmarkFloor measures the unavoidable work for the same records as BenchmarkStage.
func BenchmarkFloor(b *testing.B) {
	for _, v := range stageVariants {
		p := newPipeline(b, v)
		for _, part := range floorParts {
			b.Run(v.name+"/"+part, func(b *testing.B) {
				f := floorFunc(p, part)
				m := startMeter(b, p.records)
				for b.Loop() {
					f()
				}
				m.stop()
			})
		}
	}
}

// flusher is an output.Instance talking to a fakekinesis in a child process over loopback.
type flusher struct {
	in   *output.Instance
	fake *childFake
	url  string
}

// newFlusher starts a fake and an instance for v.
func newFlusher(tb testing.TB, v variant) *flusher {
	tb.Helper()
	fake := startChildFake(tb)
	cfg := v.config(tb, fake.url)
	in, err := output.New("kinesis_agg.0", cfg, output.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(in.Close)
	fl := &flusher{in: in, fake: fake, url: fake.url}
	// The shard map loads in the background; until it has, records go out plain. Flush until
	// aggregates arrive, so that measured flushes run in the steady state.
	chunk := generated()[0]
	for i := 0; ; i++ {
		before := fake.Stats().AggregatedEntries
		if st := in.Flush(chunk, benchTag); st != output.OK {
			tb.Fatalf("warm-up flush: %s", st)
		}
		if !cfg.Aggregation || fake.Stats().AggregatedEntries > before {
			break
		}
		if i == 100 {
			tb.Fatal("no aggregate after 100 warm-up flushes: the shard map never loaded")
		}
	}
	fake.ResetStats()
	return fl
}

// BenchmarkFlush measures output.Instance.Flush, the whole flush, against a fake in a child
// process: one op flushes every generated chunk once. cpu-ns/record is this process's CPU, the
// plugin's alone; fake-ns/record is the endpoint's wall time, which the flush waits for.
func BenchmarkFlush(b *testing.B) {
	for _, v := range stageVariants {
		b.Run(v.name, func(b *testing.B) { benchFlush(b, v) })
	}
}

func benchFlush(b *testing.B, v variant) {
	fl := newFlusher(b, v)
	chunks := generated()
	records := 0
	for _, c := range chunks {
		records += countRecords(b, v, c)
	}
	m := startMeter(b, records)
	for b.Loop() {
		for _, c := range chunks {
			if st := fl.in.Flush(c, benchTag); st != output.OK {
				b.Fatalf("flush: %s", st)
			}
		}
	}
	m.stop()
	reportFake(b, fl.fake.Stats(), b.N*records)
}

// reportFake adds the endpoint's view: its own time, the Kinesis records per user record and the
// aggregate fill ratio.
func reportFake(b *testing.B, st fakekinesis.Stats, records int) {
	b.ReportMetric(float64(st.BusyNanos)/float64(records), "fake-ns/record")
	b.ReportMetric(float64(st.Entries)/float64(records), "kinesis-records/record")
	b.ReportMetric(st.AvgEntryBytes()/float64(fakekinesis.DefaultMaxRecordSizeKiB<<10), "fill")
}

// countRecords converts c once to count its user records.
func countRecords(tb testing.TB, v variant, c []byte) int {
	conv := converter(tb, v.config(tb, "http://127.0.0.1:1"))
	var batch events.Batch
	conv.Convert(c, benchTag, &batch)
	return len(batch.Records)
}
