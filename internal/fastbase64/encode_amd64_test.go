//go:build amd64 && !purego

package fastbase64

import (
	"bytes"
	"encoding/base64"
	"testing"
)

// TestEncodeAVX2Bounds calls the assembly kernel directly with every
// combination of short src and dst lengths: it must take exactly the blocks
// whose 28-byte read and 32-byte store are in bounds, encode them correctly
// and touch nothing else.
func TestEncodeAVX2Bounds(t *testing.T) {
	if !useAVX2 {
		t.Skip("CPU has no AVX2")
	}
	data := randomBytes(13, 200)
	for sl := 0; sl <= len(data); sl++ {
		src := data[:sl:sl]
		for dl := 0; dl <= 300; dl++ {
			buf := bytes.Repeat([]byte{canary}, dl+64)
			dst := buf[32 : 32+dl : 32+dl]
			k := encodeAVX2(dst, src)
			want := min(max(sl-4, 0)/24, dl/32)
			if k != want {
				t.Fatalf("src %d dst %d: %d blocks, want %d", sl, dl, k, want)
			}
			if got, w := string(dst[:32*k]), base64.StdEncoding.EncodeToString(src[:24*k]); got != w {
				t.Fatalf("src %d dst %d: got %q, want %q", sl, dl, got, w)
			}
			for i, c := range buf {
				if (i < 32 || i >= 32+32*k) && c != canary {
					t.Fatalf("src %d dst %d: wrote buf[%d] outside the %d blocks", sl, dl, i, k)
				}
			}
		}
	}
}
