package aggregation

// keyIndex finds a partition key in an aggregate's key table. It is an open-addressing hash
// table whose slots point at the key's bytes inside the encoded table itself, so a lookup touches
// the slot and the aggregate's own (small, recently written) table and never the caller's
// memory, which a map keyed by the callers' strings does on every hit.
type keyIndex struct {
	slots []keySlot // len is 0 or a power of two
	used  int
}

// keySlot locates one table entry: the key's bytes are table[off-1 : off-1+n]; off 0 marks an
// empty slot.
type keySlot struct {
	hash uint32 // the key's hash folded to 32 bits; its low bits pick the slot
	off  uint32
	n    uint32
	idx  uint32
}

// find returns the table index of key (hashed to h) and whether it is there.
func (x *keyIndex) find(h64 uint64, key string, table []byte) (uint64, bool) {
	if x.used == 0 {
		return 0, false
	}
	h := fold(h64)
	mask := uint32(len(x.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		s := &x.slots[i]
		if s.off == 0 {
			return 0, false
		}
		if s.hash == h && int(s.n) == len(key) && string(table[s.off-1:int(s.off-1)+len(key)]) == key {
			return uint64(s.idx), true
		}
	}
}

// insert records that the key hashed to h is table entry idx, its bytes at table[off:off+n].
func (x *keyIndex) insert(h64 uint64, off, n int, idx uint64) {
	if (x.used+1)*4 > len(x.slots)*3 {
		x.grow()
	}
	h := fold(h64)
	mask := uint32(len(x.slots) - 1)
	i := h & mask
	for x.slots[i].off != 0 {
		i = (i + 1) & mask
	}
	x.slots[i] = keySlot{hash: h, off: uint32(off) + 1, n: uint32(n), idx: uint32(idx)}
	x.used++
}

func (x *keyIndex) grow() {
	old := x.slots
	x.slots = make([]keySlot, max(64, 2*len(old)))
	mask := uint32(len(x.slots) - 1)
	for _, s := range old {
		if s.off == 0 {
			continue
		}
		i := s.hash & mask
		for x.slots[i].off != 0 {
			i = (i + 1) & mask
		}
		x.slots[i] = s
	}
}

func fold(h uint64) uint32 { return uint32(h ^ h>>32) }

func (x *keyIndex) reset() {
	if x.used > 0 {
		clear(x.slots)
		x.used = 0
	}
}
