// Package output is one kinesis_agg output instance: it turns Fluent Bit chunks into delivered
// user records (events -> delivery with shard verification -> ledger) and answers each flush with
// a Status. It knows nothing of cgo; out_kinesis_agg.go only translates between Fluent Bit and an
// Instance.
package output

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/kinesis-agg/kinesis_agg/aggregation"
	"github.com/kinesis-agg/kinesis_agg/conf"
	"github.com/kinesis-agg/kinesis_agg/deadletter"
	"github.com/kinesis-agg/kinesis_agg/delivery"
	"github.com/kinesis-agg/kinesis_agg/events"
	"github.com/kinesis-agg/kinesis_agg/internal/freelist"
	"github.com/kinesis-agg/kinesis_agg/kinesisapi"
	"github.com/kinesis-agg/kinesis_agg/ledger"
	"github.com/kinesis-agg/kinesis_agg/metrics"
	"github.com/kinesis-agg/kinesis_agg/topology"
)

// Status is a flush's answer, with Fluent Bit's values.
type Status int

// Fluent Bit's return codes (flb_macros.h).
const (
	Error Status = 0 // drop the chunk: it cannot be delivered by retrying
	OK    Status = 1 // every event delivered or permanently rejected (logged and counted)
	Retry Status = 2 // deliver the identical chunk again later
)

func (s Status) String() string {
	switch s {
	case OK:
		return "OK"
	case Retry:
		return "RETRY"
	case Error:
		return "ERROR"
	}
	return fmt.Sprintf("Status(%d)", int(s))
}

// describeTimeout bounds the DescribeStreamSummary call at start-up.
const describeTimeout = 10 * time.Second

// maxIdleFlushState bounds the converted-record batches kept between flushes: one per
// concurrent flush is what an instance builds.
const maxIdleFlushState = 16

// Instance is one [OUTPUT] section. Flush is safe for concurrent use (Fluent Bit `Workers N`).
type Instance struct {
	name    string
	cfg     *conf.Config
	log     *Logger
	conv    *events.Converter
	tracker *topology.Tracker
	limiter *delivery.Limiter // nil when shard_rate_limit is 0
	shards  *metrics.ShardCounters

	dead        *deadletter.Writer // nil without dead_letter_path
	metrics     *metrics.Server    // nil without metrics_listen
	unregister  func()
	summaryDone chan struct{} // closed when the summary goroutine ends; nil when there is none
	sender      *delivery.Sender
	ledger      *ledger.Ledger
	client      *kinesis.Client
	batches     *freelist.List[events.Batch]

	maxRecordBytes int

	ctx    context.Context // cancelled by Close: in-flight flushes stop retrying
	cancel context.CancelFunc
	// running is read-held by every flush; Close write-locks it to wait for them.
	running sync.RWMutex
	closed  sync.Once

	// Counters are the instance's running totals.
	Counters Counters
}

// Options are the parts of an Instance that tests and tools replace.
type Options struct {
	// Client overrides the Kinesis client built from the configuration.
	Client *kinesis.Client
	// Logger overrides the stderr logger.
	Logger *Logger
}

// New builds an instance named name (unique per process, e.g. "kinesis_agg.0") from a validated
// configuration. It contacts Kinesis once (DescribeStreamSummary, unless max_record_bytes is
// set) but never fails because Kinesis is unreachable: the shard map loads in the background and
// records go out un-aggregated until it does.
func New(name string, cfg *conf.Config, o Options) (*Instance, error) {
	lg := o.Logger
	if lg == nil {
		lg = NewLogger(name, cfg.LogLevel, nil)
	}
	in := &Instance{name: name, cfg: cfg, log: lg}
	in.ctx, in.cancel = context.WithCancel(context.Background())

	client := o.Client
	if client == nil {
		var err error
		client, err = kinesisapi.NewClient(in.ctx, kinesisapi.Config{
			Region:      cfg.Region,
			Endpoint:    cfg.Endpoint,
			STSEndpoint: cfg.STSEndpoint,
			RoleARN:     cfg.RoleARN,
			ExternalID:  cfg.ExternalID,
			Profile:     cfg.Profile,
			HTTPTimeout: cfg.HTTPRequestTimeout,
		})
		if err != nil {
			in.cancel()
			return nil, fmt.Errorf("output: building the Kinesis client: %w", err)
		}
	}

	in.client = client
	in.maxRecordBytes = cfg.MaxRecordBytes
	if in.maxRecordBytes == 0 {
		in.maxRecordBytes = in.streamRecordLimit(client)
	}

	conv, err := events.NewConverter(ConverterOptions(cfg, in.maxRecordBytes))
	if err != nil {
		in.cancel()
		return nil, fmt.Errorf("output: %w", err)
	}
	in.conv = conv
	in.batches = freelist.New(maxIdleFlushState, func() *events.Batch { return new(events.Batch) })

	// The shard map is loaded even without aggregation: it predicts each record's shard for
	// per-shard pacing.
	in.tracker = topology.NewTracker(&kinesisapi.ShardLister{API: client, StreamName: cfg.StreamName, StreamARN: cfg.StreamARN},
		topology.TrackerOptions{
			RefreshRecords:  cfg.ShardRefreshRecords,
			RefreshInterval: cfg.ShardRefreshInterval,
			MinSpacing:      cfg.ShardRefreshMinSpacing,
			Logf:            func(format string, args ...any) { lg.Infof(format, args...) },
		})
	in.limiter = delivery.NewLimiter(cfg.ShardRateLimit, in.maxRecordBytes)
	in.shards = &metrics.ShardCounters{}
	// PutRecords, the one call per flush, bypasses the SDK's operation stack unless configured
	// otherwise (see kinesisapi.PutRecordsClient); every other call goes through the SDK client.
	var put delivery.PutRecordsAPI = kinesisapi.NewPutRecordsClient(client)
	if cfg.PutRecordsClient == conf.PutRecordsSDK {
		put = client
	}
	in.sender = delivery.New(put, in.tracker, delivery.Options{
		StreamName: cfg.StreamName,
		StreamARN:  cfg.StreamARN,
		Aggregate:  cfg.Aggregation,
		Limits: aggregation.Limits{
			MaxRecordBytes:      in.maxRecordBytes,
			MaxAggregateBytes:   cfg.AggregationMaxBytes,
			MaxAggregateRecords: cfg.AggregationMaxRecords,
		},
		RequestMaxBytes: cfg.RequestMaxBytes,
		RetryBudget:     cfg.RetryBudget,
		Limiter:         in.limiter,
		Shards:          in.shards,
		Logf: func(level int, format string, args ...any) {
			lg.Logf(deliveryLevel(level), format, args...)
		},
	})
	in.ledger = ledger.New(cfg.RetryLedgerMaxChunks, cfg.RetryLedgerMaxAge)

	if cfg.DeadLetterPath != "" {
		var err error
		if in.dead, err = deadletter.Open(cfg.DeadLetterPath, cfg.DeadLetterMaxBytes, cfg.DeadLetterKeep); err != nil {
			in.tracker.Close()
			in.cancel()
			return nil, fmt.Errorf("output: dead_letter_path: %w", err)
		}
	}
	if cfg.MetricsListen != "" {
		// A metrics port in use must not stop delivery: log it and carry on.
		if srv, err := metrics.Serve(cfg.MetricsListen); err != nil {
			lg.Errorf("metrics: %v; continuing without the metrics endpoint", err)
		} else if in.unregister, err = srv.Register(name, in); err != nil {
			srv.Release()
			lg.Errorf("metrics: %v; continuing without the metrics endpoint", err)
		} else {
			in.metrics = srv
			lg.Infof("metrics at %s", srv.URL())
		}
	}
	if cfg.MetricsSummaryInterval > 0 {
		in.summaryDone = make(chan struct{})
		go in.summaries(cfg.MetricsSummaryInterval)
	}
	for _, w := range cfg.Warnings {
		lg.Warnf("%s", w)
	}
	lg.Infof("configuration: %s; record limit %d bytes", formatSettings(cfg.Effective()), in.maxRecordBytes)
	return in, nil
}

// ConverterOptions are the events options an instance with cfg uses for a stream whose record
// limit is maxRecordBytes.
func ConverterOptions(cfg *conf.Config, maxRecordBytes int) events.Options {
	return events.Options{
		PartitionKey:    cfg.PartitionKey,
		ExplicitHashKey: cfg.ExplicitHashKey,
		LogKey:          cfg.LogKey,
		DataKeys:        cfg.DataKeys,
		TimeKey:         cfg.TimeKey,
		TimeFormat:      cfg.TimeFormat,
		AppendNewline:   cfg.AppendNewline,
		ReplaceDots:     cfg.ReplaceDots,
		Compression:     cfg.Compression,
		MaxRecordBytes:  maxRecordBytes,
		SteerRandomKeys: true, // delivery's Manager steers records without shard affinity
	}
}

func deliveryLevel(l int) conf.LogLevel {
	switch l {
	case delivery.LevelError:
		return conf.LogError
	case delivery.LevelWarn:
		return conf.LogWarn
	case delivery.LevelInfo:
		return conf.LogInfo
	}
	return conf.LogDebug
}

func formatSettings(s []conf.Setting) string {
	var b strings.Builder
	for i, kv := range s {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(kv.Key)
		b.WriteByte('=')
		b.WriteString(kv.Value)
	}
	return b.String()
}

// writeDeadLetters appends permanently rejected records to dead_letter_path. A failed write is
// logged and counted; it does not hold up delivery.
func (in *Instance) writeDeadLetters(tag string, entries []deadletter.Entry) {
	if len(entries) == 0 {
		return
	}
	if err := in.dead.Write(entries); err != nil {
		in.Counters.DeadLetterErrs.Add(1)
		in.log.Errorf("tag %s: writing %d rejected records to %s: %v", tag, len(entries), in.cfg.DeadLetterPath, err)
		return
	}
	in.Counters.DeadLettered.Add(int64(len(entries)))
}

// streamRecordLimit asks the stream for its record limit (streams can be raised to 10 MiB).
func (in *Instance) streamRecordLimit(client *kinesis.Client) int {
	ctx, cancel := context.WithTimeout(in.ctx, describeTimeout)
	defer cancel()
	n, err := kinesisapi.MaxRecordBytes(ctx, client, in.cfg.StreamName, in.cfg.StreamARN)
	switch {
	case err != nil:
		in.log.Warnf("DescribeStreamSummary failed, assuming a record limit of %d bytes (set max_record_bytes to choose): %v",
			conf.FallbackMaxRecordBytes, err)
		return conf.FallbackMaxRecordBytes
	case n <= 0:
		return conf.FallbackMaxRecordBytes
	}
	return n
}

// Name returns the instance's name.
func (in *Instance) Name() string { return in.name }

// Flush delivers one chunk. The chunk is only read during the call.
func (in *Instance) Flush(chunk []byte, tag string) Status {
	in.running.RLock()
	defer in.running.RUnlock()
	if in.ctx.Err() != nil {
		return Retry // shutting down: Fluent Bit keeps the chunk
	}
	in.Counters.Flushes.Add(1)
	st := in.flush(chunk, tag)
	switch st {
	case OK:
		in.Counters.FlushOK.Add(1)
	case Retry:
		in.Counters.FlushRetry.Add(1)
	default:
		in.Counters.FlushError.Add(1)
	}
	return st
}

func (in *Instance) flush(chunk []byte, tag string) Status {
	b := in.batches.Get()
	defer func() {
		b.Reset()
		in.batches.Put(b)
	}()
	in.conv.Convert(chunk, tag, b)

	// A chunk Fluent Bit re-delivers after FLB_RETRY is byte-identical: the ledger says which of
	// its events were done (delivered or rejected for good) and only the rest is sent. Hashing
	// costs ~1 ms per 2 MB, so only when the ledger holds anything at all.
	var (
		key     ledger.Key
		haveKey bool
		done    ledger.Set
		again   bool
	)
	if in.ledger.Len() > 0 {
		key, haveKey = ledger.ChunkKey(in.name, tag, chunk), true
		done, again = in.ledger.Lookup(key)
	}
	if !again {
		in.Counters.Events.Add(int64(b.Events - b.Markers))
		if b.RandomKeys > 0 && in.cfg.PartitionKey != nil {
			in.Counters.RandomKeys.Add(int64(b.RandomKeys))
			in.log.Debugf("tag %s: %d records without a usable %s field got a random partition key",
				tag, b.RandomKeys, in.cfg.PartitionKeyRaw)
		}
		if b.BadHashKeys > 0 {
			in.Counters.BadHashKeys.Add(int64(b.BadHashKeys))
			in.log.Warnf("tag %s: %d records carry an invalid %s value; they are routed by their partition key",
				tag, b.BadHashKeys, in.cfg.ExplicitHashKeyRaw)
		}
	}
	var dead []deadletter.Entry
	rejected := b.Rejected[:0:0]
	for _, r := range b.Rejected {
		if done.Has(r.Ref) {
			continue // logged and dead-lettered on the first delivery
		}
		rejected = append(rejected, r)
		in.log.Errorf("tag %s: event %d rejected: %s", tag, r.Ref, r.Reason)
		in.Counters.reject(r.Reason)
		if in.dead != nil {
			dead = append(dead, deadletter.Entry{Time: time.Now(), Tag: tag, Reason: r.Reason, Size: r.Size,
				Record: chunk[r.Start:r.End]})
		}
	}
	records := b.Records
	if again {
		kept := records[:0]
		for _, r := range records {
			if !done.Has(r.Ref) {
				kept = append(kept, r)
			}
		}
		in.Counters.LedgerSkipped.Add(int64(len(records) - len(kept)))
		in.log.Infof("tag %s: re-delivered chunk: %d records were delivered before, sending %d",
			tag, len(records)-len(kept), len(kept))
		records = kept
	}

	res := in.sender.Deliver(in.ctx, records)
	in.Counters.addDelivery(res.Stats)
	in.Counters.Delivered.Add(int64(res.Delivered.Count()))
	for _, r := range res.Rejected {
		in.log.Errorf("tag %s: event %d rejected: %s", tag, records[r.Index].Ref, r.Reason)
		in.Counters.reject(r.Reason)
		if in.dead != nil {
			dead = append(dead, deadletter.Entry{Time: time.Now(), Tag: tag, Reason: r.Reason,
				Size: len(records[r.Index].Data), Record: records[r.Index].Data})
		}
	}
	in.writeDeadLetters(tag, dead)

	if res.Undelivered > 0 {
		in.Counters.Undelivered.Add(int64(res.Undelivered))
		next := done.Clone()
		for i, r := range records {
			if res.Delivered.Has(i) {
				next.Add(r.Ref)
			}
		}
		for _, r := range res.Rejected {
			next.Add(records[r.Index].Ref)
		}
		for _, r := range rejected {
			next.Add(r.Ref)
		}
		if !haveKey {
			key = ledger.ChunkKey(in.name, tag, chunk)
		}
		in.ledger.Remember(key, next)
		in.log.Warnf("tag %s: %d of %d records undelivered, Fluent Bit will retry the chunk (%d done so far): %v",
			tag, res.Undelivered, len(b.Records), next.Count(), res.Err)
		return Retry
	}
	if again {
		in.ledger.Forget(key)
	}
	if b.Malformed != nil {
		in.Counters.Malformed.Add(1)
		in.log.Errorf("tag %s: %v; the %d events before it were delivered, the rest of the chunk is dropped",
			tag, b.Malformed, b.Malformed.Event)
		return Error
	}
	return OK
}

// Close stops retries in flight (their chunks are answered FLB_RETRY), waits for them to return,
// and stops the shard tracker. It is safe to call more than once.
func (in *Instance) Close() {
	in.closed.Do(func() {
		in.cancel()
		in.running.Lock() // waits for flushes in flight, which stop retrying once cancelled
		in.running.Unlock()
		in.tracker.Close()
		if in.summaryDone != nil {
			<-in.summaryDone
		}
		if in.metrics != nil {
			in.unregister()
			in.metrics.Release()
		}
		if in.dead != nil {
			if err := in.dead.Close(); err != nil {
				in.log.Errorf("closing %s: %v", in.cfg.DeadLetterPath, err)
			}
		}
		// Keep-alive connections each hold two goroutines; nothing may outlive the instance.
		if hc, ok := in.client.Options().HTTPClient.(interface{ CloseIdleConnections() }); ok {
			hc.CloseIdleConnections()
		}
		in.log.Infof("stopped: %s", in.Counters.Summary()) // ParseSummary reads this line
	})
}
