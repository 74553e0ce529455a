package aggregation

import (
	"fmt"
	"testing"
)

// TestKeyIndexCollisions forces every key into a few hash values, so that finds depend on probing
// and on comparing the key bytes in the table, across growth and reset.
func TestKeyIndexCollisions(t *testing.T) {
	for _, hashes := range []uint64{1, 3, 1000} {
		t.Run(fmt.Sprintf("hashes=%d", hashes), func(t *testing.T) {
			var x keyIndex
			var table []byte
			const n = 500
			for i := range n {
				key := fmt.Sprintf("key-%d-", i)
				if _, ok := x.find(uint64(i)%hashes, key, table); ok {
					t.Fatalf("%s found before it was inserted", key)
				}
				table = appendTableEntry(table, fieldPartitionKeyTable, key)
				x.insert(uint64(i)%hashes, len(table)-len(key), len(key), uint64(i))
			}
			for i := range n {
				key := fmt.Sprintf("key-%d-", i)
				idx, ok := x.find(uint64(i)%hashes, key, table)
				if !ok || idx != uint64(i) {
					t.Fatalf("find(%s) = %d, %v; want %d, true", key, idx, ok, i)
				}
				// Same hash, different key; and a prefix of a stored key.
				if _, ok := x.find(uint64(i)%hashes, key+"x", table); ok {
					t.Fatalf("find(%sx) found a key never inserted", key)
				}
				if _, ok := x.find(uint64(i)%hashes, key[:len(key)-1], table); ok {
					t.Fatalf("find(%s) matched a longer key", key[:len(key)-1])
				}
			}
			x.reset()
			if _, ok := x.find(0, "key-0-", table); ok {
				t.Fatal("key found after reset")
			}
		})
	}
}
