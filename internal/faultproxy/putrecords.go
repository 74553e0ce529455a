package faultproxy

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/kinesis-agg/kinesis_agg/hashkey"
)

const (
	codeThroughput = "ProvisionedThroughputExceededException"
	codeInternal   = "InternalFailure"
)

// putEntry is the part of a PutRecords entry the proxy reads to route it.
type putEntry struct {
	PartitionKey    string
	ExplicitHashKey *string
}

// failedResult is a PutRecords result entry for an entry the proxy failed.
type failedResult struct {
	ErrorCode    string
	ErrorMessage string
}

// putRecords fails some entries in place, forwards the rest and merges the answers in the
// original order.
func (p *Proxy) putRecords(q *request) {
	var entries []json.RawMessage
	if err := json.Unmarshal(q.doc["Records"], &entries); err != nil || len(entries) == 0 {
		p.forwardAndAnswer(q) // malformed: upstream answers with its validation error
		return
	}
	n, cfg, stream := len(entries), q.cfg, q.ev.Stream
	q.ev.Entries = n
	p.stats.entriesReceived.Add(int64(n))

	draws := make([]float64, 2*n)
	p.rngMu.Lock()
	for i := range draws {
		draws[i] = p.rngEntry.Float64()
	}
	p.rngMu.Unlock()

	var open []shardInfo
	loaded := false
	shardOf := func(i int) string {
		if !loaded {
			open, loaded = p.shards.open(q.r.Context(), stream, cfg.shardCacheTTL), true
		}
		var e putEntry
		if len(open) == 0 || json.Unmarshal(entries[i], &e) != nil {
			return ""
		}
		h := hashkey.FromPartitionKey(e.PartitionKey)
		if e.ExplicitHashKey != nil {
			k, err := hashkey.ParseDecimal(*e.ExplicitHashKey)
			if err != nil {
				return ""
			}
			h = k
		}
		return route(open, h)
	}

	results := make([]json.RawMessage, n) // nil: forwarded
	keep := make([]json.RawMessage, 0, n)
	now := time.Now()
	for i, raw := range entries {
		f := FailedEntry{Index: i}
		switch {
		case draws[2*i] < cfg.entry.Rate:
			f.ErrorCode = codeThroughput
			if draws[2*i+1] < cfg.entry.InternalShare {
				f.ErrorCode = codeInternal
			}
		case cfg.shardRate > 0 || len(cfg.shardRates) > 0:
			f.Shard = shardOf(i)
			rate, ok := cfg.shardRates[f.Shard]
			if !ok {
				rate = cfg.shardRate
			}
			if f.Shard != "" && rate > 0 && !p.limiter.allow(stream+"/"+f.Shard, rate, now) {
				f.ErrorCode, f.RateLimit = codeThroughput, true
			}
		}
		if f.ErrorCode == "" {
			keep = append(keep, raw)
			continue
		}
		res := failedResult{ErrorCode: codeInternal, ErrorMessage: "Internal service failure."}
		switch {
		case f.RateLimit:
			p.stats.entriesLimited.Add(1)
		case f.ErrorCode == codeInternal:
			p.stats.entriesInternal.Add(1)
		default:
			p.stats.entriesPTE.Add(1)
		}
		if f.ErrorCode == codeThroughput {
			if f.Shard == "" {
				f.Shard = shardOf(i)
			}
			res = failedResult{ErrorCode: codeThroughput, ErrorMessage: fmt.Sprintf(
				"Rate exceeded for shard %s in stream %s under account %s.", f.Shard, stream, accountID)}
		}
		results[i], _ = json.Marshal(res)
		q.ev.Failed = append(q.ev.Failed, f)
	}
	q.ev.Forwarded = len(keep)
	failed := n - len(keep)

	if len(keep) == 0 {
		p.writeJSON(q, http.StatusOK, map[string]any{"FailedRecordCount": failed, "Records": results})
		return
	}
	if failed == 0 {
		p.stats.entriesForwarded.Add(int64(n))
		p.forwardAndAnswer(q)
		return
	}
	q.doc["Records"], _ = json.Marshal(keep)
	q.body, _ = json.Marshal(q.doc)
	p.stats.entriesForwarded.Add(int64(len(keep)))
	resp, body, err := p.forward(q.r.Context(), q.r.Header, q.body)
	if err != nil {
		p.upstreamFailed(q, err)
		return
	}
	if q.lost {
		p.dropConnection(q)
		return
	}
	if resp.StatusCode != http.StatusOK {
		p.relay(q, resp, body)
		return
	}
	var out map[string]json.RawMessage
	var got []json.RawMessage
	var upFailed int
	if err := json.Unmarshal(body, &out); err == nil {
		err = json.Unmarshal(out["Records"], &got)
		if err == nil {
			err = json.Unmarshal(out["FailedRecordCount"], &upFailed)
		}
	}
	if len(got) != len(keep) {
		q.w.Header().Set("X-Amzn-Errortype", codeInternal)
		p.writeJSON(q, http.StatusInternalServerError, errorBody{Type: codeInternal, Message: fmt.Sprintf(
			"faultproxy: upstream answered %d records for %d: %.200s", len(got), len(keep), body)})
		return
	}
	j := 0
	for i := range results {
		if results[i] == nil {
			results[i] = got[j]
			j++
		}
	}
	out["Records"], _ = json.Marshal(results)
	out["FailedRecordCount"], _ = json.Marshal(upFailed + failed)
	p.writeJSON(q, http.StatusOK, out)
}
