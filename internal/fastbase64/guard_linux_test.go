package fastbase64

import (
	"encoding/base64"
	"os"
	"testing"

	"github.com/kinesis-agg/kinesis_agg/internal/guardmem"
)

// TestEncodeGuardPages places src and dst flush against inaccessible pages, at
// both ends, so any read or write out of bounds (including the vector loads
// and stores) faults and crashes the test.
func TestEncodeGuardPages(t *testing.T) {
	page := os.Getpagesize()
	const maxLen = 2048
	if EncodedLen(maxLen) > page {
		t.Skipf("page size %d too small", page)
	}
	srcPage, dstPage := guardmem.Pages(t, 1), guardmem.Pages(t, 1)
	copy(srcPage, randomBytes(17, page))

	ps := paths(t)
	for n := 0; n <= maxLen; n++ {
		m := EncodedLen(n)
		for _, atEnd := range []bool{true, false} {
			src, dst := srcPage[:n:n], dstPage[:m:m]
			if atEnd {
				src, dst = srcPage[page-n:], dstPage[page-m:]
			}
			want := base64.StdEncoding.EncodeToString(src)
			for _, p := range ps {
				clear(dst)
				p.fn(dst, src)
				if string(dst) != want {
					t.Fatalf("%s: len %d (at page end: %v): wrong encoding", p.name, n, atEnd)
				}
			}
		}
	}
}
