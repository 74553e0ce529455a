package output

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/kinesis-agg/kinesis_agg/delivery"
	"github.com/kinesis-agg/kinesis_agg/metrics"
)

// Counters are an instance's cumulative totals, safe for concurrent use.
type Counters struct {
	Flushes        atomic.Int64
	FlushOK        atomic.Int64
	FlushRetry     atomic.Int64
	FlushError     atomic.Int64
	Events         atomic.Int64 // log events received (group markers excluded)
	Delivered      atomic.Int64 // user records delivered (KCL-delivered)
	Rejected       atomic.Int64 // events rejected permanently (too large, not convertible)
	Malformed      atomic.Int64 // chunks with undecodable bytes
	RandomKeys     atomic.Int64 // records that got a random partition key although partition_key is set
	BadHashKeys    atomic.Int64 // explicit_hash_key fields that were not valid hash keys
	LedgerSkipped  atomic.Int64 // events not sent again because the ledger had them delivered
	Undelivered    atomic.Int64 // events left for Fluent Bit to retry
	KinesisRecords atomic.Int64 // Kinesis records sent
	Calls          atomic.Int64
	EntriesFailed  atomic.Int64
	Throttles      atomic.Int64
	Misroutes      atomic.Int64
	Rerouted       atomic.Int64
	Retried        atomic.Int64
	Paced          atomic.Int64
	PossibleDups   atomic.Int64
	SentBytes      atomic.Int64
	DeadLettered   atomic.Int64
	DeadLetterErrs atomic.Int64

	mu           sync.Mutex
	errorsByCode map[string]int64
	rejected     map[string]int64 // by metrics reason
}

// reject counts one permanently rejected record under reason's class.
func (c *Counters) reject(reason string) {
	c.Rejected.Add(1)
	c.mu.Lock()
	if c.rejected == nil {
		c.rejected = map[string]int64{}
	}
	c.rejected[metrics.ClassifyReason(reason)]++
	c.mu.Unlock()
}

// RejectedByReason returns a copy of the rejection counts by reason class.
func (c *Counters) RejectedByReason() map[string]int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]int64, len(c.rejected))
	for k, v := range c.rejected {
		out[k] = v
	}
	return out
}

func (c *Counters) addDelivery(s delivery.Stats) {
	c.KinesisRecords.Add(int64(s.EntriesSent))
	c.SentBytes.Add(int64(s.BytesSent))
	c.Calls.Add(int64(s.Calls))
	c.EntriesFailed.Add(int64(s.EntriesFailed))
	c.Throttles.Add(int64(s.Throttles))
	c.Misroutes.Add(int64(s.Misroutes))
	c.Rerouted.Add(int64(s.Rerouted))
	c.Retried.Add(int64(s.Retried))
	c.Paced.Add(int64(s.Paced))
	c.PossibleDups.Add(int64(s.PossibleDuplicates))
	if len(s.ErrorsByCode) > 0 {
		c.mu.Lock()
		if c.errorsByCode == nil {
			c.errorsByCode = map[string]int64{}
		}
		for k, v := range s.ErrorsByCode {
			c.errorsByCode[k] += int64(v)
		}
		c.mu.Unlock()
	}
}

// ErrorsByCode returns a copy of the error counts by AWS error code.
func (c *Counters) ErrorsByCode() map[string]int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]int64, len(c.errorsByCode))
	for k, v := range c.errorsByCode {
		out[k] = v
	}
	return out
}

// Summary renders the totals as key=value pairs, for the exit log line (tests parse it).
func (c *Counters) Summary() string {
	return fmt.Sprintf("flushes=%d ok=%d retry=%d error=%d events=%d delivered=%d rejected=%d malformed_chunks=%d "+
		"random_keys=%d bad_hash_keys=%d ledger_skipped=%d undelivered=%d kinesis_records=%d calls=%d "+
		"entries_failed=%d throttles=%d misroutes=%d rerouted=%d retried=%d paced=%d possible_duplicates=%d "+
		"sent_bytes=%d dead_lettered=%d dead_letter_errors=%d",
		c.Flushes.Load(), c.FlushOK.Load(), c.FlushRetry.Load(), c.FlushError.Load(), c.Events.Load(),
		c.Delivered.Load(), c.Rejected.Load(), c.Malformed.Load(), c.RandomKeys.Load(), c.BadHashKeys.Load(),
		c.LedgerSkipped.Load(), c.Undelivered.Load(), c.KinesisRecords.Load(), c.Calls.Load(),
		c.EntriesFailed.Load(), c.Throttles.Load(), c.Misroutes.Load(), c.Rerouted.Load(), c.Retried.Load(),
		c.Paced.Load(), c.PossibleDups.Load(), c.SentBytes.Load(), c.DeadLettered.Load(), c.DeadLetterErrs.Load())
}

// SummaryMarker precedes Summary in the line an instance logs when it stops.
const SummaryMarker = "] stopped: "

// ParseSummary reads the key=value pairs of the "stopped:" line of instance name (e.g.
// "kinesis_agg.0") in a plugin log; ok is false when there is no such line.
func ParseSummary(log, name string) (values map[string]int64, ok bool) {
	for _, line := range strings.Split(log, "\n") {
		if inst, v, ok := ParseSummaryLine(line); ok && inst == name {
			return v, true
		}
	}
	return nil, false
}

// ParseSummaryLine reads one log line written by Close,
//
//	[2026/11/25 18:43:53] [ info] [output:kinesis_agg:kinesis_agg.0] stopped: flushes=3 ok=3 ...
//
// returning the instance name and its counters. Tokens that are not key=count are skipped; ok is
// false when the line is not a summary or holds no counter.
func ParseSummaryLine(line string) (instance string, values map[string]int64, ok bool) {
	const prefix = "[output:kinesis_agg:"
	i := strings.Index(line, prefix)
	if i < 0 {
		return "", nil, false
	}
	rest := line[i+len(prefix):]
	j := strings.Index(rest, SummaryMarker)
	if j < 0 || strings.ContainsAny(rest[:j], "[] ") {
		return "", nil, false
	}
	for _, tok := range strings.Fields(rest[j+len(SummaryMarker):]) {
		k, v, found := strings.Cut(tok, "=")
		if !found || k == "" {
			continue
		}
		n, err := strconv.ParseUint(v, 10, 63)
		if err != nil {
			continue
		}
		if values == nil {
			values = map[string]int64{}
		}
		values[k] = int64(n)
	}
	return rest[:j], values, values != nil
}
