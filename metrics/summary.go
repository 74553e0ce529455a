package metrics

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// SummaryLine renders what happened between prev and cur, d apart, as one key=value line for the
// periodic info log, e.g.
//
//	last 1m0s: received=1200 (20.0/s) delivered=1200 (20.0/s) rejected=0 kinesis_records=40 (0.7/s) records_per_kinesis_record=30.0 sent=1.2MiB (20.5KiB/s) put_records=12 errors=0 throttles=0 misroutes=0 retried=0 possible_duplicates=0 undelivered=0 open_shards=4 shard_map_age=35s ledger_entries=0
//
// Counts are differences; a counter smaller in cur than in prev (a restart) counts from zero.
// Rates are omitted when d <= 0. Breakdowns by reason and error code follow their totals in
// brackets when not zero. The shard map fields appear only when cur has a shard map.
func SummaryLine(cur, prev Snapshot, d time.Duration) string {
	var b strings.Builder
	b.Grow(320)
	b.WriteString("last ")
	b.WriteString(d.String())
	b.WriteByte(':')

	count := func(key string, c, p int64) int64 {
		n := delta(c, p)
		b.WriteByte(' ')
		b.WriteString(key)
		b.WriteByte('=')
		b.WriteString(strconv.FormatInt(n, 10))
		return n
	}
	rate := func(n int64, bytes bool) {
		if d <= 0 {
			return
		}
		r := float64(n) / d.Seconds()
		if bytes {
			b.WriteString(" (" + formatBytes(r) + "/s)")
		} else {
			b.WriteString(" (" + strconv.FormatFloat(r, 'f', 1, 64) + "/s)")
		}
	}
	breakdown := func(cur, prev map[string]int64) {
		parts := deltas(cur, prev)
		if len(parts) == 0 {
			return
		}
		b.WriteString(" [")
		b.WriteString(strings.Join(parts, " "))
		b.WriteByte(']')
	}

	rate(count("received", cur.Received, prev.Received), false)
	delivered := count("delivered", cur.Delivered, prev.Delivered)
	rate(delivered, false)
	count("rejected", sum(cur.Rejected), sum(prev.Rejected))
	breakdown(cur.Rejected, prev.Rejected)
	sent := count("kinesis_records", cur.KinesisRecords, prev.KinesisRecords)
	rate(sent, false)
	b.WriteString(" records_per_kinesis_record=")
	if ok := sent - delta(cur.KinesisRecordsFailed, prev.KinesisRecordsFailed); ok > 0 {
		b.WriteString(strconv.FormatFloat(float64(delivered)/float64(ok), 'f', 1, 64))
	} else {
		b.WriteByte('-')
	}
	bytes := delta(cur.SentBytes, prev.SentBytes)
	b.WriteString(" sent=" + formatBytes(float64(bytes)))
	rate(bytes, true)
	count("put_records", cur.PutRecordsCalls, prev.PutRecordsCalls)
	count("errors", sum(cur.Errors), sum(prev.Errors))
	breakdown(cur.Errors, prev.Errors)
	count("throttles", cur.Throttles, prev.Throttles)
	count("misroutes", cur.Misroutes, prev.Misroutes)
	count("retried", cur.Retried, prev.Retried)
	count("possible_duplicates", cur.PossibleDuplicates, prev.PossibleDuplicates)
	count("undelivered", cur.Undelivered, prev.Undelivered)
	if n := delta(cur.DeadLettered, prev.DeadLettered); n > 0 || cur.DeadLetterErrors != prev.DeadLetterErrors {
		count("dead_lettered", cur.DeadLettered, prev.DeadLettered)
		count("dead_letter_errors", cur.DeadLetterErrors, prev.DeadLetterErrors)
	}
	if !cur.TopologyLoadedAt.IsZero() {
		at := cur.At
		if at.IsZero() {
			at = time.Now()
		}
		fmt.Fprintf(&b, " open_shards=%d shard_map_age=%s", cur.OpenShards, max(at.Sub(cur.TopologyLoadedAt), 0).Round(time.Second))
	}
	fmt.Fprintf(&b, " ledger_entries=%d", cur.LedgerEntries)
	return b.String()
}

// delta is c-p, or c when the counter went backwards (a restart).
func delta(c, p int64) int64 {
	if c < p {
		return c
	}
	return c - p
}

func sum(m map[string]int64) int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}

// deltas returns "key=n" for every key whose count grew, sorted by key.
func deltas(cur, prev map[string]int64) []string {
	var out []string
	for k, v := range cur {
		if n := delta(v, prev[k]); n > 0 {
			out = append(out, k+"="+strconv.FormatInt(n, 10))
		}
	}
	slices.Sort(out)
	return out
}

// formatBytes renders n bytes with a binary unit and one decimal: 512B, 1.5KiB, 20.0MiB.
func formatBytes(n float64) string {
	const units = "KMGTPE"
	if n < 1024 {
		return strconv.FormatFloat(n, 'f', 0, 64) + "B"
	}
	i := -1
	for n >= 1024 && i < len(units)-1 {
		n /= 1024
		i++
	}
	return strconv.FormatFloat(n, 'f', 1, 64) + units[i:i+1] + "iB"
}
