// Package metrics exposes kinesis_agg's counters to Prometheus and renders the periodic summary
// line for the log.
//
// One Fluent Bit process loads the plugin once and may run several kinesis_agg instances, so the
// HTTP endpoint is shared per listen address: every instance calls Serve with its metrics_listen
// value, the first call starts the server, later calls with the same address share it, and the
// last Release stops it. Each instance then Registers a Source. Nothing is counted here: on every
// scrape the collector asks each Source for a Snapshot of the counters the instance already keeps,
// so the flush path pays nothing for metrics.
//
// Every series carries the label name="<instance name>" (e.g. name="kinesis_agg.0"), the label
// Fluent Bit's own /api/v1/metrics/prometheus uses for plugin instances. The label is not called
// "instance" because Prometheus attaches its own instance label (the scrape target) and would
// rename ours to exported_instance.
//
// Useful PromQL:
//
//	# user records per Kinesis record (the aggregation ratio)
//	rate(kinesis_agg_user_records_delivered_total[5m])
//	  / (rate(kinesis_agg_kinesis_records_sent_total[5m]) - rate(kinesis_agg_kinesis_records_failed_total[5m]))
//	# average Kinesis record size
//	rate(kinesis_agg_sent_bytes_total[5m]) / rate(kinesis_agg_kinesis_records_sent_total[5m])
//	# the hottest shard's share of the bytes
//	max by (name) (rate(kinesis_agg_shard_bytes_total[5m])) / sum by (name) (rate(kinesis_agg_shard_bytes_total[5m]))
//	# records permanently rejected, by reason
//	sum by (reason) (increase(kinesis_agg_user_records_rejected_total[1h]))
package metrics

import (
	"strings"
	"time"
)

// Rejection reasons, the values of the reason label of kinesis_agg_user_records_rejected_total.
// Every one is exported on every scrape (at 0 when unused), so alerts need no absent().
const (
	ReasonTooLarge          = "too_large"          // larger than the stream's record limit
	ReasonNotAMap           = "not_a_map"          // the record body is not a msgpack map
	ReasonMalformed         = "malformed"          // unreadable event header or timestamp
	ReasonLogKeyMissing     = "log_key_missing"    // log_key is set and the record lacks it
	ReasonTooDeep           = "too_deep"           // nested deeper than the JSON encoder allows
	ReasonCompressionFailed = "compression_failed" // the compressor returned an error
	ReasonOther             = "other"              // anything ClassifyReason does not recognise
)

// Reasons lists the rejection reasons in the order they are reported.
func Reasons() []string {
	return []string{ReasonTooLarge, ReasonNotAMap, ReasonMalformed, ReasonLogKeyMissing, ReasonTooDeep,
		ReasonCompressionFailed, ReasonOther}
}

// ClassifyReason maps the free-text reason of an events.Rejection or a delivery.Rejection to one
// of the Reason constants. It matches the wording those packages use today; a reason it does not
// recognise is ReasonOther, never an error.
func ClassifyReason(text string) string {
	t := strings.ToLower(text)
	switch {
	case strings.Contains(t, "too large"), strings.Contains(t, "larger than"):
		return ReasonTooLarge
	case strings.Contains(t, "not a map"):
		return ReasonNotAMap
	case strings.Contains(t, "log_key"):
		return ReasonLogKeyMissing
	case strings.Contains(t, "nested deeper"):
		return ReasonTooDeep
	case strings.Contains(t, "compression"):
		return ReasonCompressionFailed
	case strings.Contains(t, "timestamp"), strings.Contains(t, "event header"), strings.Contains(t, "malformed"):
		return ReasonMalformed
	}
	return ReasonOther
}

// Snapshot is a copy of one instance's cumulative counters at one moment. Counters must never
// decrease over an instance's life (Prometheus reads a decrease as a restart). Maps may be nil.
// The field comments name the metric each field becomes and where output fills it from.
type Snapshot struct {
	// At is when the snapshot was taken; the zero time means "now" (used for the topology age).
	At time.Time

	// User records (log events).

	Received           int64            // kinesis_agg_user_records_received_total; Counters.Events
	Delivered          int64            // kinesis_agg_user_records_delivered_total; Counters.Delivered
	Rejected           map[string]int64 // kinesis_agg_user_records_rejected_total{reason}; keys are Reason* values
	Retried            int64            // kinesis_agg_user_records_retried_total; Counters.Retried
	Rerouted           int64            // kinesis_agg_user_records_rerouted_total; Counters.Rerouted
	PossibleDuplicates int64            // kinesis_agg_user_records_possible_duplicates_total; Counters.PossibleDups
	Undelivered        int64            // kinesis_agg_user_records_undelivered_total; Counters.Undelivered (left to Fluent Bit's retry)
	LedgerSkipped      int64            // kinesis_agg_user_records_ledger_skipped_total; Counters.LedgerSkipped
	RandomKeys         int64            // kinesis_agg_user_records_random_partition_key_total; Counters.RandomKeys
	BadHashKeys        int64            // kinesis_agg_user_records_invalid_hash_key_total; Counters.BadHashKeys
	DeadLettered       int64            // kinesis_agg_user_records_dead_lettered_total: rejected records written to dead_letter_path
	DeadLetterErrors   int64            // kinesis_agg_dead_letter_write_errors_total: failed dead-letter writes (calls, not records)

	// Flushes, by the answer given to Fluent Bit.

	FlushOK         int64 // kinesis_agg_flushes_total{status="ok"}; Counters.FlushOK
	FlushRetry      int64 // kinesis_agg_flushes_total{status="retry"}; Counters.FlushRetry
	FlushError      int64 // kinesis_agg_flushes_total{status="error"}; Counters.FlushError
	MalformedChunks int64 // kinesis_agg_malformed_chunks_total; Counters.Malformed

	// Kinesis records and PutRecords requests.

	KinesisRecords       int64            // kinesis_agg_kinesis_records_sent_total: entries sent, retries included; Counters.KinesisRecords
	KinesisRecordsFailed int64            // kinesis_agg_kinesis_records_failed_total: entries answered with an error code; Counters.EntriesFailed
	SentBytes            int64            // kinesis_agg_sent_bytes_total: data + partition key of the entries sent (new counter)
	PutRecordsCalls      int64            // kinesis_agg_put_records_requests_total; Counters.Calls
	Errors               map[string]int64 // kinesis_agg_put_records_errors_total{code}: failed entries and requests; Counters.ErrorsByCode()
	Throttles            int64            // kinesis_agg_throttles_total; Counters.Throttles
	Misroutes            int64            // kinesis_agg_misroutes_total; Counters.Misroutes

	// Shard map (aggregation on). TopologyLoadedAt zero means no map has loaded (or aggregation
	// is off): the age and open-shard gauges are then not exported.

	TopologyRefreshes       map[string]int64 // kinesis_agg_topology_refreshes_total{cause}; TrackerStats.Loads keyed by topology.CauseNames
	TopologyRefreshFailures int64            // kinesis_agg_topology_refresh_failures_total; TrackerStats.Failures
	TopologyLoadedAt        time.Time        // kinesis_agg_topology_age_seconds = At - TopologyLoadedAt; ShardMap.LoadedAt()
	OpenShards              int              // kinesis_agg_open_shards; ShardMap.Len()
	// Shards holds per-shard counters for the open shards only: a shard absent here has no
	// series, so a closed shard's series disappear at the next scrape (see ShardCounters).
	Shards []ShardStats

	LedgerEntries int // kinesis_agg_ledger_entries; Ledger.Len()
}

// ShardStats are one shard's cumulative counters: Kinesis records (aggregates count once)
// accepted by the shard, their bytes (data + partition key) and the entries it throttled.
type ShardStats struct {
	ID        string // shard id, the shard label
	Records   int64  // kinesis_agg_shard_records_total
	Bytes     int64  // kinesis_agg_shard_bytes_total
	Throttles int64  // kinesis_agg_shard_throttles_total
}

// Source supplies an instance's counters. Snapshot is called on every scrape, possibly
// concurrently with the instance's flushes and with other scrapes, and must be safe for that.
type Source interface {
	Snapshot() Snapshot
}

// SourceFunc adapts a function to Source.
type SourceFunc func() Snapshot

// Snapshot calls f.
func (f SourceFunc) Snapshot() Snapshot { return f() }
