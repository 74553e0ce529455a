//go:build !amd64 || purego

package md5x

// useAVX2 is false: there is no assembly outside amd64, or with the purego tag.
const useAVX2 = false

// blocks8 is never reached (useAVX2 is false).
func blocks8(state *[4][lanes]uint32, ptrs *[lanes]*byte, nblocks int) {
	panic("md5x: no multi-buffer kernel in this build")
}

// blocks16 is never reached (useAVX2 is false).
func blocks16(state *[2][4][lanes]uint32, ptrs *[2 * lanes]*byte, nblocks int) {
	panic("md5x: no multi-buffer kernel in this build")
}
