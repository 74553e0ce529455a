// Package aggregation packs user records into Kinesis records in the KPL aggregation format
// (magic + protobuf AggregatedRecord + MD5), one aggregator per destination shard so that every
// aggregate passes KCL's hash-range filter, and unpacks them again with KCL's exact rules.
package aggregation

import "github.com/kinesis-agg/kinesis_agg/hashkey"

// UserRecord is one log record bound for Kinesis.
type UserRecord struct {
	// PartitionKey is the record's partition key (1-256 characters).
	PartitionKey string
	// ExplicitHashKey is the canonical decimal explicit hash key, or "" when the record has none.
	ExplicitHashKey string
	// Hash is the effective hash key: the explicit hash key if set, else MD5(PartitionKey).
	Hash hashkey.Key
	// Data is the payload. The aggregator copies it into the aggregate; it does not keep Data.
	Data []byte
	// Ref is an opaque reference the caller supplies (the event index in the chunk).
	Ref int
	// Steerable marks a record without shard affinity (its partition key is random): a Manager
	// with Steering places it on the shard with the most headroom instead of by its hash.
	Steerable bool
}

// NewUserRecord returns a record with its hash key computed from the partition key or the explicit
// hash key. ehk must be "" or a decimal hash key; a malformed one is an error.
func NewUserRecord(pk, ehk string, data []byte, ref int) (UserRecord, error) {
	r := UserRecord{PartitionKey: pk, Data: data, Ref: ref}
	if ehk == "" {
		r.Hash = hashkey.FromPartitionKey(pk)
		return r, nil
	}
	k, err := hashkey.ParseDecimal(ehk)
	if err != nil {
		return UserRecord{}, err
	}
	r.Hash, r.ExplicitHashKey = k, ehk
	return r, nil
}
