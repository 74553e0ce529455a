package events

import (
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/kinesis-agg/kinesis_agg/hashkey"
	"github.com/kinesis-agg/kinesis_agg/strftime"
)

// fuzzOptions covers every feature; index 0 produces plain JSON that must always be valid.
func fuzzOptions(tb testing.TB) []*Converter {
	opts := []Options{
		{PartitionKey: []string{"log"}, MaxRecordBytes: 10 << 20},
		{PartitionKey: []string{"kubernetes", "pod_name"}, ExplicitHashKey: []string{"h"}, DataKeys: []string{"log", "a"},
			TimeKey: "t", TimeFormat: strftime.MustCompile("%Y-%m-%dT%H:%M:%S.%L%z"), ReplaceDots: "_", AppendNewline: true,
			MaxRecordBytes: 200},
		{LogKey: []string{"log"}, PartitionKey: []string{"a", "b"}, Compression: "zstd"},
		{LogKey: []string{"kubernetes"}, Compression: "gzip", MaxRecordBytes: 100},
	}
	var cs []*Converter
	for _, o := range opts {
		c, err := NewConverter(o)
		if err != nil {
			tb.Fatal(err)
		}
		cs = append(cs, c)
	}
	return cs
}

// checkInvariants asserts what must hold for any input.
func checkInvariants(tb testing.TB, chunk []byte, b *Batch, plainJSON bool) {
	tb.Helper()
	if got := len(b.Records) + len(b.Rejected) + b.Markers; got != b.Events {
		tb.Fatalf("records %d + rejected %d + markers %d != events %d", len(b.Records), len(b.Rejected), b.Markers, b.Events)
	}
	if b.Malformed != nil && (b.Malformed.Offset < 0 || b.Malformed.Offset >= len(chunk) || b.Malformed.Event != b.Events) {
		tb.Fatalf("bad Malformed %+v for %d-byte chunk, %d events", b.Malformed, len(chunk), b.Events)
	}
	last := -1
	for _, r := range b.Records {
		if r.Ref <= last || r.Ref >= b.Events {
			tb.Fatalf("Ref %d out of order or range (events %d)", r.Ref, b.Events)
		}
		last = r.Ref
		if r.PartitionKey == "" || !utf8.ValidString(r.PartitionKey) || len(utf16.Encode([]rune(r.PartitionKey))) > 256 {
			tb.Fatalf("bad partition key %q", r.PartitionKey)
		}
		if r.ExplicitHashKey == "" && r.Hash != hashkey.FromPartitionKey(r.PartitionKey) {
			tb.Fatalf("hash is not MD5(%q)", r.PartitionKey)
		}
		if plainJSON && !json.Valid(r.Data) {
			tb.Fatalf("invalid JSON %q", r.Data)
		}
	}
}

func TestRandomInputNeverPanics(t *testing.T) {
	cs := fuzzOptions(t)
	r := rand.New(rand.NewPCG(7, 11))
	seeds := [][]byte{loadChunk(t, "c_forward_message"), loadChunk(t, "c_forward_forward"),
		loadChunk(t, "c_forward_groups"), loadChunk(t, "a_dummy_nested")}
	var b Batch
	for i := 0; i < 20000; i++ {
		var chunk []byte
		if i%2 == 0 {
			chunk = make([]byte, r.IntN(200))
			for j := range chunk {
				chunk[j] = byte(r.Uint32())
			}
			// Make event starts likely so decoding gets past the first byte.
			if len(chunk) > 2 && i%4 == 0 {
				chunk[0], chunk[1] = 0x92, 0x92
			}
		} else {
			src := seeds[r.IntN(len(seeds))]
			chunk = append([]byte(nil), src[:r.IntN(len(src)+1)]...)
			for n := r.IntN(4); n > 0 && len(chunk) > 0; n-- {
				chunk[r.IntN(len(chunk))] = byte(r.Uint32())
			}
		}
		for ci, c := range cs {
			c.Convert(chunk, "", &b)
			checkInvariants(t, chunk, &b, ci == 0)
		}
	}
}

func FuzzConvert(f *testing.F) {
	for _, name := range []string{"a_dummy_nested", "c_forward_message", "c_forward_forward", "c_forward_packed",
		"c_forward_groups", "d_dummy_metadata", "e_retry_delivery1"} {
		f.Add(loadChunk(f, name))
	}
	f.Add(loadChunk(f, "b_tail_app_json_2")[:4096])
	f.Add([]byte{0x92, 0x92, 0xd7, 0x00})
	cs := fuzzOptions(f)
	// Two ways to find a nested partition key: while writing the JSON, and by a later scan.
	path := []string{"kubernetes", "pod_name"}
	tracked, _ := NewConverter(Options{PartitionKey: path})
	scanned, _ := NewConverter(Options{PartitionKey: path, DataKeys: []string{}})
	f.Fuzz(func(t *testing.T, chunk []byte) {
		var b, b2 Batch
		for ci, c := range cs {
			c.Convert(chunk, "", &b)
			checkInvariants(t, chunk, &b, ci == 0)
		}
		tracked.Convert(chunk, "", &b)
		scanned.Convert(chunk, "", &b2)
		// Records can differ (a record too deep as JSON is kept when no key is written), so
		// compare the ones both produced.
		keys := map[int]string{}
		for _, r := range b2.Records {
			keys[r.Ref] = r.PartitionKey
		}
		for _, r := range b.Records {
			k2, ok := keys[r.Ref]
			if ok && r.PartitionKey != k2 && !(randomKeyRE.MatchString(r.PartitionKey) && randomKeyRE.MatchString(k2)) {
				t.Fatalf("event %d: tracked key %q, scanned key %q", r.Ref, r.PartitionKey, k2)
			}
		}
	})
}

func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "plain ascii text", "a\"b\\c\n\x00\x7f", "é日🙂\u2028", "\xff\xfe\xed\xa0\x80", strings.Repeat("x", 33)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := string(appendString(nil, []byte(s))), stdJSONString(s); got != want {
			t.Fatalf("%q: got %s, want %s", s, got, want)
		}
	})
}
