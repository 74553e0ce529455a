//go:build !amd64 || purego

package events

// useAVX2 is false: there is no assembly outside amd64, or with the purego tag.
const useAVX2 = false

// plainItemsAVX2 is never reached (useAVX2 is false) and writes nothing.
func plainItemsAVX2(d *byte, o, dcap int, s *byte, slen, q, j, n2 int, want *[32]byte, wantLen int, keyStop byte) (o2, q2, j2 int, found bool) {
	return o, q, j, false
}
