package main

import (
	"bytes"
	"fmt"

	"github.com/kinesis-agg/kinesis_agg/events"
	"github.com/kinesis-agg/kinesis_agg/internal/chunkgen"
	"github.com/kinesis-agg/kinesis_agg/internal/kclreader"
)

// pods is the number of distinct pod names, hence partition keys.
const pods = 1000

// maxChunkBytes is Fluent Bit's nominal chunk size; the host never gets bigger chunks.
const maxChunkBytes = 2_000_000

// records are the generated log records in the form the shipper needs.
type records struct {
	// chunks are Fluent Bit chunks (msgpack events), about shipSlices of them.
	chunks [][]byte
	// logSlices hold the same records as JSON lines, one slice per chunk (fluent-bit mode only).
	logSlices [][]byte
	bytes     int // size of what is shipped: chunks, or JSON lines
	pods      int
}

// generate makes n records with ids id-000000000 to id-(n-1), in about shipSlices chunks so
// that resharding can fall between them. With asLines it also renders them as the JSON lines
// an application would log, exactly as the plugin would send them.
func generate(n int, asLines bool) (records, error) {
	sample := chunkgen.Generate(chunkgen.Options{Records: 256, Seed: 1, Pods: pods})
	per := 0
	for _, c := range sample {
		per += len(c)
	}
	per /= 256
	chunkBytes := min(max(n*per/shipSlices, 4096), maxChunkBytes)

	r := records{
		chunks: chunkgen.Generate(chunkgen.Options{Records: n, Seed: 1, Pods: pods, ChunkBytes: chunkBytes}),
		pods:   min(n, pods),
	}
	if !asLines {
		for _, c := range r.chunks {
			r.bytes += len(c)
		}
		return r, nil
	}
	// The zero Options render a record as the JSON the plugin sends.
	conv, err := events.NewConverter(events.Options{})
	if err != nil {
		return records{}, fmt.Errorf("rendering log lines: %w", err)
	}
	var batch events.Batch
	for i, c := range r.chunks {
		conv.Convert(c, recordTag, &batch)
		if batch.Malformed != nil || len(batch.Rejected) > 0 {
			return records{}, fmt.Errorf("rendering log lines: generated chunk %d: malformed %v, %d records rejected",
				i, batch.Malformed, len(batch.Rejected))
		}
		var b bytes.Buffer
		for _, rec := range batch.Records {
			b.Write(rec.Data)
			b.WriteByte('\n')
		}
		r.logSlices = append(r.logSlices, b.Bytes())
		r.bytes += b.Len()
	}
	return r, nil
}

// idCounts is what a read-back found of the ids 0..n-1.
type idCounts struct {
	delivered  int   // distinct ids seen
	lost       int   // ids never seen
	duplicates int   // deliveries beyond the first of an id
	unexpected int   // user records without a demo id in range
	missing    []int // the first few lost ids
}

// maxMissingShown bounds the lost ids a report names.
const maxMissingShown = 5

// countIDs counts the ids 0..n-1 among the delivered user records.
func countIDs(delivered []kclreader.Delivered, n int) idCounts {
	seen := make([]int32, n)
	var c idCounts
	for _, d := range delivered {
		id, ok := recordID(d.Data)
		if !ok || id >= n {
			c.unexpected++
			continue
		}
		if seen[id]++; seen[id] > 1 {
			c.duplicates++
		}
	}
	for id, k := range seen {
		if k > 0 {
			c.delivered++
			continue
		}
		c.lost++
		if len(c.missing) < maxMissingShown {
			c.missing = append(c.missing, id)
		}
	}
	return c
}

// idField precedes the number in a record's JSON: {"id":"id-000000042",...}.
var idField = []byte(`"id":"id-`)

// idDigits is the width of the number chunkgen.ID writes.
const idDigits = 9

// recordID extracts the id number from a record's JSON data.
func recordID(data []byte) (int, bool) {
	i := bytes.Index(data, idField)
	if i < 0 {
		return 0, false
	}
	rest := data[i+len(idField):]
	if len(rest) < idDigits+1 || rest[idDigits] != '"' {
		return 0, false
	}
	id := 0
	for _, c := range rest[:idDigits] {
		if c < '0' || c > '9' {
			return 0, false
		}
		id = id*10 + int(c-'0')
	}
	return id, true
}
