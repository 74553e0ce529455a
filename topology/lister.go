package topology

import "context"

// ListedShard is one shard as ListShards reports it, before validation.
type ListedShard struct {
	ShardID               string
	ParentShardID         string
	AdjacentParentShardID string
	StartingHashKey       string // decimal
	EndingHashKey         string // decimal
	// EndingSequenceNumber is set once the shard is closed (after a split or merge).
	EndingSequenceNumber string
}

// Open reports whether the shard still accepts records.
func (s ListedShard) Open() bool { return s.EndingSequenceNumber == "" }

// ShardPage is one ListShards response page.
type ShardPage struct {
	Shards    []ListedShard
	NextToken string // "" on the last page
}

// Lister reads one page of the stream's shard list. nextToken is "" for the first page; a request
// with a NextToken must not name the stream (the Kinesis API rejects it).
type Lister interface {
	ListShards(ctx context.Context, nextToken string) (ShardPage, error)
}
