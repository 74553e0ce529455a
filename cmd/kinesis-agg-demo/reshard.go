package main

import (
	"context"
	"fmt"
	"math/bits"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/kinesis-agg/kinesis_agg/hashkey"
	"github.com/kinesis-agg/kinesis_agg/internal/kinesalite"
)

// progress tracks how much of the shipping is done, in units of the shipper's choosing (chunks
// flushed, log slices written), so that resharding can happen at set points of it.
type progress struct {
	mu       sync.Mutex
	total    int
	done     int
	finished bool
	changed  chan struct{} // closed and replaced on every change
}

func newProgress(total int) *progress {
	return &progress{total: max(total, 1), changed: make(chan struct{})}
}

// setTotal changes the number of units once the shipper knows it.
func (p *progress) setTotal(total int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.total = max(total, 1)
	p.notifyLocked()
}

// add records n more units done.
func (p *progress) add(n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done += n
	p.notifyLocked()
}

// finish marks shipping over, whatever the count: waiters are released.
func (p *progress) finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.finished = true
	p.notifyLocked()
}

func (p *progress) notifyLocked() {
	close(p.changed)
	p.changed = make(chan struct{})
}

// wait blocks until at least frac of the units are done or shipping is over.
func (p *progress) wait(ctx context.Context, frac float64) error {
	for {
		p.mu.Lock()
		reached := p.finished || float64(p.done) >= frac*float64(p.total)
		changed := p.changed
		p.mu.Unlock()
		if reached {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// reshardPoint is one resharding operation and the shipping progress at which it starts.
type reshardPoint struct {
	at    float64
	split bool // else merge
}

// reshardPlan splits three shards and merges two pairs, spread over the middle of shipping, so
// that each one races the flushes in flight.
func reshardPlan() []reshardPoint {
	return []reshardPoint{{0.20, true}, {0.30, true}, {0.40, true}, {0.50, false}, {0.60, false}}
}

// reshard carries out reshardPlan on the stream as prog advances and prints one line per
// operation.
func reshard(ctx context.Context, admin *kinesis.Client, stream string, prog *progress, p *printer) error {
	for _, step := range reshardPlan() {
		if err := prog.wait(ctx, step.at); err != nil {
			return err
		}
		t0 := time.Now()
		open, err := kinesalite.OpenShards(ctx, admin, stream)
		if err != nil {
			return err
		}
		var what string
		if step.split {
			id, err := widestShard(open)
			if err != nil {
				return err
			}
			if err := kinesalite.SplitShardEvenly(ctx, admin, stream, id); err != nil {
				return err
			}
			what = "split " + id + " in two"
		} else {
			a, b, err := mergePair(open)
			if err != nil {
				return err
			}
			if err := kinesalite.MergeShards(ctx, admin, stream, a, b); err != nil {
				return err
			}
			what = "merged " + a + " and " + b
		}
		n, err := kinesalite.OpenShards(ctx, admin, stream)
		if err != nil {
			return err
		}
		p.printf("      %.0f%% shipped: %s, %d open shards (%s)\n", step.at*100, what, len(n), since(t0))
	}
	return nil
}

// openShard is an open shard with its parsed hash-key range.
type openShard struct {
	id, parent, adjacentParent string
	r                          hashkey.Range
}

func parseShards(shards []types.Shard) ([]openShard, error) {
	out := make([]openShard, 0, len(shards))
	for _, s := range shards {
		r, err := kinesalite.ShardRange(s)
		if err != nil {
			return nil, err
		}
		out = append(out, openShard{
			id: aws.ToString(s.ShardId), parent: aws.ToString(s.ParentShardId),
			adjacentParent: aws.ToString(s.AdjacentParentShardId), r: r,
		})
	}
	return out, nil
}

// width is the number of hash keys in r minus one (2^128-1 for the whole space fits).
func width(r hashkey.Range) hashkey.Key {
	lo, borrow := bits.Sub64(r.End.Lo, r.Start.Lo, 0)
	hi, _ := bits.Sub64(r.End.Hi, r.Start.Hi, borrow)
	return hashkey.Key{Hi: hi, Lo: lo}
}

// add128 adds two widths; the sum of two adjacent ranges' widths cannot overflow.
func add128(a, b hashkey.Key) hashkey.Key {
	lo, carry := bits.Add64(a.Lo, b.Lo, 0)
	hi, _ := bits.Add64(a.Hi, b.Hi, carry)
	return hashkey.Key{Hi: hi, Lo: lo}
}

// widestShard picks the open shard with the widest range (the first in listing order among
// equals): the one a scale-out would split.
func widestShard(shards []types.Shard) (string, error) {
	open, err := parseShards(shards)
	if err != nil {
		return "", err
	}
	best := -1
	for i, s := range open {
		if s.r.End.Compare(s.r.Start) <= 0 {
			continue // a one-key shard cannot be split
		}
		if best < 0 || width(s.r).Compare(width(open[best].r)) > 0 {
			best = i
		}
	}
	if best < 0 {
		return "", fmt.Errorf("no open shard wide enough to split among %d", len(open))
	}
	return open[best].id, nil
}

// mergePair picks two adjacent open shards to merge: the pair covering the narrowest range,
// preferring shards that are not siblings of one split (merging those would only undo it), then
// the lowest hash keys.
func mergePair(shards []types.Shard) (a, b string, err error) {
	open, err := parseShards(shards)
	if err != nil {
		return "", "", err
	}
	type pair struct {
		lo, hi   openShard
		width    hashkey.Key
		siblings bool
	}
	var best *pair
	for _, x := range open {
		next, overflow := x.r.End.Add1()
		if overflow {
			continue // x ends the hash-key space
		}
		for _, y := range open {
			if y.r.Start != next {
				continue
			}
			c := pair{lo: x, hi: y, width: add128(width(x.r), width(y.r)),
				siblings: x.parent != "" && x.parent == y.parent && x.adjacentParent == "" && y.adjacentParent == ""}
			if best == nil || better(c.width, c.siblings, c.lo.r.Start, best.width, best.siblings, best.lo.r.Start) {
				best = &c
			}
		}
	}
	if best == nil {
		return "", "", fmt.Errorf("no two adjacent open shards among %d", len(open))
	}
	return best.lo.id, best.hi.id, nil
}

// better orders merge candidates: narrower, then not siblings, then lower.
func better(w1 hashkey.Key, sib1 bool, start1 hashkey.Key, w2 hashkey.Key, sib2 bool, start2 hashkey.Key) bool {
	if c := w1.Compare(w2); c != 0 {
		return c < 0
	}
	if sib1 != sib2 {
		return !sib1
	}
	return start1.Less(start2)
}
