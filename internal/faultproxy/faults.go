package faultproxy

import (
	"fmt"
	"net/http"
	"time"
)

// ErrorKind is a whole-request error the proxy can answer with.
type ErrorKind int

// The error kinds, each with the status code and __type real Kinesis uses.
const (
	// NoError means no injected error (switches off a failure window).
	NoError ErrorKind = iota
	// InternalFailure answers 500 {"__type":"InternalFailure"}.
	InternalFailure
	// ServiceUnavailable answers 503 {"__type":"ServiceUnavailable"}.
	ServiceUnavailable
	// ProvisionedThroughputExceeded answers 400 {"__type":"ProvisionedThroughputExceededException"}.
	ProvisionedThroughputExceeded
	// LimitExceeded answers 400 {"__type":"LimitExceededException"} (control-plane throttling).
	LimitExceeded
)

// Status returns the HTTP status code of the kind.
func (k ErrorKind) Status() int {
	switch k {
	case InternalFailure:
		return http.StatusInternalServerError
	case ServiceUnavailable:
		return http.StatusServiceUnavailable
	case ProvisionedThroughputExceeded, LimitExceeded:
		return http.StatusBadRequest
	}
	return http.StatusOK
}

// Type returns the __type (error code) of the kind.
func (k ErrorKind) Type() string {
	switch k {
	case InternalFailure:
		return "InternalFailure"
	case ServiceUnavailable:
		return "ServiceUnavailable"
	case ProvisionedThroughputExceeded:
		return "ProvisionedThroughputExceededException"
	case LimitExceeded:
		return "LimitExceededException"
	}
	return ""
}

// String returns the error code, or "NoError".
func (k ErrorKind) String() string {
	if t := k.Type(); t != "" {
		return t
	}
	if k == NoError {
		return "NoError"
	}
	return fmt.Sprintf("ErrorKind(%d)", int(k))
}

func (k ErrorKind) message() string {
	switch k {
	case InternalFailure:
		return "Internal service failure."
	case ServiceUnavailable:
		return "Service Unavailable."
	case ProvisionedThroughputExceeded:
		return "Rate exceeded for stream."
	case LimitExceeded:
		return "Rate exceeded for the account."
	}
	return ""
}

func (k ErrorKind) valid() bool { return k >= NoError && k <= LimitExceeded }

// EntryFailures configures per-entry PutRecords failures.
type EntryFailures struct {
	// Rate is the fraction (0..1) of PutRecords entries that fail without being forwarded.
	Rate float64
	// InternalShare is the fraction (0..1) of failed entries that fail with InternalFailure; the
	// others fail with ProvisionedThroughputExceededException.
	InternalShare float64
}

// RequestErrors configures whole-request server errors on PutRecords and PutRecord.
type RequestErrors struct {
	// Rate is the fraction (0..1) of requests answered with a server error, without forwarding.
	Rate float64
	// UnavailableShare is the fraction (0..1) of those answered 503 ServiceUnavailable; the
	// others are answered 500 InternalFailure.
	UnavailableShare float64
}

// Throttle configures whole-request throttling of PutRecords and PutRecord.
type Throttle struct {
	// Rate is the fraction (0..1) of requests answered 400 without forwarding.
	Rate float64
	// LimitExceededShare is the fraction (0..1) of those answered LimitExceededException; the
	// others are answered ProvisionedThroughputExceededException.
	LimitExceededShare float64
}

// config is an immutable snapshot of the fault settings; setters replace it whole.
type config struct {
	entry         EntryFailures
	request       RequestErrors
	throttle      Throttle
	lostAckRate   float64
	pageSize      int
	shardRate     float64
	shardRates    map[string]float64 // per-shard overrides of shardRate; never mutated after publication
	shardCacheTTL time.Duration
	opFailures    map[string]ErrorKind // never mutated after publication
}

func checkFraction(name string, v float64) error {
	if !(v >= 0 && v <= 1) { // also rejects NaN
		return fmt.Errorf("faultproxy: %s %v outside [0, 1]", name, v)
	}
	return nil
}

func (e EntryFailures) validate() error {
	if err := checkFraction("entry failure rate", e.Rate); err != nil {
		return err
	}
	return checkFraction("entry failure internal share", e.InternalShare)
}

func (r RequestErrors) validate() error {
	if err := checkFraction("request error rate", r.Rate); err != nil {
		return err
	}
	return checkFraction("request error unavailable share", r.UnavailableShare)
}

func (t Throttle) validate() error {
	if err := checkFraction("throttle rate", t.Rate); err != nil {
		return err
	}
	return checkFraction("throttle limit-exceeded share", t.LimitExceededShare)
}

// update applies fn to a copy of the current configuration and publishes it if fn succeeds.
func (p *Proxy) update(fn func(c *config) error) error {
	p.cfgMu.Lock()
	defer p.cfgMu.Unlock()
	c := *p.cfg.Load()
	if err := fn(&c); err != nil {
		return err
	}
	p.cfg.Store(&c)
	return nil
}

// SetEntryFailures changes the per-entry PutRecords failure settings.
func (p *Proxy) SetEntryFailures(e EntryFailures) error {
	if err := e.validate(); err != nil {
		return err
	}
	return p.update(func(c *config) error { c.entry = e; return nil })
}

// SetRequestErrors changes the whole-request 500/503 settings.
func (p *Proxy) SetRequestErrors(r RequestErrors) error {
	if err := r.validate(); err != nil {
		return err
	}
	return p.update(func(c *config) error { c.request = r; return nil })
}

// SetThrottle changes the whole-request throttling settings.
func (p *Proxy) SetThrottle(t Throttle) error {
	if err := t.validate(); err != nil {
		return err
	}
	return p.update(func(c *config) error { c.throttle = t; return nil })
}

// SetLostAckRate changes the fraction of PutRecords/PutRecord requests that are forwarded and
// then answered by dropping the client connection.
func (p *Proxy) SetLostAckRate(rate float64) error {
	if err := checkFraction("lost ack rate", rate); err != nil {
		return err
	}
	return p.update(func(c *config) error { c.lostAckRate = rate; return nil })
}

// SetListShardsPageSize changes the number of shards per ListShards page (0 = Kinesis's
// default of 1000). A smaller MaxResults from the client still wins.
func (p *Proxy) SetListShardsPageSize(n int) error {
	if n < 0 || n > maxListShards {
		return fmt.Errorf("faultproxy: ListShards page size %d outside [0, %d]", n, maxListShards)
	}
	return p.update(func(c *config) error { c.pageSize = n; return nil })
}

// SetShardRateLimit changes the per-shard record rate above which PutRecords entries fail with
// ProvisionedThroughputExceededException (0 = unlimited). The target shard of an entry is computed
// from its ExplicitHashKey or MD5(PartitionKey) and the stream's open shards.
func (p *Proxy) SetShardRateLimit(recordsPerSecond float64) error {
	if !(recordsPerSecond >= 0) {
		return fmt.Errorf("faultproxy: shard rate limit %v is negative", recordsPerSecond)
	}
	return p.update(func(c *config) error { c.shardRate = recordsPerSecond; return nil })
}

// SetShardRateLimitFor overrides the record rate limit of one shard (0 = unlimited), e.g. to make
// one shard hot. It applies even when the stream-wide limit is 0.
func (p *Proxy) SetShardRateLimitFor(shardID string, recordsPerSecond float64) error {
	if !(recordsPerSecond >= 0) {
		return fmt.Errorf("faultproxy: shard rate limit %v is negative", recordsPerSecond)
	}
	return p.update(func(c *config) error {
		m := make(map[string]float64, len(c.shardRates)+1)
		for k, v := range c.shardRates {
			m[k] = v
		}
		m[shardID] = recordsPerSecond
		c.shardRates = m
		return nil
	})
}

// SetOpFailure makes every request for op (an operation name such as "PutRecords") answer with
// kind, without forwarding, until it is called again with NoError.
func (p *Proxy) SetOpFailure(op string, kind ErrorKind) error {
	if !kind.valid() {
		return fmt.Errorf("faultproxy: op failure for %s: invalid %v", op, kind)
	}
	return p.update(func(c *config) error {
		m := make(map[string]ErrorKind, len(c.opFailures)+1)
		for k, v := range c.opFailures {
			m[k] = v
		}
		if kind == NoError {
			delete(m, op)
		} else {
			m[op] = kind
		}
		c.opFailures = m
		return nil
	})
}

// SetListShardsFailure opens (kind != NoError) or closes (NoError) a window in which every
// ListShards request is answered with kind, typically InternalFailure or LimitExceeded.
func (p *Proxy) SetListShardsFailure(kind ErrorKind) error { return p.SetOpFailure("ListShards", kind) }

// SetRejectAll switches on or off answering every PutRecords request with 503
// ServiceUnavailable, which forces a caller that retries in-flush to give up.
func (p *Proxy) SetRejectAll(on bool) {
	kind := NoError
	if on {
		kind = ServiceUnavailable
	}
	_ = p.SetOpFailure("PutRecords", kind) // cannot fail: both kinds are valid
}
