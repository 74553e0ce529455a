//go:build !amd64 || purego

package fastbase64

// useAVX2 is false: there is no assembly outside amd64, or with the purego tag.
const useAVX2 = false

// encodeBlocksAVX2 is never reached (useAVX2 is false) and encodes nothing.
func encodeBlocksAVX2(dst, src []byte) int { return 0 }
