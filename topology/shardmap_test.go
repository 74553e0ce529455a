package topology

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/kinesis-agg/kinesis_agg/hashkey"
)

type syntheticShard struct {
	ShardID         string `json:"shard_id"`
	ParentShardID   string `json:"parent_shard_id"`
	StartingHashKey string `json:"starting_hash_key"`
	EndingHashKey   string `json:"ending_hash_key"`
}

func TestGoldenTopologies(t *testing.T) {
	raw, err := os.ReadFile("../testdata/aggregation/hash_keys.json")
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		PartitionKeys []struct {
			PartitionKey string `json:"partition_key"`
		} `json:"partition_keys"`
		Synthetic map[string]json.RawMessage `json:"synthetic_topologies"`
	}
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatal(err)
	}
	maps := map[string]*ShardMap{}
	for _, name := range []string{"even_4", "after_split_open"} {
		var shards []syntheticShard
		if err := json.Unmarshal(f.Synthetic[name], &shards); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var listed []ListedShard
		for _, s := range shards {
			listed = append(listed, ListedShard{ShardID: s.ShardID, ParentShardID: s.ParentShardID,
				StartingHashKey: s.StartingHashKey, EndingHashKey: s.EndingHashKey})
		}
		m, err := FromListed(listed)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		maps[name] = m
	}
	type probe struct {
		HashKey       string `json:"explicit_hash_key"`
		PartitionKey  string `json:"partition_key"`
		ShardEven4    string `json:"shard_even_4"`
		ShardAfterSpl string `json:"shard_after_split"`
	}
	var probes, routes []probe
	if err := json.Unmarshal(f.Synthetic["boundary_probes"], &probes); err != nil {
		t.Fatalf("boundary_probes: %v", err)
	}
	if err := json.Unmarshal(f.Synthetic["partition_key_routes"], &routes); err != nil {
		t.Fatalf("partition_key_routes: %v", err)
	}
	if len(probes) < 20 || len(routes) < 50 {
		t.Fatalf("only %d probes and %d routes", len(probes), len(routes))
	}
	check := func(what string, k hashkey.Key, p probe) {
		if got := maps["even_4"].Lookup(k).ID; got != p.ShardEven4 {
			t.Errorf("even_4: Lookup(%s) = %s, want %s", what, got, p.ShardEven4)
		}
		if got := maps["after_split_open"].Lookup(k).ID; got != p.ShardAfterSpl {
			t.Errorf("after_split: Lookup(%s) = %s, want %s", what, got, p.ShardAfterSpl)
		}
	}
	checked := 0
	for _, p := range probes {
		k, err := hashkey.ParseDecimal(p.HashKey)
		if err != nil {
			if p.ShardEven4 != "" {
				t.Errorf("probe %s has a shard but does not parse: %v", p.HashKey, err)
			}
			continue // beyond 2^128-1: no shard
		}
		check(p.HashKey, k, p)
		checked++
	}
	for _, r := range routes {
		check(r.PartitionKey, hashkey.FromPartitionKey(r.PartitionKey), r)
		checked++
	}
	if checked < 70 {
		t.Fatalf("only %d lookups checked", checked)
	}
}

const max128 = "340282366920938463463374607431768211455"

func TestFromListedValidation(t *testing.T) {
	open := func(id, s, e string) ListedShard {
		return ListedShard{ShardID: id, StartingHashKey: s, EndingHashKey: e}
	}
	closed := func(id, s, e string) ListedShard {
		l := open(id, s, e)
		l.EndingSequenceNumber = "49590338271490256608559692540925702759324208523137515618"
		return l
	}
	tests := []struct {
		name    string
		in      []ListedShard
		wantErr string
		open    []string
	}{
		{"single", []ListedShard{open("s0", "0", max128)}, "", []string{"s0"}},
		{"unsorted two", []ListedShard{open("s1", "100", max128), open("s0", "0", "99")}, "", []string{"s0", "s1"}},
		{"closed parent ignored", []ListedShard{closed("p", "0", max128), open("a", "0", "99"), open("b", "100", max128)}, "", []string{"a", "b"}},
		{"duplicate page entry", []ListedShard{open("a", "0", "99"), open("a", "0", "99"), open("b", "100", max128)}, "", []string{"a", "b"}},
		{"empty", nil, "no open shards", nil},
		{"gap", []ListedShard{open("a", "0", "99"), open("b", "101", max128)}, "gap between shard a", nil},
		{"overlap (parent still open)", []ListedShard{open("p", "0", max128), open("a", "0", "99"), open("b", "100", max128)}, "overlap", nil},
		{"not from zero", []ListedShard{open("a", "1", max128)}, "starts at 1, not 0", nil},
		{"not to max", []ListedShard{open("a", "0", "99")}, "not 2^128-1", nil},
		{"bad number", []ListedShard{open("a", "0", "x")}, "ending hash key", nil},
		{"reversed", []ListedShard{open("a", "5", "4")}, "below starting", nil},
		{"conflicting duplicate", []ListedShard{open("a", "0", max128), open("a", "0", "5")}, "different ranges", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := FromListed(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, s := range m.Shards() {
				ids = append(ids, s.ID)
			}
			if len(ids) != len(tc.open) {
				t.Fatalf("open = %v, want %v", ids, tc.open)
			}
			for i := range ids {
				if ids[i] != tc.open[i] {
					t.Fatalf("open = %v, want %v", ids, tc.open)
				}
			}
			for _, l := range tc.in {
				if _, ok := m.RangeOf(l.ShardID); !ok {
					t.Errorf("RangeOf(%s) unknown", l.ShardID)
				}
			}
		})
	}
	if _, err := FromListed([]ListedShard{open("a", "0", "99")}); !errors.Is(err, ErrInvalidMap) {
		t.Errorf("error does not wrap ErrInvalidMap: %v", err)
	}
}

func FuzzFromListed(f *testing.F) {
	f.Add("0", "99", "100", max128, false)
	f.Add("0", max128, "0", max128, true)
	f.Add("5", "4", "x", "", false)
	f.Fuzz(func(t *testing.T, s1, e1, s2, e2 string, closeFirst bool) {
		a := ListedShard{ShardID: "a", StartingHashKey: s1, EndingHashKey: e1}
		if closeFirst {
			a.EndingSequenceNumber = "1"
		}
		m, err := FromListed([]ListedShard{a, {ShardID: "b", StartingHashKey: s2, EndingHashKey: e2}})
		if err != nil {
			return
		}
		// A map that passed validation tiles the space: every key has exactly one shard.
		for _, k := range []hashkey.Key{{}, hashkey.Max, {Hi: 1 << 63}, {Lo: 99}, {Lo: 100}} {
			s := m.Lookup(k)
			if !s.Range.Contains(k) {
				t.Fatalf("Lookup(%s) = %s %s", k, s.ID, s.Range)
			}
		}
		shards := m.Shards()
		if shards[0].Range.Start != (hashkey.Key{}) || shards[len(shards)-1].Range.End != hashkey.Max {
			t.Fatal("map does not span the hash key space")
		}
	})
}

func BenchmarkLookup64(b *testing.B) {
	var listed []ListedShard
	step := hashkey.Key{Hi: ^uint64(0) / 64}
	start := hashkey.Key{}
	for i := 0; i < 64; i++ {
		end := hashkey.Key{Hi: start.Hi + step.Hi, Lo: ^uint64(0)}
		if i == 63 {
			end = hashkey.Max
		}
		listed = append(listed, ListedShard{ShardID: string(rune('A' + i)), StartingHashKey: start.String(), EndingHashKey: end.String()})
		start, _ = end.Add1()
	}
	m, err := FromListed(listed)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		_ = m.LookupIndex(hashkey.Key{Hi: uint64(i) * 0x9E3779B97F4A7C15})
	}
}

// TestLookupMatchesLinearScan checks the bucketed search against the definition (the shard whose
// range contains the key) on maps with shards crowded into one bucket, straddling buckets and
// spread evenly, at every boundary and at random keys.
func TestLookupMatchesLinearScan(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 9))
	randKey := func() hashkey.Key { return hashkey.Key{Hi: rng.Uint64(), Lo: rng.Uint64()} }
	for trial := range 200 {
		// Split a random shard at a random point inside it, many times; every third trial
		// splits only near one key so that many shards share one jump bucket.
		shards := []Shard{{ID: "s0", Range: hashkey.Range{End: hashkey.Max}}}
		hot := randKey()
		for n, tries := 1+rng.IntN(300), 0; len(shards) < n && tries < 10*n; tries++ {
			i := rng.IntN(len(shards))
			if trial%3 == 0 {
				i = slices.IndexFunc(shards, func(s Shard) bool { return s.Range.Contains(hot) })
			}
			r := shards[i].Range
			if r.Start == r.End {
				continue
			}
			mid := hashkey.Mid(r.Start, r.End)
			if trial%3 != 0 && rng.IntN(2) == 0 {
				// a random point rather than the middle
				if k := randKey(); r.Contains(k) && k != r.End {
					mid = k
				}
			}
			next, _ := mid.Add1()
			shards[i].Range.End = mid
			shards = slices.Insert(shards, i+1, Shard{ID: fmt.Sprintf("s%d", len(shards)), Range: hashkey.Range{Start: next, End: r.End}})
		}
		m, err := New(shards)
		if err != nil {
			t.Fatal(err)
		}
		var probes []hashkey.Key
		for _, s := range shards {
			probes = append(probes, s.Range.Start, s.Range.End)
			if k, under := s.Range.Start.Sub1(); !under {
				probes = append(probes, k)
			}
		}
		for range 200 {
			probes = append(probes, randKey(), hot)
		}
		for _, k := range probes {
			got := m.Shards()[m.LookupIndex(k)]
			want := shards[slices.IndexFunc(shards, func(s Shard) bool { return s.Range.Contains(k) })]
			if got.ID != want.ID {
				t.Fatalf("trial %d (%d shards): LookupIndex(%s) = %s %s, want %s %s", trial, len(shards), k, got.ID, got.Range, want.ID, want.Range)
			}
		}
	}
}
