package main

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/kinesis-agg/kinesis_agg/aggregation"
	"github.com/kinesis-agg/kinesis_agg/hashkey"
	"github.com/kinesis-agg/kinesis_agg/internal/kclreader"
)

func TestFormatPercent(t *testing.T) {
	tests := []struct {
		n, m int
		want string
	}{
		{0, 0, "0"},
		{0, 10, "0.0"},
		{5, 13, "38.5"},
		{1, 3, "33.3"},
		{1, 2, "50.0"},
		{10, 10, "100.0"},
		{1, 200, "0.50"},
		{1, 3000, "0.033"},
		{1, 10_000_000, "0.000010"},
		{9999, 10000, "99.99"},    // never "100.0" unless everything is lost
		{99999, 100000, "99.999"}, // idem
		{1, 1 << 62, "0.000000000000"},
	}
	for _, tc := range tests {
		if got := formatPercent(tc.n, tc.m); got != tc.want {
			t.Errorf("formatPercent(%d, %d) = %q, want %q", tc.n, tc.m, got, tc.want)
		}
	}
}

func TestFormatRange(t *testing.T) {
	key := func(s string) hashkey.Key {
		k, err := hashkey.ParseDecimal(s)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	third := hashkey.Key{Hi: 0x5555555555555555, Lo: 0x5555555555555555}
	tests := []struct {
		r    hashkey.Range
		want string
	}{
		{hashkey.Range{End: hashkey.Max}, "0-100%"},
		{hashkey.Range{End: key(below)}, "0-50%"},
		{hashkey.Range{Start: key(half), End: hashkey.Max}, "50-100%"},
		{hashkey.Range{Start: hashkey.Key{Hi: 1 << 62}, End: hashkey.Key{Hi: 1<<63 - 1, Lo: ^uint64(0)}}, "25-50%"},
		{hashkey.Range{End: third}, "0-33.33%"},
		{hashkey.Range{Start: hashkey.Key{Hi: 1 << 50}, End: hashkey.Key{Hi: 1 << 60}}, "0.01-6.25%"},
	}
	for _, tc := range tests {
		if got := formatRange(tc.r); got != tc.want {
			t.Errorf("formatRange(%v) = %q, want %q", tc.r, got, tc.want)
		}
	}
}

func TestWriteColumns(t *testing.T) {
	var b strings.Builder
	writeColumns(&b, [][]string{{"A", "NUM", "TEXT"}, {"long-name", "7", "x y"}, {"b", "1234", ""}}, []bool{false, true})
	want := "A           NUM  TEXT\n" +
		"long-name     7  x y\n" +
		"b          1234\n"
	if b.String() != want {
		t.Fatalf("got:\n%q\nwant:\n%q", b.String(), want)
	}
}

// TestBuildReport checks the arithmetic on a report made by hand: totals, loss per Kinesis record,
// corrupt aggregates found among plain records, and the loss list cut at maxLosses.
func TestBuildReport(t *testing.T) {
	corrupt := append(append([]byte(nil), aggregation.Magic[:]...), "not protobuf, bad MD5 ......."...)
	rep := &kclreader.Report{
		Delivered: []kclreader.Delivered{
			{ShardID: "A", Data: []byte("plain")},
			{ShardID: "A", Data: corrupt},
			{ShardID: "B", Data: corrupt, Aggregated: true}, // a member whose payload merely looks like one
		},
		Shards: []kclreader.ShardReport{
			{ShardID: "A", Range: hashkey.Range{End: hashkey.Max}, Counts: kclreader.Counts{KinesisRecords: 4, Passthrough: 2,
				Aggregates: 2, UserRecordsDelivered: 2, AggregatedUserRecords: 6, DecodeFailures: 1, DecodeLost: 2, CorruptAggregates: 1,
				DroppedAggregates: 1, DroppedOutOfRange: 1, DroppedCollateral: 3}},
			{ShardID: "B", Closed: true, ParentShardID: "A", Range: hashkey.Range{Start: hashkey.Key{Lo: 1}, End: hashkey.Key{Lo: 9}},
				Counts: kclreader.Counts{KinesisRecords: 1, Aggregates: 1, UserRecordsDelivered: 1, AggregatedUserRecords: 1}},
		},
		Losses: []kclreader.Loss{
			{ShardID: "A", SequenceNumber: "1", Outcome: aggregation.DroppedOutOfRange, Total: 4, OutOfRange: 1},
			{ShardID: "A", SequenceNumber: "2", Outcome: aggregation.DecodeFailed, Total: 2, OutOfRange: 0,
				Err: errors.New("aggregation: user record 0: partition key index 3 outside table of 1")},
		},
	}
	rep.Counts = rep.Shards[0].Counts
	rep.Counts.KinesisRecords += 1
	rep.Counts.Aggregates += 1
	rep.Counts.UserRecordsDelivered += 1
	rep.Counts.AggregatedUserRecords += 1

	a := buildReport(&config{stream: "s", from: kclreader.TrimHorizon}, rep, 1)
	wantA := counts{KinesisRecords: 4, PlainRecords: 2, Aggregates: 2, CorruptAggregates: 1, UserRecords: 8, Delivered: 2,
		Lost: 6, DroppedAggregates: 1, DroppedOutOfRange: 1, DroppedCollateral: 3, MalformedAggregates: 1, MalformedLost: 2}
	if a.Shards[0].counts != wantA {
		t.Fatalf("shard A %+v\nwant      %+v", a.Shards[0].counts, wantA)
	}
	if s := a.Shards[1]; s.StartingHashKey != "1" || s.EndingHashKey != "9" || !s.Closed || s.ParentShardID != "A" ||
		s.UserRecords != 1 || s.CorruptAggregates != 0 {
		t.Fatalf("shard B %+v", s)
	}
	if a.Total.UserRecords != 9 || a.Total.Lost != 6 || a.Total.CorruptAggregates != 1 || !a.DataLoss ||
		a.Verdict != "KCL consumers silently lose 6 of 9 user records (66.7%)" {
		t.Fatalf("total %+v, verdict %q", a.Total, a.Verdict)
	}
	if a.LossesTotal != 2 || len(a.Losses) != 1 ||
		a.Losses[0] != (loss{ShardID: "A", SequenceNumber: "1", Outcome: "dropped-out-of-range", Members: 4, OutOfRange: 1, Lost: 4}) {
		t.Fatalf("losses %d %+v", a.LossesTotal, a.Losses)
	}
	a = buildReport(&config{stream: "s", from: kclreader.TrimHorizon}, rep, 5)
	if want := (loss{ShardID: "A", SequenceNumber: "2", Outcome: "decode-failed", Members: 2, Lost: 2,
		Error: "aggregation: user record 0: partition key index 3 outside table of 1"}); len(a.Losses) != 2 || a.Losses[1] != want {
		t.Fatalf("losses %+v", a.Losses)
	}
	if got := describeLoss(a.Losses[1]); got != "2 members: 0 delivered, 2 lost after: aggregation: user record 0: partition key index 3 outside table of 1" {
		t.Fatalf("describeLoss = %q", got)
	}
}

// BenchmarkReport measures turning a large reader report into both outputs.
func BenchmarkReport(b *testing.B) {
	rep := &kclreader.Report{}
	for s := range 64 {
		id := fmt.Sprintf("shardId-%012d", s)
		rep.Shards = append(rep.Shards, kclreader.ShardReport{ShardID: id, Range: hashkey.Range{End: hashkey.Max},
			Counts: kclreader.Counts{KinesisRecords: 1000, Aggregates: 1000, UserRecordsDelivered: 10000}})
		for i := range 10000 {
			rep.Delivered = append(rep.Delivered, kclreader.Delivered{ShardID: id, Aggregated: i%2 == 0, Data: []byte("{\"log\":\"x\"}")})
		}
		rep.Losses = append(rep.Losses, kclreader.Loss{ShardID: id, SequenceNumber: "1", Outcome: aggregation.DroppedOutOfRange, Total: 3, OutOfRange: 1})
	}
	c := &config{stream: "s", from: kclreader.TrimHorizon}
	b.ReportAllocs()
	for b.Loop() {
		a := buildReport(c, rep, 10)
		if err := writeTable(io.Discard, a); err != nil {
			b.Fatal(err)
		}
		if err := writeJSON(io.Discard, a); err != nil {
			b.Fatal(err)
		}
	}
}
