// Package delivery puts user records into Kinesis and says exactly which of them a KCL consumer
// will receive. Each round routes the pending records through an aggregation.Manager with the
// current shard map, sends the sealed Kinesis records in PutRecords batches, and checks every
// accepted entry against the shard it was built for: an aggregate that lands on a shard whose
// range does not cover all its members is dropped whole by KCL, so all its members are routed
// again. Failed entries and failed requests are routed again after a backoff with full jitter,
// within a retry budget; errors that retrying cannot fix end the flush at once.
//
// A record counts as delivered only when the Kinesis record carrying it was accepted by a shard
// whose range contains every member's hash key (plain records: by any shard).
package delivery

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/kinesis-agg/kinesis_agg/aggregation"
	"github.com/kinesis-agg/kinesis_agg/internal/freelist"
	"github.com/kinesis-agg/kinesis_agg/kinesisapi"
	"github.com/kinesis-agg/kinesis_agg/ledger"
	"github.com/kinesis-agg/kinesis_agg/topology"
)

// Defaults for zero Options fields.
const (
	DefaultRequestMaxBytes = 5 << 20
	DefaultMaxEntries      = 500 // the PutRecords maximum
	DefaultRetryBudget     = 10 * time.Second
	DefaultBackoffBase     = 100 * time.Millisecond
	DefaultBackoffMax      = 5 * time.Second
	// maxMisrouteRounds bounds consecutive rounds re-routed only because of wrong-shard answers;
	// after that the sender stops aggregating for the rest of the call.
	maxMisrouteRounds = 3
)

// Log levels passed to Options.Logf (Fluent Bit's numbering).
const (
	LevelError = 1
	LevelWarn  = 2
	LevelInfo  = 3
	LevelDebug = 4
)

// ErrRetryBudget is wrapped by Result.Err when records are still undelivered because the retry
// budget ran out.
var ErrRetryBudget = errors.New("retry budget exhausted")

// PutRecordsAPI is the part of *kinesis.Client that a Sender needs.
type PutRecordsAPI interface {
	PutRecords(ctx context.Context, in *kinesis.PutRecordsInput, optFns ...func(*kinesis.Options)) (*kinesis.PutRecordsOutput, error)
}

// PutRecordsPreparer is a PutRecordsAPI that can build and sign a request ahead of sending
// it (*kinesisapi.PutRecordsClient). A Sender given one builds each batch's request while
// the previous batch's answer is on its way; batches are still sent one after another.
type PutRecordsPreparer interface {
	PutRecordsAPI
	PreparePutRecords(ctx context.Context, in *kinesis.PutRecordsInput) kinesisapi.PreparedPut
}

// Topology supplies shard maps; *topology.Tracker satisfies it.
type Topology interface {
	// Current returns the latest shard map, nil when none is usable.
	Current() *topology.ShardMap
	// Invalidate reloads the map because Kinesis put a record on a shard that seen did not
	// predict, returning the newest map (and the error, if the reload failed).
	Invalidate(ctx context.Context, seen *topology.ShardMap) (*topology.ShardMap, error)
	// Routed counts routed records (the tracker refreshes every N of them).
	Routed(n int)
}

// Options configure a Sender. Zero fields take the defaults above.
type Options struct {
	// StreamName names the stream; StreamARN, when set, is sent instead.
	StreamName, StreamARN string
	// Aggregate packs records into KPL aggregates per shard; false sends every record plain.
	Aggregate bool
	// Limits bound the records the aggregation.Manager seals.
	Limits aggregation.Limits
	// RequestMaxBytes bounds one PutRecords request: the sum of len(Data)+len(PartitionKey).
	RequestMaxBytes int
	// MaxEntries bounds the entries of one PutRecords request (at most 500).
	MaxEntries int
	// RetryBudget bounds the time one Deliver call spends retrying, measured from its start.
	// 0 means DefaultRetryBudget; a negative budget sends each record once and never retries.
	RetryBudget time.Duration
	// BackoffBase and BackoffMax bound the exponential backoff between rounds that had failures.
	BackoffBase, BackoffMax time.Duration
	// Logf receives diagnostics at a Level* level; nil discards them.
	Logf func(level int, format string, args ...any)
	// Rand returns a uniform number in [0,1) for backoff jitter; nil uses math/rand/v2.
	Rand func() float64
	// Limiter paces Kinesis records per shard; nil sends without pacing. Share one Limiter between
	// all Senders of a stream.
	Limiter *Limiter
	// Shards, when set, is told what each shard accepted and throttled (per-shard metrics).
	Shards ShardObserver
}

// ShardObserver receives per-shard outcomes; *metrics.ShardCounters implements it.
type ShardObserver interface {
	Accepted(shard string, records, bytes int64)
	Throttled(shard string, n int64)
}

// Sender delivers user records to one stream. It is safe for concurrent Deliver calls.
type Sender struct {
	api  PutRecordsAPI
	topo Topology
	o    Options

	pool *freelist.List[work]

	// now and sleep are replaced by tests.
	now   func() time.Time
	sleep func(ctx context.Context, d time.Duration) bool
}

// maxIdleWork bounds the idle scratch states kept: one per concurrent Deliver is what a Sender
// builds, and Fluent Bit runs a few workers per output.
const maxIdleWork = 16

// work is the per-call scratch state, kept across calls (aggregators and their buffers).
type work struct {
	m *aggregation.Manager
	// Two requests' entries: the batch in flight and the next, prepared meanwhile.
	entries [2][]types.PutRecordsRequestEntry
	inputs  [2]kinesis.PutRecordsInput
	ready   []aggregation.Sealed // the round's records the limiter let through
	pending []int
	next    []int
}

// New returns a Sender that puts records with api, routing them with topo (nil: never aggregate).
func New(api PutRecordsAPI, topo Topology, o Options) *Sender {
	if o.RequestMaxBytes <= 0 {
		o.RequestMaxBytes = DefaultRequestMaxBytes
	}
	if o.MaxEntries <= 0 || o.MaxEntries > DefaultMaxEntries {
		o.MaxEntries = DefaultMaxEntries
	}
	if o.RetryBudget == 0 {
		o.RetryBudget = DefaultRetryBudget
	}
	if o.BackoffBase <= 0 {
		o.BackoffBase = DefaultBackoffBase
	}
	if o.BackoffMax <= 0 {
		o.BackoffMax = DefaultBackoffMax
	}
	if o.BackoffMax < o.BackoffBase {
		o.BackoffMax = o.BackoffBase
	}
	if o.Logf == nil {
		o.Logf = func(int, string, ...any) {}
	}
	if o.Rand == nil {
		o.Rand = rand.Float64
	}
	if topo == nil {
		o.Aggregate = false
	}
	s := &Sender{api: api, topo: topo, o: o, now: time.Now, sleep: sleepCtx}
	limits := o.Limits
	var steering aggregation.Steering = evenSpread{}
	if o.Limiter != nil {
		steering = o.Limiter
	}
	s.pool = freelist.New(maxIdleWork, func() *work {
		m := aggregation.NewManager(limits)
		m.SetSteering(steering)
		return &work{m: m}
	})
	return s
}

// Rejection is a record that can never be delivered (e.g. larger than the stream's record limit).
type Rejection struct {
	Index  int // position in the records given to Deliver
	Reason string
}

// Stats count what one Deliver call did.
type Stats struct {
	Calls         int // PutRecords requests sent
	EntriesSent   int // Kinesis records in those requests
	BytesSent     int // their data and partition keys, as Kinesis counts them
	EntriesFailed int // entries answered with an ErrorCode
	Throttles     int // throttled entries and requests
	// Misroutes counts accepted entries that landed on another shard than the one they were
	// built for (plain records included; they still count as delivered).
	Misroutes int
	// Rerouted counts user records sent again because their aggregate landed on a shard that
	// does not cover all its members.
	Rerouted int
	// Retried counts user records queued for another round after a failed entry or request
	// (whether or not the budget then allowed that round).
	Retried int
	// Paced counts user records held back a round because their shard's rate was used up.
	Paced  int
	Rounds int
	// PossibleDuplicates counts user records that a non-filtering consumer may receive twice:
	// members of re-routed aggregates (the misrouted copy is stored) and records of requests
	// whose outcome is unknown (5xx, timeout, dropped connection).
	PossibleDuplicates int
	// ErrorsByCode counts failed entries and requests by AWS error code, or by
	// kinesisapi.Kind name ("unknown-outcome", "transient", ...) for errors without one.
	// nil when nothing failed, so that a clean call allocates no map.
	ErrorsByCode map[string]int
}

func (st *Stats) addError(code string) {
	if st.ErrorsByCode == nil {
		st.ErrorsByCode = make(map[string]int, 2)
	}
	st.ErrorsByCode[code]++
}

// Add accumulates o into st.
func (st *Stats) Add(o Stats) {
	st.Calls += o.Calls
	st.EntriesSent += o.EntriesSent
	st.BytesSent += o.BytesSent
	st.EntriesFailed += o.EntriesFailed
	st.Throttles += o.Throttles
	st.Misroutes += o.Misroutes
	st.Rerouted += o.Rerouted
	st.Retried += o.Retried
	st.Paced += o.Paced
	st.Paced += o.Paced
	st.Rounds += o.Rounds
	st.PossibleDuplicates += o.PossibleDuplicates
	for k, v := range o.ErrorsByCode {
		if st.ErrorsByCode == nil {
			st.ErrorsByCode = make(map[string]int, len(o.ErrorsByCode))
		}
		st.ErrorsByCode[k] += v
	}
}

// Result says what happened to each record given to Deliver: every index is exactly one of
// delivered, rejected or undelivered.
type Result struct {
	// Delivered holds the positions of the delivered records.
	Delivered ledger.Set
	// Rejected lists records that can never be delivered, in position order.
	Rejected []Rejection
	// Undelivered counts records neither delivered nor rejected; the caller should retry them
	// later (FLB_RETRY).
	Undelivered int
	Stats       Stats
	// Err explains why records are undelivered: a permanent AWS error (with its code, see
	// kinesisapi.ErrorCode), the context's error, or ErrRetryBudget wrapping the last failure.
	// nil when Undelivered is 0.
	Err error
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
