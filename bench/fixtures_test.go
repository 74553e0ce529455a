package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/kinesis-agg/kinesis_agg/aggregation"
	"github.com/kinesis-agg/kinesis_agg/conf"
	"github.com/kinesis-agg/kinesis_agg/events"
	"github.com/kinesis-agg/kinesis_agg/internal/chunkgen"
	"github.com/kinesis-agg/kinesis_agg/internal/fakekinesis"
	"github.com/kinesis-agg/kinesis_agg/kinesisapi"
	"github.com/kinesis-agg/kinesis_agg/output"
)

// Workload shape, as in the issue: ~2 MB chunks of ~6,000 Kubernetes-style records of ~330 bytes
// of JSON over 1,000 pods, sent to a 4-shard stream.
const (
	benchShards     = 4
	benchPods       = 1000
	benchChunkBytes = 2_000_000
	// benchChunks distinct chunks are generated; flushes cycle through them.
	benchChunks = 4
	// recordsPerChunkEstimate sizes the generator; Generate cuts chunks at benchChunkBytes.
	recordsPerChunkEstimate = 6100
	benchStream             = "bench"
	benchTag                = "kube.bench"
)

func TestMain(m *testing.M) {
	if os.Getenv(childFakeEnv) != "" {
		serveChildFake()
	}
	// The plugin's credential chain (in-process here, and in the C host, which inherits the
	// environment) must find static keys and never look for instance metadata.
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_SESSION_TOKEN": "",
		"AWS_EC2_METADATA_DISABLED": "true", "AWS_PROFILE": "", "AWS_REGION": fakekinesis.Region,
	} {
		os.Setenv(k, v)
	}
	os.Exit(m.Run())
}

// generated holds the chunks every benchmark runs on, built once per test binary.
var generated = sync.OnceValue(func() [][]byte {
	chunks := chunkgen.Generate(chunkgen.Options{
		Records:    benchChunks * recordsPerChunkEstimate,
		ChunkBytes: benchChunkBytes,
		Pods:       benchPods,
		Seed:       20261125,
	})
	if len(chunks) > benchChunks { // drop the short tail chunk
		chunks = chunks[:benchChunks]
	}
	return chunks
})

// variant is one plugin configuration measured.
type variant struct {
	name  string
	props map[string]string // plugin properties besides region, stream and endpoint
}

const podNameKey = "$kubernetes['pod_name']"

// noPacing turns off per-shard pacing (shard_rate_limit): it holds records back to the shard
// write limits (1 MiB/s per shard), which would measure the 4-shard stream's capacity, not the
// plugin's cost.
const noPacing = "0"

var (
	varJSONPK  = variant{"json+pk", map[string]string{"partition_key": podNameKey}}
	varJSON    = variant{"json+randomkey", map[string]string{}}
	varLogKey  = variant{"logkey+pk", map[string]string{"partition_key": podNameKey, "log_key": "log"}}
	varNoAggPK = variant{"json+pk+noagg", map[string]string{"partition_key": podNameKey, "aggregation": "off"}}
)

// config parses the variant's properties as Fluent Bit would hand them over.
func (v variant) config(tb testing.TB, endpoint string) *conf.Config {
	tb.Helper()
	props := map[string]string{
		"region": fakekinesis.Region, "stream": benchStream, "endpoint": endpoint, "plugin_log_level": "warn",
		"shard_rate_limit": noPacing,
	}
	for k, val := range v.props {
		props[k] = val
	}
	cfg, err := conf.Parse(func(k string) string { return props[k] })
	if err != nil {
		tb.Fatalf("variant %s: %v", v.name, err)
	}
	return cfg
}

// hostProps lists the properties as --prop arguments for the C host.
func (v variant) hostProps(endpoint string) []string {
	args := []string{"--prop", "region=" + fakekinesis.Region, "--prop", "stream=" + benchStream,
		"--prop", "endpoint=" + endpoint, "--prop", "plugin_log_level=info", "--prop", "shard_rate_limit=" + noPacing}
	for k, val := range v.props {
		args = append(args, "--prop", k+"="+val)
	}
	return args
}

// converter builds the events.Converter the plugin builds for cfg (output.New does the same).
func converter(tb testing.TB, cfg *conf.Config) *events.Converter {
	tb.Helper()
	c, err := events.NewConverter(output.ConverterOptions(cfg, fakekinesis.DefaultMaxRecordSizeKiB<<10))
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// pipeline is every intermediate product of one variant on the generated chunks, each stage fed
// by the previous one, so that stage benchmarks run on exactly the same data.
type pipeline struct {
	v        variant
	cfg      *conf.Config
	conv     *events.Converter
	fake     *fakekinesis.Fake // for its shard map; nothing is served
	batches  []*events.Batch   // one per chunk, kept alive: records point into them
	records  int               // user records in all chunks
	managers []*aggregation.Manager
	sealed   [][]aggregation.Sealed // per chunk
	requests [][]types.PutRecordsRequestEntry
	bodies   [][]byte // the serialized PutRecords bodies, as the SDK sent them
}

func newPipeline(tb testing.TB, v variant) *pipeline {
	tb.Helper()
	return newPipelineN(tb, v, len(generated()))
}

// newPipelineN is newPipeline on the first n chunks only (tests keep it short).
func newPipelineN(tb testing.TB, v variant, n int) *pipeline {
	tb.Helper()
	p := &pipeline{v: v, cfg: v.config(tb, "http://127.0.0.1:1")}
	p.conv = converter(tb, p.cfg)
	fake, err := fakekinesis.New(fakekinesis.Options{Shards: benchShards})
	if err != nil {
		tb.Fatal(err)
	}
	p.fake = fake
	for _, chunk := range generated()[:n] {
		b := new(events.Batch)
		p.conv.Convert(chunk, benchTag, b)
		if b.Malformed != nil || len(b.Rejected) > 0 || len(b.Records) == 0 {
			tb.Fatalf("variant %s: chunk converted to %d records, %d rejected, malformed %v",
				v.name, len(b.Records), len(b.Rejected), b.Malformed)
		}
		p.batches = append(p.batches, b)
		p.records += len(b.Records)

		m := newManager(p)
		sealed, err := route(m, p, b.Records)
		if err != nil {
			tb.Fatal(err)
		}
		p.managers = append(p.managers, m)
		p.sealed = append(p.sealed, sealed)
		for _, batch := range putBatches(sealed) {
			p.requests = append(p.requests, entries(nil, batch))
		}
	}
	rec := &recordingClient{}
	client := sdkClient(rec)
	for _, e := range p.requests {
		rec.answer = cannedAnswer(len(e))
		if _, err := client.PutRecords(context.Background(), putInput(e)); err != nil {
			tb.Fatalf("variant %s: PutRecords against the canned client: %v", v.name, err)
		}
	}
	p.bodies = rec.bodies
	return p
}

// newManager returns a Manager set up as delivery sets one up without pacing.
func newManager(p *pipeline) *aggregation.Manager {
	m := aggregation.NewManager(aggregation.Limits{
		MaxRecordBytes:      fakekinesis.DefaultMaxRecordSizeKiB << 10,
		MaxAggregateBytes:   p.cfg.AggregationMaxBytes,
		MaxAggregateRecords: p.cfg.AggregationMaxRecords,
	})
	m.SetSteering(evenSpread{})
	return m
}

// evenSpread is delivery's steering without pacing: every shard has the same headroom, so
// records without shard affinity are spread evenly.
type evenSpread struct{}

func (evenSpread) Headroom(string) float64 { return 0 }

// route runs one flush's records through m as delivery does: routed with the shard map when
// aggregating, all plain otherwise.
func route(m *aggregation.Manager, p *pipeline, recs []aggregation.UserRecord) ([]aggregation.Sealed, error) {
	if p.cfg.Aggregation {
		m.Reset(p.fake.ShardMap())
	} else {
		m.Reset(nil)
	}
	for i := range recs {
		r := recs[i] // delivery copies each record to set Ref
		r.Ref = i
		if err := m.Add(&r); err != nil {
			return nil, fmt.Errorf("record %d: %w", i, err)
		}
	}
	return m.Seal(), nil
}

// Request limits the delivery package applies.
const (
	requestMaxBytes   = 5 << 20
	requestMaxEntries = 500
)

// putBatches splits sealed records into PutRecords requests as delivery does.
func putBatches(sealed []aggregation.Sealed) [][]aggregation.Sealed {
	var out [][]aggregation.Sealed
	for start := 0; start < len(sealed); {
		end, n := start, 0
		for end < len(sealed) && end-start < requestMaxEntries {
			size := sealed[end].Size()
			if end > start && n+size > requestMaxBytes {
				break
			}
			n += size
			end++
		}
		out = append(out, sealed[start:end])
		start = end
	}
	return out
}

// entries builds request entries from sealed records into dst, as delivery does.
func entries(dst []types.PutRecordsRequestEntry, batch []aggregation.Sealed) []types.PutRecordsRequestEntry {
	dst = dst[:0]
	for i := range batch {
		sd := &batch[i]
		e := types.PutRecordsRequestEntry{Data: sd.Data, PartitionKey: &sd.PartitionKey}
		if sd.ExplicitHashKey != "" {
			e.ExplicitHashKey = &sd.ExplicitHashKey
		}
		dst = append(dst, e)
	}
	return dst
}

func putInput(e []types.PutRecordsRequestEntry) *kinesis.PutRecordsInput {
	return &kinesis.PutRecordsInput{StreamName: aws.String(benchStream), Records: e}
}

// cannedAnswer is a successful PutRecords answer for n entries, all on shard 0 (the SDK does not
// look at shard ids; delivery, which does, is measured by BenchmarkFlush instead).
func cannedAnswer(n int) []byte {
	var b bytes.Buffer
	b.WriteString(`{"FailedRecordCount":0,"Records":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"SequenceNumber":"49600000000000000000000000000000000000000000000%09d","ShardId":"shardId-000000000000"}`, i)
	}
	b.WriteString("]}")
	return b.Bytes()
}

// recordingClient is an aws.HTTPClient that reads each request body to the end, as net/http
// would when writing it to a socket, and answers with a canned response. It optionally keeps the
// bodies.
type recordingClient struct {
	answer  []byte
	discard bool // do not keep bodies
	bodies  [][]byte
	scratch bytes.Buffer
	rd      bytes.Reader
	resp    http.Response
}

func (c *recordingClient) Do(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		c.scratch.Reset()
		if _, err := c.scratch.ReadFrom(r.Body); err != nil {
			return nil, err
		}
		r.Body.Close()
		if !c.discard {
			c.bodies = append(c.bodies, bytes.Clone(c.scratch.Bytes()))
		}
	}
	c.rd.Reset(c.answer)
	c.resp = http.Response{
		Status: "200 OK", StatusCode: http.StatusOK, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: http.Header{"Content-Type": {"application/x-amz-json-1.1"},
			"Content-Length": {strconv.Itoa(len(c.answer))}, "X-Amzn-Requestid": {"bench"}},
		ContentLength: int64(len(c.answer)),
		Body:          io.NopCloser(&c.rd),
		Request:       r,
	}
	return &c.resp, nil
}

// sdkClient is the product's Kinesis client (kinesisapi.NewClient: its credential chain, its
// retry settings) with the HTTP client replaced.
func sdkClient(hc aws.HTTPClient) *kinesis.Client {
	c, err := kinesisapi.NewClient(context.Background(), kinesisapi.Config{Region: fakekinesis.Region, Endpoint: "http://127.0.0.1:1"})
	if err != nil {
		panic(fmt.Sprintf("bench: kinesisapi.NewClient: %v", err)) // static environment set in TestMain
	}
	return kinesis.New(c.Options(), func(o *kinesis.Options) { o.HTTPClient = hc })
}

// sdkSerializerClient is sdkClient with the SDK's own PutRecords serializer instead of the
// product's (kinesisapi.WithFastPutRecords): the baseline the product's serializer is held to.
func sdkSerializerClient(hc aws.HTTPClient) *kinesis.Client {
	c, err := kinesisapi.NewClient(context.Background(), kinesisapi.Config{Region: fakekinesis.Region, Endpoint: "http://127.0.0.1:1"})
	if err != nil {
		panic(fmt.Sprintf("bench: kinesisapi.NewClient: %v", err))
	}
	o := c.Options()
	o.APIOptions = nil // drops the serializer swap kinesisapi.NewClient installs
	o.HTTPClient = hc
	return kinesis.New(o)
}

// cpuNanos returns the process's user+system CPU time.
func cpuNanos() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// meter reports per-record metrics of a benchmark loop.
type meter struct {
	b       *testing.B
	records int // user records per b.N iteration
	cpu0    int64
	mem0    runtime.MemStats
}

func startMeter(b *testing.B, records int) *meter {
	b.ReportAllocs()
	m := &meter{b: b, records: records}
	runtime.ReadMemStats(&m.mem0)
	b.ResetTimer()
	m.cpu0 = cpuNanos()
	return m
}

// stop reports ns/record, cpu-ns/record, allocs/record and B/record. Allocations count the
// whole process (an in-process fake endpoint's too), unlike allocs/op, which counts the same.
func (m *meter) stop() {
	m.b.StopTimer()
	cpu := cpuNanos() - m.cpu0
	var mem runtime.MemStats
	runtime.ReadMemStats(&mem)
	n := float64(m.b.N) * float64(m.records)
	m.b.ReportMetric(float64(m.b.Elapsed().Nanoseconds())/n, "ns/record")
	m.b.ReportMetric(float64(cpu)/n, "cpu-ns/record")
	m.b.ReportMetric(float64(mem.Mallocs-m.mem0.Mallocs)/n, "allocs/record")
	m.b.ReportMetric(float64(mem.TotalAlloc-m.mem0.TotalAlloc)/n, "B/record")
}
