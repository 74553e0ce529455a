//go:build amd64 && !purego

package fastbase64

import "golang.org/x/sys/cpu"

// useAVX2 is decided once at init and never written afterwards. cpu.X86.HasAVX2
// also checks that the OS saves the YMM registers.
var useAVX2 = cpu.X86.HasAVX2

// encodeAVX2 encodes whole 24-byte blocks of src into 32-byte blocks of dst
// for as long as both stay in bounds, and returns the number of blocks done.
// Each block loads 16 bytes at its start and 16 at its start+12, so a block is
// only taken if 28 bytes of src remain: it never reads past the end of src nor
// writes past the end of dst, whatever their lengths. Implemented in
// encode_amd64.s.
//
//go:noescape
func encodeAVX2(dst, src []byte) (blocks int)

// encodeBlocksAVX2 skips the assembly call (and its VZEROUPPER) for inputs
// too short to contain a block.
func encodeBlocksAVX2(dst, src []byte) int {
	if len(src) < 28 {
		return 0
	}
	return encodeAVX2(dst, src)
}
