package e2e

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"

	"github.com/kinesis-agg/kinesis_agg/events"
	"github.com/kinesis-agg/kinesis_agg/hashkey"
	"github.com/kinesis-agg/kinesis_agg/internal/chunkgen"
	"github.com/kinesis-agg/kinesis_agg/internal/faultproxy"
)

// expected converts the chunks with our converter (options as the plugin gets them) and returns
// each id's record bytes: the oracle for "the payload read back equals what was sent".
func expected(t *testing.T, chunks [][]byte, o events.Options) map[string][]byte {
	t.Helper()
	conv, err := events.NewConverter(o)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	var b events.Batch
	for _, c := range chunks {
		conv.Convert(c, "t", &b)
		for _, r := range b.Records {
			m := idRe.Find(r.Data)
			if m == nil {
				t.Fatalf("oracle record without id: %.100q", r.Data)
			}
			out[string(m)] = bytes.Clone(r.Data)
		}
	}
	return out
}

func gunzip(t *testing.T) func([]byte) []byte {
	return func(b []byte) []byte {
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("gzip: %v", err)
		}
		out, err := io.ReadAll(zr)
		if err != nil {
			t.Fatalf("gzip: %v", err)
		}
		return out
	}
}

func unzstd(t *testing.T) func([]byte) []byte {
	dec, err := zstd.NewReader(nil)
	if err != nil {
		t.Fatal(err)
	}
	return func(b []byte) []byte {
		out, err := dec.DecodeAll(b, nil)
		if err != nil {
			t.Fatalf("zstd: %v", err)
		}
		return out
	}
}

// Scenario 4: random partition keys, explicit hash keys, log_key and compression each deliver
// every id, and the bytes read back equal the bytes sent.
func TestVariantsPayloadExact(t *testing.T) {
	const n = 8000
	ehkOf := func(id int) string {
		// Spread explicit hash keys over the whole space.
		return hashkey.FromPartitionKey(fmt.Sprintf("ehk-%d", id)).String()
	}
	line := func(id int) string { return chunkgen.ID(id) + " GET /checkout 200 \u00e9t\u00e9 \"quoted\"" }
	for _, tc := range []struct {
		name   string
		props  []string
		opts   events.Options
		extra  func(id int) [][2]any
		decode func(t *testing.T) func([]byte) []byte
		check  func(t *testing.T, e *env)
	}{
		{name: "random partition keys", opts: events.Options{}},
		{
			name:  "explicit hash key field",
			props: []string{"partition_key=$kubernetes['pod_name']", "explicit_hash_key=$route['ehk']"},
			opts:  events.Options{PartitionKey: []string{"kubernetes", "pod_name"}, ExplicitHashKey: []string{"route", "ehk"}},
			extra: func(id int) [][2]any { return [][2]any{{"route", [][2]any{{"ehk", ehkOf(id)}}}} },
		},
		{
			name:  "log_key",
			props: []string{"partition_key=kubernetes->pod_name", "log_key=line", "append_newline=on"},
			opts:  events.Options{PartitionKey: []string{"kubernetes", "pod_name"}, LogKey: []string{"line"}, AppendNewline: true},
			extra: func(id int) [][2]any { return [][2]any{{"line", line(id)}} },
		},
		{
			name:   "gzip",
			props:  []string{"partition_key=$kubernetes['pod_name']", "compression=gzip"},
			opts:   events.Options{PartitionKey: []string{"kubernetes", "pod_name"}},
			decode: gunzip,
		},
		{
			name:   "zstd without aggregation",
			props:  []string{"partition_key=$kubernetes['pod_name']", "compression=zstd", "aggregation=off"},
			opts:   events.Options{PartitionKey: []string{"kubernetes", "pod_name"}},
			decode: unzstd,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, 4, false, faultproxy.Options{})
			chunks := chunkgen.Generate(chunkgen.Options{Records: n, Seed: 11, ChunkBytes: 700_000, Extra: tc.extra})
			want := expected(t, chunks, tc.opts)
			run := runHost(t, e.ctx, hostArgs(e.props(tc.props...), append(writeChunks(t, chunks, "kube.shop"), "--threads", "2")...)...)
			if run.ExitCode != 0 || run.Summary.OK != int64(len(chunks)) {
				t.Fatalf("host exit %d, %d of %d chunks OK\n%s", run.ExitCode, run.Summary.OK, len(chunks), tail(run.Stderr, 20))
			}
			var decode func([]byte) []byte
			if tc.decode != nil {
				decode = tc.decode(t)
			}
			ids, rep := e.readIDs(decode)
			if dups := checkIDs(t, ids, 0, n); dups != 0 {
				t.Fatalf("%d duplicates without faults or resharding", dups)
			}
			for _, d := range rep.Delivered {
				data := d.Data
				if decode != nil {
					data = decode(data)
				}
				id := string(idRe.Find(data))
				if !bytes.Equal(data, want[id]) {
					t.Fatalf("%s: read back %.120q, sent %.120q", id, data, want[id])
				}
				if d.Aggregated && strings.Contains(tc.name, "explicit") { // GetRecords does not return a plain record's hash key
					var num int
					fmt.Sscanf(id, "id-%d", &num)
					if d.ExplicitHashKey != ehkOf(num) || d.Hash.String() != ehkOf(num) {
						t.Fatalf("%s: explicit hash key %q, want %s", id, d.ExplicitHashKey, ehkOf(num))
					}
				}
			}
			s := exitSummary(t, run.Stderr, 0)
			if strings.Contains(tc.name, "without aggregation") {
				if rep.Aggregates != 0 || s["kinesis_records"] != n {
					t.Errorf("aggregation off sent %d aggregates in %d Kinesis records", rep.Aggregates, s["kinesis_records"])
				}
			} else if rep.Aggregates == 0 {
				t.Errorf("no aggregates: %+v", rep.Counts)
			}
			if strings.Contains(tc.name, "random") && s["random_keys"] != 0 {
				t.Errorf("random keys are counted only when partition_key is set: %v", s)
			}
			t.Logf("%d Kinesis records, %d aggregates", rep.KinesisRecords, rep.Aggregates)
		})
	}
}

// The stream named by ARN instead of name (kinesalite only knows names: the proxy rewrites the
// ARN, as real Kinesis would resolve it); the region comes from the ARN.
func TestStreamARN(t *testing.T) {
	e := newEnv(t, 2, true, faultproxy.Options{})
	const n = 3000
	chunks := chunkgen.Generate(chunkgen.Options{Records: n, Seed: 13, ChunkBytes: 500_000})
	props := []string{"stream_arn=arn:aws:kinesis:us-east-1:000000000000:stream/" + e.stream, "endpoint=" + e.endpoint,
		"partition_key=$kubernetes['pod_name']"}
	run := runHost(t, e.ctx, hostArgs(props, writeChunks(t, chunks, "kube.shop")...)...)
	if run.ExitCode != 0 || run.Summary.OK != int64(len(chunks)) {
		t.Fatalf("host exit %d, %d of %d chunks OK\n%s", run.ExitCode, run.Summary.OK, len(chunks), tail(run.Stderr, 20))
	}
	ids, rep := e.readIDs(nil)
	if dups := checkIDs(t, ids, 0, n); dups != 0 {
		t.Fatalf("%d duplicates", dups)
	}
	if rep.Aggregates == 0 || e.proxy.Stats().StreamARNRewrite == 0 {
		t.Fatalf("aggregates %d, ARN rewrites %d: the ARN path was not taken", rep.Aggregates, e.proxy.Stats().StreamARNRewrite)
	}
}

// put_records_client=sdk, the fallback to the AWS SDK's operation stack, delivers every record
// exactly through failed entries, request errors and lost answers, as the default client does.
func TestSDKPutRecordsClient(t *testing.T) {
	e := newEnv(t, 2, true, faultproxy.Options{
		Seed:          9,
		EntryFailures: faultproxy.EntryFailures{Rate: 0.15, InternalShare: 0.5},
		RequestErrors: faultproxy.RequestErrors{Rate: 0.15, UnavailableShare: 0.5},
		LostAckRate:   0.05,
	})
	const n = 3000
	chunks := chunkgen.Generate(chunkgen.Options{Records: n, Seed: 17, ChunkBytes: 300_000})
	// Small aggregates and requests: many calls, so that every kind of fault comes up.
	props := e.props("partition_key=$kubernetes['pod_name']", "put_records_client=sdk",
		"aggregation_max_bytes=16KiB", "request_max_bytes=64KiB")
	run := runHost(t, e.ctx, hostArgs(props, writeChunks(t, chunks, "kube.shop")...)...)
	if run.ExitCode != 0 || run.Summary.OK != int64(len(chunks)) {
		t.Fatalf("host exit %d, %d of %d chunks OK\n%s", run.ExitCode, run.Summary.OK, len(chunks), tail(run.Stderr, 20))
	}
	ids, rep := e.readIDs(nil)
	checkIDs(t, ids, 0, n) // lost answers may duplicate; none may be missing
	st := e.proxy.Stats()
	requestErrors := st.InternalFailure500 + st.ServiceUnavailable503 + st.Throughput400 + st.LimitExceeded400
	if rep.Aggregates == 0 || st.EntriesFailed() == 0 || requestErrors == 0 {
		t.Fatalf("aggregates %d, failed entries %d, request errors %d: the faults were not exercised",
			rep.Aggregates, st.EntriesFailed(), requestErrors)
	}
}
