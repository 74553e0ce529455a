// Package chunkgen writes Fluent Bit chunks (msgpack v2 events, as Fluent Bit 5.x hands them to
// outputs) of realistic Kubernetes container log records with unique ids, for the demo, the
// end-to-end tests and the benchmarks.
package chunkgen

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"time"
)

// Options describe the records to generate.
type Options struct {
	// FirstID is the id of the first record; ids are "id-%09d", consecutive.
	FirstID int
	// Records is how many records to write.
	Records int
	// ChunkBytes starts a new chunk once one reaches this size (default 2,000,000, about
	// Fluent Bit's chunk size).
	ChunkBytes int
	// Pods is the number of distinct pod names, i.e. partition keys with partition_key
	// $kubernetes['pod_name'] (default 1000).
	Pods int
	// Seed makes the output deterministic.
	Seed uint64
	// Start is the first event time (default 2026-11-25T00:00:00Z); events are 1 ms apart.
	Start time.Time
	// Extra adds fields to every record (e.g. an explicit hash key), given the record's id.
	Extra func(id int) [][2]any
}

// ID formats a record id as the generator writes it into the "id" field.
func ID(n int) string { return fmt.Sprintf("id-%09d", n) }

// PodName is the pod name of pod number p.
func PodName(p int) string { return fmt.Sprintf("checkout-7d9f8c6b5-%05d", p) }

var levels = []string{"info", "info", "info", "warn", "error", "debug"}

var messages = []string{
	"GET /api/v1/orders/%d 200 12ms",
	"POST /api/v1/cart/%d 201 34ms",
	"payment authorised for order %d",
	"cache miss for sku %d, loading from store",
	"retrying upstream call attempt=%d",
}

// Generate returns the chunks.
func Generate(o Options) [][]byte {
	if o.ChunkBytes <= 0 {
		o.ChunkBytes = 2_000_000
	}
	if o.Pods <= 0 {
		o.Pods = 1000
	}
	if o.Start.IsZero() {
		o.Start = time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)
	}
	rng := rand.New(rand.NewPCG(o.Seed, o.Seed^0x9E3779B97F4A7C15))
	var chunks [][]byte
	var cur []byte
	for i := 0; i < o.Records; i++ {
		id := o.FirstID + i
		cur = AppendEvent(cur, o.Start.Add(time.Duration(i)*time.Millisecond), record(rng, id, o))
		if len(cur) >= o.ChunkBytes {
			chunks = append(chunks, cur)
			cur = nil
		}
	}
	if len(cur) > 0 {
		chunks = append(chunks, cur)
	}
	return chunks
}

func record(rng *rand.Rand, id int, o Options) [][2]any {
	pod := rng.IntN(o.Pods)
	msg := fmt.Sprintf(messages[rng.IntN(len(messages))], rng.IntN(1_000_000))
	r := [][2]any{
		{"id", ID(id)},
		{"log", fmt.Sprintf("2026-11-25T10:%02d:%02d.%03dZ %s %s", rng.IntN(60), rng.IntN(60), rng.IntN(1000), levels[rng.IntN(len(levels))], msg)},
		{"stream", "stdout"},
		{"kubernetes", [][2]any{
			{"pod_name", PodName(pod)},
			{"namespace_name", "shop"},
			{"pod_id", fmt.Sprintf("5f1c0a2e-%04x-4b7e-9c1d-%012x", pod, pod*7919)},
			{"labels", [][2]any{{"app", "checkout"}}},
			{"host", fmt.Sprintf("ip-10-0-%d-%d.eu-west-1.compute.internal", pod%8, pod%250)},
			{"container_name", "checkout"},
		}},
	}
	if o.Extra != nil {
		r = append(r, o.Extra(id)...)
	}
	return r
}

// AppendEvent appends one v2 event [[EventTime, {}], record] to b. record is an ordered map: a
// list of key/value pairs whose values are string, []byte (bin), int, uint64, float64, bool, nil
// or another ordered map.
func AppendEvent(b []byte, t time.Time, record [][2]any) []byte {
	b = append(b, 0x92, 0x92, 0xd7, 0x00)
	b = binary.BigEndian.AppendUint32(b, uint32(t.Unix()))
	b = binary.BigEndian.AppendUint32(b, uint32(t.Nanosecond()))
	b = append(b, 0x80) // metadata {}
	return AppendValue(b, record)
}

// AppendValue appends one msgpack value.
func AppendValue(b []byte, v any) []byte {
	switch v := v.(type) {
	case nil:
		return append(b, 0xc0)
	case bool:
		if v {
			return append(b, 0xc3)
		}
		return append(b, 0xc2)
	case string:
		return appendStr(b, v)
	case []byte:
		b = append(b, 0xc6)
		b = binary.BigEndian.AppendUint32(b, uint32(len(v)))
		return append(b, v...)
	case int:
		if v >= 0 {
			return AppendValue(b, uint64(v))
		}
		b = append(b, 0xd3)
		return binary.BigEndian.AppendUint64(b, uint64(v))
	case uint64:
		if v < 128 {
			return append(b, byte(v))
		}
		b = append(b, 0xcf)
		return binary.BigEndian.AppendUint64(b, v)
	case float64:
		b = append(b, 0xcb)
		return binary.BigEndian.AppendUint64(b, math.Float64bits(v))
	case [][2]any:
		b = append(b, 0xdf)
		b = binary.BigEndian.AppendUint32(b, uint32(len(v)))
		for _, kv := range v {
			b = AppendValue(b, kv[0])
			b = AppendValue(b, kv[1])
		}
		return b
	case []any:
		b = append(b, 0xdd)
		b = binary.BigEndian.AppendUint32(b, uint32(len(v)))
		for _, e := range v {
			b = AppendValue(b, e)
		}
		return b
	}
	panic(fmt.Sprintf("chunkgen: unsupported value %T", v))
}

func appendStr(b []byte, s string) []byte {
	switch n := len(s); {
	case n < 32:
		b = append(b, 0xa0|byte(n))
	case n < 256:
		b = append(b, 0xd9, byte(n))
	default:
		b = append(b, 0xdb)
		b = binary.BigEndian.AppendUint32(b, uint32(n))
	}
	return append(b, s...)
}
