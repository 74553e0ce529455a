package ledger

import "math/bits"

// Set is a set of small non-negative integers (event indexes in a chunk, or record positions in a
// flush) held as a bitset. The zero value is an empty set; it grows as needed.
type Set struct {
	words []uint64
	n     int // Len: one past the highest index the set covers
}

// NewSet returns an empty set covering indexes 0..n-1 (Len() == n) without reallocation.
func NewSet(n int) Set {
	if n < 0 {
		n = 0
	}
	return Set{words: make([]uint64, (n+63)/64), n: n}
}

// Add puts i into the set; a negative i is ignored.
func (s *Set) Add(i int) {
	if i < 0 {
		return
	}
	w := i / 64
	if w >= len(s.words) {
		s.words = append(s.words, make([]uint64, w+1-len(s.words))...)
	}
	s.words[w] |= 1 << (uint(i) % 64)
	if i >= s.n {
		s.n = i + 1
	}
}

// Has reports whether i is in the set.
func (s Set) Has(i int) bool {
	if i < 0 || i/64 >= len(s.words) {
		return false
	}
	return s.words[i/64]&(1<<(uint(i)%64)) != 0
}

// Len returns the number of indexes the set covers: the n of NewSet, or one past the highest index
// added, whichever is larger.
func (s Set) Len() int { return s.n }

// Count returns the number of indexes in the set.
func (s Set) Count() int {
	c := 0
	for _, w := range s.words {
		c += bits.OnesCount64(w)
	}
	return c
}

// Clone returns a copy that shares no memory with s.
func (s Set) Clone() Set {
	if s.words == nil {
		return Set{n: s.n}
	}
	return Set{words: append([]uint64(nil), s.words...), n: s.n}
}

// Union adds every index of o to s.
func (s *Set) Union(o Set) {
	if len(o.words) > len(s.words) {
		s.words = append(s.words, make([]uint64, len(o.words)-len(s.words))...)
	}
	for i, w := range o.words {
		s.words[i] |= w
	}
	if o.n > s.n {
		s.n = o.n
	}
}
