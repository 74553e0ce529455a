// Package faultproxy is an HTTP reverse proxy for the Kinesis JSON protocol that sits in front of
// kinesalite and injects the faults real Kinesis produces, deterministically from a seed: failed
// PutRecords entries, whole-request 5xx and throttling errors, lost acknowledgements (the request
// is stored, the response never arrives), failure windows per operation, and per-shard rate
// limits. It also fills kinesalite's gaps that the plugin depends on: it paginates ListShards
// itself (kinesalite never returns a NextToken and crashes on a request that carries one), honours
// MaxResults and ShardFilter, and rewrites StreamARN to StreamName (kinesalite rejects StreamARN).
//
// Every setting can change while requests are in flight. Random decisions come from PRNG streams
// seeded from Options.Seed, one stream per kind of decision, so a given sequence of requests meets
// the same faults on every run.
package faultproxy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

const (
	targetPrefix  = "Kinesis_20131202."
	jsonType      = "application/x-amz-json-1.1"
	accountID     = "000000000000" // kinesalite's account
	maxBody       = 16 << 20       // above any Kinesis request limit
	maxListShards = 10000          // the API's MaxResults ceiling
	defaultList   = 1000           // the API's default page size
)

// Options configure a Proxy. The zero value injects nothing and only fills kinesalite's gaps.
type Options struct {
	// Seed seeds the PRNG streams.
	Seed uint64
	// EntryFailures, RequestErrors, Throttle, LostAckRate, ListShardsPageSize and ShardRateLimit
	// are the initial values of the settings of the same names (see the setters).
	EntryFailures      EntryFailures
	RequestErrors      RequestErrors
	Throttle           Throttle
	LostAckRate        float64
	ListShardsPageSize int
	ShardRateLimit     float64
	// ShardCacheTTL is how long the shard list used to route entries (for rate limits and error
	// messages) is reused. 0 means 100 ms.
	ShardCacheTTL time.Duration
	// KeepEvents records an Event per request, returned by Events.
	KeepEvents bool
	// Logf, when set, receives one line per request that met a fault.
	Logf func(format string, args ...any)
}

// Event describes one request the proxy handled.
type Event struct {
	Seq    int64  // 1-based arrival order
	Op     string // operation name, "" if the target header was missing
	Stream string // stream name after StreamARN translation, if any
	Status int    // status code answered, 0 for a lost ack
	// Injected names the whole-request fault: "", an ErrorKind's Type, or "LostAck".
	Injected  string
	Entries   int           // PutRecords entries received
	Forwarded int           // PutRecords entries forwarded
	Failed    []FailedEntry // PutRecords entries failed by the proxy, in index order
}

// FailedEntry is a PutRecords entry the proxy failed.
type FailedEntry struct {
	Index     int    // position in the request
	ErrorCode string // ProvisionedThroughputExceededException or InternalFailure
	Shard     string // target shard, "" if unknown
	RateLimit bool   // failed by the per-shard rate limit rather than at random
}

// Proxy is a fault-injecting Kinesis proxy. Create it with New.
type Proxy struct {
	upstream string
	client   *http.Client
	logf     func(format string, args ...any)

	cfgMu sync.Mutex // serialises setters
	cfg   atomic.Pointer[config]

	rngMu      sync.Mutex
	rngRequest *rand.Rand // whole-request decisions
	rngEntry   *rand.Rand // per-entry decisions

	shards  *shardCache
	limiter *limiter

	seq   atomic.Int64
	stats counters

	keepEvents bool
	evMu       sync.Mutex
	events     []Event

	srvMu sync.Mutex
	srv   *http.Server
	ln    net.Listener
}

// New returns a proxy for the Kinesis endpoint upstream (http://host:port).
func New(upstream string, o Options) (*Proxy, error) {
	if !strings.HasPrefix(upstream, "http://") && !strings.HasPrefix(upstream, "https://") {
		return nil, fmt.Errorf("faultproxy: upstream %q is not an http(s) URL", upstream)
	}
	for _, err := range []error{o.EntryFailures.validate(), o.RequestErrors.validate(), o.Throttle.validate(),
		checkFraction("lost ack rate", o.LostAckRate)} {
		if err != nil {
			return nil, err
		}
	}
	if o.ListShardsPageSize < 0 || o.ListShardsPageSize > maxListShards {
		return nil, fmt.Errorf("faultproxy: ListShards page size %d outside [0, %d]", o.ListShardsPageSize, maxListShards)
	}
	if !(o.ShardRateLimit >= 0) {
		return nil, fmt.Errorf("faultproxy: shard rate limit %v is negative", o.ShardRateLimit)
	}
	if o.ShardCacheTTL <= 0 {
		o.ShardCacheTTL = 100 * time.Millisecond
	}
	p := &Proxy{
		upstream:   strings.TrimSuffix(upstream, "/"),
		client:     &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64, IdleConnTimeout: 30 * time.Second}},
		logf:       o.Logf,
		rngRequest: rand.New(rand.NewPCG(o.Seed, 0x7265717565737473)), // "requests"
		rngEntry:   rand.New(rand.NewPCG(o.Seed, 0x656e747269657321)), // "entries!"
		keepEvents: o.KeepEvents,
		limiter:    newLimiter(),
	}
	p.shards = newShardCache(p)
	p.cfg.Store(&config{
		entry:         o.EntryFailures,
		request:       o.RequestErrors,
		throttle:      o.Throttle,
		lostAckRate:   o.LostAckRate,
		pageSize:      o.ListShardsPageSize,
		shardRate:     o.ShardRateLimit,
		shardCacheTTL: o.ShardCacheTTL,
	})
	return p, nil
}

// Start listens on 127.0.0.1 with a free port and serves in the background. It returns the
// endpoint URL (http://127.0.0.1:PORT).
func (p *Proxy) Start() (string, error) {
	p.srvMu.Lock()
	defer p.srvMu.Unlock()
	if p.srv != nil {
		return "", errors.New("faultproxy: already started")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("faultproxy: listen: %w", err)
	}
	p.ln = ln
	p.srv = &http.Server{Handler: p, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = p.srv.Serve(ln) }()
	return "http://" + ln.Addr().String(), nil
}

// Close stops the listener, drops open client connections and releases upstream connections.
func (p *Proxy) Close() error {
	p.srvMu.Lock()
	defer p.srvMu.Unlock()
	var err error
	if p.srv != nil {
		err = p.srv.Close()
	}
	p.client.CloseIdleConnections()
	return err
}

// Events returns a copy of the recorded events (Options.KeepEvents).
func (p *Proxy) Events() []Event {
	p.evMu.Lock()
	defer p.evMu.Unlock()
	return append([]Event(nil), p.events...)
}

// request is the state of one request being handled.
type request struct {
	w    http.ResponseWriter
	r    *http.Request
	cfg  *config
	body []byte
	doc  map[string]json.RawMessage // nil unless the body is a JSON object
	ev   Event
	lost bool
	// recorded is set once the event is logged, which happens before the answer leaves so that
	// a client never sees an answer the event log does not yet hold.
	recorded bool
}

// ServeHTTP handles one Kinesis API request.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q := &request{w: w, r: r, cfg: p.cfg.Load()}
	q.ev.Seq = p.seq.Add(1)
	q.ev.Op = strings.TrimPrefix(r.Header.Get("X-Amz-Target"), targetPrefix)
	if q.ev.Op == r.Header.Get("X-Amz-Target") {
		q.ev.Op = "" // not a Kinesis target; forward untouched
	}
	p.stats.requests.Add(1)
	defer p.record(q)

	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		q.ev.Status = http.StatusRequestEntityTooLarge
		p.record(q)
		http.Error(w, "faultproxy: reading request: "+err.Error(), q.ev.Status)
		return
	}
	q.body = body

	if kind := q.cfg.opFailures[q.ev.Op]; kind != NoError {
		p.injectError(q, kind, kind.message())
		return
	}
	if q.ev.Op == "PutRecords" || q.ev.Op == "PutRecord" {
		// Always draw all values so that switching one fault on does not shift the others.
		p.rngMu.Lock()
		errU, errKindU, thrU, thrKindU, lostU :=
			p.rngRequest.Float64(), p.rngRequest.Float64(), p.rngRequest.Float64(), p.rngRequest.Float64(), p.rngRequest.Float64()
		p.rngMu.Unlock()
		switch {
		case errU < q.cfg.request.Rate:
			kind := InternalFailure
			if errKindU < q.cfg.request.UnavailableShare {
				kind = ServiceUnavailable
			}
			p.injectError(q, kind, kind.message())
			return
		case thrU < q.cfg.throttle.Rate:
			kind := ProvisionedThroughputExceeded
			if thrKindU < q.cfg.throttle.LimitExceededShare {
				kind = LimitExceeded
			}
			p.injectError(q, kind, kind.message())
			return
		}
		q.lost = lostU < q.cfg.lostAckRate
	}

	if isJSON(r.Header.Get("Content-Type")) {
		var doc map[string]json.RawMessage
		if json.Unmarshal(body, &doc) == nil && doc != nil {
			q.doc = doc
			p.translateARN(q)
			q.ev.Stream = stringField(doc, "StreamName")
		}
	}

	switch {
	case q.ev.Op == "ListShards" && q.doc != nil:
		p.listShards(q)
	case q.ev.Op == "PutRecords" && q.doc != nil:
		p.putRecords(q)
	default:
		p.forwardAndAnswer(q)
	}
}

// translateARN rewrites StreamARN to StreamName, which is all kinesalite understands.
func (p *Proxy) translateARN(q *request) {
	arn := stringField(q.doc, "StreamARN")
	i := strings.LastIndex(arn, ":stream/")
	if i < 0 || i+len(":stream/") == len(arn) {
		return // absent or malformed: let upstream judge it
	}
	name, _ := json.Marshal(arn[i+len(":stream/"):])
	delete(q.doc, "StreamARN")
	if _, ok := q.doc["StreamName"]; !ok {
		q.doc["StreamName"] = name
	}
	q.body, _ = json.Marshal(q.doc) // cannot fail: RawMessages came from a successful Unmarshal
	p.stats.arnRewrites.Add(1)
}

// forwardAndAnswer forwards the request body as is and relays the answer.
func (p *Proxy) forwardAndAnswer(q *request) {
	resp, body, err := p.forward(q.r.Context(), q.r.Header, q.body)
	if err != nil {
		p.upstreamFailed(q, err)
		return
	}
	if resp.StatusCode == http.StatusOK && (q.ev.Op == "SplitShard" || q.ev.Op == "MergeShards") {
		p.shards.invalidate(q.ev.Stream)
	}
	if q.lost {
		p.dropConnection(q)
		return
	}
	p.relay(q, resp, body)
}

// forward sends body upstream with the client's headers and reads the whole answer.
func (p *Proxy) forward(ctx context.Context, h http.Header, body []byte) (*http.Response, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.upstream+"/", bytes.NewReader(body))
	if err != nil {
		return nil, nil, err
	}
	for k, vs := range h {
		switch http.CanonicalHeaderKey(k) {
		case "Content-Length", "Connection", "Keep-Alive", "Transfer-Encoding", "Te", "Trailer",
			"Upgrade", "Proxy-Connection", "Accept-Encoding", "Host":
			continue
		}
		req.Header[k] = vs
	}
	p.stats.forwarded.Add(1)
	resp, err := p.client.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	rb, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return nil, nil, fmt.Errorf("reading upstream answer: %w", err)
	}
	return resp, rb, nil
}

// call sends a request of the proxy's own to upstream.
func (p *Proxy) call(ctx context.Context, op string, payload any) (*http.Response, []byte, error) {
	body, err := json.Marshal(payload)
	if err != nil {
		return nil, nil, err
	}
	h := http.Header{}
	h.Set("Content-Type", jsonType)
	h.Set("X-Amz-Target", targetPrefix+op)
	h.Set("X-Amz-Date", time.Now().UTC().Format("20060102T150405Z"))
	// kinesalite checks that the signature parts exist, not what they say.
	h.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDFAULTPROXY/20200101/us-east-1/kinesis/aws4_request, SignedHeaders=host;x-amz-date, Signature=0")
	p.stats.upstreamCalls.Add(1)
	return p.forward(ctx, h, body)
}

func (p *Proxy) relay(q *request, resp *http.Response, body []byte) {
	h := q.w.Header()
	for k, vs := range resp.Header {
		switch k {
		case "Content-Length", "Connection", "Keep-Alive", "Transfer-Encoding":
			continue
		}
		h[k] = vs
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	q.ev.Status = resp.StatusCode
	p.record(q)
	q.w.WriteHeader(resp.StatusCode)
	_, _ = q.w.Write(body)
}

// writeJSON answers with a JSON document.
func (p *Proxy) writeJSON(q *request, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"__type":"InternalFailure","message":"faultproxy: encoding answer"}`)
	}
	if q.lost {
		p.dropConnection(q)
		return
	}
	h := q.w.Header()
	h.Set("Content-Type", jsonType)
	h.Set("Content-Length", strconv.Itoa(len(b)))
	h.Set("X-Amzn-Requestid", fmt.Sprintf("faultproxy-%08d", q.ev.Seq))
	q.ev.Status = status
	p.record(q)
	q.w.WriteHeader(status)
	_, _ = q.w.Write(b)
}

type errorBody struct {
	Type    string `json:"__type"`
	Message string `json:"message"`
}

// writeError answers with a Kinesis error (status, __type, x-amzn-ErrorType).
func (p *Proxy) writeError(q *request, status int, typ, msg string) {
	q.w.Header().Set("X-Amzn-Errortype", typ)
	p.writeJSON(q, status, errorBody{Type: typ, Message: msg})
}

// injectError answers with an injected whole-request error and counts it.
func (p *Proxy) injectError(q *request, kind ErrorKind, msg string) {
	switch kind {
	case InternalFailure:
		p.stats.internal500.Add(1)
	case ServiceUnavailable:
		p.stats.unavailable503.Add(1)
	case ProvisionedThroughputExceeded:
		p.stats.throttled400.Add(1)
	case LimitExceeded:
		p.stats.limitExceeded400.Add(1)
	}
	q.ev.Injected = kind.Type()
	p.writeError(q, kind.Status(), kind.Type(), msg)
}

func (p *Proxy) upstreamFailed(q *request, err error) {
	p.stats.upstreamErrors.Add(1)
	if q.r.Context().Err() != nil {
		return // the client went away; nobody to answer
	}
	q.w.Header().Set("X-Amzn-Errortype", "InternalFailure")
	q.lost = false
	p.writeJSON(q, http.StatusBadGateway, errorBody{Type: "InternalFailure", Message: "faultproxy: upstream: " + err.Error()})
}

// dropConnection closes the client connection without answering.
func (p *Proxy) dropConnection(q *request) {
	p.stats.lostAcks.Add(1)
	q.ev.Injected, q.ev.Status = "LostAck", 0
	p.record(q)
	hj, ok := q.w.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler) // HTTP/2: abort the stream, the net/http way
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0) // reset rather than a clean EOF, like a dropped route
	}
	_ = conn.Close()
}

// record logs the request's event once.
func (p *Proxy) record(q *request) {
	if q.recorded {
		return
	}
	q.recorded = true
	if p.logf != nil && (q.ev.Injected != "" || len(q.ev.Failed) > 0) {
		p.logf("faultproxy: #%d %s %s: status %d injected %q, %d/%d entries failed",
			q.ev.Seq, q.ev.Op, q.ev.Stream, q.ev.Status, q.ev.Injected, len(q.ev.Failed), q.ev.Entries)
	}
	if p.keepEvents {
		p.evMu.Lock()
		p.events = append(p.events, q.ev)
		p.evMu.Unlock()
	}
}

func isJSON(contentType string) bool {
	ct, _, _ := strings.Cut(contentType, ";")
	ct = strings.TrimSpace(ct)
	return ct == jsonType || ct == "application/x-amz-json-1.0"
}

// stringField returns doc[key] if it is a JSON string, else "".
func stringField(doc map[string]json.RawMessage, key string) string {
	raw, ok := doc[key]
	if !ok {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return ""
	}
	return s
}
