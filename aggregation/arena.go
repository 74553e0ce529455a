package aggregation

import (
	"unsafe"

	"github.com/kinesis-agg/kinesis_agg/hashkey"
)

// arena hands out byte slices from a few large blocks that are reused after reset, so that the
// decimal explicit hash keys of sealed aggregates, and the aggregates whose key tables outgrew the
// room for sealing them in place, cost no allocation once a flush has warmed the blocks up.
type arena struct {
	blocks [][]byte
	cur    int // index of the block being filled
}

// Blocks start small and double up to arenaBlockSize: most flushes need only a few decimal hash
// keys, and a Manager per concurrent flush should not hold megabytes for them.
const (
	arenaFirstBlock = 4 << 10
	arenaBlockSize  = 4 << 20
)

// alloc returns a zero-length-prefixed slice with capacity n that stays valid until reset.
func (a *arena) alloc(n int) []byte {
	for ; a.cur < len(a.blocks); a.cur++ {
		b := a.blocks[a.cur]
		if cap(b)-len(b) >= n {
			a.blocks[a.cur] = b[:len(b)+n]
			return b[len(b) : len(b)+n : len(b)+n]
		}
		if len(b) == 0 { // an empty block too small for n: replace it
			break
		}
	}
	next := arenaFirstBlock
	if k := len(a.blocks); k > 0 {
		next = min(arenaBlockSize, 2*cap(a.blocks[k-1]))
	}
	size := max(next, n)
	b := make([]byte, n, size)
	if a.cur < len(a.blocks) {
		a.blocks[a.cur] = b
	} else {
		a.blocks = append(a.blocks, b)
	}
	return b[:n:n]
}

// decimal returns k's decimal form as a string backed by the arena.
func (a *arena) decimal(k hashkey.Key) string {
	var tmp [39]byte
	d := k.AppendDecimal(tmp[:0])
	b := a.alloc(len(d))
	copy(b, d)
	return unsafe.String(unsafe.SliceData(b), len(b))
}

// reset empties the arena for the next round, keeping the blocks this round used and dropping
// the others: the copies made while aggregators learn how much room their key tables need come
// only in a Manager's first rounds, and their megabytes should not stay.
func (a *arena) reset() {
	kept := a.blocks[:0]
	for _, b := range a.blocks {
		if len(b) > 0 {
			kept = append(kept, b[:0])
		}
	}
	clear(a.blocks[len(kept):])
	a.blocks = kept
	a.cur = 0
}
