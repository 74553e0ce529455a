package fastbase64

import (
	"encoding/base64"
	"os"
	"syscall"
	"testing"
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
	// guard | src page | guard | dst page | guard
	mem, err := syscall.Mmap(-1, 0, 5*page, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		t.Skip("mmap:", err)
	}
	defer syscall.Munmap(mem)
	for _, g := range []int{0, 2, 4} {
		if err := syscall.Mprotect(mem[g*page:(g+1)*page], syscall.PROT_NONE); err != nil {
			t.Skip("mprotect:", err)
		}
	}
	srcPage := mem[page : 2*page : 2*page]
	dstPage := mem[3*page : 4*page : 4*page]
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
