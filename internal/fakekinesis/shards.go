package fakekinesis

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// maxListShards is the ListShards limit on MaxResults.
const maxListShards = 10000

// tokenPrefix starts the NextToken values the fake hands out; the offset of the next shard follows.
const tokenPrefix = "fk1."

// decodeRequest decodes a small control-plane request with encoding/json (not a hot path).
func decodeRequest(st *putState, v any) error {
	body := st.body.Bytes()
	if len(body) == 0 {
		body = []byte("{}")
	}
	if err := json.Unmarshal(body, v); err != nil {
		return serialization(fmt.Errorf("decoding the request: %w", err))
	}
	return nil
}

type listShardsInput struct {
	StreamName *string
	StreamARN  *string
	NextToken  *string
	MaxResults *int
}

type hashKeyRange struct {
	StartingHashKey string
	EndingHashKey   string
}

type sequenceNumberRange struct {
	StartingSequenceNumber string
}

type listedShard struct {
	ShardId             string
	HashKeyRange        hashKeyRange
	SequenceNumberRange sequenceNumberRange
}

type listShardsOutput struct {
	Shards    []listedShard
	NextToken *string `json:",omitempty"`
}

// listShards answers ListShards: the static shards, paged by MaxResults.
func (f *Fake) listShards(st *putState) error {
	var in listShardsInput
	if err := decodeRequest(st, &in); err != nil {
		return err
	}
	name, arn := deref(in.StreamName), deref(in.StreamARN)
	start := 0
	if in.NextToken != nil {
		if name != "" || arn != "" {
			return &apiError{status: 400, code: "InvalidArgumentException",
				msg: "NextToken and StreamName/StreamARN cannot be provided together."}
		}
		off, ok := strings.CutPrefix(*in.NextToken, tokenPrefix)
		n, err := strconv.Atoi(off)
		if !ok || err != nil || n < 0 || n > len(f.shards) {
			return &apiError{status: 400, code: "InvalidArgumentException", msg: fmt.Sprintf("Invalid NextToken %q.", *in.NextToken)}
		}
		start = n
	} else if err := f.checkStream(name, arn); err != nil {
		return err
	}
	limit := len(f.shards)
	if in.MaxResults != nil {
		if *in.MaxResults < 1 || *in.MaxResults > maxListShards {
			return validation("1 validation error detected: Value '%d' at 'maxResults' failed to satisfy constraint: "+
				"Member must have value between 1 and %d", *in.MaxResults, maxListShards)
		}
		limit = *in.MaxResults
	}
	end := min(len(f.shards), start+limit)
	out := listShardsOutput{Shards: make([]listedShard, 0, end-start)}
	for _, s := range f.shards[start:end] {
		out.Shards = append(out.Shards, listedShard{
			ShardId:             s.ID,
			HashKeyRange:        hashKeyRange{StartingHashKey: s.Range.Start.String(), EndingHashKey: s.Range.End.String()},
			SequenceNumberRange: sequenceNumberRange{StartingSequenceNumber: seqPrefix + "0000000000000000000000"},
		})
	}
	if end < len(f.shards) {
		tok := tokenPrefix + strconv.Itoa(end)
		out.NextToken = &tok
	}
	return f.answer(st, out)
}

type describeInput struct {
	StreamName *string
	StreamARN  *string
}

type streamModeDetails struct {
	StreamMode string
}

type streamDescriptionSummary struct {
	StreamName              string
	StreamARN               string
	StreamStatus            string
	StreamModeDetails       streamModeDetails
	RetentionPeriodHours    int
	StreamCreationTimestamp float64
	EnhancedMonitoring      []struct{}
	EncryptionType          string
	OpenShardCount          int
	ConsumerCount           int
	MaxRecordSizeInKiB      int
}

type describeOutput struct {
	StreamDescriptionSummary streamDescriptionSummary
}

// describe answers DescribeStreamSummary.
func (f *Fake) describe(st *putState) error {
	var in describeInput
	if err := decodeRequest(st, &in); err != nil {
		return err
	}
	if err := f.checkStream(deref(in.StreamName), deref(in.StreamARN)); err != nil {
		return err
	}
	return f.answer(st, describeOutput{StreamDescriptionSummary: streamDescriptionSummary{
		StreamName:              f.stream,
		StreamARN:               f.StreamARN(),
		StreamStatus:            "ACTIVE",
		StreamModeDetails:       streamModeDetails{StreamMode: "PROVISIONED"},
		RetentionPeriodHours:    24,
		StreamCreationTimestamp: float64(f.created.UnixMilli()) / 1000,
		EnhancedMonitoring:      []struct{}{},
		EncryptionType:          "NONE",
		OpenShardCount:          len(f.shards),
		MaxRecordSizeInKiB:      f.o.MaxRecordSizeKiB,
	}})
}

func (f *Fake) answer(st *putState, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("fakekinesis: encoding the answer: %w", err)
	}
	st.out = append(st.out[:0], b...)
	return nil
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}
