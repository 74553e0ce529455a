package faultproxy

import "sync/atomic"

// Stats counts what the proxy saw and injected since it was created.
type Stats struct {
	Requests         int64 // requests received
	Forwarded        int64 // requests sent upstream, the proxy's own included
	UpstreamCalls    int64 // requests of the proxy's own (shard lists)
	UpstreamErrors   int64 // upstream transport failures
	StreamARNRewrite int64 // requests whose StreamARN was rewritten to StreamName

	EntriesReceived     int64 // PutRecords entries received
	EntriesForwarded    int64 // PutRecords entries sent upstream
	EntriesThroughput   int64 // entries failed at random with ProvisionedThroughputExceededException
	EntriesInternal     int64 // entries failed at random with InternalFailure
	EntriesShardLimited int64 // entries failed by the per-shard rate limit

	InternalFailure500    int64 // whole requests answered 500 InternalFailure
	ServiceUnavailable503 int64 // whole requests answered 503 ServiceUnavailable
	Throughput400         int64 // whole requests answered 400 ProvisionedThroughputExceededException
	LimitExceeded400      int64 // whole requests answered 400 LimitExceededException
	LostAcks              int64 // requests answered by dropping the connection

	ListShardsPages int64 // ListShards pages the proxy answered itself
}

// EntriesFailed returns the number of PutRecords entries the proxy failed, for any reason.
func (s Stats) EntriesFailed() int64 {
	return s.EntriesThroughput + s.EntriesInternal + s.EntriesShardLimited
}

type counters struct {
	requests, forwarded, upstreamCalls, upstreamErrors, arnRewrites                 atomic.Int64
	entriesReceived, entriesForwarded, entriesPTE, entriesInternal, entriesLimited  atomic.Int64
	internal500, unavailable503, throttled400, limitExceeded400, lostAcks, listPage atomic.Int64
}

// Stats returns a snapshot of the counters. Counters of one request may be half updated while
// requests are in flight.
func (p *Proxy) Stats() Stats {
	c := &p.stats
	return Stats{
		Requests:              c.requests.Load(),
		Forwarded:             c.forwarded.Load(),
		UpstreamCalls:         c.upstreamCalls.Load(),
		UpstreamErrors:        c.upstreamErrors.Load(),
		StreamARNRewrite:      c.arnRewrites.Load(),
		EntriesReceived:       c.entriesReceived.Load(),
		EntriesForwarded:      c.entriesForwarded.Load(),
		EntriesThroughput:     c.entriesPTE.Load(),
		EntriesInternal:       c.entriesInternal.Load(),
		EntriesShardLimited:   c.entriesLimited.Load(),
		InternalFailure500:    c.internal500.Load(),
		ServiceUnavailable503: c.unavailable503.Load(),
		Throughput400:         c.throttled400.Load(),
		LimitExceeded400:      c.limitExceeded400.Load(),
		LostAcks:              c.lostAcks.Load(),
		ListShardsPages:       c.listPage.Load(),
	}
}
