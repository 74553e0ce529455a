package events

import (
	"crypto/md5"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/kinesis-agg/kinesis_agg/hashkey"
)

// The cache answers exactly MD5 for every key, across flushes (it keeps copies, not references),
// with more keys than slots (collisions evict) and keys too long to cache.
func TestKeyCacheMatchesMD5(t *testing.T) {
	var k keyCache
	keys := make([]string, 0, 3*keyCacheSize)
	for i := 0; i < cap(keys); i++ {
		keys = append(keys, fmt.Sprintf("pod-%d", i))
	}
	keys = append(keys, strings.Repeat("x", cachedKeyLen), strings.Repeat("y", cachedKeyLen+1), "é")
	for round := 0; round < 3; round++ {
		arena := []byte{}
		for _, key := range keys {
			off := len(arena)
			arena = append(arena, key...)
			if got, want := k.hash(arena, off, len(key)), hashkey.FromBytes(md5.Sum([]byte(key))); got != want {
				t.Fatalf("round %d: hash(%q) = %v, want %v", round, key, got, want)
			}
		}
		// The next flush reuses the arena for other bytes: cached answers must not change.
		for i := range arena {
			arena[i] = 'z'
		}
		k.reset()
	}
}

func BenchmarkKeyCacheHit(b *testing.B) {
	var k keyCache
	arena := []byte("checkout-7d9f8c6b5-00042")
	k.hash(arena, 0, len(arena))
	b.ReportAllocs()
	for b.Loop() {
		k.hash(arena, 0, len(arena))
	}
}

func TestIsASCII(t *testing.T) {
	for n := 0; n <= 40; n++ {
		s := []byte(strings.Repeat("a", n))
		if !isASCII(s) {
			t.Fatalf("len %d: ASCII reported as not", n)
		}
		for i := range s {
			s[i] = 0x80
			if isASCII(s) {
				t.Fatalf("len %d: byte 0x80 at %d missed", n, i)
			}
			s[i] = 'a'
		}
	}
}

// Convert hashes a run of records with one partition key once (keyCache.hashRun): every
// record still gets its own key's MD5 whatever precedes it (runs, alternation, a record with an
// explicit hash key or a random key in between), and across a reused Batch.
func TestConvertHashesPerRecord(t *testing.T) {
	c, err := NewConverter(Options{PartitionKey: []string{"pk"}, ExplicitHashKey: []string{"h"}})
	if err != nil {
		t.Fatal(err)
	}
	const ehk = "170141183460469231731687303715884105728"
	keys := []string{"a", "a", "b", "a", "", "c", "c", "=ehk", "c", "d", "d"}
	var chunk mp
	for _, k := range keys {
		switch k {
		case "":
			chunk = chunk.v2(1, 0, mp{}.mapH(1).str("x").str("no key"))
		case "=ehk":
			chunk = chunk.v2(1, 0, mp{}.mapH(2).str("pk").str("c").str("h").str(ehk))
		default:
			chunk = chunk.v2(1, 0, mp{}.mapH(1).str("pk").str(k))
		}
	}
	var b Batch
	for round := 0; round < 2; round++ {
		c.Convert(chunk, "", &b)
		if len(b.Records) != len(keys) || b.RandomKeys != 1 {
			t.Fatalf("round %d: %d records, %d random keys", round, len(b.Records), b.RandomKeys)
		}
		for i, r := range b.Records {
			want := hashkey.FromPartitionKey(r.PartitionKey)
			if keys[i] == "=ehk" {
				want, _ = hashkey.ParseDecimal(ehk)
			}
			if keys[i] != "" && keys[i] != "=ehk" && r.PartitionKey != keys[i] {
				t.Fatalf("round %d record %d: key %q, want %q", round, i, r.PartitionKey, keys[i])
			}
			if r.Hash != want {
				t.Errorf("round %d record %d (%q): hash %v, want %v", round, i, keys[i], r.Hash, want)
			}
		}
	}
}

func TestRandomKeyHex(t *testing.T) {
	s := randSource{r: rand.NewChaCha8([32]byte{1})}
	check := rand.NewChaCha8([32]byte{1})
	for i := 0; i < 10000; i++ {
		if got, want := string(s.appendKey([]byte("x"))), fmt.Sprintf("x%016x", check.Uint64()); got != want {
			t.Fatalf("got %s, want %s", got, want)
		}
	}
}
