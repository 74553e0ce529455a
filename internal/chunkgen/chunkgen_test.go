package chunkgen

import (
	"strings"
	"testing"

	"github.com/kinesis-agg/kinesis_agg/events"
)

// The generated chunks decode with our own converter into the records we meant, ~330 bytes each.
func TestGenerateDecodes(t *testing.T) {
	chunks := Generate(Options{FirstID: 100, Records: 20000, Seed: 1})
	if len(chunks) < 2 {
		t.Fatalf("%d chunks for 20000 records, want several ~2 MB chunks", len(chunks))
	}
	conv, err := events.NewConverter(events.Options{PartitionKey: []string{"kubernetes", "pod_name"}})
	if err != nil {
		t.Fatal(err)
	}
	var b events.Batch
	n, size := 0, 0
	pods := map[string]bool{}
	for _, c := range chunks {
		conv.Convert(c, "t", &b)
		if b.Malformed != nil || len(b.Rejected) > 0 || b.RandomKeys > 0 {
			t.Fatalf("malformed %v rejected %v random %d", b.Malformed, b.Rejected, b.RandomKeys)
		}
		for _, r := range b.Records {
			if want := `{"id":"` + ID(100+n) + `"`; !strings.HasPrefix(string(r.Data), want) {
				t.Fatalf("record %d starts %q, want %q", n, r.Data[:20], want)
			}
			pods[strings.Clone(r.PartitionKey)] = true // keys alias the batch arena
			size += len(r.Data)
			n++
		}
	}
	if n != 20000 || len(pods) != 1000 {
		t.Fatalf("%d records over %d pods", n, len(pods))
	}
	if avg := size / n; avg < 300 || avg > 380 {
		t.Fatalf("average record %d bytes, want ~330", avg)
	}
}
