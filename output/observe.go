package output

import (
	"time"

	"github.com/kinesis-agg/kinesis_agg/metrics"
	"github.com/kinesis-agg/kinesis_agg/topology"
)

// Snapshot reports the instance's counters for the metrics endpoint and the periodic summary.
func (in *Instance) Snapshot() metrics.Snapshot {
	c := &in.Counters
	s := metrics.Snapshot{
		At:                   time.Now(),
		Received:             c.Events.Load(),
		Delivered:            c.Delivered.Load(),
		Rejected:             c.RejectedByReason(),
		Retried:              c.Retried.Load(),
		Rerouted:             c.Rerouted.Load(),
		PossibleDuplicates:   c.PossibleDups.Load(),
		Undelivered:          c.Undelivered.Load(),
		LedgerSkipped:        c.LedgerSkipped.Load(),
		RandomKeys:           c.RandomKeys.Load(),
		BadHashKeys:          c.BadHashKeys.Load(),
		DeadLettered:         c.DeadLettered.Load(),
		DeadLetterErrors:     c.DeadLetterErrs.Load(),
		FlushOK:              c.FlushOK.Load(),
		FlushRetry:           c.FlushRetry.Load(),
		FlushError:           c.FlushError.Load(),
		MalformedChunks:      c.Malformed.Load(),
		KinesisRecords:       c.KinesisRecords.Load(),
		KinesisRecordsFailed: c.EntriesFailed.Load(),
		SentBytes:            c.SentBytes.Load(),
		PutRecordsCalls:      c.Calls.Load(),
		Errors:               c.ErrorsByCode(),
		Throttles:            c.Throttles.Load(),
		Misroutes:            c.Misroutes.Load(),
		LedgerEntries:        in.ledger.Len(),
	}
	ts := in.tracker.Stats()
	s.TopologyRefreshes = make(map[string]int64, len(ts.Loads))
	for cause, n := range ts.Loads {
		s.TopologyRefreshes[topology.CauseNames[cause]] = n
	}
	s.TopologyRefreshFailures = ts.Failures
	if sm := in.tracker.Current(); sm != nil {
		s.TopologyLoadedAt, s.OpenShards = sm.LoadedAt(), sm.Len()
		open := make([]string, 0, sm.Len())
		for _, sh := range sm.Shards() {
			open = append(open, sh.ID)
		}
		s.Shards = in.shards.Snapshot(open)
	}
	return s
}

// summaries logs a one-line summary every interval until the instance closes.
func (in *Instance) summaries(every time.Duration) {
	defer close(in.summaryDone)
	t := time.NewTicker(every)
	defer t.Stop()
	prev := in.Snapshot()
	for {
		select {
		case <-in.ctx.Done():
			return
		case <-t.C:
			cur := in.Snapshot()
			in.log.Infof("%s", metrics.SummaryLine(cur, prev, cur.At.Sub(prev.At).Round(time.Millisecond)))
			prev = cur
		}
	}
}
