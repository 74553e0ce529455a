package kclreader

import (
	"context"
	"crypto/md5"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/kinesis-agg/kinesis_agg/aggregation"
	"github.com/kinesis-agg/kinesis_agg/hashkey"
	"github.com/kinesis-agg/kinesis_agg/internal/faultproxy"
	"github.com/kinesis-agg/kinesis_agg/internal/kinesalite"
)

// member is one user record of a hand-built aggregate; ehk < 0 means no explicit hash key.
type member struct {
	pk, ehk int
	data    string
}

// blob builds a KPL aggregate by hand: magic, protobuf AggregatedRecord, MD5 of the protobuf.
func blob(pks, ehks []string, recs []member) []byte {
	var msg []byte
	for _, pk := range pks {
		msg = protowire.AppendTag(msg, 1, protowire.BytesType)
		msg = protowire.AppendString(msg, pk)
	}
	for _, e := range ehks {
		msg = protowire.AppendTag(msg, 2, protowire.BytesType)
		msg = protowire.AppendString(msg, e)
	}
	for _, r := range recs {
		var rb []byte
		rb = protowire.AppendTag(rb, 1, protowire.VarintType)
		rb = protowire.AppendVarint(rb, uint64(r.pk))
		if r.ehk >= 0 {
			rb = protowire.AppendTag(rb, 2, protowire.VarintType)
			rb = protowire.AppendVarint(rb, uint64(r.ehk))
		}
		rb = protowire.AppendTag(rb, 3, protowire.BytesType)
		rb = protowire.AppendString(rb, r.data)
		msg = protowire.AppendTag(msg, 3, protowire.BytesType)
		msg = protowire.AppendBytes(msg, rb)
	}
	sum := md5.Sum(msg)
	out := append([]byte{0xF3, 0x89, 0x9A, 0xC2}, msg...)
	return append(out, sum[:]...)
}

var (
	half          = hashkey.Key{Hi: 1 << 63}       // shard 1 of 2 starts here
	threeQuarters = hashkey.Key{Hi: 1<<63 | 1<<62} // shard 3 (upper child of 1) starts here
	low           = hashkey.Range{End: hashkey.Key{Hi: 1<<63 - 1, Lo: ^uint64(0)}}
)

// pkIn returns the n-th partition key "prefix-i" whose MD5 lies in r.
func pkIn(prefix string, r hashkey.Range, n int) string {
	for i := 0; ; i++ {
		pk := fmt.Sprintf("%s-%d", prefix, i)
		if r.Contains(hashkey.FromPartitionKey(pk)) {
			if n == 0 {
				return pk
			}
			n--
		}
	}
}

type fixture struct {
	ctx    context.Context
	direct *kinesis.Client
	kl     *kinesalite.Server
	want   []string // expected Delivered, formatted by fmtDelivered
	seqs   map[string]string
}

func fmtDelivered(d Delivered) string {
	return fmt.Sprintf("%s/%s.%d pk=%s ehk=%s agg=%v %q", d.ShardID, d.SequenceNumber, d.SubSequence,
		d.PartitionKey, d.ExplicitHashKey, d.Aggregated, d.Data)
}

// put stores one Kinesis record, checks the shard it lands on and returns its sequence number.
func (f *fixture) put(t *testing.T, name, pk, ehk string, data []byte, wantShard string) string {
	t.Helper()
	in := &kinesis.PutRecordInput{StreamName: aws.String("s"), PartitionKey: aws.String(pk), Data: data}
	if ehk != "" {
		in.ExplicitHashKey = aws.String(ehk)
	}
	out, err := f.direct.PutRecord(f.ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if got := aws.ToString(out.ShardId); got != wantShard {
		t.Fatalf("%s landed on %s, want %s", name, got, wantShard)
	}
	f.seqs[name] = aws.ToString(out.SequenceNumber)
	return f.seqs[name]
}

func (f *fixture) expect(shard, seq string, sub int, pk, ehk string, agg bool, data string) {
	f.want = append(f.want, fmtDelivered(Delivered{ShardID: shard, SequenceNumber: seq, SubSequence: sub,
		PartitionKey: pk, ExplicitHashKey: ehk, Aggregated: agg, Data: []byte(data)}))
}

const (
	shard0 = "shardId-000000000000"
	shard1 = "shardId-000000000001"
	shard2 = "shardId-000000000002"
	shard3 = "shardId-000000000003"
)

// newFixture fills a 2-shard stream, splits shard 1 and writes to the children. Expected
// delivery per shard, in put order within a shard:
//
//	shard 0: plain, good aggregate (3), dropped aggregate (1 out of range), empty aggregate
//	shard 1: plain, aggregate with a bad hash key at member 1, aggregate with a bad MD5 (closed)
//	shard 2: plain, aggregate holding a member of shard 3 (the stale-map split case)
//	shard 3: aggregate of 2
func newFixture(t *testing.T) *fixture {
	kl := kinesalite.StartT(t)
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Second)
	t.Cleanup(cancel)
	f := &fixture{ctx: ctx, direct: kinesalite.NewClient(kl.Endpoint), kl: kl, seqs: map[string]string{}}
	if err := kinesalite.CreateStream(ctx, f.direct, "s", 2); err != nil {
		t.Fatal(err)
	}
	lo0, lo1, lo2 := pkIn("lo", low, 0), pkIn("lo", low, 1), pkIn("lo", low, 2)
	threeQuartersMinus1, _ := threeQuarters.Sub1()
	hi0 := pkIn("hi", hashkey.Range{Start: half, End: threeQuartersMinus1}, 0) // shard 1, then shard 2

	seq := f.put(t, "plain0", lo0, "", []byte("plain-0"), shard0)
	f.expect(shard0, seq, 0, lo0, "", false, "plain-0")
	seq = f.put(t, "plain1", hi0, "", []byte("plain-1"), shard1)
	f.expect(shard1, seq, 0, hi0, "", false, "plain-1")

	good := blob([]string{lo1, lo2}, []string{"5"}, []member{{0, -1, "g0"}, {1, 0, "g1"}, {1, -1, "g2"}})
	seq = f.put(t, "good", "a", hashkey.FromPartitionKey(lo1).String(), good, shard0)
	f.expect(shard0, seq, 0, lo1, "", true, "g0")
	f.expect(shard0, seq, 1, lo2, "5", true, "g1")
	f.expect(shard0, seq, 2, lo2, "", true, "g2")

	out := blob([]string{lo1}, []string{hashkey.Max.String()}, []member{{0, -1, "o0"}, {0, 0, "o1"}, {0, -1, "o2"}})
	f.put(t, "out", "a", "2", out, shard0)

	f.put(t, "empty", lo0, "", blob([]string{"x"}, nil, nil), shard0)

	bad := blob([]string{hi0}, []string{"12x"}, []member{{0, -1, "b0"}, {0, 0, "b1"}, {0, -1, "b2"}})
	seq = f.put(t, "bad", "a", half.String(), bad, shard1)
	f.expect(shard1, seq, 0, hi0, "", true, "b0")

	corrupt := blob([]string{hi0}, nil, []member{{0, -1, "c0"}, {0, -1, "c1"}})
	corrupt[len(corrupt)-1] ^= 0xff
	seq = f.put(t, "corrupt", hi0, "", corrupt, shard1)
	f.expect(shard1, seq, 0, hi0, "", false, string(corrupt))

	if err := kinesalite.SplitShardEvenly(ctx, f.direct, "s", shard1); err != nil {
		t.Fatal(err)
	}
	hi3 := pkIn("hi", hashkey.Range{Start: threeQuarters, End: hashkey.Max}, 0)
	seq = f.put(t, "plain2", "p", half.String(), []byte("plain-2"), shard2)
	f.expect(shard2, seq, 0, "p", "", false, "plain-2")
	stale := blob([]string{hi0, hi3}, nil, []member{{0, -1, "s0"}, {1, -1, "s1"}})
	f.put(t, "stale", "a", hashkey.FromPartitionKey(hi0).String(), stale, shard2)

	child := blob([]string{hi3}, []string{hashkey.Max.String()}, []member{{0, -1, "c3-0"}, {0, 0, "c3-1"}})
	seq = f.put(t, "child", "a", hashkey.Max.String(), child, shard3)
	f.expect(shard3, seq, 0, hi3, "", true, "c3-0")
	f.expect(shard3, seq, 1, hi3, hashkey.Max.String(), true, "c3-1")
	return f
}

func TestReadAll(t *testing.T) {
	f := newFixture(t)
	rep, err := ReadAll(f.ctx, f.direct, "s")
	if err != nil {
		t.Fatal(err)
	}
	checkFixtureReport(t, f, rep)
}

func checkFixtureReport(t *testing.T, f *fixture, rep *Report) {
	t.Helper()
	var got []string
	for _, d := range rep.Delivered {
		got = append(got, fmtDelivered(d))
	}
	// Expected in put order; delivered shard by shard, put order within a shard.
	want := append([]string(nil), f.want...)
	sort.SliceStable(want, func(i, j int) bool { return want[i][:len(shard0)] < want[j][:len(shard0)] })
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("delivered:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	wantCounts := Counts{
		KinesisRecords: 10, Aggregates: 6, Passthrough: 4, UserRecordsDelivered: 10,
		AggregatedUserRecords: 13, EmptyAggregates: 1, DroppedAggregates: 2, DroppedOutOfRange: 2,
		DroppedCollateral: 3, DecodeFailures: 1, DecodeLost: 2, CorruptAggregates: 1,
	}
	if rep.Counts != wantCounts {
		t.Fatalf("totals %+v\nwant   %+v", rep.Counts, wantCounts)
	}
	if rep.Lost() != 7 {
		t.Fatalf("Lost() = %d", rep.Lost())
	}
	type shardWant struct {
		id, parent string
		closed     bool
		kinesis    int
		delivered  int
	}
	wantShards := []shardWant{
		{shard0, "", false, 4, 4}, {shard1, "", true, 3, 3}, {shard2, shard1, false, 2, 1}, {shard3, shard1, false, 1, 2},
	}
	if len(rep.Shards) != len(wantShards) {
		t.Fatalf("%d shards", len(rep.Shards))
	}
	var sum Counts
	for i, w := range wantShards {
		s := rep.Shards[i]
		if s.ShardID != w.id || s.ParentShardID != w.parent || s.Closed != w.closed ||
			s.KinesisRecords != w.kinesis || s.UserRecordsDelivered != w.delivered {
			t.Fatalf("shard %d: %+v, want %+v", i, s, w)
		}
		sum.add(s.Counts)
	}
	if sum != rep.Counts {
		t.Fatalf("per-shard counts add up to %+v, totals are %+v", sum, rep.Counts)
	}
	if rep.Shards[2].Range != (hashkey.Range{Start: half, End: hashkey.Key{Hi: 1<<63 | 1<<62 - 1, Lo: ^uint64(0)}}) {
		t.Fatalf("shard 2 range %v", rep.Shards[2].Range)
	}
	wantLosses := []string{
		fmt.Sprintf("%s %s dropped-out-of-range total=3 delivered=0 out=1", shard0, f.seqs["out"]),
		fmt.Sprintf("%s %s decode-failed total=3 delivered=1 out=0", shard1, f.seqs["bad"]),
		fmt.Sprintf("%s %s dropped-out-of-range total=2 delivered=0 out=1", shard2, f.seqs["stale"]),
	}
	var losses []string
	for _, l := range rep.Losses {
		losses = append(losses, fmt.Sprintf("%s %s %v total=%d delivered=%d out=%d", l.ShardID, l.SequenceNumber,
			l.Outcome, l.Total, l.Delivered, l.OutOfRange))
	}
	if strings.Join(losses, "\n") != strings.Join(wantLosses, "\n") {
		t.Fatalf("losses:\n%s\nwant:\n%s", strings.Join(losses, "\n"), strings.Join(wantLosses, "\n"))
	}
	if !strings.Contains(fmt.Sprint(rep.Losses[1].Err), `"12x"`) {
		t.Fatalf("decode failure error %v does not name the bad hash key", rep.Losses[1].Err)
	}
}

func TestReadNoRangeFilter(t *testing.T) {
	f := newFixture(t)
	rep, err := Read(f.ctx, f.direct, ReadOptions{Stream: "s", NoRangeFilter: true})
	if err != nil {
		t.Fatal(err)
	}
	// Without the range check the two dropped aggregates are delivered whole.
	if rep.UserRecordsDelivered != 15 || rep.DroppedAggregates != 0 || rep.Lost() != 2 || len(rep.Losses) != 1 {
		t.Fatalf("counts %+v, losses %+v", rep.Counts, rep.Losses)
	}
	var data []string
	for _, d := range rep.Delivered {
		if d.ShardID == shard2 {
			data = append(data, string(d.Data))
		}
	}
	if strings.Join(data, ",") != "plain-2,s0,s1" {
		t.Fatalf("shard 2 delivered %v", data)
	}
}

// TestReadThroughProxy reads by StreamARN through faultproxy, which translates the ARN and
// paginates ListShards one shard per page: the report is the same.
func TestReadThroughProxy(t *testing.T) {
	f := newFixture(t)
	p, err := faultproxy.New(f.kl.Endpoint, faultproxy.Options{ListShardsPageSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	ep, err := p.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	rep, err := Read(f.ctx, kinesalite.NewClient(ep), ReadOptions{StreamARN: "arn:aws:kinesis:us-east-1:000000000000:stream/s"})
	if err != nil {
		t.Fatal(err)
	}
	checkFixtureReport(t, f, rep)
	if st := p.Stats(); st.ListShardsPages != 4 || st.StreamARNRewrite == 0 {
		t.Fatalf("proxy stats %+v", st)
	}
}

func TestReadPositions(t *testing.T) {
	kl := kinesalite.StartT(t)
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Second)
	defer cancel()
	c := kinesalite.NewClient(kl.Endpoint)
	if err := kinesalite.CreateStream(ctx, c, "s", 2); err != nil {
		t.Fatal(err)
	}
	put := func(data string, ehk string) {
		t.Helper()
		if _, err := c.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String("s"), PartitionKey: aws.String("k"),
			ExplicitHashKey: aws.String(ehk), Data: []byte(data)}); err != nil {
			t.Fatal(err)
		}
	}
	put("old-0", "0")
	put("old-1", hashkey.Max.String())
	time.Sleep(20 * time.Millisecond)
	mark := time.Now()
	time.Sleep(20 * time.Millisecond)
	put("new-0", "1")
	put("new-1", half.String())
	time.Sleep(20 * time.Millisecond)
	late := time.Now()
	time.Sleep(20 * time.Millisecond)
	put("late-1", hashkey.Max.String()) // shard 0 has nothing after late

	data := func(rep *Report) string {
		var out []string
		for _, d := range rep.Delivered {
			out = append(out, d.ShardID[len(d.ShardID)-1:]+":"+string(d.Data))
		}
		return strings.Join(out, ",")
	}
	tests := []struct {
		name string
		o    ReadOptions
		want string
	}{
		{"trim horizon", ReadOptions{Stream: "s"}, "0:old-0,0:new-0,1:old-1,1:new-1,1:late-1"},
		{"at timestamp", ReadOptions{Stream: "s", From: AtTimestamp, Timestamp: mark}, "0:new-0,1:new-1,1:late-1"},
		{"at timestamp client side", ReadOptions{Stream: "s", From: AtTimestamp, Timestamp: mark, ClientSideTimestamp: true},
			"0:new-0,1:new-1,1:late-1"},
		// Server side, kinesalite would hang on shard 0 here.
		{"at timestamp client side, empty shard", ReadOptions{Stream: "s", From: AtTimestamp, Timestamp: late, ClientSideTimestamp: true},
			"1:late-1"},
		{"latest", ReadOptions{Stream: "s", From: Latest}, ""},
		{"limit 1", ReadOptions{Stream: "s", Limit: 1, GetRecordsInterval: time.Millisecond}, "0:old-0,0:new-0,1:old-1,1:new-1,1:late-1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rep, err := Read(ctx, c, tc.o)
			if err != nil {
				t.Fatal(err)
			}
			if got := data(rep); got != tc.want {
				t.Fatalf("read %q, want %q", got, tc.want)
			}
			if len(rep.Shards) != 2 || rep.Passthrough != rep.KinesisRecords {
				t.Fatalf("report %+v", rep.Counts)
			}
		})
	}

	bad := []ReadOptions{
		{},
		{Stream: "s", From: "SOMEWHERE"},
		{Stream: "s", From: AtTimestamp},
		{Stream: "missing"},
	}
	for _, o := range bad {
		if _, err := Read(ctx, c, o); err == nil {
			t.Errorf("Read(%+v) succeeded", o)
		}
	}
}

// Deaggregate must agree with the hand-built blobs, independent of kinesalite.
func TestBlobIsAggregate(t *testing.T) {
	b := blob([]string{"k"}, []string{"7"}, []member{{0, 0, "x"}})
	r := aggregation.Deaggregate("a", b, nil)
	if r.Outcome != aggregation.Deaggregated || len(r.Records) != 1 || r.Records[0].ExplicitHashKey != "7" ||
		string(r.Records[0].Data) != "x" {
		t.Fatalf("%+v", r)
	}
}
