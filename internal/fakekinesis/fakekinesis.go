// Package fakekinesis is a fast in-process Kinesis Data Streams endpoint for tests and
// benchmarks: one stream with a static topology of evenly split shards, speaking the JSON 1.1
// protocol the AWS SDK uses. It answers PutRecords (every entry accepted, on the shard its
// explicit hash key or the MD5 of its partition key falls in), ListShards and
// DescribeStreamSummary, and counts what it received.
//
// It stores nothing and never base64-decodes record data (only the first bytes, to tell KPL
// aggregates from plain records), so its cost per record stays far below the plugin's: it exists
// to measure the plugin, not Kinesis. Use kinesalite (internal/kinesalite) when records must be
// read back.
//
// Serve it with httptest.NewServer(f) from a test, or with Listen on a loopback address for a
// subprocess (the C host running the built plugin).
package fakekinesis

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kinesis-agg/kinesis_agg/hashkey"
	"github.com/kinesis-agg/kinesis_agg/topology"
)

// Defaults for zero Options fields.
const (
	DefaultShards           = 4
	DefaultMaxRecordSizeKiB = 1024
	DefaultRequestMaxBytes  = 5 << 20 // sum of data and partition keys in one PutRecords
	// MaxEntries is the PutRecords limit on entries per request.
	MaxEntries = 500
	// maxBodyBytes bounds a request body: base64 of the largest request plus JSON framing.
	maxBodyBytes = 64 << 20
	// Account is the account id in the ARNs the fake reports.
	Account = "000000000000"
	// Region is the region in the ARNs the fake reports.
	Region = "us-east-1"
)

// Options configure a Fake. The zero value is a 4-shard stream that accepts any stream name.
type Options struct {
	// Shards is the number of open shards, splitting the hash key space evenly as CreateStream
	// does (0 = DefaultShards).
	Shards int
	// StreamName, when set, is the only stream that exists: requests naming another get
	// ResourceNotFoundException. "" accepts any name and reports "fake" where a name is needed.
	StreamName string
	// MaxRecordSizeKiB is the stream's record limit (data plus partition key) reported by
	// DescribeStreamSummary and enforced on PutRecords (0 = DefaultMaxRecordSizeKiB).
	MaxRecordSizeKiB int
	// StrictData makes PutRecords check that Data is valid padded base64 and free of control
	// characters. Off by default: the check costs a pass over every byte sent, and the SDK
	// never sends anything else.
	StrictData bool
}

// Shard is one shard of the static topology.
type Shard struct {
	ID    string
	Range hashkey.Range
}

// Fake is the endpoint, an http.Handler safe for concurrent use.
type Fake struct {
	o      Options
	stream string // reported name
	shards []Shard
	sm     *topology.ShardMap
	// shardJSON[i] closes a PutRecords result entry for shard i: `","ShardId":"shardId-..."}`.
	shardJSON [][]byte
	created   time.Time

	seq   atomic.Uint64
	stats counters
	pool  sync.Pool // of *putState
}

// New returns a Fake for o.
func New(o Options) (*Fake, error) {
	if o.Shards < 0 || o.Shards > 100000 {
		return nil, fmt.Errorf("fakekinesis: shards %d: want 1..100000", o.Shards)
	}
	if o.MaxRecordSizeKiB < 0 {
		return nil, fmt.Errorf("fakekinesis: max record size %d KiB is negative", o.MaxRecordSizeKiB)
	}
	if o.Shards == 0 {
		o.Shards = DefaultShards
	}
	if o.MaxRecordSizeKiB == 0 {
		o.MaxRecordSizeKiB = DefaultMaxRecordSizeKiB
	}
	f := &Fake{o: o, stream: o.StreamName, shards: EvenShards(o.Shards), created: time.Now()}
	if f.stream == "" {
		f.stream = "fake"
	}
	open := make([]topology.Shard, len(f.shards))
	for i, s := range f.shards {
		open[i] = topology.Shard{ID: s.ID, Range: s.Range}
		f.shardJSON = append(f.shardJSON, []byte(`","ShardId":"`+s.ID+`"}`))
	}
	sm, err := topology.New(open)
	if err != nil {
		return nil, fmt.Errorf("fakekinesis: %d even shards: %w", o.Shards, err)
	}
	f.sm = sm
	f.stats.shardEntries = make([]atomic.Int64, len(f.shards))
	f.pool.New = func() any { return new(putState) }
	return f, nil
}

// ShardID formats shard number i as Kinesis does.
func ShardID(i int) string { return fmt.Sprintf("shardId-%012d", i) }

// EvenShards splits 0..2^128-1 into n contiguous ranges as CreateStream does: shard i starts at
// floor(i * 2^128 / n).
func EvenShards(n int) []Shard {
	space := new(big.Int).Lsh(big.NewInt(1), 128)
	starts := make([]hashkey.Key, n)
	for i := range n {
		v := new(big.Int).Mul(space, big.NewInt(int64(i)))
		v.Div(v, big.NewInt(int64(n)))
		starts[i] = keyOf(v)
	}
	out := make([]Shard, n)
	for i := range n {
		end := hashkey.Max
		if i+1 < n {
			end, _ = starts[i+1].Sub1()
		}
		out[i] = Shard{ID: ShardID(i), Range: hashkey.Range{Start: starts[i], End: end}}
	}
	return out
}

func keyOf(v *big.Int) hashkey.Key {
	var b [16]byte
	v.FillBytes(b[:])
	return hashkey.FromBytes(b)
}

// Shards returns the stream's shards in hash key order. The slice must not be modified.
func (f *Fake) Shards() []Shard { return f.shards }

// ShardMap returns the topology as the plugin's router sees it.
func (f *Fake) ShardMap() *topology.ShardMap { return f.sm }

// StreamName returns the name the fake reports for its stream.
func (f *Fake) StreamName() string { return f.stream }

// StreamARN returns the ARN the fake reports for its stream.
func (f *Fake) StreamARN() string {
	return "arn:aws:kinesis:" + Region + ":" + Account + ":stream/" + f.stream
}

// MaxRecordBytes returns the record limit in bytes.
func (f *Fake) MaxRecordBytes() int { return f.o.MaxRecordSizeKiB << 10 }

// counters are the running totals behind Stats.
type counters struct {
	requests, putCalls, listCalls, describeCalls, errors atomic.Int64
	entries, aggregated, dataBytes, keyBytes             atomic.Int64
	maxEntryBytes, busyNanos                             atomic.Int64
	shardEntries                                         []atomic.Int64
}

// Stats are the totals since New or the last ResetStats.
type Stats struct {
	Requests          int64   // HTTP requests of any kind
	PutRecordsCalls   int64   // PutRecords requests answered 200
	ListShardsCalls   int64   // ListShards requests answered 200
	DescribeCalls     int64   // DescribeStreamSummary requests answered 200
	Errors            int64   // requests answered with an error
	Entries           int64   // PutRecords entries accepted
	AggregatedEntries int64   // of which KPL aggregates (data starts with the KPL magic)
	DataBytes         int64   // decoded data bytes of the accepted entries
	KeyBytes          int64   // partition key bytes (UTF-8) of the accepted entries
	MaxEntryBytes     int64   // largest data + partition key of one entry
	ShardEntries      []int64 // accepted entries per shard, in Shards order
	// BusyNanos is the wall time spent in ServeHTTP, body reading and answer writing included:
	// what an in-process fake adds to the flushes waiting for it.
	BusyNanos int64
}

// EntryBytes returns the data plus partition key bytes accepted: what Kinesis meters.
func (s Stats) EntryBytes() int64 { return s.DataBytes + s.KeyBytes }

// AvgEntryBytes returns the mean size of an accepted entry (0 when there was none).
func (s Stats) AvgEntryBytes() float64 {
	if s.Entries == 0 {
		return 0
	}
	return float64(s.EntryBytes()) / float64(s.Entries)
}

// Stats returns the running totals. Counters are read one by one: totals taken while requests
// are in flight may disagree with each other by those requests.
func (f *Fake) Stats() Stats {
	c := &f.stats
	s := Stats{
		Requests: c.requests.Load(), PutRecordsCalls: c.putCalls.Load(), ListShardsCalls: c.listCalls.Load(),
		DescribeCalls: c.describeCalls.Load(), Errors: c.errors.Load(), Entries: c.entries.Load(),
		AggregatedEntries: c.aggregated.Load(), DataBytes: c.dataBytes.Load(), KeyBytes: c.keyBytes.Load(),
		MaxEntryBytes: c.maxEntryBytes.Load(), ShardEntries: make([]int64, len(c.shardEntries)),
		BusyNanos: c.busyNanos.Load(),
	}
	for i := range c.shardEntries {
		s.ShardEntries[i] = c.shardEntries[i].Load()
	}
	return s
}

// ResetStats zeroes the totals.
func (f *Fake) ResetStats() {
	c := &f.stats
	for _, v := range []*atomic.Int64{&c.requests, &c.putCalls, &c.listCalls, &c.describeCalls, &c.errors,
		&c.entries, &c.aggregated, &c.dataBytes, &c.keyBytes, &c.maxEntryBytes, &c.busyNanos} {
		v.Store(0)
	}
	for i := range c.shardEntries {
		c.shardEntries[i].Store(0)
	}
}

// The JSON 1.1 operations the fake answers, as X-Amz-Target values.
const (
	targetPrefix   = "Kinesis_20131202."
	targetPut      = targetPrefix + "PutRecords"
	targetList     = targetPrefix + "ListShards"
	targetDescribe = targetPrefix + "DescribeStreamSummary"
	contentType    = "application/x-amz-json-1.1"
)

// apiError is an error answer: an HTTP status and an AWS error code.
type apiError struct {
	status int
	code   string
	msg    string
}

func (e *apiError) Error() string { return e.code + ": " + e.msg }

func validation(format string, args ...any) *apiError {
	return &apiError{status: http.StatusBadRequest, code: "ValidationException", msg: fmt.Sprintf(format, args...)}
}

func serialization(err error) *apiError {
	return &apiError{status: http.StatusBadRequest, code: "SerializationException", msg: err.Error()}
}

// ServeHTTP answers one Kinesis API request.
func (f *Fake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	f.stats.requests.Add(1)
	st := f.pool.Get().(*putState)
	defer func() {
		f.release(st)
		f.stats.busyNanos.Add(int64(time.Since(start)))
	}()

	var err error
	switch {
	case r.Method != http.MethodPost:
		err = &apiError{status: http.StatusMethodNotAllowed, code: "UnknownOperationException", msg: "method " + r.Method}
	default:
		err = st.readBody(r.Body, r.ContentLength)
	}
	if err == nil {
		switch target := r.Header.Get("X-Amz-Target"); target {
		case targetPut:
			if err = f.putRecords(st); err == nil {
				f.stats.putCalls.Add(1)
			}
		case targetList:
			if err = f.listShards(st); err == nil {
				f.stats.listCalls.Add(1)
			}
		case targetDescribe:
			if err = f.describe(st); err == nil {
				f.stats.describeCalls.Add(1)
			}
		default:
			err = &apiError{status: http.StatusBadRequest, code: "UnknownOperationException",
				msg: fmt.Sprintf("operation %q is not supported by fakekinesis", target)}
		}
	}
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("X-Amzn-Requestid", "fakekinesis")
	if err != nil {
		f.stats.errors.Add(1)
		var ae *apiError
		if !errors.As(err, &ae) {
			ae = &apiError{status: http.StatusInternalServerError, code: "InternalFailure", msg: err.Error()}
		}
		st.out = appendError(st.out[:0], ae)
		h.Set("X-Amzn-Errortype", ae.code)
		h.Set("Content-Length", strconv.Itoa(len(st.out)))
		w.WriteHeader(ae.status)
		w.Write(st.out)
		return
	}
	h.Set("Content-Length", strconv.Itoa(len(st.out)))
	w.WriteHeader(http.StatusOK)
	w.Write(st.out)
}

func appendError(b []byte, e *apiError) []byte {
	b = append(b, `{"__type":`...)
	b = strconv.AppendQuote(b, e.code)
	b = append(b, `,"message":`...)
	b = strconv.AppendQuote(b, e.msg)
	return append(b, '}')
}

// putState is the per-request scratch space, pooled.
type putState struct {
	body    bytes.Buffer
	out     []byte
	entries []entry
}

// release returns st to the pool unless a huge request grew it.
func (f *Fake) release(st *putState) {
	const keep = 16 << 20
	if st.body.Cap() > keep || cap(st.out) > keep {
		return
	}
	st.body.Reset()
	st.out = st.out[:0]
	st.entries = st.entries[:0]
	f.pool.Put(st)
}

// readBody reads the request body into st.body. With a Content-Length (the SDK always sends one)
// the buffer is sized once, so that a pool emptied by the garbage collector costs one
// allocation, not a doubling series.
func (st *putState) readBody(body io.Reader, length int64) error {
	if body == nil {
		return validation("empty request body")
	}
	if length > maxBodyBytes {
		return &apiError{status: http.StatusRequestEntityTooLarge, code: "ValidationException",
			msg: fmt.Sprintf("request body of %d bytes is larger than %d bytes", length, maxBodyBytes)}
	}
	if length > 0 {
		st.body.Grow(int(length) + bytes.MinRead) // ReadFrom wants MinRead free before it sees EOF
	}
	n, err := st.body.ReadFrom(io.LimitReader(body, maxBodyBytes+1))
	if err != nil {
		return &apiError{status: http.StatusBadRequest, code: "SerializationException", msg: "reading the body: " + err.Error()}
	}
	if n > maxBodyBytes {
		return &apiError{status: http.StatusRequestEntityTooLarge, code: "ValidationException",
			msg: fmt.Sprintf("request body larger than %d bytes", maxBodyBytes)}
	}
	return nil
}

// checkStream resolves the stream a request names.
func (f *Fake) checkStream(name, arn string) error {
	if arn != "" {
		const prefix = "arn:aws:kinesis:"
		i := strings.LastIndex(arn, ":stream/")
		if len(arn) < len(prefix) || arn[:len(prefix)] != prefix || i < 0 {
			return validation("StreamARN %q is not a Kinesis stream ARN", arn)
		}
		if name != "" && name != arn[i+len(":stream/"):] {
			return validation("StreamName %q and StreamARN %q name different streams", name, arn)
		}
		name = arn[i+len(":stream/"):]
	}
	if name == "" {
		return validation("one of StreamName or StreamARN is required")
	}
	if f.o.StreamName != "" && name != f.o.StreamName {
		return &apiError{status: http.StatusBadRequest, code: "ResourceNotFoundException",
			msg: fmt.Sprintf("Stream %s under account %s not found.", name, Account)}
	}
	return nil
}

// Listener is a Fake served on a TCP address.
type Listener struct {
	*Fake
	// Endpoint is the base URL to give the SDK (e.g. "http://127.0.0.1:40123").
	Endpoint string
	srv      *http.Server
	done     chan struct{}
}

// Listen serves a new Fake on addr, which must be a loopback address ("127.0.0.1:0" picks a
// free port): the fake is for tests on this machine only.
func Listen(addr string, o Options) (*Listener, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("fakekinesis: listen address %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("fakekinesis: listen address %q: not a loopback address", addr)
	}
	f, err := New(o)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("fakekinesis: listen on %q: %w", addr, err)
	}
	l := &Listener{Fake: f, Endpoint: "http://" + ln.Addr().String(), done: make(chan struct{})}
	l.srv = &http.Server{Handler: f, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		defer close(l.done)
		l.srv.Serve(ln) // returns http.ErrServerClosed on Close
	}()
	return l, nil
}

// Close stops the listener and closes every connection.
func (l *Listener) Close() error {
	err := l.srv.Close()
	<-l.done
	return err
}
