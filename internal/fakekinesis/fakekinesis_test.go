package fakekinesis

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/kinesis-agg/kinesis_agg/aggregation"
	"github.com/kinesis-agg/kinesis_agg/hashkey"
	"github.com/kinesis-agg/kinesis_agg/kinesisapi"
	"github.com/kinesis-agg/kinesis_agg/topology"
)

func newServer(t *testing.T, o Options) (*Fake, *kinesis.Client) {
	t.Helper()
	f, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, NewClient(srv.URL)
}

func mustKey(t *testing.T, s string) hashkey.Key {
	t.Helper()
	k, err := hashkey.ParseDecimal(s)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestEvenShards(t *testing.T) {
	tests := []struct {
		n      int
		starts []string
		ends   []string
	}{
		{1, []string{"0"}, []string{"340282366920938463463374607431768211455"}},
		{2, []string{"0", "170141183460469231731687303715884105728"},
			[]string{"170141183460469231731687303715884105727", "340282366920938463463374607431768211455"}},
		{4, // the ranges CreateStream gives a 4-shard stream
			[]string{"0", "85070591730234615865843651857942052864", "170141183460469231731687303715884105728", "255211775190703847597530955573826158592"},
			[]string{"85070591730234615865843651857942052863", "170141183460469231731687303715884105727",
				"255211775190703847597530955573826158591", "340282366920938463463374607431768211455"}},
		{3, []string{"0", "113427455640312821154458202477256070485", "226854911280625642308916404954512140970"},
			[]string{"113427455640312821154458202477256070484", "226854911280625642308916404954512140969", "340282366920938463463374607431768211455"}},
	}
	for _, tt := range tests {
		got := EvenShards(tt.n)
		if len(got) != tt.n {
			t.Fatalf("EvenShards(%d): %d shards", tt.n, len(got))
		}
		for i, s := range got {
			if s.ID != fmt.Sprintf("shardId-%012d", i) || s.Range.Start.String() != tt.starts[i] || s.Range.End.String() != tt.ends[i] {
				t.Errorf("EvenShards(%d)[%d] = %s %s..%s, want %s..%s", tt.n, i, s.ID, s.Range.Start, s.Range.End, tt.starts[i], tt.ends[i])
			}
		}
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	for _, o := range []Options{{Shards: -1}, {Shards: 100001}, {MaxRecordSizeKiB: -1}} {
		if _, err := New(o); err == nil {
			t.Errorf("New(%+v): no error", o)
		}
	}
}

// TestPutRecordsRouting sends entries through the real SDK client and checks each answer's shard
// against the topology package's routing of the entry's hash key.
func TestPutRecordsRouting(t *testing.T) {
	f, c := newServer(t, Options{Shards: 8, StreamName: "s"})
	sm := f.ShardMap()
	agg := append(aggregation.Magic[:], []byte("not really an aggregate but starts like one")...)

	var entries []types.PutRecordsRequestEntry
	var want []string
	var wantData, wantKeys, wantMax int64
	for i := range 300 {
		pk := fmt.Sprintf("pod-%d", i)
		if i%7 == 0 {
			pk = fmt.Sprintf("ключ-é-𝄞-%d", i) // multi-byte and astral characters: the MD5 is of UTF-8
		}
		e := types.PutRecordsRequestEntry{PartitionKey: aws.String(pk), Data: []byte(strings.Repeat("x", i%50))}
		h := hashkey.FromPartitionKey(pk)
		if i%5 == 0 {
			ehk := hashkey.Key{Hi: uint64(i) << 56, Lo: uint64(i)}
			e.ExplicitHashKey = aws.String(ehk.String())
			h = ehk
		}
		if i%10 == 3 {
			e.Data = agg
		}
		entries = append(entries, e)
		want = append(want, sm.Lookup(h).ID)
		wantData += int64(len(e.Data))
		wantKeys += int64(len(pk))
		wantMax = max(wantMax, int64(len(e.Data)+len(pk)))
	}
	out, err := c.PutRecords(context.Background(), &kinesis.PutRecordsInput{StreamName: aws.String("s"), Records: entries})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToInt32(out.FailedRecordCount) != 0 || len(out.Records) != len(entries) {
		t.Fatalf("FailedRecordCount %d, %d results for %d entries", aws.ToInt32(out.FailedRecordCount), len(out.Records), len(entries))
	}
	seen := map[string]bool{}
	perShard := make([]int64, 8)
	for i, r := range out.Records {
		if got := aws.ToString(r.ShardId); got != want[i] {
			t.Errorf("entry %d: shard %s, want %s", i, got, want[i])
		}
		seq := aws.ToString(r.SequenceNumber)
		if len(seq) != 56 || seen[seq] {
			t.Errorf("entry %d: sequence number %q: want 56 digits, unique", i, seq)
		}
		seen[seq] = true
		for j, s := range f.Shards() {
			if s.ID == want[i] {
				perShard[j]++
			}
		}
	}
	// BusyNanos is added once the answer is written, which the client may see first.
	st := f.Stats()
	for deadline := time.Now().Add(time.Second); st.BusyNanos == 0 && time.Now().Before(deadline); st = f.Stats() {
		time.Sleep(time.Millisecond)
	}
	wantStats := Stats{Requests: 1, PutRecordsCalls: 1, Entries: 300, AggregatedEntries: 30, DataBytes: wantData,
		KeyBytes: wantKeys, MaxEntryBytes: wantMax, ShardEntries: perShard}
	if st.BusyNanos <= 0 {
		t.Errorf("BusyNanos %d", st.BusyNanos)
	}
	wantStats.BusyNanos = st.BusyNanos
	if fmt.Sprint(st) != fmt.Sprint(wantStats) {
		t.Errorf("stats\n got %+v\nwant %+v", st, wantStats)
	}
	if got, want := st.AvgEntryBytes(), float64(wantData+wantKeys)/300; got != want {
		t.Errorf("AvgEntryBytes %v, want %v", got, want)
	}
	f.ResetStats()
	if st := f.Stats(); st.Entries != 0 || st.Requests != 0 || st.ShardEntries[0] != 0 || st.MaxEntryBytes != 0 {
		t.Errorf("after ResetStats: %+v", st)
	}
}

// TestDataBytes checks the decoded length computed from base64 text alone, for every padding.
func TestDataBytes(t *testing.T) {
	f, c := newServer(t, Options{Shards: 1})
	var total int64
	for n := range 9 {
		_, err := c.PutRecords(context.Background(), &kinesis.PutRecordsInput{StreamName: aws.String("x"),
			Records: []types.PutRecordsRequestEntry{{PartitionKey: aws.String("k"), Data: make([]byte, n)}}})
		if err != nil {
			t.Fatal(err)
		}
		total += int64(n)
		if got := f.Stats().DataBytes; got != total {
			t.Fatalf("after a %d-byte record: DataBytes %d, want %d", n, got, total)
		}
	}
	for _, tt := range []struct {
		b64  string
		want int
	}{{"", 0}, {"QQ==", 1}, {"QUI=", 2}, {"QUJD", 3}, {"QUJDRA==", 4}, {"QUJDRA", 4}, {"QUJDREU", 5}} {
		if got := decodedLen([]byte(tt.b64)); got != tt.want {
			t.Errorf("decodedLen(%q) = %d, want %d", tt.b64, got, tt.want)
		}
	}
}

// TestShardsThroughProduct reads the topology and the record limit with the product's own
// adapters, as the plugin does at start-up.
func TestShardsThroughProduct(t *testing.T) {
	for _, tt := range []struct {
		shards, kib int
	}{{1, 0}, {4, 0}, {7, 10240}, {1500, 1024}} { // 1500 shards: two ListShards pages of 1000
		t.Run(fmt.Sprint(tt.shards), func(t *testing.T) {
			f, c := newServer(t, Options{Shards: tt.shards, StreamName: "s", MaxRecordSizeKiB: tt.kib})
			ctx := context.Background()
			var all []topology.ListedShard
			lister := &kinesisapi.ShardLister{API: c, StreamName: "s"}
			pages := 0
			for tok := ""; ; {
				p, err := lister.ListShards(ctx, tok)
				if err != nil {
					t.Fatal(err)
				}
				pages++
				all = append(all, p.Shards...)
				if tok = p.NextToken; tok == "" {
					break
				}
			}
			if want := (tt.shards + kinesisapi.ListShardsPageSize - 1) / kinesisapi.ListShardsPageSize; pages != want {
				t.Errorf("%d pages, want %d", pages, want)
			}
			sm, err := topology.FromListed(all)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := sm.String(), f.ShardMap().String(); got != want {
				t.Errorf("listed map %s, want %s", got, want)
			}
			n, err := kinesisapi.MaxRecordBytes(ctx, c, "s", "")
			if err != nil {
				t.Fatal(err)
			}
			want := max(tt.kib, DefaultMaxRecordSizeKiB) * 1024
			if n != want || f.MaxRecordBytes() != want {
				t.Errorf("MaxRecordBytes %d (fake says %d), want %d", n, f.MaxRecordBytes(), want)
			}
			if n, err := kinesisapi.MaxRecordBytes(ctx, c, "", f.StreamARN()); err != nil || n != want {
				t.Errorf("by ARN: %d, %v", n, err)
			}
			if st := f.Stats(); st.ListShardsCalls != int64(pages) || st.DescribeCalls != 2 || st.Errors != 0 {
				t.Errorf("stats %+v", st)
			}
		})
	}
}

func TestListShardsPaging(t *testing.T) {
	f, c := newServer(t, Options{Shards: 8})
	ctx := context.Background()
	out, err := c.ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String("any"), MaxResults: aws.Int32(3)})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for {
		for _, s := range out.Shards {
			ids = append(ids, aws.ToString(s.ShardId))
		}
		if out.NextToken == nil {
			break
		}
		if out, err = c.ListShards(ctx, &kinesis.ListShardsInput{NextToken: out.NextToken, MaxResults: aws.Int32(3)}); err != nil {
			t.Fatal(err)
		}
	}
	if got := strings.Join(ids, ","); got != "shardId-000000000000,shardId-000000000001,shardId-000000000002,shardId-000000000003,"+
		"shardId-000000000004,shardId-000000000005,shardId-000000000006,shardId-000000000007" {
		t.Errorf("shards %s", got)
	}
	if st := f.Stats(); st.ListShardsCalls != 3 {
		t.Errorf("%d ListShards calls, want 3", st.ListShardsCalls)
	}
}

// TestSDKErrors checks that error answers reach the SDK as typed errors the product classifies.
func TestSDKErrors(t *testing.T) {
	f, c := newServer(t, Options{StreamName: "s", MaxRecordSizeKiB: 1})
	ctx := context.Background()
	_, err := c.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String("other"),
		Records: []types.PutRecordsRequestEntry{{PartitionKey: aws.String("k"), Data: []byte("x")}}})
	var nf *types.ResourceNotFoundException
	if !errors.As(err, &nf) || kinesisapi.Classify(err) != kinesisapi.Permanent {
		t.Errorf("unknown stream: %v (%s)", err, kinesisapi.Classify(err))
	}
	_, err = c.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String("s"),
		Records: []types.PutRecordsRequestEntry{{PartitionKey: aws.String("k"), Data: make([]byte, 1024)}}})
	if code := kinesisapi.ErrorCode(err); code != "ValidationException" {
		t.Errorf("record over the 1 KiB limit: code %q (%v)", code, err)
	}
	_, err = c.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String("s"),
		Records: []types.PutRecordsRequestEntry{{PartitionKey: aws.String("k"), Data: make([]byte, 1023)}}})
	if err != nil {
		t.Errorf("record at the 1 KiB limit: %v", err)
	}
	if st := f.Stats(); st.Errors != 2 || st.PutRecordsCalls != 1 || st.Entries != 1 {
		t.Errorf("stats %+v", st)
	}
}

// post sends a raw request to the handler.
func post(f *Fake, target, body string) (int, string, string) {
	r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
	if target != "" {
		r.Header.Set("X-Amz-Target", target)
	}
	w := httptest.NewRecorder()
	f.ServeHTTP(w, r)
	var e struct {
		Type string `json:"__type"`
	}
	json.Unmarshal(w.Body.Bytes(), &e)
	return w.Code, e.Type, w.Body.String()
}

func TestRequestErrors(t *testing.T) {
	f, err := New(Options{StreamName: "s", Shards: 2, StrictData: true})
	if err != nil {
		t.Fatal(err)
	}
	rec := func(fields string) string { return `{"StreamName":"s","Records":[` + fields + `]}` }
	many := strings.TrimSuffix(strings.Repeat(`{"Data":"QQ==","PartitionKey":"k"},`, 501), ",")
	long := strings.Repeat("é", 257)
	tests := []struct {
		name, target, body string
		status             int
		code               string
	}{
		{"unknown operation", targetPrefix + "GetRecords", `{}`, 400, "UnknownOperationException"},
		{"no target", "", `{}`, 400, "UnknownOperationException"},
		{"malformed JSON", targetPut, `{"StreamName":"s","Records":[{]}`, 400, "SerializationException"},
		{"trailing data", targetPut, rec(`{"Data":"QQ==","PartitionKey":"k"}`) + "x", 400, "SerializationException"},
		{"not an object", targetPut, `[]`, 400, "SerializationException"},
		{"records missing", targetPut, `{"StreamName":"s"}`, 400, "ValidationException"},
		{"records empty", targetPut, rec(``), 400, "ValidationException"},
		{"records null", targetPut, `{"StreamName":"s","Records":null}`, 400, "ValidationException"},
		{"501 records", targetPut, rec(many), 400, "ValidationException"},
		{"no stream", targetPut, `{"Records":[{"Data":"QQ==","PartitionKey":"k"}]}`, 400, "ValidationException"},
		{"other stream", targetPut, `{"StreamName":"t","Records":[{"Data":"QQ==","PartitionKey":"k"}]}`, 400, "ResourceNotFoundException"},
		{"bad ARN", targetPut, `{"StreamARN":"s","Records":[{"Data":"QQ==","PartitionKey":"k"}]}`, 400, "ValidationException"},
		{"partition key missing", targetPut, rec(`{"Data":"QQ=="}`), 400, "ValidationException"},
		{"partition key empty", targetPut, rec(`{"Data":"QQ==","PartitionKey":""}`), 400, "ValidationException"},
		{"partition key 257 chars", targetPut, rec(`{"Data":"QQ==","PartitionKey":"` + long + `"}`), 400, "ValidationException"},
		{"partition key a number", targetPut, rec(`{"Data":"QQ==","PartitionKey":5}`), 400, "SerializationException"},
		{"data missing", targetPut, rec(`{"PartitionKey":"k"}`), 400, "ValidationException"},
		{"data not base64", targetPut, rec(`{"Data":"QQ=!","PartitionKey":"k"}`), 400, "SerializationException"},
		{"data unpadded", targetPut, rec(`{"Data":"QQ","PartitionKey":"k"}`), 400, "SerializationException"},
		{"data control character", targetPut, rec("{\"Data\":\"Q\x01==\",\"PartitionKey\":\"k\"}"), 400, "SerializationException"},
		{"hash key not decimal", targetPut, rec(`{"Data":"QQ==","PartitionKey":"k","ExplicitHashKey":"0x1"}`), 400, "InvalidArgumentException"},
		{"hash key above 2^128-1", targetPut, rec(`{"Data":"QQ==","PartitionKey":"k","ExplicitHashKey":"340282366920938463463374607431768211456"}`), 400, "InvalidArgumentException"},
		{"deep nesting", targetPut, `{"x":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}`, 400, "SerializationException"},
		{"list: token and stream", targetList, `{"StreamName":"s","NextToken":"fk1.0"}`, 400, "InvalidArgumentException"},
		{"list: bad token", targetList, `{"NextToken":"nope"}`, 400, "InvalidArgumentException"},
		{"list: max results 0", targetList, `{"StreamName":"s","MaxResults":0}`, 400, "ValidationException"},
		{"list: malformed", targetList, `{"StreamName":`, 400, "SerializationException"},
		{"describe: other stream", targetDescribe, `{"StreamName":"t"}`, 400, "ResourceNotFoundException"},
		// Accepted shapes.
		{"one record", targetPut, rec(`{"Data":"QQ==","PartitionKey":"k"}`), 200, ""},
		{"null hash key, unknown fields", targetPut, rec(`{"Data":"QQ==","PartitionKey":"k","ExplicitHashKey":null,"X":[1,{"y":-2.5e3}]}`), 200, ""},
		{"escaped key and value", targetPut, rec(`{"D\u0061ta":"Q\/==","PartitionKey":"\u00e9"}`), 200, ""},
		{"escaped, valid", targetPut, rec(`{"D\u0061ta":"QQ\u003d=","PartitionKey":"\u00e9\ud834\udd1e"}`), 200, ""},
		{"by ARN", targetPut, `{"StreamARN":"arn:aws:kinesis:us-east-1:000000000000:stream/s","Records":[{"Data":"QQ==","PartitionKey":"k"}]}`, 200, ""},
		{"empty data", targetPut, rec(`{"Data":"","PartitionKey":"k"}`), 200, ""},
		{"partition key 256 chars", targetPut, rec(`{"Data":"QQ==","PartitionKey":"` + long[:512] + `"}`), 200, ""},
		{"list: empty body", targetList, ``, 400, "ValidationException"},
		{"describe by ARN", targetDescribe, `{"StreamARN":"arn:aws:kinesis:us-east-1:000000000000:stream/s"}`, 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, code, body := post(f, tt.target, tt.body)
			if status != tt.status || code != tt.code {
				t.Errorf("status %d %q, want %d %q; body %.300s", status, code, tt.status, tt.code, body)
			}
		})
	}
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	w := httptest.NewRecorder()
	f.ServeHTTP(w, r)
	if w.Code != http.StatusMethodNotAllowed {
		t.Errorf("GET: status %d", w.Code)
	}
	r = httptest.NewRequest(http.MethodPost, "/", strings.NewReader("{}"))
	r.Header.Set("X-Amz-Target", targetPut)
	r.ContentLength = maxBodyBytes + 1
	w = httptest.NewRecorder()
	f.ServeHTTP(w, r)
	if w.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("body over %d bytes: status %d", maxBodyBytes, w.Code)
	}
}

// TestEscapedPartitionKey checks that the hash is of the decoded key, as Kinesis computes it.
func TestEscapedPartitionKey(t *testing.T) {
	f, err := New(Options{Shards: 64})
	if err != nil {
		t.Fatal(err)
	}
	for _, pk := range []string{"é", "𝄞", "a\"b", "tab\there", "\u2028"} {
		esc, _ := json.Marshal(pk) // escapes quotes, controls and U+2028
		ascii := strings.Builder{}
		for _, r := range pk { // \u escapes for everything non-ASCII, surrogate pairs included
			if r < 0x80 && r != '"' && r >= 0x20 {
				ascii.WriteRune(r)
				continue
			}
			if r > 0xFFFF {
				r -= 0x10000
				fmt.Fprintf(&ascii, `\u%04x\u%04x`, 0xD800+(r>>10), 0xDC00+(r&0x3FF))
				continue
			}
			fmt.Fprintf(&ascii, `\u%04x`, r)
		}
		want := f.ShardMap().Lookup(hashkey.FromPartitionKey(pk)).ID
		for _, q := range []string{string(esc), `"` + ascii.String() + `"`} {
			_, _, body := post(f, targetPut, `{"StreamName":"x","Records":[{"Data":"","PartitionKey":`+q+`}]}`)
			if !strings.Contains(body, want) {
				t.Errorf("partition key %q sent as %s: answer %s, want shard %s", pk, q, body, want)
			}
		}
	}
}

func TestIsAggregate(t *testing.T) {
	for tail := range 256 {
		for _, lead := range [][]byte{aggregation.Magic[:], {0xF3, 0x89, 0x9A, 0xC3}, {0xF3, 0x89, 0x9A}, {'{', '"', 'a'}} {
			data := append(append([]byte(nil), lead...), byte(tail), byte(255-tail), 7)
			want := bytes.HasPrefix(data, aggregation.Magic[:])
			if got := isAggregate([]byte(base64.StdEncoding.EncodeToString(data))); got != want {
				t.Fatalf("isAggregate(base64 of % x) = %v, want %v", data, got, want)
			}
		}
	}
	if isAggregate([]byte("84maw")) {
		t.Error("a 5-character prefix counted as an aggregate")
	}
}

func TestSequenceDigits(t *testing.T) {
	for _, n := range []uint64{0, 8, 9, 99, 1999, 1<<64 - 2} {
		d := formatSeq(n)
		d.inc()
		if want := formatSeq(n + 1); d != want {
			t.Errorf("formatSeq(%d).inc() = %s, want %s", n, d[:], want[:])
		}
	}
}

func TestListen(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:0", "192.0.2.1:0", ":0", "nonsense"} {
		if l, err := Listen(addr, Options{}); err == nil {
			l.Close()
			t.Errorf("Listen(%q): no error", addr)
		}
	}
	l, err := Listen("127.0.0.1:0", Options{Shards: 2, StreamName: "s"})
	if err != nil {
		t.Fatal(err)
	}
	c := NewClient(l.Endpoint)
	out, err := c.PutRecords(context.Background(), &kinesis.PutRecordsInput{StreamName: aws.String("s"),
		Records: []types.PutRecordsRequestEntry{{PartitionKey: aws.String("k"), Data: []byte("hello")}}})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := aws.ToString(out.Records[0].ShardId), l.ShardMap().Lookup(hashkey.FromPartitionKey("k")).ID; got != want {
		t.Errorf("shard %s, want %s", got, want)
	}
	if err := l.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if _, err := http.Post(l.Endpoint, "application/json", strings.NewReader("{}")); err == nil {
		t.Error("still serving after Close")
	}
}

// TestConcurrent sends from several goroutines; the totals must add up (run with -race).
func TestConcurrent(t *testing.T) {
	f, c := newServer(t, Options{})
	const workers, calls, per = 4, 20, 50
	errs := make(chan error, workers)
	for w := range workers {
		go func() {
			for i := range calls {
				var recs []types.PutRecordsRequestEntry
				for j := range per {
					recs = append(recs, types.PutRecordsRequestEntry{PartitionKey: aws.String(fmt.Sprint(w, i, j)), Data: []byte("0123456789")})
				}
				if _, err := c.PutRecords(context.Background(), &kinesis.PutRecordsInput{StreamName: aws.String("x"), Records: recs}); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range workers {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	st := f.Stats()
	var sum int64
	for _, n := range st.ShardEntries {
		sum += n
	}
	if st.Entries != workers*calls*per || sum != st.Entries || st.DataBytes != 10*st.Entries || st.PutRecordsCalls != workers*calls {
		t.Errorf("stats %+v", st)
	}
}

// discard is a minimal ResponseWriter for the benchmark.
type discard struct{ h http.Header }

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(b []byte) (int, error) { return len(b), nil }
func (d *discard) WriteHeader(int)             {}

// BenchmarkPutRecords measures the fake's own cost per request, so that benchmarks running it
// in-process can tell it apart from the plugin's.
func BenchmarkPutRecords(b *testing.B) {
	for _, bc := range []struct {
		name          string
		entries, size int
	}{{"plain-500x330B", 500, 330}, {"aggregated-5x1MB", 5, 1000 * 1000}} {
		b.Run(bc.name, func(b *testing.B) {
			f, err := New(Options{})
			if err != nil {
				b.Fatal(err)
			}
			var recs []types.PutRecordsRequestEntry
			data := append(aggregation.Magic[:], make([]byte, bc.size-4)...)
			for i := range bc.entries {
				recs = append(recs, types.PutRecordsRequestEntry{PartitionKey: aws.String(fmt.Sprintf("checkout-7d9f8c6b5-%05d", i)), Data: data})
			}
			body, err := json.Marshal(struct {
				Records    []types.PutRecordsRequestEntry
				StreamName string
			}{recs, "x"})
			if err != nil {
				b.Fatal(err)
			}
			r := httptest.NewRequest(http.MethodPost, "/", nil)
			r.Header.Set("X-Amz-Target", targetPut)
			w := &discard{h: http.Header{}}
			rd := bytes.NewReader(nil)
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				rd.Reset(body)
				r.Body = io.NopCloser(rd)
				f.ServeHTTP(w, r)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*bc.entries), "ns/entry")
			if st := f.Stats(); st.Errors != 0 || st.Entries != int64(b.N*bc.entries) {
				b.Fatalf("stats %+v", st)
			}
		})
	}
}
