// Package md5x computes the MD5 digests of several messages at once.
//
// Every aggregated Kinesis record (KPL format) ends with the MD5 of its
// protobuf message, and the plugin seals one aggregate per shard at the end
// of each flush round, so several 100 KiB - 1 MiB messages are hashed at the
// same moment. Scalar MD5 is latency-bound: each of its 64 steps per block
// depends on the previous one, and crypto/md5 runs at about 4.5 cycles/byte
// however wide the CPU. On amd64 with AVX2 (checked once at init), SumMany
// hashes up to 8 messages side by side, one per 32-bit lane of the YMM
// registers: a step costs a little more latency than a scalar step but
// serves 8 messages. With more than 8 messages a second kernel interleaves
// two sets of 8 lanes to fill the idle vector ALUs. Measured on an AMD EPYC at
// 512 KiB per message: 2 messages 1.6x, 4 messages 3.2x, 8 messages 6x,
// 16 messages 8.5x the throughput of one md5.Sum after another.
//
// Only whole 64-byte blocks go through the vector kernels. A message's tail
// and padding, and a message left alone once the others are done, continue in
// crypto/md5 (at its assembly speed) from the lane's state, handed over via
// crypto/md5's binary marshaling. Tiny inputs, other platforms, builds with
// the purego tag and CPUs without AVX2 use md5.Sum per message.
package md5x

import (
	"bytes"
	"cmp"
	"crypto/md5"
	"encoding"
	"encoding/binary"
	"hash"
	"slices"
	"sync"
)

// Size is the size of an MD5 digest in bytes.
const Size = md5.Size

const (
	blockSize = md5.BlockSize
	lanes     = 8
	// maxCallBlocks bounds one kernel call (32 KiB per lane, under 0.1 ms):
	// assembly cannot be preempted, so long calls would delay GC
	// stop-the-world.
	maxCallBlocks = 512
)

// SumMany sets sums[i] to md5.Sum(msgs[i]) for every i. It panics if
// len(sums) != len(msgs). The messages may overlap one another.
func SumMany(sums [][Size]byte, msgs [][]byte) {
	sumMany(sums, msgs, useAVX2, minSharedBlocks)
}

// minSharedBlocks is the number of blocks, not counting the longest message,
// below which the vector path does not pay for its fixed cost (a few hundred
// ns: lane bookkeeping, hand-off to crypto/md5) and every message is hashed
// with md5.Sum. Measured break-even: 2 x 256 or 3 x 128 bytes.
const minSharedBlocks = 4

// sumMany is SumMany with the vector path on or off and its threshold, so
// that tests can run both paths on one machine and force the kernel on small
// inputs.
func sumMany(sums [][Size]byte, msgs [][]byte, vec bool, minShared int) {
	if len(sums) != len(msgs) {
		panic("md5x: SumMany: len(sums) != len(msgs)")
	}
	// Messages without a full block gain nothing from the kernel.
	var idxBuf [64]int
	idx := idxBuf[:0]
	total, longest := 0, 0
	for i, m := range msgs {
		if !vec || len(m) < blockSize {
			sums[i] = md5.Sum(m)
			continue
		}
		idx = append(idx, i)
		total += len(m) / blockSize
		longest = max(longest, len(m)/blockSize)
	}
	if len(idx) < 2 || total-longest < minShared {
		for _, i := range idx {
			sums[i] = md5.Sum(msgs[i])
		}
		return
	}
	// Longest first: when there are more messages than lanes, the short ones
	// then fill the lanes freed late, so the lanes run out at about the same
	// time instead of leaving one long message to finish alone.
	slices.SortStableFunc(idx, func(x, y int) int { return cmp.Compare(len(msgs[y]), len(msgs[x])) })
	multi(sums, msgs, idx)
}

// multi hashes msgs[i] for every i in idx, each at least one block long, in
// up to 16 lanes. A lane whose message has no full block left is finished by
// crypto/md5 and takes the next message. The kernel always runs for the
// smallest number of full blocks left among the busy lanes, so every busy
// lane reads only its own message; idle lanes repeat a busy lane's pointer
// and their results are ignored. Up to 8 busy lanes run in blocks8 (bound by
// the step latency), more in blocks16 (two interleaved sets of 8: ~1.4x the
// time for 2x the lanes). Once a single message is left, it is finished by
// crypto/md5, whose scalar steps have a shorter latency than the kernel's.
func multi(sums [][Size]byte, msgs [][]byte, idx []int) {
	var (
		st   [2][4][8]uint32 // A, B, C, D of lane l at st[l/8][k][l%8]
		ptrs [2 * lanes]*byte
		msg  [2 * lanes]int // index into msgs, or -1 if the lane is idle
		done [2 * lanes]int // bytes of msgs[msg[l]] hashed, a multiple of blockSize
	)
	state := func(l int) [4]uint32 {
		s := &st[l/lanes]
		return [4]uint32{s[0][l%lanes], s[1][l%lanes], s[2][l%lanes], s[3][l%lanes]}
	}
	setState := func(l int, v [4]uint32) {
		s := &st[l/lanes]
		s[0][l%lanes], s[1][l%lanes], s[2][l%lanes], s[3][l%lanes] = v[0], v[1], v[2], v[3]
	}
	f := finishers.Get().(*finisher)
	defer finishers.Put(f)
	for l := range msg {
		msg[l] = -1
	}
	next := 0
	for {
		busy, last := 0, 0
		for l := range msg {
			if msg[l] < 0 && next < len(idx) {
				msg[l], done[l] = idx[next], 0
				next++
				setState(l, [4]uint32{init0, init1, init2, init3})
			}
			if msg[l] >= 0 {
				busy, last = busy+1, l
			}
		}
		switch {
		case busy == 0:
			return
		case busy == 1: // and nothing left to refill it with
			i := msg[last]
			f.finish(&sums[i], state(last), msgs[i], done[last])
			return
		case busy <= lanes:
			// Move the busy lanes of the second set into idle ones of the first.
			for l, j := lanes, 0; l < len(msg); l++ {
				if msg[l] < 0 {
					continue
				}
				for msg[j] >= 0 {
					j++
				}
				msg[j], done[j], msg[l] = msg[l], done[l], -1
				setState(j, state(l))
				last = j
			}
		}
		width := lanes
		if busy > lanes {
			width = 2 * lanes
		}
		n := maxCallBlocks
		for l := range width {
			if msg[l] < 0 {
				continue
			}
			m := msgs[msg[l]]
			n = min(n, (len(m)-done[l])/blockSize)
			ptrs[l] = &m[done[l]]
		}
		for l := range width {
			if msg[l] < 0 {
				ptrs[l] = ptrs[last]
			}
		}
		if width == lanes {
			blocks8(&st[0], (*[lanes]*byte)(ptrs[:lanes]), n)
		} else {
			blocks16(&st, &ptrs, n)
		}
		for l := range width {
			if msg[l] < 0 {
				continue
			}
			i := msg[l]
			done[l] += n * blockSize
			if len(msgs[i])-done[l] < blockSize {
				f.finish(&sums[i], state(l), msgs[i], done[l])
				msg[l] = -1
			}
		}
	}
}

// MD5 initial state.
const (
	init0 = 0x67452301
	init1 = 0xefcdab89
	init2 = 0x98badcfe
	init3 = 0x10325476
)

// finisher continues a message in crypto/md5 from a lane's state. Its
// buffers make the hand-off allocation-free; finishers are pooled, never
// shared between goroutines.
type finisher struct {
	h   hash.Hash
	u   encoding.BinaryUnmarshaler
	buf [marshaledSize]byte
	sum [Size]byte
}

var finishers = sync.Pool{New: func() any {
	h := md5.New()
	return &finisher{h: h, u: h.(encoding.BinaryUnmarshaler)}
}}

// finish sets *sum to the MD5 of msg given the state s after its first done
// bytes (a multiple of blockSize).
func (f *finisher) finish(sum *[Size]byte, s [4]uint32, msg []byte, done int) {
	if err := f.u.UnmarshalBinary(appendState(f.buf[:0], s, uint64(done))); err != nil {
		panic("md5x: crypto/md5 rejected the state: " + err.Error()) // stateFormatOK said otherwise
	}
	f.h.Write(msg[done:])
	f.h.Sum(f.sum[:0])
	*sum = f.sum
}

// marshaledSize and appendState follow crypto/md5's binary marshaling of a
// hash with an empty buffer: "md5\x01", A, B, C, D big-endian, the 64-byte
// block buffer, the length in bytes big-endian.
const marshaledSize = 4 + 4*4 + blockSize + 8

func appendState(b []byte, s [4]uint32, n uint64) []byte {
	b = append(b, "md5\x01"...)
	for _, v := range s {
		b = binary.BigEndian.AppendUint32(b, v)
	}
	b = append(b, make([]byte, blockSize)...)
	return binary.BigEndian.AppendUint64(b, n)
}

// stateFormatOK reports whether crypto/md5 still marshals its state the way
// appendState does and takes it back unchanged; if not, the vector path is
// off rather than wrong. It hashes nothing, so that it cannot panic at init
// under GODEBUG=fips140=only (md5 then panics when used, as md5.Sum does).
var stateFormatOK = func() bool {
	h := md5.New()
	m, err := h.(encoding.BinaryMarshaler).MarshalBinary()
	if err != nil || !bytes.Equal(m, appendState(nil, [4]uint32{init0, init1, init2, init3}, 0)) {
		return false
	}
	s := appendState(nil, [4]uint32{0x01020304, 0x05060708, 0x090a0b0c, 0x0d0e0f10}, 3*blockSize)
	if h.(encoding.BinaryUnmarshaler).UnmarshalBinary(s) != nil {
		return false
	}
	m, err = h.(encoding.BinaryMarshaler).MarshalBinary()
	return err == nil && bytes.Equal(m, s)
}()
