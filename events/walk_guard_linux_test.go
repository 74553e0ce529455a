package events

import (
	"bytes"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/kinesis-agg/kinesis_agg/internal/guardmem"
)

// TestPlainItemsGuardPages places src and the buffer's capacity flush against inaccessible
// pages, so that any read past len(src) or write past cap(buf), the vector loads and stores
// included, faults and crashes the test.
func TestPlainItemsGuardPages(t *testing.T) {
	page := os.Getpagesize()
	srcPage, bufPage := guardmem.Pages(t, 1), guardmem.Pages(t, 1)
	r := rand.New(rand.NewPCG(5, 8))
	runs := plainRuns()
	for round := 0; round < 5000; round++ {
		n2 := 2 * (1 + r.IntN(8))
		items, offsets := walkItems(r, n2)
		if len(items) > page {
			continue
		}
		src := srcPage[page-len(items):]
		copy(src, items)
		j := r.IntN(n2)
		want := &pathKeys([]string{walkKeys[r.IntN(len(walkKeys))]})[0]
		o, free := r.IntN(40), r.IntN(400)
		for name, run := range runs {
			start := page - o - free
			for i := range o {
				bufPage[start+i] = byte('A' + i%26)
			}
			before := bytes.Clone(bufPage[start : start+o])
			buf := bufPage[start : start+o : page]
			keyStop := []byte{'"', '.'}[round%2]
			got, q2, j2, found := run(buf, src, offsets[j], j, n2, want, keyStop)
			if err := checkRun(src, offsets[j], j, n2, want, keyStop, before, got, q2, j2, found); err != nil {
				t.Fatalf("%s, round %d, items %x from %d, buf %d+%d: %v", name, round, items, j, o, free, err)
			}
		}
	}
}
