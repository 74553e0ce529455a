package md5x

import (
	"os"
	"testing"

	"github.com/kinesis-agg/kinesis_agg/internal/guardmem"
)

// TestSumManyGuardPages places messages flush against inaccessible pages, at
// both ends, so that any read out of bounds (including the kernel's vector
// loads and the lanes it runs idle) faults and crashes the test.
func TestSumManyGuardPages(t *testing.T) {
	page := os.Getpagesize()
	const dataPages = 4
	data := guardmem.Pages(t, dataPages)
	size := dataPages * page
	copy(data, randomBytes(23, size))

	ps := paths(t)
	lens := []int{0, 1, 63, 64, 65, 127, 128, 129, 1000, 4095, 4096, 4097, size - 1, size}
	for k := 1; k <= 17; k++ {
		for _, l0 := range lens {
			for _, atEnd := range []bool{true, false} {
				// k messages of different lengths, all ending at the last
				// readable byte or all starting at the first.
				msgs := make([][]byte, k)
				for i := range msgs {
					l := lens[(i*5+len(lens)-1)%len(lens)]
					if i == 0 {
						l = l0
					}
					if atEnd {
						msgs[i] = data[size-l:]
					} else {
						msgs[i] = data[:l:l]
					}
				}
				check(t, ps, msgs)
			}
		}
	}
}
