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

const arenaBlockSize = 4 << 20

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
	size := max(arenaBlockSize, n)
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

func (a *arena) reset() {
	for i := range a.blocks {
		a.blocks[i] = a.blocks[i][:0]
	}
	a.cur = 0
}
