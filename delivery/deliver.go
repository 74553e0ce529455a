package delivery

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go"

	"github.com/kinesis-agg/kinesis_agg/aggregation"
	"github.com/kinesis-agg/kinesis_agg/hashkey"
	"github.com/kinesis-agg/kinesis_agg/kinesisapi"
	"github.com/kinesis-agg/kinesis_agg/ledger"
	"github.com/kinesis-agg/kinesis_agg/topology"
)

// Deliver sends recs and reports, by position in recs, which were delivered, which were rejected
// for good and how many are still undelivered. It returns when everything is delivered or
// rejected, when a permanent error stops it, when ctx ends, or when the retry budget is spent.
// Batches of one round are sent one after another, which keeps per-shard order and leaves
// concurrency to Fluent Bit's workers; over a PutRecordsPreparer each batch's request is built
// while the previous one is answered. No goroutine outlives the call.
//
// Records' Ref fields are ignored (the sender uses positions).
func (s *Sender) Deliver(ctx context.Context, recs []aggregation.UserRecord) Result {
	res := Result{Delivered: ledger.NewSet(len(recs))}
	if len(recs) == 0 {
		return res
	}
	start := s.now()
	w := s.pool.Get()
	defer s.release(w)

	w.pending = w.pending[:0]
	for i := range recs {
		w.pending = append(w.pending, i)
	}
	var (
		failRounds, misrouteRounds int
		plainOnly                  bool // the map proved stale and could not be refreshed
		lastErr, stop              error
	)
	for len(w.pending) > 0 {
		// With a map, every record gets a predicted shard (verification, pacing); it is
		// aggregated only when that is on and the map has not proved stale.
		var sm *topology.ShardMap
		if s.topo != nil {
			sm = s.topo.Current()
		}
		w.next = w.next[:0]
		rr := s.round(ctx, w, recs, sm, s.o.Aggregate && !plainOnly, &res)
		w.pending, w.next = w.next, w.pending
		if rr.lastErr != nil {
			lastErr = rr.lastErr
		}
		if rr.err != nil {
			stop = rr.err
			break
		}
		if len(w.pending) == 0 {
			break
		}
		if rr.stale {
			plainOnly = true
		}
		elapsed := s.now().Sub(start)
		if rr.pace > 0 && !rr.failed {
			// Records held back for their shard's rate: wait for its tokens, not a backoff.
			if s.o.RetryBudget < 0 || elapsed+rr.pace > s.o.RetryBudget {
				stop = s.budgetError(len(w.pending), res.Stats.Rounds, elapsed, lastErr)
				break
			}
			if !s.sleep(ctx, rr.pace) {
				stop = fmt.Errorf("delivery: stream %q: %w", s.stream(), ctx.Err())
				break
			}
			continue
		}
		if rr.failed {
			failRounds, misrouteRounds = failRounds+1, 0
			d := backoff(failRounds, s.o.BackoffBase, s.o.BackoffMax, s.o.Rand())
			if s.o.RetryBudget < 0 || elapsed+d > s.o.RetryBudget {
				stop = s.budgetError(len(w.pending), res.Stats.Rounds, elapsed, lastErr)
				break
			}
			s.o.Logf(LevelDebug, "delivery: stream %q: round %d: %d records to retry in %v (last error: %v)",
				s.stream(), res.Stats.Rounds, len(w.pending), d, lastErr)
			if !s.sleep(ctx, d) {
				stop = fmt.Errorf("delivery: stream %q: %w", s.stream(), ctx.Err())
				break
			}
			continue
		}
		// Only wrong-shard re-routes: go again at once with the refreshed map.
		if misrouteRounds++; misrouteRounds >= maxMisrouteRounds {
			plainOnly = true
		}
		if s.o.RetryBudget < 0 || elapsed >= s.o.RetryBudget {
			stop = s.budgetError(len(w.pending), res.Stats.Rounds, elapsed, lastErr)
			break
		}
		if err := ctx.Err(); err != nil {
			stop = fmt.Errorf("delivery: stream %q: %w", s.stream(), err)
			break
		}
	}
	res.Undelivered = len(recs) - res.Delivered.Count() - len(res.Rejected)
	if res.Undelivered > 0 {
		res.Err = stop
		if res.Err == nil { // cannot happen: the loop only ends early with a reason
			res.Err = fmt.Errorf("delivery: stream %q: %d records undelivered", s.stream(), res.Undelivered)
		}
	}
	return res
}

func (s *Sender) budgetError(pending, rounds int, elapsed time.Duration, last error) error {
	if last == nil {
		return fmt.Errorf("delivery: stream %q: %d records undelivered after %d rounds in %v (budget %v): %w",
			s.stream(), pending, rounds, elapsed.Round(time.Millisecond), s.o.RetryBudget, ErrRetryBudget)
	}
	return fmt.Errorf("delivery: stream %q: %d records undelivered after %d rounds in %v (budget %v): %w; last error: %w",
		s.stream(), pending, rounds, elapsed.Round(time.Millisecond), s.o.RetryBudget, ErrRetryBudget, last)
}

func (s *Sender) release(w *work) {
	w.m.Reset(nil) // drop references to the caller's records
	clear(w.ready)
	w.ready = w.ready[:0]
	for i := range w.entries {
		clear(w.entries[i])
		w.entries[i] = w.entries[i][:0]
		w.inputs[i] = kinesis.PutRecordsInput{}
	}
	const keep = 1 << 16
	if cap(w.pending) > keep || cap(w.next) > keep {
		w.pending, w.next = nil, nil
	}
	s.pool.Put(w)
}

func (s *Sender) stream() string {
	if s.o.StreamARN != "" {
		return s.o.StreamARN
	}
	return s.o.StreamName
}

// minPace is the shortest wait for a shard's tokens: long enough to gather a batch worth a round.
const minPace = 20 * time.Millisecond

// roundResult is what one round tells the loop.
type roundResult struct {
	failed  bool          // a retryable entry or request failure: back off before the next round
	pace    time.Duration // records were held back by the limiter: their tokens come after this
	stale   bool          // an aggregate was misrouted and the map could not be brought up to date
	err     error         // permanent error or cancellation: stop
	lastErr error         // the last retryable failure
}

// round routes w.pending with sm, sends the result and queues the records to send again in w.next.
func (s *Sender) round(ctx context.Context, w *work, recs []aggregation.UserRecord, sm *topology.ShardMap, aggregate bool, res *Result) roundResult {
	res.Stats.Rounds++
	if aggregate {
		w.m.Reset(sm)
	} else {
		w.m.ResetPlain(sm)
	}
	routed := 0
	for _, i := range w.pending {
		r := recs[i]
		r.Ref = i
		if err := w.m.Add(&r); err != nil {
			res.Rejected = append(res.Rejected, Rejection{Index: i, Reason: err.Error()})
			continue
		}
		routed++
	}
	if s.topo != nil && routed > 0 {
		s.topo.Routed(routed)
	}
	sealed := w.m.Seal()

	var rr roundResult
	if lim := s.o.Limiter; lim != nil {
		w.ready = w.ready[:0]
		for i := range sealed {
			sd := &sealed[i]
			if d := lim.Take(sd.ShardID, sd.Size()); d > 0 {
				res.Stats.Paced += len(sd.Members)
				queue(w, sd)
				if rr.pace == 0 || d < rr.pace {
					rr.pace = max(d, minPace)
				}
				continue
			}
			w.ready = append(w.ready, *sd)
		}
		sealed = w.ready
		if sm != nil {
			lim.Retain(sm.IsOpen)
		}
	}
	v := verifier{s: s, seen: sm}
	prep, pipelined := s.api.(PutRecordsPreparer)
	var (
		next    kinesisapi.PreparedPut // the request for sealed[off:nextEnd], built ahead
		nextEnd int
		slot    int // which of w.inputs the batch in hand uses
	)
	for off := 0; off < len(sealed); {
		end := nextEnd
		if next == nil {
			end = batchEnd(sealed, off, s.o.MaxEntries, s.o.RequestMaxBytes)
		}
		batch := sealed[off:end]
		off = end
		call := next
		next = nil
		if rr.err == nil {
			if err := ctx.Err(); err != nil {
				rr.err = fmt.Errorf("delivery: stream %q: %w", s.stream(), err)
			}
		}
		if rr.err != nil {
			if call != nil {
				call.Discard()
			}
			continue // stopped: the rest stays undelivered
		}
		if !pipelined {
			out, err := s.api.PutRecords(ctx, s.input(w, 0, batch))
			s.settle(ctx, w, batch, out, err, &v, &rr, res)
			continue
		}
		if call == nil {
			call = prep.PreparePutRecords(ctx, s.input(w, slot, batch))
		}
		call.Start(ctx)
		if off < len(sealed) {
			// Build the next request while Kinesis answers this one. Nothing in this answer
			// changes the next batch; if it stops the round, the next request is discarded.
			nextEnd = batchEnd(sealed, off, s.o.MaxEntries, s.o.RequestMaxBytes)
			next = prep.PreparePutRecords(ctx, s.input(w, 1-slot, sealed[off:nextEnd]))
		}
		out, err := call.Wait(ctx)
		s.settle(ctx, w, batch, out, err, &v, &rr, res)
		slot = 1 - slot
	}
	if v.plainMisroute && !v.refreshed && sm != nil && rr.err == nil {
		// Plain records are delivered wherever they land, but the map is stale: refresh it before
		// it costs an aggregate.
		v.refresh(ctx)
	}
	if v.misrouted > 0 {
		s.o.Logf(LevelInfo, "delivery: stream %q: %d Kinesis records landed on other shards than predicted by the shard map from %s; %d user records re-routed",
			s.stream(), v.misrouted, sm.LoadedAt().Format(time.RFC3339), v.rerouted)
	}
	return rr
}

// input fills w's request slot with batch and returns it.
func (s *Sender) input(w *work, slot int, batch []aggregation.Sealed) *kinesis.PutRecordsInput {
	entries := w.entries[slot][:0]
	for i := range batch {
		sd := &batch[i]
		e := types.PutRecordsRequestEntry{Data: sd.Data, PartitionKey: &sd.PartitionKey}
		if sd.ExplicitHashKey != "" {
			e.ExplicitHashKey = &sd.ExplicitHashKey
		}
		entries = append(entries, e)
	}
	w.entries[slot] = entries
	in := &w.inputs[slot]
	*in = kinesis.PutRecordsInput{Records: entries}
	if s.o.StreamARN != "" {
		in.StreamARN = &s.o.StreamARN
	} else {
		in.StreamName = &s.o.StreamName
	}
	return in
}

// settle sorts the members of a batch that was put into delivered, queued again, or left
// undelivered, from PutRecords' outcome.
func (s *Sender) settle(ctx context.Context, w *work, batch []aggregation.Sealed, out *kinesis.PutRecordsOutput, err error, v *verifier, rr *roundResult, res *Result) {
	st := &res.Stats
	st.Calls++
	st.EntriesSent += len(batch)
	for i := range batch {
		st.BytesSent += batch[i].Size()
	}
	if err == nil && (out == nil || len(out.Records) != len(batch)) {
		n := 0
		if out != nil {
			n = len(out.Records)
		}
		err = &smithy.DeserializationError{Err: fmt.Errorf("PutRecords answered %d entries for %d records", n, len(batch))}
	}
	if err != nil {
		s.requestFailed(ctx, w, batch, err, rr, res)
		return
	}
	for j := range batch {
		sd, e := &batch[j], &out.Records[j]
		if e.ErrorCode != nil {
			s.entryFailed(w, sd, e, rr, res)
			continue
		}
		actual := aws.ToString(e.ShardId)
		s.o.Limiter.Accepted(actual)
		if s.o.Shards != nil {
			s.o.Shards.Accepted(actual, 1, int64(sd.Size()))
		}
		if sd.ShardID == "" || actual == sd.ShardID {
			deliver(res, sd)
			continue
		}
		st.Misroutes++
		v.misrouted++
		if !sd.Aggregated {
			v.plainMisroute = true
			deliver(res, sd) // KCL never filters plain records
			continue
		}
		if rng, ok := v.rangeOf(ctx, actual); ok && covers(rng, sd.Members) {
			deliver(res, sd) // e.g. a merge: the actual shard owns every member
			continue
		}
		// KCL on the actual shard drops the whole aggregate: send every member again. The stored
		// copy reaches consumers that do not filter.
		n := len(sd.Members)
		st.Rerouted += n
		st.PossibleDuplicates += n
		v.rerouted += n
		queue(w, sd)
		if v.err != nil || v.fresh == nil || v.fresh == v.seen {
			rr.stale = true
		}
	}
}

func (s *Sender) requestFailed(ctx context.Context, w *work, batch []aggregation.Sealed, err error, rr *roundResult, res *Result) {
	st := &res.Stats
	kind := kinesisapi.Classify(err)
	if ctx.Err() != nil && kind != kinesisapi.Permanent {
		kind = kinesisapi.Canceled
	}
	code := kinesisapi.ErrorCode(err)
	if code == "" {
		code = kind.String()
	}
	st.addError(code)
	n := 0
	for i := range batch {
		n += len(batch[i].Members)
	}
	if kind == kinesisapi.Throttled {
		st.Throttles++
	}
	if kind.MaybeStored() {
		st.PossibleDuplicates += n
	}
	switch {
	case kind.Retryable():
		rr.failed = true
		rr.lastErr = fmt.Errorf("PutRecords (%s): %w", kind, err)
		st.Retried += n
		for i := range batch {
			queue(w, &batch[i])
		}
	case kind == kinesisapi.Canceled:
		rr.err = fmt.Errorf("delivery: stream %q: PutRecords interrupted: %w", s.stream(), err)
	default:
		rr.err = fmt.Errorf("delivery: stream %q: PutRecords failed with %s, not retried in this flush: %w", s.stream(), code, err)
		s.o.Logf(LevelDebug, "%v", rr.err)
	}
}

func (s *Sender) entryFailed(w *work, sd *aggregation.Sealed, e *types.PutRecordsResultEntry, rr *roundResult, res *Result) {
	st := &res.Stats
	code, msg := aws.ToString(e.ErrorCode), aws.ToString(e.ErrorMessage)
	st.EntriesFailed++
	st.addError(code)
	kind := kinesisapi.EntryKind(code)
	if kind == kinesisapi.Throttled {
		st.Throttles++
		s.o.Limiter.Throttled(sd.ShardID)
		if s.o.Shards != nil {
			s.o.Shards.Throttled(sd.ShardID, 1)
		}
	}
	apiErr := &smithy.GenericAPIError{Code: code, Message: msg, Fault: smithy.FaultClient}
	if kind == kinesisapi.Permanent {
		if rr.err == nil {
			rr.err = fmt.Errorf("delivery: stream %q: record rejected with %s, not retried in this flush: %w", s.stream(), code, apiErr)
		}
		return // stays undelivered
	}
	rr.failed = true
	rr.lastErr = fmt.Errorf("PutRecords entry: %w", apiErr)
	st.Retried += len(sd.Members)
	queue(w, sd)
}

func deliver(res *Result, sd *aggregation.Sealed) {
	for _, m := range sd.Members {
		res.Delivered.Add(m.Ref)
	}
}

func queue(w *work, sd *aggregation.Sealed) {
	for _, m := range sd.Members {
		w.next = append(w.next, m.Ref)
	}
}

func covers(r hashkey.Range, members []aggregation.Member) bool {
	for _, m := range members {
		if !r.Contains(m.Hash) {
			return false
		}
	}
	return true
}

// verifier refreshes the topology at most once per round, on the first wrong-shard answer.
type verifier struct {
	s             *Sender
	seen          *topology.ShardMap // the map the round was routed with
	refreshed     bool
	fresh         *topology.ShardMap
	err           error
	misrouted     int
	rerouted      int
	plainMisroute bool
}

func (v *verifier) refresh(ctx context.Context) {
	v.refreshed = true
	v.fresh, v.err = v.s.topo.Invalidate(ctx, v.seen)
	if v.err != nil {
		v.s.o.Logf(LevelWarn, "delivery: stream %q: shard map refresh after a wrong-shard answer failed: %v", v.s.stream(), v.err)
	}
}

// rangeOf returns the hash key range of shard id, from a refreshed map or else the round's map.
func (v *verifier) rangeOf(ctx context.Context, id string) (hashkey.Range, bool) {
	if !v.refreshed {
		v.refresh(ctx)
	}
	if v.fresh != nil {
		if r, ok := v.fresh.RangeOf(id); ok {
			return r, true
		}
	}
	if v.seen != nil {
		return v.seen.RangeOf(id)
	}
	return hashkey.Range{}, false
}
