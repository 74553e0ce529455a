//go:build amd64 && !purego

package md5x

import "golang.org/x/sys/cpu"

// useAVX2 is decided once at init and never written afterwards. cpu.X86.HasAVX2
// also checks that the OS saves the YMM registers. stateFormatOK guards the
// hand-off of lane states to crypto/md5.
var useAVX2 = cpu.X86.HasAVX2 && stateFormatOK

// blocks8 runs MD5 over nblocks 64-byte blocks of 8 messages at once:
// lane l reads ptrs[l][0:64*nblocks] and updates A, B, C, D in
// state[0][l], state[1][l], state[2][l], state[3][l]. Every ptrs[l] must
// point at 64*nblocks readable bytes (unused lanes can repeat another lane's
// pointer). It reads nothing else. Implemented in blocks_amd64.s.
//
//go:noescape
func blocks8(state *[4][8]uint32, ptrs *[8]*byte, nblocks int)

// blocks16 is blocks8 on 16 messages: lane l < 8 is in state[0], lane l >= 8
// in state[1] at l-8. Implemented in blocks_amd64.s.
//
//go:noescape
func blocks16(state *[2][4][8]uint32, ptrs *[16]*byte, nblocks int)
