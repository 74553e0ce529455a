package faultproxy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kinesis-agg/kinesis_agg/hashkey"
)

// fakeUpstream answers like kinesalite for the operations the proxy rewrites, and flags any
// ListShards carrying a NextToken (which would crash kinesalite).
type fakeUpstream struct {
	tokenSeen atomic.Bool
}

func (f *fakeUpstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var body map[string]json.RawMessage
	raw, _ := io.ReadAll(r.Body)
	_ = json.Unmarshal(raw, &body) // strict like JSON.parse: trailing data makes it fail
	w.Header().Set("Content-Type", jsonType)
	switch strings.TrimPrefix(r.Header.Get("X-Amz-Target"), targetPrefix) {
	case "PutRecords":
		var recs []json.RawMessage
		if json.Unmarshal(body["Records"], &recs) != nil || len(recs) == 0 {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"__type":"SerializationException"}`))
			return
		}
		out := make([]map[string]string, len(recs))
		for i := range out {
			out[i] = map[string]string{"SequenceNumber": fmt.Sprint(i + 1), "ShardId": "shardId-000000000000"}
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"FailedRecordCount": 0, "Records": out})
	case "ListShards":
		if _, ok := body["NextToken"]; ok {
			f.tokenSeen.Store(true)
		}
		_, _ = w.Write([]byte(`{"Shards":[` +
			`{"ShardId":"shardId-000000000000","HashKeyRange":{"StartingHashKey":"0","EndingHashKey":"170141183460469231731687303715884105727"},"SequenceNumberRange":{"StartingSequenceNumber":"1"}},` +
			`{"ShardId":"shardId-000000000001","HashKeyRange":{"StartingHashKey":"170141183460469231731687303715884105728","EndingHashKey":"340282366920938463463374607431768211455"},"SequenceNumberRange":{"StartingSequenceNumber":"2"}}]}`))
	default:
		_, _ = w.Write([]byte(`{}`))
	}
}

var fuzzOps = []string{"PutRecords", "ListShards", "PutRecord", "DescribeStreamSummary", "SplitShard", ""}

// FuzzServeHTTP feeds hostile bodies to every rewriting path: the proxy must not panic, must
// never forward a NextToken, and must keep PutRecords answers aligned with the request.
func FuzzServeHTTP(f *testing.F) {
	f.Add(uint8(0), []byte(`{"StreamName":"s","Records":[{"PartitionKey":"a","Data":"eA=="},{"PartitionKey":"b","ExplicitHashKey":"1","Data":""}]}`))
	f.Add(uint8(0), []byte(`{"StreamARN":"arn:aws:kinesis:us-east-1:0:stream/s","Records":[{"PartitionKey":"a","ExplicitHashKey":"x"}]}`))
	f.Add(uint8(0), []byte(`{"StreamName":"s","Records":"nope"}`))
	f.Add(uint8(1), []byte(`{"StreamName":"s","MaxResults":1}`))
	f.Add(uint8(1), []byte(`{"NextToken":"fp1.eyJzIjoicyIsImEiOiJzaGFyZElkLTAwMDAwMDAwMDAwMCIsInQiOjF9"}`))
	f.Add(uint8(1), []byte(`{"NextToken":"x","MaxResults":0}`))
	f.Add(uint8(1), []byte(`{"StreamName":"s","ShardFilter":{"Type":"AFTER_SHARD_ID","ShardId":"shardId-000000000000"}}`))
	f.Add(uint8(2), []byte(`{"StreamARN":"arn:x:stream/"}`))
	f.Add(uint8(3), []byte(`[1,2]`))
	up := &fakeUpstream{}
	srv := httptest.NewServer(up)
	defer srv.Close()
	p, err := New(srv.URL, Options{Seed: 9, EntryFailures: EntryFailures{Rate: 0.5, InternalShare: 0.5},
		ListShardsPageSize: 1, ShardRateLimit: 1e9})
	if err != nil {
		f.Fatal(err)
	}
	defer p.Close()
	f.Fuzz(func(t *testing.T, op uint8, body []byte) {
		name := fuzzOps[int(op)%len(fuzzOps)]
		req := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
		req.Header.Set("Content-Type", jsonType)
		if name != "" {
			req.Header.Set("X-Amz-Target", targetPrefix+name)
		}
		rec := httptest.NewRecorder()
		up.tokenSeen.Store(false)
		p.ServeHTTP(rec, req)
		if up.tokenSeen.Load() {
			t.Fatalf("a NextToken reached upstream for body %q", body)
		}
		if name != "PutRecords" || rec.Code != http.StatusOK {
			return
		}
		var in struct{ Records []json.RawMessage }
		var out struct {
			FailedRecordCount int
			Records           []struct{ ErrorCode, SequenceNumber string }
		}
		if json.Unmarshal(body, &in) != nil {
			return
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
			t.Fatalf("200 answer is not JSON: %q", rec.Body.Bytes())
		}
		failed := 0
		for _, r := range out.Records {
			if r.ErrorCode != "" {
				failed++
			} else if r.SequenceNumber == "" {
				t.Fatalf("entry neither failed nor stored: %q", rec.Body.Bytes())
			}
		}
		if len(out.Records) != len(in.Records) || failed != out.FailedRecordCount {
			t.Fatalf("%d entries in, answer %q", len(in.Records), rec.Body.Bytes())
		}
	})
}

// FuzzDecodeToken: never panics, and every token the proxy issues decodes to what it encoded.
func FuzzDecodeToken(f *testing.F) {
	f.Add("fp1.e30", "s", "shardId-000000000001", int64(5))
	f.Add("fp1.!!!", "", "", int64(0))
	f.Add("garbage", "stream.with-dots_1", "", int64(-1))
	f.Fuzz(func(t *testing.T, raw, stream, after string, issued int64) {
		decodeToken(raw)
		if stream == "" {
			return
		}
		want := pageToken{Stream: stream, After: after, Issued: issued}
		got, ok := decodeToken(encodeToken(want))
		// JSON replaces invalid UTF-8, so compare after the same round trip.
		b, _ := json.Marshal(want)
		var norm pageToken
		_ = json.Unmarshal(b, &norm)
		if !ok || got != norm {
			t.Fatalf("round trip %+v -> %+v, %v", want, got, ok)
		}
	})
}

func TestRoute(t *testing.T) {
	mk := func(id string, s, e hashkey.Key) shardInfo {
		return shardInfo{id: id, rng: hashkey.Range{Start: s, End: e}, rangeOK: true, open: true}
	}
	half := hashkey.Key{Hi: 1 << 63}
	halfM1, _ := half.Sub1()
	open := []shardInfo{mk("a", hashkey.Key{}, halfM1), mk("b", half, hashkey.Max)}
	tests := []struct {
		k    hashkey.Key
		want string
	}{
		{hashkey.Key{}, "a"}, {halfM1, "a"}, {half, "b"}, {hashkey.Max, "b"},
	}
	for _, tc := range tests {
		if got := route(open, tc.k); got != tc.want {
			t.Errorf("route(%v) = %q, want %q", tc.k, got, tc.want)
		}
	}
	if got := route(open[1:], hashkey.Key{}); got != "" {
		t.Errorf("key below every shard routed to %q", got)
	}
	if got := route(nil, half); got != "" {
		t.Errorf("empty map routed to %q", got)
	}
}

func TestLimiter(t *testing.T) {
	l := newLimiter()
	t0 := time.Unix(1000, 0)
	n := 0
	for i := 0; i < 10; i++ {
		if l.allow("s", 4, t0) {
			n++
		}
	}
	if n != 4 {
		t.Fatalf("burst allowed %d, want 4", n)
	}
	if !l.allow("s", 4, t0.Add(250*time.Millisecond)) || l.allow("s", 4, t0.Add(250*time.Millisecond)) {
		t.Fatal("a quarter second at 4/s must refill exactly one token")
	}
	if !l.allow("other", 4, t0) {
		t.Fatal("buckets are not per key")
	}
	if !l.allow("slow", 0.5, t0) || l.allow("slow", 0.5, t0.Add(time.Second)) || !l.allow("slow", 0.5, t0.Add(2*time.Second)) {
		t.Fatal("rate 0.5/s: burst of one, then one token every 2 s")
	}
}

// BenchmarkPutRecords measures the proxy's own cost on a 500-entry PutRecords with entry
// failures (decode, decide, forward, merge) against an in-process upstream.
func BenchmarkPutRecords(b *testing.B) {
	srv := httptest.NewServer(&fakeUpstream{})
	defer srv.Close()
	p, err := New(srv.URL, Options{EntryFailures: EntryFailures{Rate: 0.1}})
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	var sb strings.Builder
	sb.WriteString(`{"StreamName":"s","Records":[`)
	for i := 0; i < 500; i++ {
		if i > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprintf(&sb, `{"PartitionKey":"pk-%d","Data":"%s"}`, i, strings.Repeat("QUJD", 64))
	}
	sb.WriteString(`]}`)
	body := []byte(sb.String())
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		req := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
		req.Header.Set("Content-Type", jsonType)
		req.Header.Set("X-Amz-Target", targetPrefix+"PutRecords")
		rec := httptest.NewRecorder()
		p.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d: %s", rec.Code, rec.Body.Bytes())
		}
	}
}
