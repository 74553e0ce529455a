// Package kclreader reads a whole Kinesis stream the way a KCL consumer does and reports which
// user records the application would receive: every shard, open or closed, from the starting
// position to its end, each Kinesis record deaggregated with KCL's exact rules against the range
// of the shard it was read from (aggregation.Deaggregate). Tests use it to prove that no user
// record was lost to KCL's hash-range filter; an audit command uses it against a real stream.
package kclreader

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/kinesis-agg/kinesis_agg/aggregation"
	"github.com/kinesis-agg/kinesis_agg/hashkey"
)

// Position is where reading starts in every shard.
type Position string

// The starting positions, named as GetShardIterator names them.
const (
	TrimHorizon Position = "TRIM_HORIZON" // the oldest record still retained
	Latest      Position = "LATEST"       // just after the newest record
	AtTimestamp Position = "AT_TIMESTAMP" // the first record that arrived at or after Timestamp
)

// ReadOptions say which stream to read and from where.
type ReadOptions struct {
	// Stream is the stream name. StreamARN, when set, is sent instead (real Kinesis; kinesalite
	// only understands names, faultproxy translates). One of the two is required.
	Stream    string
	StreamARN string
	// From is the starting position; "" means TrimHorizon.
	From Position
	// Timestamp is the starting time for AtTimestamp.
	Timestamp time.Time
	// ClientSideTimestamp implements AtTimestamp by reading from TRIM_HORIZON and skipping records
	// that arrived before Timestamp. kinesalite needs it: its GetShardIterator AT_TIMESTAMP never
	// answers for a shard holding no record at or after the timestamp.
	ClientSideTimestamp bool
	// Limit caps records per GetRecords call; 0 leaves it to the service (10000).
	Limit int32
	// GetRecordsInterval is the least time between two GetRecords calls on one shard; 0 means
	// none (kinesalite). Real Kinesis allows 5 calls per second per shard.
	GetRecordsInterval time.Duration
	// NoRangeFilter deaggregates without the shard's hash-key range, as KCL does when it cannot
	// resolve the shard and as deaggregators without range checks (Lambda, aws-kinesis-agg) do.
	NoRangeFilter bool
	// CountOnly keeps the counts and losses but not the delivered records, so that an audit of a
	// large stream does not hold its data in memory (Report.Delivered stays empty).
	CountOnly bool
}

// Delivered is one user record as the application receives it.
type Delivered struct {
	ShardID        string
	SequenceNumber string
	// SubSequence is the position inside the aggregate; 0 for a plain record.
	SubSequence  int
	PartitionKey string
	// ExplicitHashKey is set only for aggregate members that carry one: GetRecords does not
	// return the explicit hash key of a plain record.
	ExplicitHashKey string
	Data            []byte
	// Aggregated says whether the record came out of a KPL aggregate.
	Aggregated bool
	// Hash is the effective hash key: for a plain record MD5 of its partition key (its explicit
	// hash key, if it had one, is not visible to consumers).
	Hash hashkey.Key
	// ArrivalTime is the Kinesis record's ApproximateArrivalTimestamp.
	ArrivalTime time.Time
}

// Counts tally what the reader found.
type Counts struct {
	KinesisRecords        int // Kinesis records read
	Aggregates            int // of them, well-formed KPL aggregates (any outcome)
	Passthrough           int // of them, plain records handed over unchanged
	UserRecordsDelivered  int // user records the application receives (len(Delivered))
	AggregatedUserRecords int // user records inside aggregates, delivered or not
	EmptyAggregates       int // aggregates with no user records, which vanish
	DroppedAggregates     int // aggregates KCL discarded because a member was out of range
	DroppedOutOfRange     int // members outside the shard's range
	DroppedCollateral     int // in-range members discarded with them
	DecodeFailures        int // aggregates KCL stopped decoding midway (bad index or hash key)
	DecodeLost            int // user records lost after a decode failure
	CorruptAggregates     int // records with the KPL magic that fail the MD5 or protobuf check: handed over as raw bytes
}

// Lost returns the user records inside aggregates that the application does not receive.
func (c Counts) Lost() int { return c.DroppedOutOfRange + c.DroppedCollateral + c.DecodeLost }

func (c *Counts) add(o Counts) {
	c.KinesisRecords += o.KinesisRecords
	c.Aggregates += o.Aggregates
	c.Passthrough += o.Passthrough
	c.UserRecordsDelivered += o.UserRecordsDelivered
	c.AggregatedUserRecords += o.AggregatedUserRecords
	c.EmptyAggregates += o.EmptyAggregates
	c.DroppedAggregates += o.DroppedAggregates
	c.DroppedOutOfRange += o.DroppedOutOfRange
	c.DroppedCollateral += o.DroppedCollateral
	c.DecodeFailures += o.DecodeFailures
	c.DecodeLost += o.DecodeLost
	c.CorruptAggregates += o.CorruptAggregates
}

// ShardReport is what one shard yielded.
type ShardReport struct {
	ShardID               string
	ParentShardID         string
	AdjacentParentShardID string
	Range                 hashkey.Range
	Closed                bool
	Counts
}

// Loss is one Kinesis record whose user records did not all reach the application.
type Loss struct {
	ShardID        string
	SequenceNumber string
	Outcome        aggregation.Outcome // DroppedOutOfRange or DecodeFailed
	Total          int                 // user records in the aggregate
	Delivered      int                 // of them, delivered (DecodeFailed only)
	OutOfRange     int                 // of them, outside the shard's range
	Err            error               // why decoding stopped, for DecodeFailed
}

// Report is the result of reading a stream. The embedded Counts are the totals over all shards.
type Report struct {
	// Delivered lists user records shard by shard in listing order, in sequence order within
	// each shard.
	Delivered []Delivered
	Shards    []ShardReport
	Losses    []Loss
	Counts
}

// ReadAll reads every shard of the named stream from TRIM_HORIZON to its end.
func ReadAll(ctx context.Context, c *kinesis.Client, stream string) (*Report, error) {
	return Read(ctx, c, ReadOptions{Stream: stream})
}

// Read reads every shard of the stream, open and closed, from o.From to its end: a closed shard
// until GetRecords returns no next iterator, an open one until a GetRecords call returns no
// records and MillisBehindLatest is 0.
func Read(ctx context.Context, c *kinesis.Client, o ReadOptions) (*Report, error) {
	if o.Stream == "" && o.StreamARN == "" {
		return nil, errors.New("kclreader: no stream name or ARN")
	}
	if o.From == "" {
		o.From = TrimHorizon
	}
	switch o.From {
	case TrimHorizon, Latest:
	case AtTimestamp:
		if o.Timestamp.IsZero() {
			return nil, errors.New("kclreader: AT_TIMESTAMP without a timestamp")
		}
	default:
		return nil, fmt.Errorf("kclreader: starting position %q is not one of TRIM_HORIZON, LATEST, AT_TIMESTAMP", o.From)
	}
	shards, err := listShards(ctx, c, o)
	if err != nil {
		return nil, err
	}
	rep := &Report{}
	for _, s := range shards {
		sr, err := shardReport(s)
		if err != nil {
			return nil, fmt.Errorf("kclreader: stream %s: %w", o.name(), err)
		}
		if err := readShard(ctx, c, o, &sr, rep); err != nil {
			return nil, err
		}
		rep.Counts.add(sr.Counts)
		rep.Shards = append(rep.Shards, sr)
	}
	return rep, nil
}

func (o ReadOptions) name() string {
	if o.StreamARN != "" {
		return o.StreamARN
	}
	return o.Stream
}

// streamRef sets the stream on a request the way the options ask.
func (o ReadOptions) streamRef() (name, arn *string) {
	if o.StreamARN != "" {
		return nil, aws.String(o.StreamARN)
	}
	return aws.String(o.Stream), nil
}

// listShards lists every shard, following NextToken with token-only requests.
func listShards(ctx context.Context, c *kinesis.Client, o ReadOptions) ([]types.Shard, error) {
	name, arn := o.streamRef()
	in := &kinesis.ListShardsInput{StreamName: name, StreamARN: arn}
	var all []types.Shard
	for {
		out, err := c.ListShards(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("kclreader: listing shards of stream %s: %w", o.name(), err)
		}
		all = append(all, out.Shards...)
		if aws.ToString(out.NextToken) == "" {
			return all, nil
		}
		in = &kinesis.ListShardsInput{NextToken: out.NextToken}
	}
}

func shardReport(s types.Shard) (ShardReport, error) {
	sr := ShardReport{
		ShardID:               aws.ToString(s.ShardId),
		ParentShardID:         aws.ToString(s.ParentShardId),
		AdjacentParentShardID: aws.ToString(s.AdjacentParentShardId),
		Closed:                s.SequenceNumberRange != nil && s.SequenceNumberRange.EndingSequenceNumber != nil,
	}
	if s.HashKeyRange == nil {
		return sr, fmt.Errorf("shard %s has no hash key range", sr.ShardID)
	}
	var err error
	if sr.Range.Start, err = hashkey.ParseDecimal(aws.ToString(s.HashKeyRange.StartingHashKey)); err != nil {
		return sr, fmt.Errorf("shard %s starting hash key: %w", sr.ShardID, err)
	}
	if sr.Range.End, err = hashkey.ParseDecimal(aws.ToString(s.HashKeyRange.EndingHashKey)); err != nil {
		return sr, fmt.Errorf("shard %s ending hash key: %w", sr.ShardID, err)
	}
	if sr.Range.End.Less(sr.Range.Start) {
		return sr, fmt.Errorf("shard %s range %s is empty", sr.ShardID, sr.Range)
	}
	return sr, nil
}

func readShard(ctx context.Context, c *kinesis.Client, o ReadOptions, sr *ShardReport, rep *Report) error {
	name, arn := o.streamRef()
	in := &kinesis.GetShardIteratorInput{
		StreamName: name, StreamARN: arn, ShardId: aws.String(sr.ShardID),
		ShardIteratorType: types.ShardIteratorType(o.From),
	}
	skipBefore := time.Time{}
	if o.From == AtTimestamp {
		if o.ClientSideTimestamp {
			in.ShardIteratorType, skipBefore = types.ShardIteratorTypeTrimHorizon, o.Timestamp
		} else {
			in.Timestamp = aws.Time(o.Timestamp)
		}
	}
	it, err := c.GetShardIterator(ctx, in)
	if err != nil {
		return fmt.Errorf("kclreader: iterator for shard %s of stream %s at %s: %w", sr.ShardID, o.name(), o.From, err)
	}
	rng := &sr.Range
	if o.NoRangeFilter {
		rng = nil
	}
	iter := it.ShardIterator
	var last time.Time
	for iter != nil {
		if wait := o.GetRecordsInterval - time.Since(last); o.GetRecordsInterval > 0 && wait > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(wait):
			}
		}
		last = time.Now()
		var limit *int32
		if o.Limit > 0 {
			limit = aws.Int32(o.Limit)
		}
		out, err := c.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: iter, StreamARN: arn, Limit: limit})
		if err != nil {
			return fmt.Errorf("kclreader: reading shard %s of stream %s: %w", sr.ShardID, o.name(), err)
		}
		for i := range out.Records {
			if r := &out.Records[i]; skipBefore.IsZero() || !aws.ToTime(r.ApproximateArrivalTimestamp).Before(skipBefore) {
				consume(r, sr, rng, rep, o.CountOnly)
			}
		}
		if !sr.Closed && len(out.Records) == 0 && aws.ToInt64(out.MillisBehindLatest) == 0 {
			break // an open shard that is caught up; a closed one ends with a nil iterator
		}
		iter = out.NextShardIterator
	}
	return nil
}

// consume deaggregates one Kinesis record and accounts for its user records.
func consume(r *types.Record, sr *ShardReport, rng *hashkey.Range, rep *Report, countOnly bool) {
	pk, seq := aws.ToString(r.PartitionKey), aws.ToString(r.SequenceNumber)
	arrival := aws.ToTime(r.ApproximateArrivalTimestamp)
	res := aggregation.Deaggregate(pk, r.Data, rng)
	c := &sr.Counts
	if res.Outcome == aggregation.Passthrough && bytes.HasPrefix(r.Data, aggregation.Magic[:]) {
		c.CorruptAggregates++
	}
	c.KinesisRecords++
	if res.Outcome == aggregation.Passthrough {
		c.Passthrough++
	} else {
		c.Aggregates++
		c.AggregatedUserRecords += res.Total
		if res.Total == 0 {
			c.EmptyAggregates++
		}
	}
	switch res.Outcome {
	case aggregation.DroppedOutOfRange:
		c.DroppedAggregates++
		c.DroppedOutOfRange += res.OutOfRange
		c.DroppedCollateral += res.Total - res.OutOfRange
		rep.Losses = append(rep.Losses, Loss{ShardID: sr.ShardID, SequenceNumber: seq, Outcome: res.Outcome,
			Total: res.Total, OutOfRange: res.OutOfRange, Err: res.Err})
	case aggregation.DecodeFailed:
		c.DecodeFailures++
		c.DecodeLost += res.Total - len(res.Records)
		rep.Losses = append(rep.Losses, Loss{ShardID: sr.ShardID, SequenceNumber: seq, Outcome: res.Outcome,
			Total: res.Total, Delivered: len(res.Records), OutOfRange: res.OutOfRange, Err: res.Err})
	}
	aggregated := res.Outcome != aggregation.Passthrough
	if countOnly {
		c.UserRecordsDelivered += len(res.Records)
		return
	}
	for _, u := range res.Records {
		rep.Delivered = append(rep.Delivered, Delivered{
			ShardID:         sr.ShardID,
			SequenceNumber:  seq,
			SubSequence:     u.SubSequence,
			PartitionKey:    u.PartitionKey,
			ExplicitHashKey: u.ExplicitHashKey,
			Data:            u.Data,
			Aggregated:      aggregated,
			Hash:            u.Hash,
			ArrivalTime:     arrival,
		})
		c.UserRecordsDelivered++
	}
}
