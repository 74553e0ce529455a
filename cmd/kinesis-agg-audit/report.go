package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/kinesis-agg/kinesis_agg/aggregation"
	"github.com/kinesis-agg/kinesis_agg/hashkey"
	"github.com/kinesis-agg/kinesis_agg/internal/kclreader"
)

// reportVersion is bumped only if a field of the --json document changes meaning or goes away.
const reportVersion = 1

// auditReport is the --json document; the usage text documents its fields, which are stable.
type auditReport struct {
	Version     int           `json:"version"`
	Stream      string        `json:"stream"`
	From        string        `json:"from"`
	Timestamp   string        `json:"timestamp,omitempty"`
	Shards      []shardReport `json:"shards"`
	Total       counts        `json:"total"`
	DataLoss    bool          `json:"data_loss"`
	LossPercent float64       `json:"loss_percent"`
	Verdict     string        `json:"verdict"`
	LossesTotal int           `json:"losses_total"`
	Losses      []loss        `json:"losses"`
}

// shardReport is one shard's line of the report.
type shardReport struct {
	ShardID               string `json:"shard_id"`
	ParentShardID         string `json:"parent_shard_id,omitempty"`
	AdjacentParentShardID string `json:"adjacent_parent_shard_id,omitempty"`
	Closed                bool   `json:"closed"`
	StartingHashKey       string `json:"starting_hash_key"`
	EndingHashKey         string `json:"ending_hash_key"`
	counts
	rng hashkey.Range
}

// counts are the tallies of one shard or of the whole stream. User-record counts add up:
// user_records = delivered + lost, lost = dropped_out_of_range + dropped_collateral + malformed_lost.
type counts struct {
	KinesisRecords      int `json:"kinesis_records"`
	PlainRecords        int `json:"plain_records"`
	Aggregates          int `json:"aggregates"`
	EmptyAggregates     int `json:"empty_aggregates"`
	CorruptAggregates   int `json:"corrupt_aggregates"`
	UserRecords         int `json:"user_records"`
	Delivered           int `json:"delivered"`
	Lost                int `json:"lost"`
	DroppedAggregates   int `json:"dropped_aggregates"`
	DroppedOutOfRange   int `json:"dropped_out_of_range"`
	DroppedCollateral   int `json:"dropped_collateral"`
	MalformedAggregates int `json:"malformed_aggregates"`
	MalformedLost       int `json:"malformed_lost"`
}

// loss is one Kinesis record whose user records did not all reach a KCL consumer.
type loss struct {
	ShardID        string `json:"shard_id"`
	SequenceNumber string `json:"sequence_number"`
	Outcome        string `json:"outcome"`
	Members        int    `json:"members"`
	Delivered      int    `json:"delivered"`
	OutOfRange     int    `json:"out_of_range"`
	Lost           int    `json:"lost"`
	Error          string `json:"error,omitempty"`
}

func countsOf(c kclreader.Counts, corrupt int) counts {
	return counts{
		KinesisRecords:      c.KinesisRecords,
		PlainRecords:        c.Passthrough,
		Aggregates:          c.Aggregates,
		EmptyAggregates:     c.EmptyAggregates,
		CorruptAggregates:   corrupt,
		UserRecords:         c.UserRecordsDelivered + c.Lost(),
		Delivered:           c.UserRecordsDelivered,
		Lost:                c.Lost(),
		DroppedAggregates:   c.DroppedAggregates,
		DroppedOutOfRange:   c.DroppedOutOfRange,
		DroppedCollateral:   c.DroppedCollateral,
		MalformedAggregates: c.DecodeFailures,
		MalformedLost:       c.DecodeLost,
	}
}

// buildReport turns what the reader found into the audit's report, listing at most maxLosses
// losses.
func buildReport(c *config, rep *kclreader.Report, maxLosses int) *auditReport {
	// A record that starts with the KPL magic but fails the MD5 or protobuf check reaches the
	// application as raw bytes; the reader counts it as a plain record.
	corrupt := map[string]int{}
	for _, s := range rep.Shards {
		corrupt[s.ShardID] = s.CorruptAggregates
	}
	a := &auditReport{
		Version: reportVersion,
		Stream:  c.streamLabel(),
		From:    string(c.from),
		Shards:  make([]shardReport, 0, len(rep.Shards)),
		Losses:  make([]loss, 0, min(maxLosses, len(rep.Losses))),
	}
	if c.from == kclreader.AtTimestamp {
		a.Timestamp = c.timestamp.Format(time.RFC3339Nano)
	}
	total := 0
	for _, s := range rep.Shards {
		a.Shards = append(a.Shards, shardReport{
			ShardID:               s.ShardID,
			ParentShardID:         s.ParentShardID,
			AdjacentParentShardID: s.AdjacentParentShardID,
			Closed:                s.Closed,
			StartingHashKey:       s.Range.Start.String(),
			EndingHashKey:         s.Range.End.String(),
			counts:                countsOf(s.Counts, corrupt[s.ShardID]),
			rng:                   s.Range,
		})
		total += corrupt[s.ShardID]
	}
	a.Total = countsOf(rep.Counts, total)
	a.DataLoss = a.Total.Lost > 0
	if a.Total.UserRecords > 0 {
		a.LossPercent = 100 * float64(a.Total.Lost) / float64(a.Total.UserRecords)
	}
	a.Verdict = verdict(a.Total)
	a.LossesTotal = len(rep.Losses)
	for _, l := range rep.Losses[:min(maxLosses, len(rep.Losses))] {
		jl := loss{
			ShardID:        l.ShardID,
			SequenceNumber: l.SequenceNumber,
			Outcome:        l.Outcome.String(),
			Members:        l.Total,
			Delivered:      l.Delivered,
			OutOfRange:     l.OutOfRange,
			Lost:           l.Total - l.Delivered,
		}
		if l.Err != nil {
			jl.Error = l.Err.Error()
		}
		a.Losses = append(a.Losses, jl)
	}
	return a
}

// verdict is the report's one-sentence conclusion.
func verdict(t counts) string {
	if t.Lost == 0 {
		return fmt.Sprintf("no data loss for KCL consumers (%d user records in %d Kinesis records)", t.UserRecords, t.KinesisRecords)
	}
	return fmt.Sprintf("KCL consumers silently lose %d of %d user records (%s%%)", t.Lost, t.UserRecords,
		formatPercent(t.Lost, t.UserRecords))
}

// formatPercent formats 100*n/m with one decimal, or with as many more as it takes to show two
// significant digits, so that a small loss never reads as 0.0% nor a partial one as 100.0%.
func formatPercent(n, m int) string {
	if m <= 0 {
		return "0"
	}
	p := 100 * float64(n) / float64(m)
	for d := 1; ; d++ {
		s := strconv.FormatFloat(p, 'f', d, 64)
		if d >= 12 || n == 0 || n == m ||
			(p*math.Pow10(d) >= 10 && s != strconv.FormatFloat(100, 'f', d, 64)) {
			return s
		}
	}
}

// formatRange abbreviates a shard's hash-key range as the share of the key space it starts and
// ends at, e.g. "0-50%" and "50-100%"; --json has the exact keys.
func formatRange(r hashkey.Range) string {
	// The inclusive end (e.g. 2^127-1) rounds to the next shard's start in float64, which is how
	// people name the boundary.
	return trimPercent(fraction(r.Start)) + "-" + trimPercent(fraction(r.End)) + "%"
}

func fraction(k hashkey.Key) float64 {
	return float64(k.Hi)/math.Exp2(64) + float64(k.Lo)/math.Exp2(128)
}

// trimPercent formats a share of the key space as a percentage with up to two decimals.
func trimPercent(f float64) string {
	s := strconv.FormatFloat(100*f, 'f', 2, 64)
	s = strings.TrimRight(s, "0")
	return strings.TrimSuffix(s, ".")
}

// writeJSON prints the report as one indented JSON object.
func writeJSON(w io.Writer, a *auditReport) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(a)
}

// writeTable prints the report for people: a table per shard with a total line, the verdict, and
// the first losses.
func writeTable(w io.Writer, a *auditReport) error {
	closed := 0
	for _, s := range a.Shards {
		if s.Closed {
			closed++
		}
	}
	from := a.From
	if a.Timestamp != "" {
		from += " " + a.Timestamp
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Stream %s from %s: %d shards (%d closed)\n\n", a.Stream, from, len(a.Shards), closed)

	rows := [][]string{{"SHARD", "STATE", "RANGE", "RECORDS", "AGGREGATES", "DELIVERED", "OUT-OF-RANGE", "COLLATERAL", "MALFORMED"}}
	row := func(id, state, rng string, c counts) []string {
		return []string{id, state, rng, strconv.Itoa(c.KinesisRecords), strconv.Itoa(c.Aggregates),
			strconv.Itoa(c.Delivered), strconv.Itoa(c.DroppedOutOfRange), strconv.Itoa(c.DroppedCollateral),
			malformed(c)}
	}
	for _, s := range a.Shards {
		state := "open"
		if s.Closed {
			state = "closed"
		}
		rows = append(rows, row(s.ShardID, state, formatRange(s.rng), s.counts))
	}
	rows = append(rows, row("TOTAL", "", "", a.Total))
	writeColumns(&b, rows, []bool{false, false, false, true, true, true, true, true, true})

	b.WriteString("\n")
	var notes []string
	if n := a.Total.EmptyAggregates; n > 0 {
		notes = append(notes, plural(n, "empty aggregate")+" (no user records, nothing lost)")
	}
	if n := a.Total.CorruptAggregates; n > 0 {
		notes = append(notes, plural(n, "corrupt aggregate")+" (KPL magic but bad MD5 or protobuf: delivered as raw bytes, not as user records)")
	}
	if len(notes) > 0 {
		fmt.Fprintf(&b, "Also: %s.\n", strings.Join(notes, "; "))
	}
	fmt.Fprintf(&b, "Verdict: %s.\n", a.Verdict)

	if a.LossesTotal > 0 && len(a.Losses) > 0 {
		fmt.Fprintf(&b, "\nFirst %d of %s that lost user records:\n", len(a.Losses), plural(a.LossesTotal, "Kinesis record"))
		rows = [][]string{{"SHARD", "SEQUENCE NUMBER", "OUTCOME", "MEMBERS"}}
		for _, l := range a.Losses {
			rows = append(rows, []string{l.ShardID, l.SequenceNumber, l.Outcome, describeLoss(l)})
		}
		writeColumns(&b, rows, nil)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// malformed shows the user records lost in malformed aggregates and, if any, how many aggregates.
func malformed(c counts) string {
	if c.MalformedAggregates == 0 {
		return strconv.Itoa(c.MalformedLost)
	}
	return fmt.Sprintf("%d (%d agg)", c.MalformedLost, c.MalformedAggregates)
}

func describeLoss(l loss) string {
	if l.Outcome == aggregation.DecodeFailed.String() {
		return fmt.Sprintf("%s: %d delivered, %d lost after: %s", plural(l.Members, "member"), l.Delivered, l.Lost, l.Error)
	}
	return fmt.Sprintf("%s: %d out of range, %d in range dropped with them", plural(l.Members, "member"), l.OutOfRange, l.Members-l.OutOfRange)
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}

// writeColumns writes rows as columns two spaces apart, right-aligning the columns marked in
// right; the last column is never padded on the right.
func writeColumns(b *strings.Builder, rows [][]string, right []bool) {
	var width []int
	for _, r := range rows {
		for i, cell := range r {
			if i == len(width) {
				width = append(width, 0)
			}
			width[i] = max(width[i], len(cell))
		}
	}
	for _, r := range rows {
		var line strings.Builder
		for i, cell := range r {
			if i > 0 {
				line.WriteString("  ")
			}
			pad := strings.Repeat(" ", width[i]-len(cell))
			if i < len(right) && right[i] {
				line.WriteString(pad + cell)
			} else if i < len(r)-1 {
				line.WriteString(cell + pad)
			} else {
				line.WriteString(cell)
			}
		}
		b.WriteString(strings.TrimRight(line.String(), " "))
		b.WriteByte('\n')
	}
}
