package events

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/kinesis-agg/kinesis_agg/hashkey"
	"github.com/kinesis-agg/kinesis_agg/strftime"
)

var randomKeyRE = regexp.MustCompile(`^[0-9a-f]{16}$`)

// checkAgainstDesc asserts that b holds exactly the non-marker events of the description, in
// order, with JSON equal to the described records (after transform).
func checkAgainstDesc(t *testing.T, name string, b *Batch, transform func(any) any) {
	t.Helper()
	d := loadDesc(t, name)
	if b.Malformed != nil {
		t.Fatalf("Malformed = %v", b.Malformed)
	}
	if len(b.Rejected) != 0 {
		t.Fatalf("Rejected = %+v", b.Rejected)
	}
	if b.Events != d.NumEvents || len(d.Events) != d.NumEvents {
		t.Fatalf("Events = %d, want %d", b.Events, d.NumEvents)
	}
	markers := 0
	ri := 0
	for i, ev := range d.Events {
		if ev.Timestamp.GroupMarker != "" {
			markers++
			continue
		}
		if ri >= len(b.Records) {
			t.Fatalf("only %d records, event %d missing", len(b.Records), i)
		}
		r := b.Records[ri]
		ri++
		if r.Ref != i {
			t.Fatalf("record %d has Ref %d, want %d", ri-1, r.Ref, i)
		}
		got, err := decodeOrdered(r.Data)
		if err != nil {
			t.Fatalf("event %d: output is not JSON: %v\n%.300s", i, err, r.Data)
		}
		wantRaw, err := decodeOrdered(ev.Record)
		if err != nil {
			t.Fatalf("event %d: description: %v", i, err)
		}
		want := expected(wantRaw)
		if transform != nil {
			want = transform(want)
		}
		if err := sameJSON(got, want, fmt.Sprintf("event %d", i)); err != nil {
			t.Fatalf("%v\ngot: %.500s", err, r.Data)
		}
	}
	if ri != len(b.Records) {
		t.Fatalf("%d records, want %d", len(b.Records), ri)
	}
	if b.Markers != markers {
		t.Errorf("Markers = %d, want %d", b.Markers, markers)
	}
}

func TestChunksMatchDescriptions(t *testing.T) {
	c, err := NewConverter(Options{MaxRecordBytes: 10 << 20})
	if err != nil {
		t.Fatal(err)
	}
	wantMarkers := map[string]int{"c_forward_groups": 2}
	for _, name := range chunkNames {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			chunk := loadChunk(t, name)
			d := loadDesc(t, name)
			if len(chunk) != d.ChunkBytes {
				t.Fatalf("chunk is %d bytes, description says %d", len(chunk), d.ChunkBytes)
			}
			var b Batch
			c.Convert(chunk, d.Tag, &b)
			checkAgainstDesc(t, name, &b, nil)
			if b.Markers != wantMarkers[name] {
				t.Errorf("Markers = %d, want %d", b.Markers, wantMarkers[name])
			}
			if b.RandomKeys != len(b.Records) {
				t.Errorf("RandomKeys = %d, want %d (no partition_key)", b.RandomKeys, len(b.Records))
			}
			for i, r := range b.Records {
				if !randomKeyRE.MatchString(r.PartitionKey) || r.Hash != hashkey.FromPartitionKey(r.PartitionKey) || r.ExplicitHashKey != "" {
					t.Fatalf("record %d: key %q hash %v ehk %q", i, r.PartitionKey, r.Hash, r.ExplicitHashKey)
				}
			}
		})
	}
}

func TestLegacyAndMarkerRefs(t *testing.T) {
	c, _ := NewConverter(Options{})
	tests := []struct {
		name    string
		refs    []int
		markers int
	}{
		{"c_forward_packed", []int{0, 1, 2, 3, 4}, 0}, // float timestamp at 2: all delivered
		{"c_forward_groups", []int{1, 2}, 2},
	}
	for _, tt := range tests {
		var b Batch
		c.Convert(loadChunk(t, tt.name), "", &b)
		var refs []int
		for _, r := range b.Records {
			refs = append(refs, r.Ref)
		}
		if fmt.Sprint(refs) != fmt.Sprint(tt.refs) || b.Markers != tt.markers || b.Events != len(loadDesc(t, tt.name).Events) {
			t.Errorf("%s: refs %v markers %d events %d, want refs %v markers %d", tt.name, refs, b.Markers, b.Events, tt.refs, tt.markers)
		}
	}
}

func TestLargeRecordLimit(t *testing.T) {
	chunk := loadChunk(t, "b_tail_app_json_1")
	tests := []struct {
		limit        int
		compression  string
		wantRejected bool
	}{
		{0, "none", true},         // default 1 MiB
		{1 << 20, "none", true},   // explicit 1 MiB
		{10 << 20, "none", false}, // 10 MiB
	}
	for _, tt := range tests {
		c, err := NewConverter(Options{MaxRecordBytes: tt.limit, Compression: tt.compression})
		if err != nil {
			t.Fatal(err)
		}
		var b Batch
		c.Convert(chunk, "tail.app", &b)
		if b.Malformed != nil || b.Events != 4106 {
			t.Fatalf("limit %d: events %d malformed %v", tt.limit, b.Events, b.Malformed)
		}
		if !tt.wantRejected {
			if len(b.Rejected) != 0 || len(b.Records) != 4106 {
				t.Errorf("limit %d: %d records, rejected %+v", tt.limit, len(b.Records), b.Rejected)
			}
			continue
		}
		if len(b.Rejected) != 1 || len(b.Records) != 4105 {
			t.Fatalf("limit %d: %d records, rejected %+v", tt.limit, len(b.Records), b.Rejected)
		}
		rj := b.Rejected[0]
		m := regexp.MustCompile(`^record too large: (\d+) bytes \(data (\d+) \+ key 16\) > limit 1048576$`).FindStringSubmatch(rj.Reason)
		if rj.Ref != 4000 || m == nil || m[1] != fmt.Sprint(rj.Size) || rj.Size <= 1572840 {
			t.Errorf("rejection = %+v", rj)
		}
		for _, r := range b.Records {
			if r.Ref == 4000 {
				t.Error("event 4000 delivered")
			}
		}
	}
}

func TestLogKey(t *testing.T) {
	t.Run("access log raw bytes", func(t *testing.T) {
		c, _ := NewConverter(Options{LogKey: []string{"log"}, AppendNewline: true})
		var b Batch
		c.Convert(loadChunk(t, "b_tail_access_1"), "", &b)
		d := loadDesc(t, "b_tail_access_1")
		if len(b.Records) != len(d.Events) || len(b.Rejected) != 0 {
			t.Fatalf("%d records (%d rejected), want %d", len(b.Records), len(b.Rejected), len(d.Events))
		}
		for i, ev := range d.Events {
			var rec struct{ Log string }
			if err := json.Unmarshal(ev.Record, &rec); err != nil {
				t.Fatal(err)
			}
			if got := string(b.Records[i].Data); got != rec.Log+"\n" {
				t.Fatalf("event %d: got %q, want %q", i, got, rec.Log+"\n")
			}
		}
	})
	t.Run("missing field rejected", func(t *testing.T) {
		c, _ := NewConverter(Options{LogKey: []string{"log"}})
		var b Batch
		c.Convert(loadChunk(t, "b_tail_app_json_1"), "", &b)
		// 8 of the lines were not JSON and stay {"log": ...}; the rest have no "log" field.
		if len(b.Records) != 8 || len(b.Rejected) != 4098 || b.Malformed != nil {
			t.Fatalf("%d records, %d rejected, malformed %v", len(b.Records), len(b.Rejected), b.Malformed)
		}
		d := loadDesc(t, "b_tail_app_json_1")
		rj := b.Rejected[0]
		if rj.Reason != "log_key field not present" || rj.Ref != 0 || rj.Size != d.Events[0].Length {
			t.Errorf("rejection = %+v, want Ref 0 Size %d", rj, d.Events[0].Length)
		}
	})
	tests := []struct {
		path []string
		want string
	}{
		{[]string{"kubernetes", "pod_name"}, "web-1"},
		{[]string{"kubernetes"}, `{"pod_name":"web-1","namespace_name":"prod","labels":{"app":"web"}}`},
		{[]string{"n"}, "42"},
		{[]string{"nil"}, "null"},
		{[]string{"arr"}, `[1,"two",{"three":3}]`},
	}
	for _, tt := range tests {
		c, _ := NewConverter(Options{LogKey: tt.path, TimeKey: "ignored", DataKeys: []string{"x"}})
		var b Batch
		c.Convert(loadChunk(t, "a_dummy_nested"), "", &b)
		if len(b.Records) != 8 {
			t.Fatalf("%v: %d records, rejected %+v", tt.path, len(b.Records), b.Rejected)
		}
		if got := string(b.Records[7].Data); got != tt.want {
			t.Errorf("%v: got %s, want %s", tt.path, got, tt.want)
		}
	}
}

func TestDataKeys(t *testing.T) {
	c, _ := NewConverter(Options{DataKeys: []string{"n", "log", "missing", "kubernetes"}, PartitionKey: []string{"level"}})
	var b Batch
	c.Convert(loadChunk(t, "a_dummy_nested"), "", &b)
	want := `{"log":"GET /index.html 200","kubernetes":{"pod_name":"web-1","namespace_name":"prod","labels":{"app":"web"}},"n":42}`
	for _, r := range b.Records {
		if string(r.Data) != want || r.PartitionKey != "info" {
			t.Fatalf("got %s key %q, want %s key info (read from the full record)", r.Data, r.PartitionKey, want)
		}
	}
	// Non-string top-level keys never match; an empty DataKeys list keeps nothing.
	c, _ = NewConverter(Options{DataKeys: []string{"1", "s"}})
	c.Convert(loadChunk(t, "c_forward_forward"), "", &b)
	if got := string(b.Records[4].Data); got != `{"s":"string key"}` {
		t.Errorf("got %s", got)
	}
	c, _ = NewConverter(Options{DataKeys: []string{}, TimeKey: "t", TimeFormat: strftime.MustCompile("%s")})
	c.Convert(loadChunk(t, "c_forward_forward"), "", &b)
	if got := string(b.Records[1].Data); got != `{"t":"1795627875"}` {
		t.Errorf("got %s", got)
	}
}

func TestTimeKey(t *testing.T) {
	layout := strftime.MustCompile("%Y-%m-%dT%H:%M:%S.%LZ")
	tests := []struct {
		chunk string
		opts  Options
		ref   int
		want  string
	}{
		{"a_dummy_nested", Options{TimeKey: "@timestamp", TimeFormat: layout}, 0,
			`{"log":"GET /index.html 200","kubernetes":{"pod_name":"web-1","namespace_name":"prod","labels":{"app":"web"}},"level":"info","n":42,"f":3.5,"ok":true,"nil":null,"arr":[1,"two",{"three":3}],"@timestamp":"2026-11-25T17:25:59.570Z"}`},
		// Legacy float timestamp 1795627875.75.
		{"c_forward_packed", Options{TimeKey: "time", TimeFormat: layout}, 2,
			`{"message":"packed forward, float64 timestamp","source":"fwdclient","time":"2026-11-25T17:31:15.750Z"}`},
		// Legacy integer timestamp, default layout.
		{"c_forward_packed", Options{TimeKey: "time"}, 1,
			`{"message":"packed forward, integer timestamp","source":"fwdclient","time":"2026-11-25T17:31:15"}`},
		// Nanosecond layout and a key that needs escaping; empty record.
		{"c_forward_forward", Options{TimeKey: `t"k`, TimeFormat: strftime.MustCompile("%s.%N")}, 6,
			`{"t\"k":"1795627875.000000005"}`},
		// Literal text needing escapes in the layout.
		{"c_forward_forward", Options{TimeKey: "t", TimeFormat: strftime.MustCompile("\"%s\"\n")}, 6,
			`{"t":"\"1795627875\"\n"}`},
	}
	for _, tt := range tests {
		c, err := NewConverter(tt.opts)
		if err != nil {
			t.Fatal(err)
		}
		var b Batch
		c.Convert(loadChunk(t, tt.chunk), "", &b)
		var got string
		for _, r := range b.Records {
			if r.Ref == tt.ref {
				got = string(r.Data)
			}
		}
		if got != tt.want {
			t.Errorf("%s event %d:\n got %s\nwant %s", tt.chunk, tt.ref, got, tt.want)
		}
	}
}

func TestReplaceDots(t *testing.T) {
	rec := mp{}.mapH(3).
		str("a.b").mapH(2).
		/**/ str("c.d").uint(1).
		/**/ str("e").mapH(1).str("f.g.h").arr(1).mapH(1).str("x.y").str("dots.in.value").
		uint(1).f64(1.5). // non-string key: its text, dots replaced too
		str("..").nil()
	chunk := mp{}.v2(1, 0, rec)
	tests := []struct{ with, want string }{
		{"_", `{"a_b":{"c_d":1,"e":{"f_g_h":[{"x_y":"dots.in.value"}]}},"1":1.5,"__":null}`},
		{"--", `{"a--b":{"c--d":1,"e":{"f--g--h":[{"x--y":"dots.in.value"}]}},"1":1.5,"----":null}`},
		{`"`, `{"a\"b":{"c\"d":1,"e":{"f\"g\"h":[{"x\"y":"dots.in.value"}]}},"1":1.5,"\"\"":null}`},
	}
	for _, tt := range tests {
		c, _ := NewConverter(Options{ReplaceDots: tt.with, PartitionKey: []string{"a.b", "c.d"}})
		var b Batch
		c.Convert(chunk, "", &b)
		if len(b.Records) != 1 || string(b.Records[0].Data) != tt.want {
			t.Errorf("%q: got %s, want %s", tt.with, b.Records[0].Data, tt.want)
		}
		if b.Records[0].PartitionKey != "1" {
			t.Errorf("partition key %q, want 1 (paths use the original keys)", b.Records[0].PartitionKey)
		}
	}
	// Nested replacement on a real chunk.
	c, _ := NewConverter(Options{ReplaceDots: "_", MaxRecordBytes: 10 << 20})
	var b Batch
	c.Convert(loadChunk(t, "c_forward_message"), "", &b)
	checkAgainstDesc(t, "c_forward_message", &b, func(v any) any { return replaceDotsIn(v, "_") })
	if !strings.Contains(string(b.Records[0].Data), `"1_5":"float key"`) {
		t.Errorf("float key not replaced: %s", b.Records[0].Data)
	}
}

func TestPartitionKeyNestedPath(t *testing.T) {
	c, _ := NewConverter(Options{PartitionKey: []string{"kubernetes", "pod_name"}})
	var b Batch
	c.Convert(loadChunk(t, "a_dummy_nested"), "kube.prod.web", &b)
	want := hashkey.FromPartitionKey("web-1")
	if len(b.Records) != 8 || b.RandomKeys != 0 {
		t.Fatalf("%d records, %d random keys", len(b.Records), b.RandomKeys)
	}
	for i, r := range b.Records {
		if r.PartitionKey != "web-1" || r.Hash != want || r.Ref != i {
			t.Errorf("record %d: key %q hash %v ref %d", i, r.PartitionKey, r.Hash, r.Ref)
		}
	}
	// The path must go through maps: "log" is a string, so log.x is missing.
	c, _ = NewConverter(Options{PartitionKey: []string{"log", "x"}})
	c.Convert(loadChunk(t, "a_dummy_nested"), "", &b)
	if b.RandomKeys != 8 {
		t.Errorf("RandomKeys = %d, want 8", b.RandomKeys)
	}
	seen := map[string]bool{}
	for _, r := range b.Records {
		if !randomKeyRE.MatchString(r.PartitionKey) || seen[r.PartitionKey] {
			t.Errorf("random key %q malformed or repeated", r.PartitionKey)
		}
		seen[r.PartitionKey] = true
	}
}
