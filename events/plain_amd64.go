//go:build amd64 && !purego

package events

import "golang.org/x/sys/cpu"

// useAVX2 is decided once at init and never written afterwards; the kernel also needs BMI2
// (BZHI). cpu.X86.HasAVX2 also checks that the OS saves the YMM registers.
var useAVX2 = cpu.X86.HasAVX2 && cpu.X86.HasBMI2

// plainItemsAVX2 is plainItemsGo (see there) over buf = d[:o:dcap] and src = s[:slen], 32 bytes
// per compare: it returns the new length of buf, the offset past the items written, the index
// of the first item left and whether the last item written is the key want. It reads only
// inside src and writes only inside d[o:dcap]: a string of at most 32 bytes is loaded as the 32
// bytes at its start, so only while they lie in src; a longer one as 32-byte blocks from its
// start and one that ends at its end. Implemented in plain_amd64.s.
//
//go:noescape
func plainItemsAVX2(d *byte, o, dcap int, s *byte, slen, q, j, n2 int, want *[32]byte, wantLen int, keyStop byte) (o2, q2, j2 int, found bool)
