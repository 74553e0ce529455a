package events

import (
	"bytes"
	"crypto/md5"
	crand "crypto/rand"
	"encoding/binary"
	"hash/maphash"
	"math"
	"math/bits"
	"math/rand/v2"
	"strconv"
	"unicode/utf8"
	"unsafe"

	"github.com/kinesis-agg/kinesis_agg/hashkey"
)

// maxKeyUnits is the Kinesis partition key limit: 256 characters, counted as UTF-16 code units.
const maxKeyUnits = 256

// appendPartitionKey appends the partition key taken from the value at src[vp:] and reports
// whether the value was usable (see the package comment). On false dst is returned unchanged.
func appendPartitionKey(dst, src []byte, vp int) ([]byte, bool) {
	if vp < 0 {
		return dst, false
	}
	if s, end, ok := strAt(src, vp); ok && end > s { // the usual case
		return appendKeyText(dst, src[s:end]), true
	}
	h, q, err := readHdr(src, vp)
	if err != nil {
		return dst, false
	}
	switch h.t {
	case tStr, tBin:
		if h.n == 0 {
			return dst, false
		}
		return appendKeyText(dst, src[q:q+h.n]), true
	case tUint:
		return strconv.AppendUint(dst, h.u, 10), true
	case tInt:
		return strconv.AppendInt(dst, int64(h.u), 10), true
	case tFloat32, tFloat64:
		f, bits := math.Float64frombits(h.u), 64
		if h.t == tFloat32 {
			f, bits = float64(math.Float32frombits(uint32(h.u))), 32
		}
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return dst, false
		}
		return appendFloat(dst, f, bits), true
	case tTrue:
		return append(dst, "true"...), true
	case tFalse:
		return append(dst, "false"...), true
	}
	return dst, false
}

// appendKeyText appends s with invalid UTF-8 replaced by U+FFFD, cut at a character boundary to
// at most maxKeyUnits UTF-16 code units.
func appendKeyText(dst, s []byte) []byte {
	// Most keys are short ASCII: tested and copied as a 32-byte window, as appendString does.
	if n := len(s); n <= 32 && cap(s) >= 32 && cap(dst)-len(dst) >= 32 {
		t, m := (*[32]byte)(s[:32]), &strMask[n]
		w0, w1 := binary.LittleEndian.Uint64(t[:]), binary.LittleEndian.Uint64(t[8:])
		w2, w3 := binary.LittleEndian.Uint64(t[16:]), binary.LittleEndian.Uint64(t[24:])
		if (w0&m[0]|w1&m[1]|w2&m[2]|w3&m[3])&msb == 0 {
			o := len(dst)
			d := (*[32]byte)(dst[o : o+32])
			binary.LittleEndian.PutUint64(d[:], w0)
			binary.LittleEndian.PutUint64(d[8:], w1)
			binary.LittleEndian.PutUint64(d[16:], w2)
			binary.LittleEndian.PutUint64(d[24:], w3)
			return dst[:o+n]
		}
	}
	// A valid string of at most 256 bytes has at most 256 code units. Keys are mostly ASCII,
	// which a word test settles faster than utf8.Valid.
	if len(s) <= maxKeyUnits && (isASCII(s) || utf8.Valid(s)) {
		return append(dst, s...)
	}
	units := 0
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRune(s[i:])
		u := 1
		if r > 0xFFFF {
			u = 2
		}
		if units+u > maxKeyUnits {
			break
		}
		units += u
		if r == utf8.RuneError && size == 1 {
			dst = utf8.AppendRune(dst, utf8.RuneError)
		} else {
			dst = append(dst, s[i:i+size]...)
		}
		i += size
	}
	return dst
}

// isASCII reports whether s is all ASCII, a word at a time.
func isASCII(s []byte) bool {
	if len(s) < 8 {
		var b byte
		for _, c := range s {
			b |= c
		}
		return b < utf8.RuneSelf
	}
	// Whole words, then the last 8 bytes (overlapping the last whole word).
	var w uint64
	for i := 0; i+8 <= len(s); i += 8 {
		w |= binary.LittleEndian.Uint64(s[i:])
	}
	w |= binary.LittleEndian.Uint64(s[len(s)-8:])
	return w&msb == 0
}

// ehkState is the outcome of reading an explicit hash key field.
type ehkState uint8

const (
	ehkNone ehkState = iota // missing or nil
	ehkOK
	ehkBad
)

// appendExplicitHashKey reads the explicit hash key at src[vp:]; on ehkOK it appends its canonical
// decimal to dst and returns the key.
func appendExplicitHashKey(dst, src []byte, vp int) ([]byte, hashkey.Key, ehkState) {
	if vp < 0 {
		return dst, hashkey.Key{}, ehkNone
	}
	h, q, err := readHdr(src, vp)
	if err != nil {
		return dst, hashkey.Key{}, ehkBad
	}
	switch h.t {
	case tNil:
		return dst, hashkey.Key{}, ehkNone
	case tStr, tBin:
		if h.n == 0 || h.n > 39 {
			return dst, hashkey.Key{}, ehkBad
		}
		k, err := hashkey.ParseDecimal(unsafe.String(&src[q], h.n))
		if err != nil {
			return dst, hashkey.Key{}, ehkBad
		}
		// ParseDecimal accepts only the canonical form, so the bytes are the canonical decimal.
		return append(dst, src[q:q+h.n]...), k, ehkOK
	case tUint:
		return strconv.AppendUint(dst, h.u, 10), hashkey.Key{Lo: h.u}, ehkOK
	case tInt:
		if int64(h.u) >= 0 {
			return strconv.AppendUint(dst, h.u, 10), hashkey.Key{Lo: h.u}, ehkOK
		}
	}
	return dst, hashkey.Key{}, ehkBad
}

// randSource makes random partition keys. It is seeded from crypto/rand on first use.
type randSource struct {
	r *rand.ChaCha8
}

// appendKey appends 16 random lowercase hex characters.
func (s *randSource) appendKey(dst []byte) []byte {
	if s.r == nil {
		var seed [32]byte
		crand.Read(seed[:]) // never fails (Go 1.24+: crashes the program instead)
		s.r = rand.NewChaCha8(seed)
	}
	v := s.r.Uint64()
	dst = binary.LittleEndian.AppendUint64(dst, hex8(uint32(v>>32)))
	return binary.LittleEndian.AppendUint64(dst, hex8(uint32(v)))
}

// hex8 returns the 8 lowercase hex digits of x, most significant first, as a word in memory
// order.
func hex8(x uint32) uint64 {
	// One nibble per byte, the least significant in the low byte, then reversed.
	v := uint64(x)
	v = (v | v<<16) & 0x0000ffff0000ffff
	v = (v | v<<8) & 0x00ff00ff00ff00ff
	v = (v | v<<4) & 0x0f0f0f0f0f0f0f0f
	v = bits.ReverseBytes64(v)
	// '0'+d, and 'a'-'0'-10 more where d >= 10 (d+6 carries into bit 4).
	ge10 := (v + lsb*6) >> 4 & lsb
	return v + lsb*'0' + ge10*('a'-'0'-10)
}

// keyCache remembers the hash keys of partition keys across the flushes that reuse its Batch.
// Log chunks repeat a few thousand keys (pods, hosts) over and over, and MD5 is a large share of
// the per-record cost. Two-way set-associative (see hash), with keys of up to cachedKeyLen bytes
// copied into the entries, so it allocates nothing after the Batch's first use; longer keys are
// hashed every time.
type keyCache struct {
	seed   maphash.Seed
	seeded bool
	ents   *[keyCacheSize]keyCacheEntry // allocated on first use

	// The last key hashed, as an arena range, for runs of records with one key (a chunk is one
	// tag, often one container): comparing with the key just written is cheaper than a lookup
	// in a table that the chunk's data keeps pushing out of the CPU caches.
	last, lastLen int
	lastHash      hashkey.Key
	hasLast       bool
}

const (
	keyCacheSize = 8192
	cachedKeyLen = 64 // Kubernetes names are at most 63 bytes
)

type keyCacheEntry struct {
	n   uint8 // key length; 0 = empty (an empty key is never cached)
	key [cachedKeyLen]byte
	h   hashkey.Key
}

// reset keeps the entries: they hold copies, not references into the arena.
func (k *keyCache) reset() { k.hasLast = false }

// hashRun is hash for the key at arena[off:off+n], answered from the previous call when that
// was for the same key bytes. The arena must not have changed below off since that call.
func (k *keyCache) hashRun(arena []byte, off, n int) hashkey.Key {
	if k.hasLast && n == k.lastLen && bytes.Equal(arena[off:off+n], arena[k.last:k.last+n]) {
		return k.lastHash
	}
	h := k.hash(arena, off, n)
	k.last, k.lastLen, k.lastHash, k.hasLast = off, n, h, true
	return h
}

// hash returns MD5(arena[off:off+n]) as a hash key.
func (k *keyCache) hash(arena []byte, off, n int) hashkey.Key {
	pk := arena[off : off+n]
	if n == 0 || n > cachedKeyLen {
		return hashkey.FromBytes(md5.Sum(pk))
	}
	if !k.seeded {
		k.seed, k.seeded = maphash.MakeSeed(), true
		k.ents = new([keyCacheSize]keyCacheEntry)
	}
	// Two-way: a key has two slots side by side, so that two keys of a workload that hash to
	// one slot (a tenth of 1,000 keys in 8,192 slots) do not evict each other on every use. A
	// key found in the second slot moves to the first; a new key takes the first and pushes
	// its occupant to the second.
	set := k.ents[maphash.Bytes(k.seed, pk)%keyCacheSize&^1:][:2]
	if int(set[0].n) == n && bytes.Equal(set[0].key[:n], pk) {
		return set[0].h
	}
	if int(set[1].n) == n && bytes.Equal(set[1].key[:n], pk) {
		set[0], set[1] = set[1], set[0]
		return set[0].h
	}
	h := hashkey.FromBytes(md5.Sum(pk))
	set[1] = set[0]
	set[0].n, set[0].h = uint8(n), h
	copy(set[0].key[:], pk)
	return h
}
