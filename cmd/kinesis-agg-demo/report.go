package main

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/kinesis-agg/kinesis_agg/internal/chunkgen"
	"github.com/kinesis-agg/kinesis_agg/internal/kclreader"
)

// result is the outcome of a demo run: what was sent, what a KCL consumer gets, and what the
// plugin says it did.
type result struct {
	sent       int   // records generated and shipped
	delivered  int   // distinct ids a KCL consumer receives
	lost       int   // ids it never receives
	duplicates int   // deliveries beyond the first of an id
	unexpected int   // user records without a demo id
	missing    []int // the first few lost ids

	kinesisRecords        int // Kinesis records in the stream
	aggregates            int // of them, KPL aggregates
	passthrough           int // of them, plain (single) records
	aggregatedUserRecords int // user records inside aggregates, delivered or dropped
	kclDropped            int // members of aggregates KCL discarded (out of range + collateral)
	decodeLost            int // user records lost in aggregates KCL could not decode

	// From the plugin's exit summary.
	pluginEvents       int64
	misroutes          int64 // aggregates that landed on a shard not covering all members
	rerouted           int64 // user records sent again because of a misroute
	possibleDuplicates int64 // records re-sent after a lost ack or a re-route

	droppedChunks int64  // chunks the shipper gave up on
	tempDir       string // the run's temporary directory (gone unless --keep)
}

func newResult(sent int, c idCounts, rep *kclreader.Report, s *shipResult) *result {
	return &result{
		sent: sent, delivered: c.delivered, lost: c.lost, duplicates: c.duplicates,
		unexpected: c.unexpected, missing: c.missing,
		kinesisRecords: rep.KinesisRecords, aggregates: rep.Aggregates, passthrough: rep.Passthrough,
		aggregatedUserRecords: rep.AggregatedUserRecords,
		kclDropped:            rep.DroppedOutOfRange + rep.DroppedCollateral,
		decodeLost:            rep.DecodeLost,
		pluginEvents:          s.plugin.get("events"),
		misroutes:             s.plugin.get("misroutes"),
		rerouted:              s.plugin.get("rerouted"),
		possibleDuplicates:    s.plugin.get("possible_duplicates"),
		droppedChunks:         s.droppedChunks,
	}
}

// zeroLoss reports whether every record reached the consumer.
func (r *result) zeroLoss() bool { return r.lost == 0 }

// problems lists what is wrong besides loss: anything here means the plugin's accounting or the
// data cannot be trusted.
func (r *result) problems() []string {
	var out []string
	if r.duplicates > int(r.possibleDuplicates) {
		out = append(out, fmt.Sprintf("%s duplicates, more than the %s the plugin counted as possible",
			commas(int64(r.duplicates)), commas(r.possibleDuplicates)))
	}
	if r.unexpected > 0 {
		out = append(out, fmt.Sprintf("%s delivered records carry no id the demo sent", commas(int64(r.unexpected))))
	}
	if r.decodeLost > 0 {
		out = append(out, fmt.Sprintf("%s records were in aggregates KCL could not decode", commas(int64(r.decodeLost))))
	}
	if r.droppedChunks > 0 {
		out = append(out, fmt.Sprintf("the shipper dropped %s chunks", commas(r.droppedChunks)))
	}
	return out
}

// ok reports whether the run passed: zero loss and nothing unexplained.
func (r *result) ok() bool { return r != nil && r.zeroLoss() && len(r.problems()) == 0 }

// print writes the report.
func (r *result) print(p *printer) {
	row := func(label string, v int64, note string) {
		line := fmt.Sprintf("  %-42s %11s", label, commas(v))
		if note != "" {
			line += "   " + note
		}
		p.printf("%s\n", line)
	}
	p.printf("\nReport\n")
	row("records sent", int64(r.sent), "")
	row("delivered to a KCL consumer (unique ids)", int64(r.delivered), "")
	lostNote := ""
	if r.lost > 0 {
		ids := make([]string, len(r.missing))
		for i, id := range r.missing {
			ids[i] = chunkgen.ID(id)
		}
		lostNote = "first: " + strings.Join(ids, ", ")
	}
	row("lost", int64(r.lost), lostNote)
	row("duplicates", int64(r.duplicates), fmt.Sprintf("possible only for records re-sent after a lost ack or a re-route; the plugin counted %s",
		commas(r.possibleDuplicates)))
	row("Kinesis records", int64(r.kinesisRecords), fmt.Sprintf("%s KPL aggregates, %s plain records",
		commas(int64(r.aggregates)), commas(int64(r.passthrough))))
	avg := ""
	if r.aggregates > 0 {
		avg = strconv.FormatFloat(float64(r.aggregatedUserRecords)/float64(r.aggregates), 'f', 1, 64) + " user records per aggregate on average"
	}
	row("aggregates", int64(r.aggregates), avg)
	row("misroutes repaired", r.misroutes, "Kinesis records that landed on another shard than the plugin's map predicted")
	row("records re-routed", r.rerouted, "their members, sent again to the right shards")
	dropNote := "= records re-routed: KCL drops exactly the misrouted copies"
	if int64(r.kclDropped) != r.rerouted {
		dropNote = fmt.Sprintf("differs from the %s records re-routed", commas(r.rerouted))
	}
	row("KCL-dropped members of misrouted copies", int64(r.kclDropped), dropNote)
	for _, prob := range r.problems() {
		p.printf("  PROBLEM: %s\n", prob)
	}
	p.printf("\n")
	if r.zeroLoss() {
		p.printf("ZERO LOSS: all %s records reached the consumer\n", commas(int64(r.sent)))
	} else {
		p.printf("LOSS: %s of %s records never reached the consumer\n", commas(int64(r.lost)), commas(int64(r.sent)))
	}
}

// commas formats n with thousands separators: 100000 → "100,000".
func commas(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// megabytes formats a byte count for progress lines.
func megabytes(n int) string {
	return strconv.FormatFloat(float64(n)/1e6, 'f', 1, 64) + " MB"
}
