package kinesisapi

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/kinesis-agg/kinesis_agg/topology"
)

// ListShardsPageSize is the MaxResults of every ListShards request (the API maximum is 10000;
// KPL uses 1000).
const ListShardsPageSize = 1000

// ListShardsAPI is the part of *kinesis.Client that ShardLister needs.
type ListShardsAPI interface {
	ListShards(ctx context.Context, in *kinesis.ListShardsInput, optFns ...func(*kinesis.Options)) (*kinesis.ListShardsOutput, error)
}

// DescribeStreamSummaryAPI is the part of *kinesis.Client that MaxRecordBytes needs.
type DescribeStreamSummaryAPI interface {
	DescribeStreamSummary(ctx context.Context, in *kinesis.DescribeStreamSummaryInput, optFns ...func(*kinesis.Options)) (*kinesis.DescribeStreamSummaryOutput, error)
}

// ShardLister reads a stream's shard list page by page; it implements topology.Lister.
type ShardLister struct {
	API ListShardsAPI
	// StreamName names the stream; StreamARN, when set, is used instead.
	StreamName string
	StreamARN  string
}

var _ topology.Lister = (*ShardLister)(nil)

// ListShards returns one page. The first page (nextToken == "") names the stream; a follow-up
// page carries only the token, because Kinesis rejects a request that has both.
func (l *ShardLister) ListShards(ctx context.Context, nextToken string) (topology.ShardPage, error) {
	in := &kinesis.ListShardsInput{MaxResults: aws.Int32(ListShardsPageSize)}
	switch {
	case nextToken != "":
		in.NextToken = aws.String(nextToken)
	case l.StreamARN != "":
		in.StreamARN = aws.String(l.StreamARN)
	case l.StreamName != "":
		in.StreamName = aws.String(l.StreamName)
	default:
		return topology.ShardPage{}, errors.New("kinesisapi: ListShards: no stream name or ARN")
	}
	out, err := l.API.ListShards(ctx, in)
	if err != nil {
		return topology.ShardPage{}, fmt.Errorf("kinesisapi: ListShards on stream %q: %w", l.stream(), err)
	}
	page := topology.ShardPage{
		Shards:    make([]topology.ListedShard, 0, len(out.Shards)),
		NextToken: aws.ToString(out.NextToken),
	}
	for i := range out.Shards {
		page.Shards = append(page.Shards, listed(&out.Shards[i]))
	}
	return page, nil
}

func (l *ShardLister) stream() string {
	if l.StreamARN != "" {
		return l.StreamARN
	}
	return l.StreamName
}

// listed converts an SDK shard, leaving absent fields "" (topology validates them).
func listed(s *types.Shard) topology.ListedShard {
	ls := topology.ListedShard{
		ShardID:               aws.ToString(s.ShardId),
		ParentShardID:         aws.ToString(s.ParentShardId),
		AdjacentParentShardID: aws.ToString(s.AdjacentParentShardId),
	}
	if r := s.HashKeyRange; r != nil {
		ls.StartingHashKey = aws.ToString(r.StartingHashKey)
		ls.EndingHashKey = aws.ToString(r.EndingHashKey)
	}
	if r := s.SequenceNumberRange; r != nil {
		ls.EndingSequenceNumber = aws.ToString(r.EndingSequenceNumber)
	}
	return ls
}

// MaxRecordBytes returns the stream's per-record size limit in bytes (MaxRecordSizeInKiB * 1024),
// or 0 when DescribeStreamSummary does not report it (older endpoints, kinesalite). streamARN,
// when set, is used instead of streamName.
func MaxRecordBytes(ctx context.Context, api DescribeStreamSummaryAPI, streamName, streamARN string) (int, error) {
	in := &kinesis.DescribeStreamSummaryInput{}
	stream := streamName
	if streamARN != "" {
		in.StreamARN, stream = aws.String(streamARN), streamARN
	} else {
		in.StreamName = aws.String(streamName)
	}
	if stream == "" {
		return 0, errors.New("kinesisapi: DescribeStreamSummary: no stream name or ARN")
	}
	out, err := api.DescribeStreamSummary(ctx, in)
	if err != nil {
		return 0, fmt.Errorf("kinesisapi: DescribeStreamSummary on stream %q: %w", stream, err)
	}
	if out.StreamDescriptionSummary == nil || out.StreamDescriptionSummary.MaxRecordSizeInKiB == nil {
		return 0, nil
	}
	kib := *out.StreamDescriptionSummary.MaxRecordSizeInKiB
	if kib <= 0 {
		return 0, fmt.Errorf("kinesisapi: stream %q reports MaxRecordSizeInKiB %d", stream, kib)
	}
	return int(kib) * 1024, nil
}
