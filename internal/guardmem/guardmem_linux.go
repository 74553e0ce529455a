// Package guardmem gives tests memory fenced by inaccessible pages, so that a read or write out
// of bounds (an assembly kernel's vector loads and stores included) faults instead of passing.
package guardmem

import (
	"os"
	"syscall"
	"testing"
)

// Pages returns n readable and writable pages with an inaccessible page right before and right
// after them, unmapped when tb ends. It skips tb where the memory cannot be set up.
func Pages(tb testing.TB, n int) []byte {
	tb.Helper()
	page := os.Getpagesize()
	mem, err := syscall.Mmap(-1, 0, (n+2)*page, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		tb.Skip("mmap:", err)
	}
	tb.Cleanup(func() { syscall.Munmap(mem) })
	for _, g := range []int{0, n + 1} {
		if err := syscall.Mprotect(mem[g*page:(g+1)*page], syscall.PROT_NONE); err != nil {
			tb.Skip("mprotect:", err)
		}
	}
	end := (n + 1) * page
	return mem[page:end:end]
}
