package kinesisapi

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/kinesis-agg/kinesis_agg/topology"
)

// fakeListShards replays pages and records every input it was given.
type fakeListShards struct {
	pages []*kinesis.ListShardsOutput
	err   error
	got   []kinesis.ListShardsInput
}

func (f *fakeListShards) ListShards(_ context.Context, in *kinesis.ListShardsInput, _ ...func(*kinesis.Options)) (*kinesis.ListShardsOutput, error) {
	f.got = append(f.got, *in)
	if f.err != nil {
		return nil, f.err
	}
	out := f.pages[0]
	f.pages = f.pages[1:]
	return out, nil
}

func shard(id, parent, start, end, endSeq string) types.Shard {
	s := types.Shard{
		ShardId:             aws.String(id),
		HashKeyRange:        &types.HashKeyRange{StartingHashKey: aws.String(start), EndingHashKey: aws.String(end)},
		SequenceNumberRange: &types.SequenceNumberRange{StartingSequenceNumber: aws.String("1")},
	}
	if parent != "" {
		s.ParentShardId = aws.String(parent)
	}
	if endSeq != "" {
		s.SequenceNumberRange.EndingSequenceNumber = aws.String(endSeq)
	}
	return s
}

func TestShardListerPages(t *testing.T) {
	fake := &fakeListShards{pages: []*kinesis.ListShardsOutput{
		{Shards: []types.Shard{shard("shardId-000000000000", "", "0", "99", "500")}, NextToken: aws.String("tok-1")},
		{Shards: []types.Shard{
			shard("shardId-000000000001", "shardId-000000000000", "0", "49", ""),
			{ShardId: aws.String("shardId-000000000002"), ParentShardId: aws.String("shardId-000000000000"),
				AdjacentParentShardId: aws.String("shardId-000000000009")},
		}},
	}}
	l := &ShardLister{API: fake, StreamName: "logs"}

	p1, err := l.ListShards(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	p2, err := l.ListShards(context.Background(), p1.NextToken)
	if err != nil {
		t.Fatal(err)
	}

	wantInputs := []kinesis.ListShardsInput{
		{StreamName: aws.String("logs"), MaxResults: aws.Int32(1000)},
		{NextToken: aws.String("tok-1"), MaxResults: aws.Int32(1000)}, // no StreamName on page 2
	}
	if !reflect.DeepEqual(fake.got, wantInputs) {
		t.Fatalf("inputs:\n got %s\nwant %s", dumpInputs(fake.got), dumpInputs(wantInputs))
	}
	want1 := topology.ShardPage{NextToken: "tok-1", Shards: []topology.ListedShard{
		{ShardID: "shardId-000000000000", StartingHashKey: "0", EndingHashKey: "99", EndingSequenceNumber: "500"},
	}}
	want2 := topology.ShardPage{Shards: []topology.ListedShard{
		{ShardID: "shardId-000000000001", ParentShardID: "shardId-000000000000", StartingHashKey: "0", EndingHashKey: "49"},
		{ShardID: "shardId-000000000002", ParentShardID: "shardId-000000000000", AdjacentParentShardID: "shardId-000000000009"},
	}}
	if !reflect.DeepEqual(p1, want1) {
		t.Errorf("page 1 = %+v, want %+v", p1, want1)
	}
	if !reflect.DeepEqual(p2, want2) {
		t.Errorf("page 2 = %+v, want %+v", p2, want2)
	}
	if !p2.Shards[0].Open() || p1.Shards[0].Open() {
		t.Errorf("Open(): closed shard must have EndingSequenceNumber")
	}
}

func TestShardListerStreamSelection(t *testing.T) {
	const arn = "arn:aws:kinesis:eu-west-1:123456789012:stream/logs"
	tests := []struct {
		name      string
		l         ShardLister
		token     string
		want      kinesis.ListShardsInput
		wantError string
	}{
		{name: "name", l: ShardLister{StreamName: "logs"},
			want: kinesis.ListShardsInput{StreamName: aws.String("logs"), MaxResults: aws.Int32(1000)}},
		{name: "arn wins", l: ShardLister{StreamName: "logs", StreamARN: arn},
			want: kinesis.ListShardsInput{StreamARN: aws.String(arn), MaxResults: aws.Int32(1000)}},
		{name: "token only", l: ShardLister{StreamName: "logs", StreamARN: arn}, token: "t",
			want: kinesis.ListShardsInput{NextToken: aws.String("t"), MaxResults: aws.Int32(1000)}},
		{name: "no stream", l: ShardLister{}, wantError: "no stream name or ARN"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := &fakeListShards{pages: []*kinesis.ListShardsOutput{{}}}
			tt.l.API = fake
			_, err := tt.l.ListShards(context.Background(), tt.token)
			if tt.wantError != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantError) {
					t.Fatalf("err = %v, want %q", err, tt.wantError)
				}
				if len(fake.got) != 0 {
					t.Fatalf("made %d calls, want 0", len(fake.got))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(fake.got, []kinesis.ListShardsInput{tt.want}) {
				t.Fatalf("inputs %s, want %s", dumpInputs(fake.got), dumpInputs([]kinesis.ListShardsInput{tt.want}))
			}
		})
	}
}

func TestShardListerErrorNamesStream(t *testing.T) {
	apiErr := &types.ResourceNotFoundException{Message: aws.String("Stream logs not found")}
	l := &ShardLister{API: &fakeListShards{err: apiErr}, StreamName: "logs"}
	_, err := l.ListShards(context.Background(), "")
	if err == nil || !strings.Contains(err.Error(), `stream "logs"`) {
		t.Fatalf("err = %v, want it to name the stream", err)
	}
	if got := ErrorCode(err); got != "ResourceNotFoundException" {
		t.Fatalf("ErrorCode = %q", got)
	}
	if !errors.Is(err, apiErr) {
		t.Fatal("error does not wrap the API error")
	}
}

type fakeSummary struct {
	out *kinesis.DescribeStreamSummaryOutput
	err error
	got []kinesis.DescribeStreamSummaryInput
}

func (f *fakeSummary) DescribeStreamSummary(_ context.Context, in *kinesis.DescribeStreamSummaryInput, _ ...func(*kinesis.Options)) (*kinesis.DescribeStreamSummaryOutput, error) {
	f.got = append(f.got, *in)
	return f.out, f.err
}

func TestMaxRecordBytes(t *testing.T) {
	summary := func(kib *int32) *kinesis.DescribeStreamSummaryOutput {
		return &kinesis.DescribeStreamSummaryOutput{StreamDescriptionSummary: &types.StreamDescriptionSummary{MaxRecordSizeInKiB: kib}}
	}
	tests := []struct {
		name      string
		out       *kinesis.DescribeStreamSummaryOutput
		err       error
		arn       string
		want      int
		wantInput kinesis.DescribeStreamSummaryInput
		wantError string
	}{
		{name: "1 MiB", out: summary(aws.Int32(1024)), want: 1 << 20,
			wantInput: kinesis.DescribeStreamSummaryInput{StreamName: aws.String("logs")}},
		{name: "10 MiB by ARN", out: summary(aws.Int32(10240)), arn: "arn:x", want: 10 << 20,
			wantInput: kinesis.DescribeStreamSummaryInput{StreamARN: aws.String("arn:x")}},
		{name: "absent", out: summary(nil), want: 0,
			wantInput: kinesis.DescribeStreamSummaryInput{StreamName: aws.String("logs")}},
		{name: "no summary", out: &kinesis.DescribeStreamSummaryOutput{}, want: 0,
			wantInput: kinesis.DescribeStreamSummaryInput{StreamName: aws.String("logs")}},
		{name: "nonsense", out: summary(aws.Int32(-1)), wantError: "MaxRecordSizeInKiB -1",
			wantInput: kinesis.DescribeStreamSummaryInput{StreamName: aws.String("logs")}},
		{name: "error", err: &types.AccessDeniedException{Message: aws.String("no")}, wantError: `DescribeStreamSummary on stream "logs"`,
			wantInput: kinesis.DescribeStreamSummaryInput{StreamName: aws.String("logs")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeSummary{out: tt.out, err: tt.err}
			got, err := MaxRecordBytes(context.Background(), f, "logs", tt.arn)
			if tt.wantError != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantError) {
					t.Fatalf("err = %v, want %q", err, tt.wantError)
				}
			} else if err != nil || got != tt.want {
				t.Fatalf("MaxRecordBytes = %d, %v; want %d", got, err, tt.want)
			}
			if !reflect.DeepEqual(f.got, []kinesis.DescribeStreamSummaryInput{tt.wantInput}) {
				t.Fatalf("input = %+v", f.got)
			}
		})
	}
}

func dumpInputs(in []kinesis.ListShardsInput) string {
	var b strings.Builder
	for _, i := range in {
		b.WriteString("{StreamName=" + aws.ToString(i.StreamName) + " StreamARN=" + aws.ToString(i.StreamARN) +
			" NextToken=" + aws.ToString(i.NextToken) + "}")
	}
	return b.String()
}
