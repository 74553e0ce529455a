package aggregation

import (
	"testing"

	"github.com/kinesis-agg/kinesis_agg/hashkey"
)

func TestArenaGrowsAndForgetsUnusedBlocks(t *testing.T) {
	var a arena
	k := hashkey.FromPartitionKey("pk")
	if d := a.decimal(k); d != string(k.AppendDecimal(nil)) {
		t.Fatalf("decimal %q", d)
	}
	if len(a.blocks) != 1 || cap(a.blocks[0]) != arenaFirstBlock {
		t.Fatalf("first block cap %d, want %d", cap(a.blocks[0]), arenaFirstBlock)
	}
	big := a.alloc(1 << 20) // a copied aggregate: a block of its own
	if len(big) != 1<<20 || len(a.blocks) != 2 || cap(a.blocks[1]) != 1<<20 {
		t.Fatalf("big alloc: %d blocks, caps %d", len(a.blocks), cap(a.blocks[1]))
	}
	small := a.alloc(100) // back in the first block, which still has room
	if &small[:1][0] == &big[:1][0] {
		t.Fatal("overlapping allocations")
	}

	// A round that needs only decimals keeps the first block and drops the big one.
	a.reset()
	a.decimal(k)
	a.reset()
	if len(a.blocks) != 1 || cap(a.blocks[0]) != arenaFirstBlock {
		t.Fatalf("after a small round: %d blocks", len(a.blocks))
	}
	// Steady rounds allocate nothing.
	if n := testing.AllocsPerRun(10, func() { a.decimal(k); a.reset() }); n != 0 {
		t.Errorf("%.0f allocations per round, want 0", n)
	}
	// Blocks double up to arenaBlockSize.
	for range 12 {
		a.alloc(arenaFirstBlock)
	}
	for i := 1; i < len(a.blocks); i++ {
		if c, prev := cap(a.blocks[i]), cap(a.blocks[i-1]); c != min(2*prev, arenaBlockSize) {
			t.Fatalf("block %d cap %d after %d", i, c, prev)
		}
	}
}
