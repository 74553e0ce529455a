//go:build amd64 && !purego

package md5x

import (
	"crypto/md5"
	"encoding"
	"encoding/binary"
	"math/rand/v2"
	"testing"
)

// refBlocks runs MD5 blocks over p from state s with crypto/md5, reading the
// state back through its binary marshaling.
func refBlocks(t *testing.T, s [4]uint32, p []byte) [4]uint32 {
	t.Helper()
	h := md5.New()
	if err := h.(encoding.BinaryUnmarshaler).UnmarshalBinary(appendState(nil, s, 0)); err != nil {
		t.Fatal(err)
	}
	h.Write(p)
	m, err := h.(encoding.BinaryMarshaler).MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	for k := range s {
		s[k] = binary.BigEndian.Uint32(m[4+4*k:])
	}
	return s
}

// TestKernels calls blocks8 and blocks16 directly with 1..width distinct
// lanes (the others repeating lane 0's pointer, as multi does), random
// starting states and several block counts, and checks every lane against
// crypto/md5.
func TestKernels(t *testing.T) {
	if !useAVX2 {
		t.Skip("CPU has no AVX2")
	}
	rng := rand.New(rand.NewPCG(20, 21))
	const maxBlocks = 70
	data := randomBytes(22, 16*maxBlocks*64+64)
	for _, width := range []int{8, 16} {
		for distinct := 1; distinct <= width; distinct++ {
			for _, n := range []int{0, 1, 2, 3, 5, 16, maxBlocks} {
				var st [2][4][8]uint32
				var ptrs [16]*byte
				var want [16][4]uint32
				for l := range width {
					var s [4]uint32
					for k := range s {
						s[k] = rng.Uint32()
						st[l/8][k][l%8] = s[k]
					}
					// Lane l's data, at an odd offset to test unaligned loads.
					off := (l*maxBlocks*64 + l*3 + 1)
					if l >= distinct {
						off = 1
					}
					ptrs[l] = &data[off]
					want[l] = refBlocks(t, s, data[off:off+64*n])
				}
				if width == 8 {
					blocks8(&st[0], (*[8]*byte)(ptrs[:8]), n)
				} else {
					blocks16(&st, &ptrs, n)
				}
				for l := range width {
					got := [4]uint32{st[l/8][0][l%8], st[l/8][1][l%8], st[l/8][2][l%8], st[l/8][3][l%8]}
					if got != want[l] {
						t.Fatalf("blocks%d, %d distinct lanes, %d blocks: lane %d: got %08x, want %08x", width, distinct, n, l, got, want[l])
					}
				}
			}
		}
	}
}

func BenchmarkKernel(b *testing.B) {
	if !useAVX2 {
		b.Skip("CPU has no AVX2")
	}
	const size = 32 << 10
	data := randomBytes(1, 16*size)
	var ptrs [16]*byte
	for l := range ptrs {
		ptrs[l] = &data[l*size]
	}
	b.Run("blocks8", func(b *testing.B) {
		var st [4][8]uint32
		b.SetBytes(8 * size)
		for b.Loop() {
			blocks8(&st, (*[8]*byte)(ptrs[:8]), size/64)
		}
	})
	b.Run("blocks16", func(b *testing.B) {
		var st [2][4][8]uint32
		b.SetBytes(16 * size)
		for b.Loop() {
			blocks16(&st, &ptrs, size/64)
		}
	})
}
