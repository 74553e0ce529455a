// Package hashkey holds Kinesis hash keys: unsigned 128-bit integers that decide which shard a
// record belongs to. A record's hash key is its explicit hash key when it has one, else the MD5
// digest of its UTF-8 partition key read big-endian.
package hashkey

import (
	"crypto/md5"
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
)

// Key is an unsigned 128-bit hash key held as two 64-bit halves.
type Key struct {
	Hi, Lo uint64
}

// Max is the largest hash key, 2^128-1.
var Max = Key{Hi: ^uint64(0), Lo: ^uint64(0)}

// FromPartitionKey returns MD5(pk) read as an unsigned big-endian 128-bit integer.
func FromPartitionKey(pk string) Key {
	sum := md5.Sum([]byte(pk))
	return FromBytes(sum)
}

// FromBytes reads 16 big-endian bytes.
func FromBytes(b [16]byte) Key {
	return Key{Hi: binary.BigEndian.Uint64(b[:8]), Lo: binary.BigEndian.Uint64(b[8:])}
}

// Compare returns -1, 0 or +1 as k is less than, equal to or greater than o.
func (k Key) Compare(o Key) int {
	switch {
	case k.Hi < o.Hi:
		return -1
	case k.Hi > o.Hi:
		return 1
	case k.Lo < o.Lo:
		return -1
	case k.Lo > o.Lo:
		return 1
	}
	return 0
}

// Less reports whether k < o.
func (k Key) Less(o Key) bool { return k.Hi < o.Hi || (k.Hi == o.Hi && k.Lo < o.Lo) }

// Add1 returns k+1 and whether it overflowed past Max.
func (k Key) Add1() (Key, bool) {
	lo, c := bits.Add64(k.Lo, 1, 0)
	hi, c := bits.Add64(k.Hi, 0, c)
	return Key{Hi: hi, Lo: lo}, c != 0
}

// Sub1 returns k-1 and whether it underflowed below zero.
func (k Key) Sub1() (Key, bool) {
	lo, b := bits.Sub64(k.Lo, 1, 0)
	hi, b := bits.Sub64(k.Hi, 0, b)
	return Key{Hi: hi, Lo: lo}, b != 0
}

// Mid returns the key halfway between a and b (rounded down), for a <= b.
func Mid(a, b Key) Key {
	// (a+b)/2 without overflow: a + (b-a)/2.
	lo, br := bits.Sub64(b.Lo, a.Lo, 0)
	hi, _ := bits.Sub64(b.Hi, a.Hi, br)
	d := Key{Hi: hi >> 1, Lo: lo>>1 | hi<<63}
	lo, c := bits.Add64(a.Lo, d.Lo, 0)
	hi, _ = bits.Add64(a.Hi, d.Hi, c)
	return Key{Hi: hi, Lo: lo}
}

// String returns the canonical decimal form, as Kinesis writes hash keys.
func (k Key) String() string { return string(k.AppendDecimal(nil)) }

const tenPow19 = 10_000_000_000_000_000_000

// AppendDecimal appends the canonical decimal form of k to b.
func (k Key) AppendDecimal(b []byte) []byte {
	if k.Hi == 0 {
		return appendUint(b, k.Lo)
	}
	// Split into base-10^19 limbs: k = q*10^19 + r.
	var limbs [3]uint64
	n := 0
	hi, lo := k.Hi, k.Lo
	for hi != 0 || lo >= tenPow19 {
		qhi := hi / tenPow19
		rem := hi % tenPow19
		qlo, r := bits.Div64(rem, lo, tenPow19)
		limbs[n] = r
		n++
		hi, lo = qhi, qlo
	}
	b = appendUint(b, lo)
	for i := n - 1; i >= 0; i-- {
		var tmp [19]byte
		v := limbs[i]
		for j := 18; j >= 0; j-- {
			tmp[j] = byte('0' + v%10)
			v /= 10
		}
		b = append(b, tmp[:]...)
	}
	return b
}

func appendUint(b []byte, v uint64) []byte {
	var tmp [20]byte
	i := len(tmp)
	for {
		i--
		tmp[i] = byte('0' + v%10)
		v /= 10
		if v == 0 {
			break
		}
	}
	return append(b, tmp[i:]...)
}

// ErrSyntax and ErrRange are wrapped by ParseDecimal errors.
var (
	ErrSyntax = errors.New("not a decimal hash key (want 0 or 1-39 digits without a leading zero)")
	ErrRange  = errors.New("hash key above 2^128-1")
)

// ParseDecimal parses an explicit hash key in the form the Kinesis API accepts:
// `0|[1-9][0-9]{0,38}`, at most 2^128-1.
func ParseDecimal(s string) (Key, error) {
	if len(s) == 0 || len(s) > 39 || (s[0] == '0' && len(s) > 1) {
		return Key{}, fmt.Errorf("hashkey: parsing %q: %w", s, ErrSyntax)
	}
	var k Key
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return Key{}, fmt.Errorf("hashkey: parsing %q: %w", s, ErrSyntax)
		}
		// k = k*10 + d, checking for overflow of 128 bits.
		h1, l1 := bits.Mul64(k.Lo, 10)
		h2, l2 := bits.Mul64(k.Hi, 10)
		if h2 != 0 {
			return Key{}, fmt.Errorf("hashkey: parsing %q: %w", s, ErrRange)
		}
		hi, c1 := bits.Add64(l2, h1, 0)
		if c1 != 0 {
			return Key{}, fmt.Errorf("hashkey: parsing %q: %w", s, ErrRange)
		}
		lo, c2 := bits.Add64(l1, uint64(c-'0'), 0)
		hi, c3 := bits.Add64(hi, 0, c2)
		if c3 != 0 {
			return Key{}, fmt.Errorf("hashkey: parsing %q: %w", s, ErrRange)
		}
		k = Key{Hi: hi, Lo: lo}
	}
	return k, nil
}

// Range is an inclusive range of hash keys, as a shard owns them.
type Range struct {
	Start, End Key
}

// Contains reports whether Start <= k <= End.
func (r Range) Contains(k Key) bool { return !k.Less(r.Start) && !r.End.Less(k) }

// String returns "start..end" in decimal.
func (r Range) String() string { return r.Start.String() + ".." + r.End.String() }
