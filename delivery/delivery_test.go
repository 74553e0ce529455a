package delivery

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go"

	"github.com/kinesis-agg/kinesis_agg/aggregation"
	"github.com/kinesis-agg/kinesis_agg/hashkey"
	"github.com/kinesis-agg/kinesis_agg/kinesisapi"
)

func apiError(code string, fault smithy.ErrorFault) error {
	return &smithy.GenericAPIError{Code: code, Message: "fake " + code, Fault: fault}
}

func TestPlainDelivery(t *testing.T) {
	f := newFakeKinesis(4)
	s, clk := newTestSender(f, nil, Options{Aggregate: true}) // no topology: never aggregate
	recs := makeRecords(t, 1200, 50, 40)
	res := s.Deliver(context.Background(), recs)
	checkResult(t, f, len(recs), res, true)
	if res.Delivered.Count() != 1200 || res.Undelivered != 0 {
		t.Fatalf("delivered %d undelivered %d", res.Delivered.Count(), res.Undelivered)
	}
	want := Stats{Calls: 3, EntriesSent: 1200, Rounds: 1}
	for _, r := range recs {
		want.BytesSent += len(r.Data) + len(r.PartitionKey)
	}
	if !equalStats(res.Stats, want) {
		t.Errorf("Stats = %+v, want %+v", res.Stats, want)
	}
	for i, c := range f.calls {
		if c.plain != c.entries {
			t.Errorf("call %d: %d of %d entries aggregated without a topology", i, c.entries-c.plain, c.entries)
		}
	}
	if len(clk.sleeps) != 0 {
		t.Errorf("slept %v", clk.sleeps)
	}
	if res.Stats.ErrorsByCode != nil {
		t.Errorf("ErrorsByCode allocated without errors")
	}
}

func TestAggregatedDeliveryStaticTopology(t *testing.T) {
	f := newFakeKinesis(4)
	topo := &fakeTopology{stream: f}
	topo.set(f.shardMap())
	s, _ := newTestSender(f, topo, Options{Aggregate: true})
	recs := makeRecords(t, 2000, 300, 100)
	res := s.Deliver(context.Background(), recs)
	checkResult(t, f, len(recs), res, true)
	if res.Undelivered != 0 || res.Stats.Misroutes != 0 || res.Stats.Rounds != 1 || res.Stats.Calls != 1 {
		t.Fatalf("Stats = %+v undelivered %d", res.Stats, res.Undelivered)
	}
	if len(f.stored) != 4 {
		t.Errorf("stored %d Kinesis records, want 4 aggregates (one per shard)", len(f.stored))
	}
	if topo.routed != 2000 {
		t.Errorf("Routed total %d, want 2000", topo.routed)
	}
	if topo.invalidates != 0 {
		t.Errorf("%d invalidations with a correct map", topo.invalidates)
	}
}

func TestBatchLimits(t *testing.T) {
	tests := []struct {
		name       string
		aggregate  bool
		maxEntries int
		maxBytes   int
		limits     aggregation.Limits
	}{
		{"plain entries", false, 7, 0, aggregation.Limits{}},
		{"plain bytes", false, 0, 1000, aggregation.Limits{}},
		{"aggregates bytes", true, 0, 3000, aggregation.Limits{MaxAggregateBytes: 1000}},
		{"aggregates entries", true, 3, 0, aggregation.Limits{MaxAggregateRecords: 5}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeKinesis(3)
			topo := &fakeTopology{stream: f}
			topo.set(f.shardMap())
			s, _ := newTestSender(f, topo, Options{Aggregate: tt.aggregate, MaxEntries: tt.maxEntries, RequestMaxBytes: tt.maxBytes, Limits: tt.limits})
			recs := makeRecords(t, 300, 40, 60)
			res := s.Deliver(context.Background(), recs)
			checkResult(t, f, len(recs), res, true)
			if res.Undelivered != 0 {
				t.Fatalf("undelivered %d: %v", res.Undelivered, res.Err)
			}
			wantEntries, wantBytes := tt.maxEntries, tt.maxBytes
			if wantEntries == 0 {
				wantEntries = 500
			}
			if wantBytes == 0 {
				wantBytes = 5 << 20
			}
			total := 0
			for i, c := range f.calls {
				total += c.entries
				if c.entries > wantEntries || c.bytes > wantBytes {
					t.Errorf("call %d: %d entries, %d bytes; limits %d, %d", i, c.entries, c.bytes, wantEntries, wantBytes)
				}
			}
			if total != res.Stats.EntriesSent || len(f.calls) != res.Stats.Calls {
				t.Errorf("Stats %+v vs %d calls, %d entries", res.Stats, len(f.calls), total)
			}
			if len(f.calls) < 2 {
				t.Errorf("only %d calls: limits not exercised", len(f.calls))
			}
		})
	}
}

func TestBatchEnd(t *testing.T) {
	sz := func(sizes ...int) []aggregation.Sealed {
		var out []aggregation.Sealed
		for _, n := range sizes {
			out = append(out, aggregation.Sealed{Data: make([]byte, n-1), PartitionKey: "a"})
		}
		return out
	}
	tests := []struct {
		sizes           []int
		start, max, lim int
		want            int
	}{
		{[]int{10, 10, 10}, 0, 500, 100, 3},
		{[]int{10, 10, 10}, 0, 2, 100, 2},
		{[]int{10, 10, 10}, 0, 500, 20, 2},
		{[]int{10, 10, 10}, 0, 500, 19, 1},
		{[]int{50, 10}, 0, 500, 20, 1}, // oversized record goes alone
		{[]int{10, 50}, 0, 500, 20, 1},
		{[]int{10, 50}, 1, 500, 20, 2},
		{nil, 0, 500, 20, 0},
	}
	for _, tt := range tests {
		if got := batchEnd(sz(tt.sizes...), tt.start, tt.max, tt.lim); got != tt.want {
			t.Errorf("batchEnd(%v, %d, %d, %d) = %d, want %d", tt.sizes, tt.start, tt.max, tt.lim, got, tt.want)
		}
	}
}

func TestBackoff(t *testing.T) {
	base, max := 100*time.Millisecond, time.Second
	tests := []struct {
		attempt int
		rnd     float64
		want    time.Duration
	}{
		{1, 0.5, 50 * time.Millisecond},
		{2, 0.5, 100 * time.Millisecond},
		{3, 0.5, 200 * time.Millisecond},
		{4, 1 - 1e-9, 799999999},
		{5, 0.5, 500 * time.Millisecond}, // capped at max
		{60, 0.5, 500 * time.Millisecond},
		{3, 0, 0},
		{3, -1, 0},
	}
	for _, tt := range tests {
		if got := backoff(tt.attempt, base, max, tt.rnd); got != tt.want {
			t.Errorf("backoff(%d, %v) = %v, want %v", tt.attempt, tt.rnd, got, tt.want)
		}
	}
	if got := backoff(1, base, max, 1); got >= base {
		t.Errorf("backoff with rnd 1 = %v, must stay below the ceiling", got)
	}
}

// TestMisrouteAfterSplit: the map says one shard, the stream has split it. Aggregates built for
// the parent land on a child whose range misses some members: KCL would drop them whole, so the
// sender re-routes every member, once, with a refreshed map.
func TestMisrouteAfterSplit(t *testing.T) {
	f := newFakeKinesis(1)
	topo := &fakeTopology{stream: f}
	topo.set(f.shardMap()) // stale after the split below
	f.split("shardId-000000000000")
	s, clk := newTestSender(f, topo, Options{Aggregate: true})
	recs := makeRecords(t, 500, 100, 50)
	res := s.Deliver(context.Background(), recs)
	checkResult(t, f, len(recs), res, true)
	if res.Undelivered != 0 {
		t.Fatalf("undelivered %d: %v", res.Undelivered, res.Err)
	}
	st := res.Stats
	if st.Misroutes != 1 || st.Rerouted != 500 || st.PossibleDuplicates != 500 || st.Rounds != 2 {
		t.Errorf("Stats = %+v, want 1 misroute re-routing all 500 members in a second round", st)
	}
	if topo.invalidates != 1 {
		t.Errorf("%d invalidations, want 1", topo.invalidates)
	}
	if len(clk.sleeps) != 0 {
		t.Errorf("backed off %v before a pure re-route", clk.sleeps)
	}
	if d := duplicates(t, f); d != 500 || d > st.PossibleDuplicates {
		t.Errorf("non-filtering consumer sees %d duplicates, PossibleDuplicates %d", d, st.PossibleDuplicates)
	}
	// The misrouted aggregate is stored on a child and KCL drops it; the resent ones pass.
	kclAll := kclView(t, f, true)
	if len(kclAll) != 500 {
		t.Errorf("KCL receives %d distinct ids, want 500", len(kclAll))
	}
}

// TestMisrouteAggregateInsideChild: an aggregate whose members all fall in the child it landed on
// is accepted without a resend.
func TestMisrouteAggregateInsideChild(t *testing.T) {
	f := newFakeKinesis(1)
	topo := &fakeTopology{stream: f}
	topo.set(f.shardMap())
	lo, _ := f.split("shardId-000000000000")
	loRange := f.find(lo).rng
	// Only partition keys that hash into the lower child.
	var recs []aggregation.UserRecord
	for i := 0; len(recs) < 200; i++ {
		r, _ := aggregation.NewUserRecord(fmt.Sprintf("k%d", i), "", []byte(fmt.Sprintf("id-%06d|", len(recs))), 0)
		if loRange.Contains(r.Hash) {
			recs = append(recs, r)
		}
	}
	s, _ := newTestSender(f, topo, Options{Aggregate: true})
	res := s.Deliver(context.Background(), recs)
	checkResult(t, f, len(recs), res, true)
	if res.Undelivered != 0 || res.Stats.Misroutes != 1 || res.Stats.Rerouted != 0 || res.Stats.Rounds != 1 || res.Stats.PossibleDuplicates != 0 {
		t.Errorf("Stats = %+v, want one accepted misroute", res.Stats)
	}
}

// TestMergeAcceptsWithoutReroute: aggregates for two merged parents land on the merged shard,
// whose range covers them: accepted, no resend, one refresh for the round.
func TestMergeAcceptsWithoutReroute(t *testing.T) {
	f := newFakeKinesis(2)
	topo := &fakeTopology{stream: f}
	topo.set(f.shardMap())
	f.merge("shardId-000000000000", "shardId-000000000001")
	s, _ := newTestSender(f, topo, Options{Aggregate: true})
	recs := makeRecords(t, 1000, 200, 30)
	res := s.Deliver(context.Background(), recs)
	checkResult(t, f, len(recs), res, true)
	st := res.Stats
	if res.Undelivered != 0 || st.Misroutes != 2 || st.Rerouted != 0 || st.Rounds != 1 || st.PossibleDuplicates != 0 {
		t.Errorf("Stats = %+v, want 2 accepted misroutes in one round", st)
	}
	if topo.invalidates != 1 {
		t.Errorf("%d invalidations, want one per round", topo.invalidates)
	}
	if d := duplicates(t, f); d != 0 {
		t.Errorf("%d duplicates after a merge", d)
	}
}

// TestReshardBetweenCalls: the stream splits between the batches of one round.
func TestReshardBetweenCalls(t *testing.T) {
	f := newFakeKinesis(2)
	topo := &fakeTopology{stream: f}
	topo.set(f.shardMap())
	f.beforeCall = func(call int) {
		if call == 2 {
			f.split("shardId-000000000000")
			f.split("shardId-000000000001")
		}
	}
	s, _ := newTestSender(f, topo, Options{Aggregate: true, Limits: aggregation.Limits{MaxAggregateRecords: 10}, MaxEntries: 5})
	recs := makeRecords(t, 400, 400, 20)
	res := s.Deliver(context.Background(), recs)
	kcl := checkResult(t, f, len(recs), res, true)
	if res.Undelivered != 0 || len(kcl) != 400 {
		t.Fatalf("undelivered %d, KCL ids %d: %v", res.Undelivered, len(kcl), res.Err)
	}
	if res.Stats.Misroutes == 0 || res.Stats.Rerouted == 0 {
		t.Errorf("Stats = %+v, want misroutes after the split", res.Stats)
	}
	if d := duplicates(t, f); d > res.Stats.PossibleDuplicates {
		t.Errorf("%d duplicates > PossibleDuplicates %d", d, res.Stats.PossibleDuplicates)
	}
}

func TestPlainMisrouteDeliveredAndRefreshes(t *testing.T) {
	f := newFakeKinesis(1)
	topo := &fakeTopology{stream: f}
	topo.set(f.shardMap())
	f.split("shardId-000000000000")
	s, _ := newTestSender(f, topo, Options{Aggregate: true})
	recs := makeRecords(t, 1, 1, 10) // a lone record goes out plain, with a prediction
	res := s.Deliver(context.Background(), recs)
	checkResult(t, f, 1, res, true)
	if res.Undelivered != 0 || res.Stats.Misroutes != 1 || res.Stats.Rerouted != 0 || res.Stats.Rounds != 1 {
		t.Errorf("Stats = %+v", res.Stats)
	}
	if topo.invalidates != 1 {
		t.Errorf("%d invalidations, want 1 (the map is stale)", topo.invalidates)
	}
}

// TestMisrouteRefreshFailsGoesPlain: the map cannot be refreshed, so the re-routed members go
// out un-aggregated (never aggregate with a map known to be wrong).
func TestMisrouteRefreshFailsGoesPlain(t *testing.T) {
	f := newFakeKinesis(1)
	topo := &fakeTopology{stream: f, invalidErr: errors.New("ListShards: LimitExceededException")}
	topo.set(f.shardMap())
	f.split("shardId-000000000000")
	var logs []string
	var mu sync.Mutex
	s, _ := newTestSender(f, topo, Options{Aggregate: true, Logf: func(level int, format string, args ...any) {
		mu.Lock()
		logs = append(logs, fmt.Sprintf("%d:"+format, append([]any{level}, args...)...))
		mu.Unlock()
	}})
	recs := makeRecords(t, 300, 60, 20)
	res := s.Deliver(context.Background(), recs)
	checkResult(t, f, len(recs), res, true)
	if res.Undelivered != 0 || res.Stats.Rounds != 2 || res.Stats.Rerouted != 300 {
		t.Fatalf("Stats = %+v, undelivered %d", res.Stats, res.Undelivered)
	}
	if last := f.calls[len(f.calls)-1]; last.plain != last.entries || last.entries != 300 {
		t.Errorf("second round sent %d entries, %d plain; want 300 plain", last.entries, last.plain)
	}
	if !strings.Contains(strings.Join(logs, "\n"), "refresh after a wrong-shard answer failed") {
		t.Errorf("no warning logged: %q", logs)
	}
}

func TestEntryFailuresRetried(t *testing.T) {
	f := newFakeKinesis(4)
	topo := &fakeTopology{stream: f}
	topo.set(f.shardMap())
	f.failEntry = func(call, idx int, shard, pk string) string {
		switch {
		case call == 1 && idx%3 == 0:
			return "ProvisionedThroughputExceededException"
		case call == 1 && idx%3 == 1:
			return "InternalFailure"
		case call == 2 && idx == 0:
			return "KMSThrottlingException"
		}
		return ""
	}
	s, clk := newTestSender(f, nil, Options{})
	recs := makeRecords(t, 30, 30, 10)
	res := s.Deliver(context.Background(), recs)
	checkResult(t, f, len(recs), res, true)
	if res.Undelivered != 0 {
		t.Fatalf("undelivered %d: %v", res.Undelivered, res.Err)
	}
	st := res.Stats
	want := Stats{Calls: 3, EntriesSent: 30 + 20 + 1, EntriesFailed: 21, Throttles: 11, Retried: 21, Rounds: 3,
		ErrorsByCode: map[string]int{"ProvisionedThroughputExceededException": 10, "InternalFailure": 10, "KMSThrottlingException": 1}}
	for _, c := range f.calls {
		want.BytesSent += c.bytes // every entry of every call, failed ones included
	}
	if !equalStats(st, want) {
		t.Errorf("Stats = %+v\nwant    %+v", st, want)
	}
	if fmt.Sprint(clk.sleeps) != "[50ms 100ms]" {
		t.Errorf("backoff sleeps %v, want [50ms 100ms] (full jitter at 0.5)", clk.sleeps)
	}
}

func TestRequestFailuresRetried(t *testing.T) {
	tests := []struct {
		name     string
		err      error
		dupCount bool // outcome unknown: counted as possible duplicates
		throttle bool
		code     string
	}{
		{"500", apiError("InternalFailure", smithy.FaultServer), true, false, "InternalFailure"},
		{"throttled", apiError("LimitExceededException", smithy.FaultClient), false, true, "LimitExceededException"},
		{"timeout", &timeoutErr{}, true, false, "unknown-outcome"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeKinesis(2)
			f.failRequest = func(call int) error {
				if call == 1 {
					return tt.err
				}
				return nil
			}
			s, clk := newTestSender(f, nil, Options{})
			recs := makeRecords(t, 20, 20, 10)
			res := s.Deliver(context.Background(), recs)
			checkResult(t, f, len(recs), res, true)
			st := res.Stats
			if res.Undelivered != 0 || st.Calls != 2 || st.Retried != 20 || st.Rounds != 2 || st.ErrorsByCode[tt.code] != 1 {
				t.Errorf("Stats = %+v, undelivered %d", st, res.Undelivered)
			}
			if (st.PossibleDuplicates == 20) != tt.dupCount || (st.Throttles == 1) != tt.throttle {
				t.Errorf("PossibleDuplicates %d Throttles %d", st.PossibleDuplicates, st.Throttles)
			}
			if len(clk.sleeps) != 1 {
				t.Errorf("sleeps %v, want one backoff", clk.sleeps)
			}
		})
	}
}

type timeoutErr struct{}

func (*timeoutErr) Error() string { return "net/http: request canceled (Client.Timeout exceeded)" }
func (*timeoutErr) Timeout() bool { return true }

func TestLostAckCountsDuplicates(t *testing.T) {
	f := newFakeKinesis(2)
	topo := &fakeTopology{stream: f}
	topo.set(f.shardMap())
	f.loseAck = func(call int) bool { return call == 1 }
	s, _ := newTestSender(f, topo, Options{Aggregate: true})
	recs := makeRecords(t, 100, 10, 10)
	res := s.Deliver(context.Background(), recs)
	kcl := checkResult(t, f, len(recs), res, false)
	if res.Undelivered != 0 || res.Stats.PossibleDuplicates != 100 {
		t.Fatalf("Stats = %+v", res.Stats)
	}
	dups := 0
	for _, c := range kcl {
		dups += c - 1
	}
	if dups != 100 || dups > res.Stats.PossibleDuplicates {
		t.Errorf("KCL sees %d duplicates, PossibleDuplicates %d", dups, res.Stats.PossibleDuplicates)
	}
}

// TestBudgetExhaustion: one shard throttles every entry forever. Records for the other shards are
// delivered; the others stay undelivered when the budget runs out, and Err says why.
func TestBudgetExhaustion(t *testing.T) {
	f := newFakeKinesis(3)
	hot := "shardId-000000000001"
	f.failEntry = func(_, _ int, shard, _ string) string {
		if shard == hot {
			return "ProvisionedThroughputExceededException"
		}
		return ""
	}
	topo := &fakeTopology{stream: f}
	topo.set(f.shardMap())
	s, clk := newTestSender(f, topo, Options{Aggregate: true, RetryBudget: 2 * time.Second, BackoffBase: 100 * time.Millisecond, BackoffMax: time.Second})
	recs := makeRecords(t, 600, 90, 20)
	res := s.Deliver(context.Background(), recs)
	checkResult(t, f, len(recs), res, true)

	hotRange := f.find(hot).rng
	for i, r := range recs {
		if onHot := hotRange.Contains(r.Hash); onHot == res.Delivered.Has(i) {
			t.Fatalf("record %d (hot shard %v) delivered = %v", i, onHot, res.Delivered.Has(i))
		}
	}
	if res.Undelivered == 0 || res.Undelivered == len(recs) {
		t.Fatalf("Undelivered = %d", res.Undelivered)
	}
	if !errors.Is(res.Err, ErrRetryBudget) || kinesisapi.ErrorCode(res.Err) != "ProvisionedThroughputExceededException" {
		t.Errorf("Err = %v, want ErrRetryBudget wrapping the throttling error", res.Err)
	}
	var total time.Duration
	for _, d := range clk.sleeps {
		total += d
	}
	if total > 2*time.Second {
		t.Errorf("slept %v, beyond the 2s budget", total)
	}
	// 50, 100, 200, 400, 500, 500 ms = 1.75 s; the next 500 ms would cross the budget.
	if len(clk.sleeps) != 6 || res.Stats.Rounds != 7 {
		t.Errorf("sleeps %v, rounds %d; want 6 backoffs and 7 rounds", clk.sleeps, res.Stats.Rounds)
	}
}

func TestNegativeBudgetNeverRetries(t *testing.T) {
	f := newFakeKinesis(1)
	f.failEntry = func(_, idx int, _, _ string) string {
		if idx < 3 {
			return "InternalFailure"
		}
		return ""
	}
	s, clk := newTestSender(f, nil, Options{RetryBudget: -1})
	res := s.Deliver(context.Background(), makeRecords(t, 10, 10, 10))
	checkResult(t, f, 10, res, true)
	if res.Undelivered != 3 || res.Stats.Calls != 1 || len(clk.sleeps) != 0 || !errors.Is(res.Err, ErrRetryBudget) {
		t.Errorf("undelivered %d calls %d sleeps %v err %v", res.Undelivered, res.Stats.Calls, clk.sleeps, res.Err)
	}
}

func TestNonRetryableErrors(t *testing.T) {
	tests := []struct {
		name string
		err  error
		code string
	}{
		{"not found", apiError("ResourceNotFoundException", smithy.FaultClient), "ResourceNotFoundException"},
		{"access denied", apiError("AccessDeniedException", smithy.FaultClient), "AccessDeniedException"},
		{"validation", apiError("ValidationException", smithy.FaultClient), "ValidationException"},
		{"kms disabled", apiError("KMSDisabledException", smithy.FaultClient), "KMSDisabledException"},
		{"credentials", &kinesisapi.CredentialsError{Err: errors.New("no EC2 IMDS role found")}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeKinesis(1)
			f.failRequest = func(int) error { return tt.err }
			s, clk := newTestSender(f, nil, Options{MaxEntries: 10})
			recs := makeRecords(t, 50, 5, 10) // 5 batches; only the first is sent
			res := s.Deliver(context.Background(), recs)
			checkResult(t, f, len(recs), res, true)
			if f.callCount() != 1 || res.Stats.Rounds != 1 || len(clk.sleeps) != 0 {
				t.Errorf("calls %d rounds %d sleeps %v; want exactly one call", f.callCount(), res.Stats.Rounds, clk.sleeps)
			}
			if res.Undelivered != 50 || res.Stats.Retried != 0 {
				t.Errorf("undelivered %d retried %d", res.Undelivered, res.Stats.Retried)
			}
			if got := kinesisapi.ErrorCode(res.Err); got != tt.code || !strings.Contains(res.Err.Error(), `"logs"`) {
				t.Errorf("Err = %v (code %q), want code %q and the stream name", res.Err, got, tt.code)
			}
			if errors.Is(res.Err, ErrRetryBudget) {
				t.Error("a permanent error reported as budget exhaustion")
			}
		})
	}
}

func TestPermanentEntryError(t *testing.T) {
	f := newFakeKinesis(1)
	f.failEntry = func(call, idx int, _, _ string) string {
		if idx == 2 {
			return "KMSAccessDeniedException"
		}
		if idx == 3 {
			return "InternalFailure"
		}
		return ""
	}
	s, clk := newTestSender(f, nil, Options{})
	res := s.Deliver(context.Background(), makeRecords(t, 8, 8, 10))
	checkResult(t, f, 8, res, true)
	if f.callCount() != 1 || res.Undelivered != 2 || res.Delivered.Count() != 6 || len(clk.sleeps) != 0 {
		t.Errorf("calls %d undelivered %d delivered %d sleeps %v", f.callCount(), res.Undelivered, res.Delivered.Count(), clk.sleeps)
	}
	if kinesisapi.ErrorCode(res.Err) != "KMSAccessDeniedException" || !strings.Contains(res.Err.Error(), "fake KMSAccessDeniedException") {
		t.Errorf("Err = %v", res.Err)
	}
}

func TestRejectedTooLarge(t *testing.T) {
	f := newFakeKinesis(2)
	topo := &fakeTopology{stream: f}
	topo.set(f.shardMap())
	s, _ := newTestSender(f, topo, Options{Aggregate: true, Limits: aggregation.Limits{MaxRecordBytes: 1000}})
	recs := makeRecords(t, 11, 11, 20)
	recs[5], _ = aggregation.NewUserRecord("big", "", []byte("id-000005|"+strings.Repeat("y", 1200)), 0)
	res := s.Deliver(context.Background(), recs)
	checkResult(t, f, len(recs), res, false)
	if len(res.Rejected) != 1 || res.Rejected[0].Index != 5 || !strings.Contains(res.Rejected[0].Reason, "limit 1000") {
		t.Fatalf("Rejected = %+v", res.Rejected)
	}
	if res.Undelivered != 0 || res.Delivered.Count() != 10 || res.Err != nil {
		t.Errorf("undelivered %d delivered %d err %v", res.Undelivered, res.Delivered.Count(), res.Err)
	}
}

func TestExplicitHashKeyRouting(t *testing.T) {
	f := newFakeKinesis(4)
	topo := &fakeTopology{stream: f}
	topo.set(f.shardMap())
	s, _ := newTestSender(f, topo, Options{Aggregate: true})
	var recs []aggregation.UserRecord
	for i := 0; i < 64; i++ {
		ehk := hashkey.Key{Hi: uint64(i) << 58}.String()
		r, err := aggregation.NewUserRecord("same-pk", ehk, []byte(fmt.Sprintf("id-%06d|", i)), 0)
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, r)
	}
	res := s.Deliver(context.Background(), recs)
	checkResult(t, f, len(recs), res, true)
	if res.Undelivered != 0 || res.Stats.Misroutes != 0 || len(f.stored) != 4 {
		t.Errorf("Stats %+v stored %d", res.Stats, len(f.stored))
	}
}

func TestContextCanceled(t *testing.T) {
	f := newFakeKinesis(1)
	s, _ := newTestSender(f, nil, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res := s.Deliver(ctx, makeRecords(t, 5, 5, 10))
	checkResult(t, f, 5, res, true)
	if f.callCount() != 0 || res.Undelivered != 5 || !errors.Is(res.Err, context.Canceled) {
		t.Errorf("calls %d undelivered %d err %v", f.callCount(), res.Undelivered, res.Err)
	}

	// Canceled while a request is in flight: outcome unknown, counted.
	f2 := newFakeKinesis(1)
	ctx2, cancel2 := context.WithCancel(context.Background())
	f2.beforeCall = func(int) { cancel2() }
	s2, _ := newTestSender(f2, nil, Options{})
	res = s2.Deliver(ctx2, makeRecords(t, 5, 5, 10))
	if res.Undelivered != 5 || res.Stats.PossibleDuplicates != 5 || !errors.Is(res.Err, context.Canceled) || res.Stats.Rounds != 1 {
		t.Errorf("in flight: %+v err %v", res.Stats, res.Err)
	}
}

func TestMalformedResponse(t *testing.T) {
	api := putFunc(func(ctx context.Context, n int) (int, error) { return n - 1, nil }) // one entry short
	s, _ := newTestSender(api, nil, Options{RetryBudget: -1})
	res := s.Deliver(context.Background(), makeRecords(t, 4, 4, 10))
	if res.Undelivered != 4 || res.Stats.PossibleDuplicates != 4 || res.Delivered.Count() != 0 {
		t.Errorf("Stats %+v undelivered %d", res.Stats, res.Undelivered)
	}
}

func TestEmptyInput(t *testing.T) {
	f := newFakeKinesis(1)
	s, _ := newTestSender(f, nil, Options{})
	res := s.Deliver(context.Background(), nil)
	if res.Undelivered != 0 || res.Err != nil || f.callCount() != 0 || res.Stats.Rounds != 0 {
		t.Errorf("%+v", res)
	}
}

func TestTopologyAppearsLater(t *testing.T) {
	f := newFakeKinesis(2)
	topo := &fakeTopology{stream: f} // no map yet
	s, _ := newTestSender(f, topo, Options{Aggregate: true})
	res := s.Deliver(context.Background(), makeRecords(t, 100, 10, 10))
	checkResult(t, f, 100, res, true)
	if f.calls[0].plain != 100 {
		t.Fatalf("without a map: %d of 100 entries plain", f.calls[0].plain)
	}
	topo.set(f.shardMap())
	res = s.Deliver(context.Background(), makeRecords(t, 100, 10, 10))
	if res.Undelivered != 0 || f.calls[1].entries != 2 || f.calls[1].plain != 0 {
		t.Fatalf("with a map: %+v", f.calls[1])
	}
}

func TestConcurrentDeliver(t *testing.T) {
	f := newFakeKinesis(4)
	topo := &fakeTopology{stream: f}
	topo.set(f.shardMap())
	f.failEntry = func(call, idx int, _, _ string) string {
		if (call+idx)%7 == 0 {
			return "ProvisionedThroughputExceededException"
		}
		return ""
	}
	s := New(f, topo, Options{StreamName: "logs", Aggregate: true, BackoffBase: time.Millisecond, BackoffMax: 2 * time.Millisecond})
	all := makeRecords(t, 4000, 500, 30)
	var wg sync.WaitGroup
	results := make([]Result, 8)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			results[g] = s.Deliver(context.Background(), all[g*500:(g+1)*500])
		}(g)
	}
	wg.Wait()
	for g, res := range results {
		if res.Undelivered != 0 || res.Delivered.Count() != 500 {
			t.Errorf("goroutine %d: undelivered %d: %v", g, res.Undelivered, res.Err)
		}
	}
	kcl := kclView(t, f, true)
	for i := range all {
		if kcl[i] != 1 {
			t.Fatalf("KCL receives id %d %d times", i, kcl[i])
		}
	}
}

// putFunc is a PutRecordsAPI that answers n entries accepted on shardId-000000000000.
type putFunc func(ctx context.Context, entries int) (int, error)

func (p putFunc) PutRecords(ctx context.Context, in *kinesis.PutRecordsInput, _ ...func(*kinesis.Options)) (*kinesis.PutRecordsOutput, error) {
	n, err := p(ctx, len(in.Records))
	if err != nil {
		return nil, err
	}
	out := &kinesis.PutRecordsOutput{}
	for i := 0; i < n; i++ {
		out.Records = append(out.Records, types.PutRecordsResultEntry{ShardId: aws.String("shardId-000000000000"), SequenceNumber: aws.String("1")})
	}
	return out, nil
}

func equalStats(a, b Stats) bool {
	if fmt.Sprint(sortedKeys(a.ErrorsByCode)) != fmt.Sprint(sortedKeys(b.ErrorsByCode)) {
		return false
	}
	for k, v := range a.ErrorsByCode {
		if b.ErrorsByCode[k] != v {
			return false
		}
	}
	a.ErrorsByCode, b.ErrorsByCode = nil, nil
	return reflect.DeepEqual(a, b)
}
