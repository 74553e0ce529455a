package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"testing"

	"github.com/kinesis-agg/kinesis_agg/internal/chunkgen"
	"github.com/kinesis-agg/kinesis_agg/internal/kclreader"
)

func TestRecordID(t *testing.T) {
	for _, tc := range []struct {
		data string
		id   int
		ok   bool
	}{
		{`{"id":"id-000000042","log":"x"}`, 42, true},
		{`{"log":"x","id":"id-123456789"}`, 123456789, true},
		{`{"id":"id-000000000"}`, 0, true},
		{`{"id":"id-00000004"}`, 0, false},   // 8 digits
		{`{"id":"id-0000000042"}`, 0, false}, // 10 digits
		{`{"id":"id-00000004x"}`, 0, false},
		{`{"id":"id-000000042`, 0, false}, // truncated
		{`{"id": "id-000000042"}`, 0, false},
		{`{"other":"id-000000042"}`, 0, false},
		{``, 0, false},
	} {
		id, ok := recordID([]byte(tc.data))
		if id != tc.id || ok != tc.ok {
			t.Errorf("recordID(%s) = %d, %v; want %d, %v", tc.data, id, ok, tc.id, tc.ok)
		}
	}
}

func FuzzRecordID(f *testing.F) {
	f.Add([]byte(`{"id":"id-000000042","log":"x"}`))
	f.Add([]byte(`"id":"id-`))
	f.Add([]byte(`"id":"id-99999999"`))
	f.Fuzz(func(t *testing.T, data []byte) {
		id, ok := recordID(data)
		if !ok {
			return
		}
		if id < 0 || id > 999_999_999 || !bytes.Contains(data, []byte(`"id":"`+chunkgen.ID(id)+`"`)) {
			t.Fatalf("id %d from %q", id, data)
		}
	})
}

func delivered(datas ...string) []kclreader.Delivered {
	out := make([]kclreader.Delivered, len(datas))
	for i, d := range datas {
		out[i].Data = []byte(d)
	}
	return out
}

func rec(id int) string { return `{"id":"` + chunkgen.ID(id) + `"}` }

func TestCountIDs(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []kclreader.Delivered
		n    int
		want idCounts
	}{
		{"all once", delivered(rec(2), rec(0), rec(1)), 3, idCounts{delivered: 3}},
		{"duplicates", delivered(rec(0), rec(1), rec(1), rec(1), rec(0)), 2, idCounts{delivered: 2, duplicates: 3}},
		{"lost", delivered(rec(1), rec(4)), 6, idCounts{delivered: 2, lost: 4, missing: []int{0, 2, 3, 5}}},
		{"lost shows five", nil, 8, idCounts{lost: 8, missing: []int{0, 1, 2, 3, 4}}},
		{"unexpected", delivered(rec(0), rec(7), `{"no":"id"}`), 1, idCounts{delivered: 1, unexpected: 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := countIDs(tc.in, tc.n)
			if got.delivered != tc.want.delivered || got.lost != tc.want.lost || got.duplicates != tc.want.duplicates ||
				got.unexpected != tc.want.unexpected || !slices.Equal(got.missing, tc.want.missing) {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestGenerate(t *testing.T) {
	for _, tc := range []struct {
		n       int
		asLines bool
	}{{1, false}, {5_000, false}, {5_000, true}, {20_000, true}} {
		t.Run(fmt.Sprint(tc.n, tc.asLines), func(t *testing.T) {
			r, err := generate(tc.n, tc.asLines)
			if err != nil {
				t.Fatal(err)
			}
			if tc.n >= 1000 && (len(r.chunks) < shipSlices-2 || len(r.chunks) > shipSlices+2) {
				t.Errorf("%d chunks, want about %d", len(r.chunks), shipSlices)
			}
			if r.pods != min(tc.n, pods) || r.bytes <= 0 {
				t.Errorf("pods %d, bytes %d", r.pods, r.bytes)
			}
			if !tc.asLines {
				if r.logSlices != nil {
					t.Error("log lines without asking")
				}
				return
			}
			if len(r.logSlices) != len(r.chunks) {
				t.Fatalf("%d log slices for %d chunks", len(r.logSlices), len(r.chunks))
			}
			next, size := 0, 0
			for _, s := range r.logSlices {
				size += len(s)
				for _, line := range bytes.Split(bytes.TrimSuffix(s, []byte("\n")), []byte("\n")) {
					var v struct {
						ID         string `json:"id"`
						Kubernetes struct {
							PodName string `json:"pod_name"`
						} `json:"kubernetes"`
					}
					if err := json.Unmarshal(line, &v); err != nil {
						t.Fatalf("line %d %q: %v", next, line, err)
					}
					if v.ID != chunkgen.ID(next) || v.Kubernetes.PodName == "" {
						t.Fatalf("line %d: id %q pod %q", next, v.ID, v.Kubernetes.PodName)
					}
					if id, ok := recordID(line); !ok || id != next {
						t.Fatalf("recordID of line %d: %d, %v", next, id, ok)
					}
					next++
				}
			}
			if next != tc.n || size != r.bytes {
				t.Errorf("%d lines in %d bytes, want %d lines in %d", next, size, tc.n, r.bytes)
			}
		})
	}
}

func BenchmarkCountIDs(b *testing.B) {
	const n = 100_000
	in := make([]kclreader.Delivered, n)
	for i := range in {
		in[i].Data = []byte(`{"id":"` + chunkgen.ID(i) + `","log":"2026-11-25T10:00:00.000Z info GET /api/v1/orders/1 200 12ms","stream":"stdout"}`)
	}
	b.ReportAllocs()
	for b.Loop() {
		if c := countIDs(in, n); c.delivered != n {
			b.Fatalf("%+v", c)
		}
	}
}
