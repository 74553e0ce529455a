package metrics

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Label is the label every series carries, holding the instance name. See the package comment
// for why it is not "instance".
const Label = "name"

const namespace = "kinesis_agg"

// descs are the metric descriptions, one set per server.
type descs struct {
	received, delivered, rejected, retried, rerouted, possibleDups, undelivered, ledgerSkipped,
	randomKeys, badHashKeys, deadLettered, deadLetterErrors,
	flushes, malformed,
	kinesisRecords, kinesisFailed, sentBytes, calls, errors, throttles, misroutes,
	refreshes, refreshFailures, topologyAge, openShards,
	shardRecords, shardBytes, shardThrottles,
	ledgerEntries,
	snapshotFailed *prometheus.Desc
}

func newDescs() *descs {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(namespace+"_"+name, help, append([]string{Label}, labels...), nil)
	}
	return &descs{
		received:         d("user_records_received_total", "Log events received from Fluent Bit (group markers excluded)."),
		delivered:        d("user_records_delivered_total", "User records stored in Kinesis where a KCL consumer will deliver them."),
		rejected:         d("user_records_rejected_total", "User records rejected permanently, by reason.", "reason"),
		retried:          d("user_records_retried_total", "User records queued for another PutRecords round after a failure."),
		rerouted:         d("user_records_rerouted_total", "User records sent again because their aggregate landed on a shard that does not cover them."),
		possibleDups:     d("user_records_possible_duplicates_total", "User records a non-filtering consumer may receive twice (re-routed aggregates, requests with unknown outcome)."),
		undelivered:      d("user_records_undelivered_total", "User records left for Fluent Bit to retry (flush answered RETRY)."),
		ledgerSkipped:    d("user_records_ledger_skipped_total", "User records not sent again on a Fluent Bit retry because the retry ledger had them delivered."),
		randomKeys:       d("user_records_random_partition_key_total", "User records that got a random partition key although partition_key is set."),
		badHashKeys:      d("user_records_invalid_hash_key_total", "User records whose explicit_hash_key field was not a valid hash key."),
		deadLettered:     d("user_records_dead_lettered_total", "Rejected user records written to dead_letter_path."),
		deadLetterErrors: d("dead_letter_write_errors_total", "Failed writes to dead_letter_path."),
		flushes:          d("flushes_total", "Flushes by the answer given to Fluent Bit.", "status"),
		malformed:        d("malformed_chunks_total", "Chunks with undecodable bytes (the rest of the chunk is dropped)."),
		kinesisRecords:   d("kinesis_records_sent_total", "Kinesis records (aggregates or plain records) sent in PutRecords requests, retries included."),
		kinesisFailed:    d("kinesis_records_failed_total", "Kinesis records answered with an error code."),
		sentBytes:        d("sent_bytes_total", "Bytes (data + partition key) of the Kinesis records sent."),
		calls:            d("put_records_requests_total", "PutRecords requests sent."),
		errors:           d("put_records_errors_total", "Failed PutRecords entries and requests, by AWS error code or error kind.", "code"),
		throttles:        d("throttles_total", "Throttled PutRecords entries and requests."),
		misroutes:        d("misroutes_total", "Kinesis records stored on another shard than the one they were built for."),
		refreshes:        d("topology_refreshes_total", "Successful shard map loads, by cause.", "cause"),
		refreshFailures:  d("topology_refresh_failures_total", "Failed shard map loads."),
		topologyAge:      d("topology_age_seconds", "Time since the shard map in use was loaded."),
		openShards:       d("open_shards", "Open shards in the shard map in use."),
		shardRecords:     d("shard_records_total", "Kinesis records accepted by an open shard.", "shard"),
		shardBytes:       d("shard_bytes_total", "Bytes (data + partition key) of the Kinesis records accepted by an open shard.", "shard"),
		shardThrottles:   d("shard_throttles_total", "PutRecords entries an open shard throttled.", "shard"),
		ledgerEntries:    d("ledger_entries", "Chunks the retry ledger remembers."),
		snapshotFailed:   d("snapshot_failed", "Never exported: describes an instance whose snapshot failed."),
	}
}

// collector turns the registered sources' snapshots into series at scrape time.
type collector struct {
	s *shared
	d *descs
}

type namedSource struct {
	name string
	src  Source
}

func sortNamed(s []namedSource) {
	slices.SortFunc(s, func(a, b namedSource) int { return strings.Compare(a.name, b.name) })
}

// Describe implements prometheus.Collector.
func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	d := c.d
	for _, x := range []*prometheus.Desc{d.received, d.delivered, d.rejected, d.retried, d.rerouted,
		d.possibleDups, d.undelivered, d.ledgerSkipped, d.randomKeys, d.badHashKeys, d.deadLettered,
		d.deadLetterErrors, d.flushes, d.malformed, d.kinesisRecords, d.kinesisFailed, d.sentBytes,
		d.calls, d.errors, d.throttles, d.misroutes, d.refreshes, d.refreshFailures, d.topologyAge,
		d.openShards, d.shardRecords, d.shardBytes, d.shardThrottles, d.ledgerEntries, d.snapshotFailed} {
		ch <- x
	}
}

// Collect implements prometheus.Collector.
func (c *collector) Collect(ch chan<- prometheus.Metric) {
	for _, ns := range c.s.snapshotSources() {
		snap, err := safeSnapshot(ns.src)
		if err != nil {
			// Reported as a scrape error; ContinueOnError still serves everything else.
			ch <- prometheus.NewInvalidMetric(c.d.snapshotFailed, fmt.Errorf("instance %q: %w", ns.name, err))
			continue
		}
		emit(ch, c.d, labelValue(ns.name), &snap)
	}
}

// safeSnapshot calls src.Snapshot, turning a panic into an error: Gather runs collectors in
// goroutines of its own, where a panic would take Fluent Bit down.
func safeSnapshot(src Source) (s Snapshot, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("snapshot panicked: %v", r)
		}
	}()
	return src.Snapshot(), nil
}

func emit(ch chan<- prometheus.Metric, d *descs, name string, s *Snapshot) {
	counter := func(desc *prometheus.Desc, v int64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(desc, prometheus.CounterValue, float64(v), append([]string{name}, labels...)...)
	}
	gauge := func(desc *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, v, name)
	}

	counter(d.received, s.Received)
	counter(d.delivered, s.Delivered)
	for _, kv := range labelled(s.Rejected, Reasons()) {
		counter(d.rejected, kv.v, kv.k)
	}
	counter(d.retried, s.Retried)
	counter(d.rerouted, s.Rerouted)
	counter(d.possibleDups, s.PossibleDuplicates)
	counter(d.undelivered, s.Undelivered)
	counter(d.ledgerSkipped, s.LedgerSkipped)
	counter(d.randomKeys, s.RandomKeys)
	counter(d.badHashKeys, s.BadHashKeys)
	counter(d.deadLettered, s.DeadLettered)
	counter(d.deadLetterErrors, s.DeadLetterErrors)

	counter(d.flushes, s.FlushOK, "ok")
	counter(d.flushes, s.FlushRetry, "retry")
	counter(d.flushes, s.FlushError, "error")
	counter(d.malformed, s.MalformedChunks)

	counter(d.kinesisRecords, s.KinesisRecords)
	counter(d.kinesisFailed, s.KinesisRecordsFailed)
	counter(d.sentBytes, s.SentBytes)
	counter(d.calls, s.PutRecordsCalls)
	for _, kv := range labelled(s.Errors, nil) {
		counter(d.errors, kv.v, kv.k)
	}
	counter(d.throttles, s.Throttles)
	counter(d.misroutes, s.Misroutes)

	for _, kv := range labelled(s.TopologyRefreshes, nil) {
		counter(d.refreshes, kv.v, kv.k)
	}
	counter(d.refreshFailures, s.TopologyRefreshFailures)
	if !s.TopologyLoadedAt.IsZero() {
		at := s.At
		if at.IsZero() {
			at = time.Now()
		}
		gauge(d.topologyAge, max(at.Sub(s.TopologyLoadedAt), 0).Seconds())
		gauge(d.openShards, float64(s.OpenShards))
	}
	for _, sh := range mergeShards(s.Shards) {
		counter(d.shardRecords, sh.Records, sh.ID)
		counter(d.shardBytes, sh.Bytes, sh.ID)
		counter(d.shardThrottles, sh.Throttles, sh.ID)
	}
	gauge(d.ledgerEntries, float64(s.LedgerEntries))
}

// labelValue makes s a valid label value: Prometheus rejects invalid UTF-8, and one bad value
// would fail the whole metric family.
func labelValue(s string) string { return strings.ToValidUTF8(s, "\uFFFD") }

type kv struct {
	k string
	v int64
}

// labelled returns m's entries with valid label values, merged when two keys become equal, plus
// a zero entry for each always-present key, sorted by key.
func labelled(m map[string]int64, always []string) []kv {
	merged := make(map[string]int64, len(m)+len(always))
	for _, k := range always {
		merged[k] = 0
	}
	for k, v := range m {
		merged[labelValue(k)] += v
	}
	out := make([]kv, 0, len(merged))
	for k, v := range merged {
		out = append(out, kv{k, v})
	}
	slices.SortFunc(out, func(a, b kv) int { return strings.Compare(a.k, b.k) })
	return out
}

// mergeShards sums entries with the same (sanitised) id, so a careless snapshot cannot produce
// duplicate series, which would fail the scrape.
func mergeShards(in []ShardStats) []ShardStats {
	out := make([]ShardStats, 0, len(in))
	idx := make(map[string]int, len(in))
	for _, sh := range in {
		sh.ID = labelValue(sh.ID)
		if i, ok := idx[sh.ID]; ok {
			out[i].Records += sh.Records
			out[i].Bytes += sh.Bytes
			out[i].Throttles += sh.Throttles
			continue
		}
		idx[sh.ID] = len(out)
		out = append(out, sh)
	}
	return out
}
