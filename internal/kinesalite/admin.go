package kinesalite

import (
	"context"
	"errors"
	"fmt"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/kinesis-agg/kinesis_agg/kinesisapi"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/kinesis-agg/kinesis_agg/hashkey"
)

// Region is the region every client of this package uses; kinesalite ignores it.
const Region = "us-east-1"

// pollInterval is how often the helpers check whether a stream is ACTIVE again.
const pollInterval = 5 * time.Millisecond

// defaultWait bounds waiting for ACTIVE when ctx has no deadline of its own.
const defaultWait = 30 * time.Second

// NewClient returns a Kinesis client for endpoint (kinesalite, or a proxy in front of it) with
// static dummy credentials, region us-east-1, the AWS JSON 1.1 protocol (the SDK's only protocol
// for Kinesis, never CBOR) and no retries, so that every injected fault reaches the caller.
// optFns adjust the options further.
func NewClient(endpoint string, optFns ...func(*kinesis.Options)) *kinesis.Client {
	return kinesis.New(kinesis.Options{
		Region:       Region,
		BaseEndpoint: aws.String(endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDKINESALITE", "kinesalite-secret", ""),
		Retryer:      aws.NopRetryer{},
		// Without it a fast answer makes net/http drop the connection mid-response now and then.
		HTTPClient: kinesisapi.KeepAlive(awshttp.NewBuildableClient()),
	}, optFns...)
}

// CreateStream creates a provisioned stream with the given number of shards and waits until it
// is ACTIVE.
func CreateStream(ctx context.Context, c *kinesis.Client, name string, shards int) error {
	if shards < 1 {
		return fmt.Errorf("kinesalite: create stream %q: shard count %d < 1", name, shards)
	}
	_, err := c.CreateStream(ctx, &kinesis.CreateStreamInput{
		StreamName: aws.String(name),
		ShardCount: aws.Int32(int32(shards)),
	})
	if err != nil {
		return fmt.Errorf("kinesalite: create stream %q with %d shards: %w", name, shards, err)
	}
	return WaitActive(ctx, c, name)
}

// DeleteStream deletes a stream and waits until it is gone.
func DeleteStream(ctx context.Context, c *kinesis.Client, name string) error {
	if _, err := c.DeleteStream(ctx, &kinesis.DeleteStreamInput{StreamName: aws.String(name)}); err != nil {
		return fmt.Errorf("kinesalite: delete stream %q: %w", name, err)
	}
	return poll(ctx, func(ctx context.Context) (bool, error) {
		_, err := c.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(name)})
		var nf *types.ResourceNotFoundException
		if errors.As(err, &nf) {
			return true, nil
		}
		return false, err
	}, "stream %q to be deleted", name)
}

// WaitActive polls until the stream's status is ACTIVE.
func WaitActive(ctx context.Context, c *kinesis.Client, name string) error {
	return poll(ctx, func(ctx context.Context) (bool, error) {
		out, err := c.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(name)})
		if err != nil {
			return false, err
		}
		return out.StreamDescriptionSummary.StreamStatus == types.StreamStatusActive, nil
	}, "stream %q to become ACTIVE", name)
}

// SplitShard splits shardID so that the new upper child starts at newStart, and waits until the
// stream is ACTIVE again. kinesalite requires start+1 < newStart < end of the parent's range.
func SplitShard(ctx context.Context, c *kinesis.Client, stream, shardID string, newStart hashkey.Key) error {
	if err := WaitActive(ctx, c, stream); err != nil {
		return err
	}
	_, err := c.SplitShard(ctx, &kinesis.SplitShardInput{
		StreamName:         aws.String(stream),
		ShardToSplit:       aws.String(shardID),
		NewStartingHashKey: aws.String(newStart.String()),
	})
	if err != nil {
		return fmt.Errorf("kinesalite: split shard %s of stream %q at %s: %w", shardID, stream, newStart, err)
	}
	return WaitActive(ctx, c, stream)
}

// SplitShardEvenly splits shardID at the midpoint of its hash-key range: the lower child gets
// [start, mid], the upper one [mid+1, end], with mid = floor((start+end)/2).
func SplitShardEvenly(ctx context.Context, c *kinesis.Client, stream, shardID string) error {
	all, err := AllShards(ctx, c, stream)
	if err != nil {
		return err
	}
	for _, s := range all {
		if aws.ToString(s.ShardId) != shardID {
			continue
		}
		r, err := ShardRange(s)
		if err != nil {
			return err
		}
		at, _ := hashkey.Mid(r.Start, r.End).Add1()
		return SplitShard(ctx, c, stream, shardID, at)
	}
	return fmt.Errorf("kinesalite: split shard %s of stream %q: no such shard", shardID, stream)
}

// MergeShards merges shard a with its adjacent shard b and waits until the stream is ACTIVE again.
func MergeShards(ctx context.Context, c *kinesis.Client, stream, a, b string) error {
	if err := WaitActive(ctx, c, stream); err != nil {
		return err
	}
	_, err := c.MergeShards(ctx, &kinesis.MergeShardsInput{
		StreamName:           aws.String(stream),
		ShardToMerge:         aws.String(a),
		AdjacentShardToMerge: aws.String(b),
	})
	if err != nil {
		return fmt.Errorf("kinesalite: merge shards %s and %s of stream %q: %w", a, b, stream, err)
	}
	return WaitActive(ctx, c, stream)
}

// AllShards lists every shard of the stream, open and closed, following NextToken (kinesalite
// returns one page, a proxy or real Kinesis may return several).
func AllShards(ctx context.Context, c *kinesis.Client, stream string) ([]types.Shard, error) {
	var all []types.Shard
	in := &kinesis.ListShardsInput{StreamName: aws.String(stream)}
	for {
		out, err := c.ListShards(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("kinesalite: list shards of stream %q: %w", stream, err)
		}
		all = append(all, out.Shards...)
		if aws.ToString(out.NextToken) == "" {
			return all, nil
		}
		in = &kinesis.ListShardsInput{NextToken: out.NextToken}
	}
}

// OpenShards lists the shards that still accept records (no EndingSequenceNumber), in listing
// order (ascending shard id).
func OpenShards(ctx context.Context, c *kinesis.Client, stream string) ([]types.Shard, error) {
	all, err := AllShards(ctx, c, stream)
	if err != nil {
		return nil, err
	}
	open := all[:0]
	for _, s := range all {
		if s.SequenceNumberRange == nil || s.SequenceNumberRange.EndingSequenceNumber == nil {
			open = append(open, s)
		}
	}
	return open, nil
}

// ShardRange parses a listed shard's hash-key range.
func ShardRange(s types.Shard) (hashkey.Range, error) {
	if s.HashKeyRange == nil {
		return hashkey.Range{}, fmt.Errorf("kinesalite: shard %s has no hash key range", aws.ToString(s.ShardId))
	}
	start, err := hashkey.ParseDecimal(aws.ToString(s.HashKeyRange.StartingHashKey))
	if err != nil {
		return hashkey.Range{}, fmt.Errorf("kinesalite: shard %s starting hash key: %w", aws.ToString(s.ShardId), err)
	}
	end, err := hashkey.ParseDecimal(aws.ToString(s.HashKeyRange.EndingHashKey))
	if err != nil {
		return hashkey.Range{}, fmt.Errorf("kinesalite: shard %s ending hash key: %w", aws.ToString(s.ShardId), err)
	}
	return hashkey.Range{Start: start, End: end}, nil
}

// poll calls done every pollInterval until it reports true, fails, or ctx (or, without a
// deadline, defaultWait) runs out.
func poll(ctx context.Context, done func(context.Context) (bool, error), what string, args ...any) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, defaultWait)
		defer cancel()
	}
	for {
		ok, err := done(ctx)
		if err != nil {
			return fmt.Errorf("kinesalite: waiting for %s: %w", fmt.Sprintf(what, args...), err)
		}
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("kinesalite: waiting for %s: %w", fmt.Sprintf(what, args...), ctx.Err())
		case <-time.After(pollInterval):
		}
	}
}
