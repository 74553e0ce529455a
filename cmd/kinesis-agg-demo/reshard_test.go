package main

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/kinesis-agg/kinesis_agg/hashkey"
)

// eighths returns k/8 of the hash-key space (k in 0..8) as a key.
func eighths(k uint64) hashkey.Key { return hashkey.Key{Hi: k << 61} }

// shard builds a listed shard covering [start, end-1] in eighths of the space.
func shard(id string, start, end uint64, parent, adjacent string) types.Shard {
	s, e := eighths(start), eighths(end)
	if end == 8 {
		e = hashkey.Max
	} else {
		e, _ = e.Sub1()
	}
	sh := types.Shard{
		ShardId:      aws.String(id),
		HashKeyRange: &types.HashKeyRange{StartingHashKey: aws.String(s.String()), EndingHashKey: aws.String(e.String())},
	}
	if parent != "" {
		sh.ParentShardId = aws.String(parent)
	}
	if adjacent != "" {
		sh.AdjacentParentShardId = aws.String(adjacent)
	}
	return sh
}

func TestWidestShard(t *testing.T) {
	for _, tc := range []struct {
		name   string
		shards []types.Shard
		want   string
	}{
		{"widest", []types.Shard{shard("a", 0, 2, "", ""), shard("b", 2, 4, "", ""), shard("c", 4, 8, "", "")}, "c"},
		{"first of equals", []types.Shard{shard("a", 0, 4, "", ""), shard("b", 4, 8, "", "")}, "a"},
		{"last covers Max", []types.Shard{shard("a", 0, 1, "", ""), shard("b", 1, 8, "", "")}, "b"},
		{"one shard", []types.Shard{shard("a", 0, 8, "", "")}, "a"},
	} {
		got, err := widestShard(tc.shards)
		if err != nil || got != tc.want {
			t.Errorf("%s: %q, %v; want %q", tc.name, got, err, tc.want)
		}
	}
	if _, err := widestShard(nil); err == nil {
		t.Error("no shards: no error")
	}
}

func TestMergePair(t *testing.T) {
	// The demo's stream after three splits: 0 → 4,5; 1 → 6,7; 2 → 8,9; 3 untouched.
	afterSplits := []types.Shard{
		shard("3", 6, 8, "", ""),
		shard("4", 0, 1, "0", ""), shard("5", 1, 2, "0", ""),
		shard("6", 2, 3, "1", ""), shard("7", 3, 4, "1", ""),
		shard("8", 4, 5, "2", ""), shard("9", 5, 6, "2", ""),
	}
	for _, tc := range []struct {
		name   string
		shards []types.Shard
		a, b   string
	}{
		{"narrowest, not siblings, lowest", afterSplits, "5", "6"},
		{"siblings only", []types.Shard{shard("1", 0, 1, "0", ""), shard("2", 1, 2, "0", ""), shard("3", 2, 8, "", "")}, "1", "2"},
		{"narrowest wins over non-sibling", []types.Shard{
			shard("x", 0, 4, "", ""), shard("y", 4, 6, "p", ""), shard("z", 6, 8, "p", ""),
		}, "y", "z"},
		{"a merged child is no sibling", []types.Shard{
			shard("m", 0, 1, "p", "q"), shard("n", 1, 2, "p", ""), shard("o", 2, 3, "r", ""),
			shard("s", 3, 4, "r", ""), shard("t", 4, 8, "", ""),
		}, "m", "n"},
	} {
		a, b, err := mergePair(tc.shards)
		if err != nil || a != tc.a || b != tc.b {
			t.Errorf("%s: %q+%q, %v; want %q+%q", tc.name, a, b, err, tc.a, tc.b)
		}
	}
	if _, _, err := mergePair([]types.Shard{shard("a", 0, 8, "", "")}); err == nil {
		t.Error("one shard: no error")
	}
	if _, _, err := mergePair([]types.Shard{shard("a", 0, 2, "", ""), shard("b", 4, 8, "", "")}); err == nil {
		t.Error("no adjacent shards: no error")
	}
}

func TestWidth(t *testing.T) {
	full := hashkey.Range{Start: hashkey.Key{}, End: hashkey.Max}
	if width(full) != hashkey.Max {
		t.Errorf("width of the whole space %v", width(full))
	}
	quarter := hashkey.Key{Hi: 1 << 62}
	lower := hashkey.Range{Start: quarter, End: hashkey.Key{Hi: 1<<63 - 1, Lo: ^uint64(0)}}
	if want := (hashkey.Key{Hi: 1<<62 - 1, Lo: ^uint64(0)}); width(lower) != want {
		t.Errorf("width %v, want %v", width(lower), want)
	}
	if got := add128(hashkey.Key{Lo: ^uint64(0)}, hashkey.Key{Lo: 1}); got != (hashkey.Key{Hi: 1}) {
		t.Errorf("carry: %v", got)
	}
}

func TestReshardPlan(t *testing.T) {
	plan := reshardPlan()
	splits, merges := 0, 0
	for i, s := range plan {
		if i > 0 && s.at <= plan[i-1].at || s.at <= 0 || s.at >= 1 {
			t.Errorf("point %d at %v is out of order or outside (0, 1)", i, s.at)
		}
		if s.split {
			splits++
			if merges > 0 {
				t.Error("a split after a merge")
			}
		} else {
			merges++
		}
	}
	if splits != 3 || merges != 2 {
		t.Errorf("%d splits and %d merges, want 3 and 2", splits, merges)
	}
}

func TestProgressWait(t *testing.T) {
	p := newProgress(10)
	reached := make(chan float64, 3)
	for _, frac := range []float64{0.2, 0.5} {
		go func() {
			if err := p.wait(context.Background(), frac); err == nil {
				reached <- frac
			}
		}()
	}
	p.add(1)
	select {
	case f := <-reached:
		t.Fatalf("%v reached at 10%%", f)
	case <-time.After(20 * time.Millisecond):
	}
	p.add(1)
	if f := <-reached; f != 0.2 {
		t.Fatalf("%v reached at 20%%", f)
	}
	p.setTotal(4) // 2 of 4 is half
	if f := <-reached; f != 0.5 {
		t.Fatalf("%v reached", f)
	}

	p = newProgress(10)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := p.wait(ctx, 0.9); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled wait: %v", err)
	}
	p.finish()
	if err := p.wait(context.Background(), 0.9); err != nil {
		t.Errorf("wait after finish: %v", err)
	}
}
