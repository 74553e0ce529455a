package faultproxy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go"

	"github.com/kinesis-agg/kinesis_agg/hashkey"
	"github.com/kinesis-agg/kinesis_agg/internal/kinesalite"
)

// env is one kinesalite with a client straight to it.
type env struct {
	t      *testing.T
	ctx    context.Context
	direct *kinesis.Client
	kl     *kinesalite.Server
}

func newEnv(t *testing.T) *env {
	t.Helper()
	kl := kinesalite.StartT(t)
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Second)
	t.Cleanup(cancel)
	return &env{t: t, ctx: ctx, direct: kinesalite.NewClient(kl.Endpoint), kl: kl}
}

func (e *env) stream(name string, shards int) {
	e.t.Helper()
	if err := kinesalite.CreateStream(e.ctx, e.direct, name, shards); err != nil {
		e.t.Fatal(err)
	}
}

// proxy starts a proxy in front of the env's kinesalite and returns it with a client through it.
func (e *env) proxy(o Options) (*Proxy, *kinesis.Client) {
	e.t.Helper()
	p, err := New(e.kl.Endpoint, o)
	if err != nil {
		e.t.Fatal(err)
	}
	ep, err := p.Start()
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { _ = p.Close() })
	return p, kinesalite.NewClient(ep)
}

// stored returns the data of every record in the stream, read straight from kinesalite.
func (e *env) stored(stream string) []string {
	e.t.Helper()
	shards, err := kinesalite.AllShards(e.ctx, e.direct, stream)
	if err != nil {
		e.t.Fatal(err)
	}
	var out []string
	for _, s := range shards {
		it, err := e.direct.GetShardIterator(e.ctx, &kinesis.GetShardIteratorInput{
			StreamName: aws.String(stream), ShardId: s.ShardId, ShardIteratorType: types.ShardIteratorTypeTrimHorizon,
		})
		if err != nil {
			e.t.Fatal(err)
		}
		iter := it.ShardIterator
		for iter != nil {
			r, err := e.direct.GetRecords(e.ctx, &kinesis.GetRecordsInput{ShardIterator: iter})
			if err != nil {
				e.t.Fatal(err)
			}
			for _, rec := range r.Records {
				out = append(out, string(rec.Data))
			}
			if len(r.Records) == 0 {
				break
			}
			iter = r.NextShardIterator
		}
	}
	sort.Strings(out)
	return out
}

func entries(prefix string, n int) []types.PutRecordsRequestEntry {
	out := make([]types.PutRecordsRequestEntry, n)
	for i := range out {
		out[i] = types.PutRecordsRequestEntry{
			PartitionKey: aws.String(fmt.Sprintf("%s-pk-%d", prefix, i)),
			Data:         []byte(fmt.Sprintf("%s-%04d", prefix, i)),
		}
	}
	return out
}

func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// shardFor returns the shard of a stream created with 2 shards that owns pk.
func shardFor(pk string) string {
	if hashkey.FromPartitionKey(pk).Less(hashkey.Key{Hi: 1 << 63}) {
		return "shardId-000000000000"
	}
	return "shardId-000000000001"
}

// putFailures sends 1000 entries in two requests and returns the failed entries' index -> code.
func putFailures(t *testing.T, e *env, c *kinesis.Client, stream string) (map[int]string, []string) {
	t.Helper()
	all := entries(stream, 1000)
	failed := map[int]string{}
	var ok []string
	for base := 0; base < len(all); base += 500 {
		out, err := c.PutRecords(e.ctx, &kinesis.PutRecordsInput{StreamName: aws.String(stream), Records: all[base : base+500]})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Records) != 500 {
			t.Fatalf("%d result entries for 500", len(out.Records))
		}
		n := 0
		for i, r := range out.Records {
			in := all[base+i]
			if r.ErrorCode == nil {
				if r.SequenceNumber == nil || aws.ToString(r.ShardId) != shardFor(*in.PartitionKey) {
					t.Fatalf("entry %d: accepted with shard %q seq %v", base+i, aws.ToString(r.ShardId), r.SequenceNumber)
				}
				ok = append(ok, string(in.Data))
				continue
			}
			n++
			failed[base+i] = *r.ErrorCode
			switch *r.ErrorCode {
			case codeThroughput:
				want := fmt.Sprintf("Rate exceeded for shard %s in stream %s under account 000000000000.",
					shardFor(*in.PartitionKey), stream)
				if aws.ToString(r.ErrorMessage) != want {
					t.Fatalf("entry %d message %q, want %q", base+i, aws.ToString(r.ErrorMessage), want)
				}
			case codeInternal:
				if aws.ToString(r.ErrorMessage) != "Internal service failure." {
					t.Fatalf("entry %d message %q", base+i, aws.ToString(r.ErrorMessage))
				}
			default:
				t.Fatalf("entry %d: unexpected code %q", base+i, *r.ErrorCode)
			}
		}
		if int(aws.ToInt32(out.FailedRecordCount)) != n {
			t.Fatalf("FailedRecordCount %d, %d entries carry an error", aws.ToInt32(out.FailedRecordCount), n)
		}
	}
	sort.Strings(ok)
	return failed, ok
}

func TestEntryFailures(t *testing.T) {
	e := newEnv(t)
	e.stream("a", 2)
	e.stream("b", 2)
	e.stream("c", 2)
	opts := Options{Seed: 42, EntryFailures: EntryFailures{Rate: 0.1, InternalShare: 0.25}, KeepEvents: true}
	p, c := e.proxy(opts)

	failed, ok := putFailures(t, e, c, "a")
	if len(failed) < 60 || len(failed) > 140 {
		t.Fatalf("%d of 1000 entries failed at rate 0.1", len(failed))
	}
	// The proxy's account matches the client's view exactly.
	fromEvents := map[int]string{}
	for _, ev := range p.Events() {
		for _, f := range ev.Failed {
			fromEvents[f.Index+int(ev.Seq-1)*500] = f.ErrorCode
		}
	}
	if fmt.Sprint(fromEvents) != fmt.Sprint(failed) {
		t.Fatalf("events report failures %v\nclient saw %v", fromEvents, failed)
	}
	var pte, internal int64
	for _, code := range failed {
		if code == codeInternal {
			internal++
		} else {
			pte++
		}
	}
	st := p.Stats()
	if st.EntriesReceived != 1000 || st.EntriesThroughput != pte || st.EntriesInternal != internal ||
		st.EntriesForwarded != int64(1000-len(failed)) || st.EntriesFailed() != int64(len(failed)) || internal == 0 {
		t.Fatalf("stats %+v; client saw %d throughput + %d internal failures", st, pte, internal)
	}
	// kinesalite holds exactly the entries that were not failed.
	if got := e.stored("a"); strings.Join(got, ",") != strings.Join(ok, ",") {
		t.Fatalf("stored %d records, %d were accepted", len(got), len(ok))
	}

	// Same seed, same requests: the same entries fail.
	_, c2 := e.proxy(opts)
	again, _ := putFailures(t, e, c2, "b")
	if fmt.Sprint(again) != fmt.Sprint(failed) {
		t.Fatal("same seed failed different entries")
	}
	opts.Seed = 43
	_, c3 := e.proxy(opts)
	other, _ := putFailures(t, e, c3, "c")
	if fmt.Sprint(other) == fmt.Sprint(failed) {
		t.Fatal("different seeds failed the same entries")
	}
}

func TestEntryFailuresAll(t *testing.T) {
	e := newEnv(t)
	e.stream("s", 2)
	p, c := e.proxy(Options{EntryFailures: EntryFailures{Rate: 1}})
	out, err := c.PutRecords(e.ctx, &kinesis.PutRecordsInput{StreamName: aws.String("s"), Records: entries("s", 7)})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToInt32(out.FailedRecordCount) != 7 || len(out.Records) != 7 {
		t.Fatalf("FailedRecordCount %d, %d results", aws.ToInt32(out.FailedRecordCount), len(out.Records))
	}
	for i, r := range out.Records {
		if aws.ToString(r.ErrorCode) != codeThroughput || r.SequenceNumber != nil {
			t.Fatalf("result %d: %+v", i, r)
		}
	}
	if got := e.stored("s"); len(got) != 0 {
		t.Fatalf("stored %v", got)
	}
	if st := p.Stats(); st.EntriesForwarded != 0 || st.EntriesThroughput != 7 || st.Forwarded != st.UpstreamCalls {
		t.Fatalf("stats %+v: the request must not be forwarded", st)
	}

	// Switched off mid-run, everything goes through.
	if err := p.SetEntryFailures(EntryFailures{}); err != nil {
		t.Fatal(err)
	}
	out, err = c.PutRecords(e.ctx, &kinesis.PutRecordsInput{StreamName: aws.String("s"), Records: entries("s", 7)})
	if err != nil || aws.ToInt32(out.FailedRecordCount) != 0 {
		t.Fatalf("after switching off: %v, %v", err, out)
	}
	if got := e.stored("s"); len(got) != 7 {
		t.Fatalf("stored %d, want 7", len(got))
	}
}

func TestWholeRequestErrors(t *testing.T) {
	e := newEnv(t)
	e.stream("s", 1)
	p, c := e.proxy(Options{})
	put := func() error {
		_, err := c.PutRecords(e.ctx, &kinesis.PutRecordsInput{StreamName: aws.String("s"), Records: entries("s", 3)})
		return err
	}
	tests := []struct {
		name   string
		set    func() error
		code   string
		status int
		stat   func(Stats) int64
	}{
		{"500", func() error { return p.SetRequestErrors(RequestErrors{Rate: 1}) }, "InternalFailure", 500,
			func(s Stats) int64 { return s.InternalFailure500 }},
		{"503", func() error { return p.SetRequestErrors(RequestErrors{Rate: 1, UnavailableShare: 1}) }, "ServiceUnavailable", 503,
			func(s Stats) int64 { return s.ServiceUnavailable503 }},
		{"throughput", func() error { return p.SetThrottle(Throttle{Rate: 1}) }, codeThroughput, 400,
			func(s Stats) int64 { return s.Throughput400 }},
		{"limit", func() error { return p.SetThrottle(Throttle{Rate: 1, LimitExceededShare: 1}) }, "LimitExceededException", 400,
			func(s Stats) int64 { return s.LimitExceeded400 }},
		{"reject all", func() error { p.SetRejectAll(true); return nil }, "ServiceUnavailable", 503,
			func(s Stats) int64 { return s.ServiceUnavailable503 }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_ = p.SetRequestErrors(RequestErrors{})
			_ = p.SetThrottle(Throttle{})
			p.SetRejectAll(false)
			before := tc.stat(p.Stats())
			if err := tc.set(); err != nil {
				t.Fatal(err)
			}
			for i := 0; i < 3; i++ {
				err := put()
				var re interface{ HTTPStatusCode() int }
				if apiCode(err) != tc.code || !errors.As(err, &re) || re.HTTPStatusCode() != tc.status {
					t.Fatalf("err = %v, want %s with status %d", err, tc.code, tc.status)
				}
			}
			if got := tc.stat(p.Stats()) - before; got != 3 {
				t.Fatalf("counted %d, want 3", got)
			}
		})
	}
	_ = p.SetRequestErrors(RequestErrors{})
	p.SetRejectAll(false)
	_ = p.SetThrottle(Throttle{Rate: 1})
	var tp *types.ProvisionedThroughputExceededException
	if err := put(); !errors.As(err, &tp) {
		t.Fatalf("throttle %v is not a *types.ProvisionedThroughputExceededException", err)
	}
	_ = p.SetThrottle(Throttle{})
	if err := put(); err != nil {
		t.Fatalf("with faults off: %v", err)
	}
	if got := e.stored("s"); len(got) != 3 {
		t.Fatalf("stored %d records, only the last request may store (3)", len(got))
	}
	// Other operations are not affected by request errors.
	_ = p.SetRequestErrors(RequestErrors{Rate: 1})
	if _, err := c.DescribeStreamSummary(e.ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String("s")}); err != nil {
		t.Fatal(err)
	}
}

func TestRequestErrorRateDeterministic(t *testing.T) {
	e := newEnv(t)
	e.stream("s", 1)
	run := func(seed uint64) (string, Stats) {
		p, c := e.proxy(Options{Seed: seed, RequestErrors: RequestErrors{Rate: 0.3, UnavailableShare: 0.5}})
		var b strings.Builder
		for i := 0; i < 40; i++ {
			_, err := c.PutRecords(e.ctx, &kinesis.PutRecordsInput{StreamName: aws.String("s"), Records: entries("s", 1)})
			b.WriteString(apiCode(err) + ",")
		}
		return b.String(), p.Stats()
	}
	a, st := run(7)
	b, _ := run(7)
	if a != b {
		t.Fatalf("same seed, different outcomes:\n%s\n%s", a, b)
	}
	n500, n503 := int64(strings.Count(a, "InternalFailure,")), int64(strings.Count(a, "ServiceUnavailable,"))
	if n500 != st.InternalFailure500 || n503 != st.ServiceUnavailable503 || n500 == 0 || n503 == 0 {
		t.Fatalf("client saw %d/%d, proxy counted %d/%d", n500, n503, st.InternalFailure500, st.ServiceUnavailable503)
	}
	if got := int64(len(e.stored("s"))); got != 80-2*(n500+n503) {
		t.Fatalf("stored %d records", got)
	}
}

func TestLostAck(t *testing.T) {
	e := newEnv(t)
	e.stream("s", 2)
	p, c := e.proxy(Options{LostAckRate: 1, EntryFailures: EntryFailures{Rate: 0.5}, Seed: 1, KeepEvents: true})
	_, err := c.PutRecords(e.ctx, &kinesis.PutRecordsInput{StreamName: aws.String("s"), Records: entries("s", 20)})
	if err == nil {
		t.Fatal("PutRecords with a lost ack succeeded")
	}
	if apiCode(err) != "" {
		t.Fatalf("lost ack surfaced as an API error: %v", err)
	}
	_, err = c.PutRecord(e.ctx, &kinesis.PutRecordInput{StreamName: aws.String("s"), PartitionKey: aws.String("x"), Data: []byte("single")})
	if err == nil {
		t.Fatal("PutRecord with a lost ack succeeded")
	}
	ev := p.Events()
	if len(ev) != 2 || ev[0].Injected != "LostAck" || ev[1].Injected != "LostAck" {
		t.Fatalf("events %+v", ev)
	}
	// Everything forwarded was stored although no answer arrived.
	want := []string{"single"}
	failed := map[int]bool{}
	for _, f := range ev[0].Failed {
		failed[f.Index] = true
	}
	for i, en := range entries("s", 20) {
		if !failed[i] {
			want = append(want, string(en.Data))
		}
	}
	sort.Strings(want)
	if got := e.stored("s"); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("stored %v\nwant %v", got, want)
	}
	if st := p.Stats(); st.LostAcks != 2 || st.EntriesForwarded != int64(ev[0].Forwarded) || ev[0].Forwarded == 20 {
		t.Fatalf("stats %+v, event %+v", st, ev[0])
	}
}

func listPages(t *testing.T, e *env, c *kinesis.Client, first *kinesis.ListShardsInput) [][]string {
	t.Helper()
	var pages [][]string
	in := first
	for {
		out, err := c.ListShards(e.ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, s := range out.Shards {
			ids = append(ids, aws.ToString(s.ShardId))
		}
		pages = append(pages, ids)
		if out.NextToken == nil {
			return pages
		}
		// Like a paginator: the follow-ups carry only the token and the page limit.
		in = &kinesis.ListShardsInput{NextToken: out.NextToken, MaxResults: first.MaxResults}
	}
}

func TestListShardsPagination(t *testing.T) {
	e := newEnv(t)
	e.stream("s", 5)
	if err := kinesalite.SplitShardEvenly(e.ctx, e.direct, "s", "shardId-000000000002"); err != nil {
		t.Fatal(err)
	}
	p, c := e.proxy(Options{ListShardsPageSize: 2})
	id := func(i int) string { return fmt.Sprintf("shardId-%012d", i) }

	tests := []struct {
		name string
		in   *kinesis.ListShardsInput
		want string
	}{
		{"page size 2", &kinesis.ListShardsInput{StreamName: aws.String("s")},
			fmt.Sprint([][]string{{id(0), id(1)}, {id(2), id(3)}, {id(4), id(5)}, {id(6)}})},
		{"MaxResults 1 wins", &kinesis.ListShardsInput{StreamName: aws.String("s"), MaxResults: aws.Int32(1)},
			fmt.Sprint([][]string{{id(0)}, {id(1)}, {id(2)}, {id(3)}, {id(4)}, {id(5)}, {id(6)}})},
		{"MaxResults 3 loses", &kinesis.ListShardsInput{StreamName: aws.String("s"), MaxResults: aws.Int32(3)},
			fmt.Sprint([][]string{{id(0), id(1)}, {id(2), id(3)}, {id(4), id(5)}, {id(6)}})},
		{"AT_LATEST", &kinesis.ListShardsInput{StreamName: aws.String("s"),
			ShardFilter: &types.ShardFilter{Type: types.ShardFilterTypeAtLatest}},
			fmt.Sprint([][]string{{id(0), id(1)}, {id(3), id(4)}, {id(5), id(6)}})},
		{"AFTER_SHARD_ID", &kinesis.ListShardsInput{StreamName: aws.String("s"),
			ShardFilter: &types.ShardFilter{Type: types.ShardFilterTypeAfterShardId, ShardId: aws.String(id(3))}},
			fmt.Sprint([][]string{{id(4), id(5)}, {id(6)}})},
		{"ExclusiveStartShardId", &kinesis.ListShardsInput{StreamName: aws.String("s"), ExclusiveStartShardId: aws.String(id(4))},
			fmt.Sprint([][]string{{id(5), id(6)}})},
		{"StreamARN", &kinesis.ListShardsInput{StreamARN: aws.String("arn:aws:kinesis:us-east-1:000000000000:stream/s")},
			fmt.Sprint([][]string{{id(0), id(1)}, {id(2), id(3)}, {id(4), id(5)}, {id(6)}})},
	}
	pages := int64(0)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := listPages(t, e, c, tc.in)
			if fmt.Sprint(got) != tc.want {
				t.Fatalf("pages %v, want %s", got, tc.want)
			}
			pages += int64(len(got))
		})
	}
	if st := p.Stats(); st.ListShardsPages != pages {
		t.Fatalf("ListShardsPages %d, want %d", st.ListShardsPages, pages)
	}

	// The full listing through the proxy equals kinesalite's own.
	direct, err := e.direct.ListShards(e.ctx, &kinesis.ListShardsInput{StreamName: aws.String("s")})
	if err != nil {
		t.Fatal(err)
	}
	viaProxy, err := kinesalite.AllShards(e.ctx, c, "s")
	if err != nil {
		t.Fatal(err)
	}
	dj, _ := json.Marshal(direct.Shards)
	pj, _ := json.Marshal(viaProxy)
	if string(dj) != string(pj) || len(viaProxy) != 7 {
		t.Fatalf("proxy listing differs:\n%s\n%s", dj, pj)
	}

	// Pagination spans a reshard: later pages see the children.
	first, err := c.ListShards(e.ctx, &kinesis.ListShardsInput{StreamName: aws.String("s")})
	if err != nil {
		t.Fatal(err)
	}
	if err := kinesalite.SplitShardEvenly(e.ctx, e.direct, "s", id(0)); err != nil {
		t.Fatal(err)
	}
	rest := listPages(t, e, c, &kinesis.ListShardsInput{NextToken: first.NextToken})
	if fmt.Sprint(rest) != fmt.Sprint([][]string{{id(2), id(3)}, {id(4), id(5)}, {id(6), id(7)}, {id(8)}}) {
		t.Fatalf("pages after reshard %v", rest)
	}
}

func TestListShardsErrors(t *testing.T) {
	e := newEnv(t)
	e.stream("s", 3)
	p, c := e.proxy(Options{ListShardsPageSize: 1})
	first, err := c.ListShards(e.ctx, &kinesis.ListShardsInput{StreamName: aws.String("s")})
	if err != nil || first.NextToken == nil {
		t.Fatalf("%v, %+v", err, first)
	}
	expired := encodeToken(pageToken{Stream: "s", After: "shardId-000000000000", Issued: time.Now().Add(-6 * time.Minute).UnixMilli()})
	tests := []struct {
		name string
		in   *kinesis.ListShardsInput
		code string
	}{
		{"token and name", &kinesis.ListShardsInput{StreamName: aws.String("s"), NextToken: first.NextToken}, "InvalidArgumentException"},
		{"garbage token", &kinesis.ListShardsInput{NextToken: aws.String("not-a-token")}, "InvalidArgumentException"},
		{"expired token", &kinesis.ListShardsInput{NextToken: aws.String(expired)}, "ExpiredNextTokenException"},
		{"neither", &kinesis.ListShardsInput{}, "InvalidArgumentException"},
		{"missing stream", &kinesis.ListShardsInput{StreamName: aws.String("nope")}, "ResourceNotFoundException"},
		{"token for a missing stream", &kinesis.ListShardsInput{NextToken: aws.String(encodeToken(pageToken{Stream: "nope", Issued: time.Now().UnixMilli()}))},
			"ResourceNotFoundException"},
		{"bad filter", &kinesis.ListShardsInput{StreamName: aws.String("s"), ShardFilter: &types.ShardFilter{Type: "SIDEWAYS"}}, "InvalidArgumentException"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.ListShards(e.ctx, tc.in)
			if apiCode(err) != tc.code {
				t.Fatalf("err = %v, want %s", err, tc.code)
			}
		})
	}

	// Failure window.
	for _, kind := range []ErrorKind{LimitExceeded, InternalFailure} {
		if err := p.SetListShardsFailure(kind); err != nil {
			t.Fatal(err)
		}
		_, err := c.ListShards(e.ctx, &kinesis.ListShardsInput{NextToken: first.NextToken})
		if apiCode(err) != kind.Type() {
			t.Fatalf("window %v: err = %v", kind, err)
		}
	}
	if err := p.SetListShardsFailure(NoError); err != nil {
		t.Fatal(err)
	}
	pages := listPages(t, e, c, &kinesis.ListShardsInput{NextToken: first.NextToken})
	if fmt.Sprint(pages) != "[[shardId-000000000001] [shardId-000000000002]]" {
		t.Fatalf("after the window: %v", pages)
	}
	if st := p.Stats(); st.LimitExceeded400 != 1 || st.InternalFailure500 != 1 {
		t.Fatalf("stats %+v", st)
	}
	// StartT's cleanup fails the test if kinesalite crashed on a forwarded NextToken.
}

func TestStreamARN(t *testing.T) {
	e := newEnv(t)
	e.stream("s", 2)
	p, c := e.proxy(Options{})
	sum, err := c.DescribeStreamSummary(e.ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String("s")})
	if err != nil {
		t.Fatal(err)
	}
	arn := sum.StreamDescriptionSummary.StreamARN
	if _, err := e.direct.PutRecords(e.ctx, &kinesis.PutRecordsInput{StreamARN: arn, Records: entries("direct", 1)}); err == nil {
		t.Fatal("kinesalite now accepts StreamARN; the translation may be unnecessary")
	}
	out, err := c.PutRecords(e.ctx, &kinesis.PutRecordsInput{StreamARN: arn, Records: entries("arn", 4)})
	if err != nil || aws.ToInt32(out.FailedRecordCount) != 0 {
		t.Fatalf("PutRecords by ARN: %v", err)
	}
	if _, err := c.PutRecord(e.ctx, &kinesis.PutRecordInput{StreamARN: arn, PartitionKey: aws.String("k"), Data: []byte("one")}); err != nil {
		t.Fatal(err)
	}
	it, err := c.GetShardIterator(e.ctx, &kinesis.GetShardIteratorInput{StreamARN: arn, ShardId: aws.String("shardId-000000000000"),
		ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
	if err != nil || it.ShardIterator == nil {
		t.Fatalf("GetShardIterator by ARN: %v", err)
	}
	if got := e.stored("s"); len(got) != 5 {
		t.Fatalf("stored %v", got)
	}
	if st := p.Stats(); st.StreamARNRewrite != 3 {
		t.Fatalf("StreamARNRewrite = %d, want 3", st.StreamARNRewrite)
	}
}

func TestShardRateLimit(t *testing.T) {
	e := newEnv(t)
	e.stream("s", 2)
	p, c := e.proxy(Options{ShardRateLimit: 10, KeepEvents: true})
	var recs []types.PutRecordsRequestEntry
	for i := 0; i < 60; i++ {
		ehk := "0" // shard 0
		if i%3 == 0 {
			ehk = hashkey.Max.String() // shard 1
		}
		recs = append(recs, types.PutRecordsRequestEntry{PartitionKey: aws.String("k"), ExplicitHashKey: aws.String(ehk),
			Data: []byte(fmt.Sprint(i))})
	}
	out, err := c.PutRecords(e.ctx, &kinesis.PutRecordsInput{StreamName: aws.String("s"), Records: recs})
	if err != nil {
		t.Fatal(err)
	}
	accepted := map[string]int{}
	for i, r := range out.Records {
		want := "shardId-000000000000"
		if i%3 == 0 {
			want = "shardId-000000000001"
		}
		if r.ErrorCode == nil {
			accepted[aws.ToString(r.ShardId)]++
			continue
		}
		if *r.ErrorCode != codeThroughput || !strings.Contains(aws.ToString(r.ErrorMessage), want) {
			t.Fatalf("entry %d: %s %s", i, *r.ErrorCode, aws.ToString(r.ErrorMessage))
		}
	}
	// One request is one instant: exactly the one-second burst per shard gets through.
	if accepted["shardId-000000000000"] != 10 || accepted["shardId-000000000001"] != 10 || aws.ToInt32(out.FailedRecordCount) != 40 {
		t.Fatalf("accepted %v, failed %d", accepted, aws.ToInt32(out.FailedRecordCount))
	}
	if st := p.Stats(); st.EntriesShardLimited != 40 {
		t.Fatalf("EntriesShardLimited %d", st.EntriesShardLimited)
	}
	if err := p.SetShardRateLimit(0); err != nil {
		t.Fatal(err)
	}
	out, err = c.PutRecords(e.ctx, &kinesis.PutRecordsInput{StreamName: aws.String("s"), Records: recs})
	if err != nil || aws.ToInt32(out.FailedRecordCount) != 0 {
		t.Fatalf("with the limit off: %v, failed %d", err, aws.ToInt32(out.FailedRecordCount))
	}
}

// TestConcurrent runs writers while settings change and checks the one invariant that holds
// regardless of interleaving: kinesalite stores exactly the entries the proxy forwarded.
func TestConcurrent(t *testing.T) {
	e := newEnv(t)
	e.stream("s", 4)
	p, c := e.proxy(Options{Seed: 3, EntryFailures: EntryFailures{Rate: 0.2, InternalShare: 0.5},
		RequestErrors: RequestErrors{Rate: 0.1}, LostAckRate: 0.1, ShardRateLimit: 1e6})
	var wg sync.WaitGroup
	var mu sync.Mutex
	acked := 0
	for w := 0; w < 6; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < 15; i++ {
				out, err := c.PutRecords(e.ctx, &kinesis.PutRecordsInput{StreamName: aws.String("s"),
					Records: entries(fmt.Sprintf("w%d-%d", w, i), 20)})
				if err != nil {
					continue
				}
				mu.Lock()
				acked += 20 - int(aws.ToInt32(out.FailedRecordCount))
				mu.Unlock()
			}
		}(w)
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			_ = p.SetEntryFailures(EntryFailures{Rate: float64(i%3) / 10})
			p.SetRejectAll(i%5 == 0)
			_ = p.SetListShardsPageSize(i % 4)
			time.Sleep(time.Millisecond)
		}
	}()
	wg.Wait()
	close(stop)
	<-done
	st := p.Stats()
	stored := len(e.stored("s"))
	if int64(stored) != st.EntriesForwarded || stored < acked || st.LostAcks == 0 {
		t.Fatalf("stored %d, proxy forwarded %d, clients saw %d accepted; stats %+v", stored, st.EntriesForwarded, acked, st)
	}
}

func TestNewValidates(t *testing.T) {
	tests := []struct {
		name     string
		upstream string
		o        Options
	}{
		{"not a url", "127.0.0.1:1", Options{}},
		{"entry rate", "http://x", Options{EntryFailures: EntryFailures{Rate: 1.5}}},
		{"entry share", "http://x", Options{EntryFailures: EntryFailures{InternalShare: -0.1}}},
		{"request rate", "http://x", Options{RequestErrors: RequestErrors{Rate: 2}}},
		{"throttle share", "http://x", Options{Throttle: Throttle{LimitExceededShare: 2}}},
		{"lost acks", "http://x", Options{LostAckRate: -1}},
		{"page size", "http://x", Options{ListShardsPageSize: 10001}},
		{"shard rate", "http://x", Options{ShardRateLimit: -1}},
	}
	for _, tc := range tests {
		if _, err := New(tc.upstream, tc.o); err == nil {
			t.Errorf("%s: New accepted %+v", tc.name, tc.o)
		}
	}
	p, err := New("http://x", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if p.SetEntryFailures(EntryFailures{Rate: 2}) == nil || p.SetLostAckRate(-1) == nil ||
		p.SetOpFailure("PutRecords", ErrorKind(99)) == nil || p.SetListShardsPageSize(-1) == nil ||
		p.SetRequestErrors(RequestErrors{UnavailableShare: 3}) == nil || p.SetThrottle(Throttle{Rate: -2}) == nil ||
		p.SetShardRateLimit(-3) == nil {
		t.Fatal("a setter accepted an invalid value")
	}
}

// TestErrorWireFormat pins the bytes of an injected error, which non-SDK clients parse.
func TestErrorWireFormat(t *testing.T) {
	p, err := New("http://127.0.0.1:1", Options{RequestErrors: RequestErrors{Rate: 1, UnavailableShare: 1}})
	if err != nil {
		t.Fatal(err)
	}
	ep, err := p.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if _, err := p.Start(); err == nil {
		t.Fatal("second Start succeeded")
	}
	req, _ := http.NewRequest(http.MethodPost, ep+"/", strings.NewReader(`{"StreamName":"s","Records":[]}`))
	req.Header.Set("Content-Type", jsonType)
	req.Header.Set("X-Amz-Target", targetPrefix+"PutRecords")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 503 || resp.Header.Get("X-Amzn-ErrorType") != "ServiceUnavailable" ||
		resp.Header.Get("Content-Type") != jsonType || resp.Header.Get("X-Amzn-RequestId") != "faultproxy-00000001" ||
		string(body) != `{"__type":"ServiceUnavailable","message":"Service Unavailable."}` {
		t.Fatalf("%d %v %s", resp.StatusCode, resp.Header, body)
	}

	// An unreachable upstream is a 502 that names the failure, not a hang or a lost ack.
	_ = p.SetRequestErrors(RequestErrors{})
	req, _ = http.NewRequest(http.MethodPost, ep+"/", strings.NewReader(`{"StreamName":"s"}`))
	req.Header.Set("Content-Type", jsonType)
	req.Header.Set("X-Amz-Target", targetPrefix+"DescribeStreamSummary")
	resp2, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp2.Body.Close()
	body, _ = io.ReadAll(resp2.Body)
	if resp2.StatusCode != http.StatusBadGateway || !strings.Contains(string(body), "faultproxy: upstream") ||
		p.Stats().UpstreamErrors != 1 {
		t.Fatalf("%d %s", resp2.StatusCode, body)
	}
}
