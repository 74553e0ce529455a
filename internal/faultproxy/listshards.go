package faultproxy

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// tokenTTL is how long a NextToken stays valid, as in Kinesis.
const tokenTTL = 300 * time.Second

// pageToken is the state a NextToken carries. Pages continue after the last shard id served, over
// the shard list as it is when the next page is asked for, so pagination can span a reshard the
// way it can in Kinesis.
type pageToken struct {
	Stream string `json:"s"`
	After  string `json:"a"`           // last shard id served
	Filter string `json:"f,omitempty"` // ShardFilter type of the first request
	Issued int64  `json:"t"`           // unix milliseconds
}

func encodeToken(t pageToken) string {
	b, _ := json.Marshal(t) // cannot fail
	return "fp1." + base64.RawURLEncoding.EncodeToString(b)
}

func decodeToken(s string) (pageToken, bool) {
	var t pageToken
	if len(s) < 4 || s[:4] != "fp1." {
		return t, false
	}
	b, err := base64.RawURLEncoding.DecodeString(s[4:])
	if err != nil || json.Unmarshal(b, &t) != nil || t.Stream == "" {
		return t, false
	}
	return t, true
}

// listShards answers ListShards itself from the full shard list, which it asks upstream for with
// the stream name alone. It never forwards a request carrying a NextToken (kinesalite crashes on
// one), and answers malformed NextToken and MaxResults values itself.
func (p *Proxy) listShards(q *request) {
	var token string
	if raw, ok := q.doc["NextToken"]; ok {
		if json.Unmarshal(raw, &token) != nil || token == "" {
			p.writeError(q, http.StatusBadRequest, "ValidationException",
				"1 validation error detected: Value at 'nextToken' failed to satisfy constraint: Member must have length greater than or equal to 1")
			return
		}
	}
	maxResults := 0
	if raw, ok := q.doc["MaxResults"]; ok {
		if json.Unmarshal(raw, &maxResults) != nil || maxResults < 1 || maxResults > maxListShards {
			p.writeError(q, http.StatusBadRequest, "ValidationException", fmt.Sprintf(
				"1 validation error detected: Value '%s' at 'maxResults' failed to satisfy constraint: Member must have value between 1 and %d",
				raw, maxListShards))
			return
		}
	}

	stream, after, filter := q.ev.Stream, stringField(q.doc, "ExclusiveStartShardId"), ""
	if token != "" {
		if stream != "" {
			p.writeError(q, http.StatusBadRequest, "InvalidArgumentException",
				"NextToken and StreamName cannot be provided together.")
			return
		}
		t, ok := decodeToken(token)
		if !ok {
			p.writeError(q, http.StatusBadRequest, "InvalidArgumentException", "Invalid NextToken.")
			return
		}
		if time.Since(time.UnixMilli(t.Issued)) > tokenTTL {
			p.writeError(q, http.StatusBadRequest, "ExpiredNextTokenException",
				"The timestamp of the last ListShards call exceeded 5 minutes.")
			return
		}
		stream, after, filter = t.Stream, t.After, t.Filter
		q.ev.Stream = stream
	} else {
		if stream == "" {
			p.forwardAndAnswer(q) // upstream answers "Either NextToken or StreamName should be provided."
			return
		}
		if raw, ok := q.doc["ShardFilter"]; ok {
			var f struct {
				Type    string
				ShardId string
			}
			if json.Unmarshal(raw, &f) != nil {
				p.writeError(q, http.StatusBadRequest, "InvalidArgumentException", "Invalid ShardFilter.")
				return
			}
			switch f.Type {
			case "AT_LATEST", "AT_TRIM_HORIZON", "FROM_TRIM_HORIZON", "AT_TIMESTAMP", "FROM_TIMESTAMP":
				// The timestamp types list every shard: kinesalite keeps no shard close times.
			case "AFTER_SHARD_ID":
				if f.ShardId == "" {
					p.writeError(q, http.StatusBadRequest, "InvalidArgumentException",
						"ShardFilter AFTER_SHARD_ID requires a ShardId.")
					return
				}
				if f.ShardId > after {
					after = f.ShardId
				}
			default:
				p.writeError(q, http.StatusBadRequest, "InvalidArgumentException",
					"ShardFilter type "+f.Type+" is not valid.")
				return
			}
			filter = f.Type
		}
	}

	all, ans, err := p.fetchShards(q.r.Context(), stream)
	if err != nil {
		p.upstreamFailed(q, err)
		return
	}
	if ans != nil {
		p.relay(q, ans.resp, ans.body)
		return
	}
	sel := make([]json.RawMessage, 0, len(all))
	var ids []string
	for _, s := range all {
		// Shard ids are zero-padded, so string order is numeric order.
		if s.id > after && (filter != "AT_LATEST" || s.open) {
			sel = append(sel, s.raw)
			ids = append(ids, s.id)
		}
	}
	limit := defaultList
	if ps := q.cfg.pageSize; ps > 0 && ps < limit {
		limit = ps
	}
	if maxResults > 0 && maxResults < limit {
		limit = maxResults
	}
	out := map[string]any{}
	if len(sel) > limit {
		sel = sel[:limit]
		out["NextToken"] = encodeToken(pageToken{Stream: stream, After: ids[limit-1], Filter: filter,
			Issued: time.Now().UnixMilli()})
	}
	out["Shards"] = sel
	p.stats.listPage.Add(1)
	p.writeJSON(q, http.StatusOK, out)
}
