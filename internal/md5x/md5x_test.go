package md5x

import (
	"bytes"
	"crypto/md5"
	"encoding"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/kinesis-agg/kinesis_agg/internal/racedetect"
)

// path is one way of hashing: the dispatching SumMany, or one implementation
// forced, so that both run on a machine with AVX2 whatever SumMany picks.
type path struct {
	name string
	fn   func(sums [][Size]byte, msgs [][]byte)
}

// paths returns SumMany, the md5.Sum loop and, if this CPU has AVX2 (and the
// build has the assembly), the multi-buffer path for every message with a
// full block, however small.
func paths(tb testing.TB) []path {
	ps := []path{
		{"SumMany", SumMany},
		{"fallback", func(s [][Size]byte, m [][]byte) { sumMany(s, m, false, 0) }},
	}
	if useAVX2 {
		// Threshold 0: the kernel even for two one-block messages.
		ps = append(ps, path{"avx2", func(s [][Size]byte, m [][]byte) { sumMany(s, m, true, 0) }})
	} else {
		tb.Log("AVX2 path not available in this build or on this CPU; not tested")
	}
	return ps
}

func randomBytes(seed uint64, n int) []byte {
	rng := rand.New(rand.NewPCG(seed, seed+1))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

// check runs every path on msgs and compares with md5.Sum.
func check(t *testing.T, ps []path, msgs [][]byte) {
	t.Helper()
	for _, p := range ps {
		sums := make([][Size]byte, len(msgs))
		for i := range sums {
			sums[i] = [Size]byte{0xAA} // must be overwritten
		}
		p.fn(sums, msgs)
		for i, m := range msgs {
			if want := md5.Sum(m); sums[i] != want {
				t.Fatalf("%s: %d messages, lengths %v: msgs[%d] (len %d): got %x, want %x",
					p.name, len(msgs), lengths(msgs), i, len(m), sums[i], want)
			}
		}
	}
}

func lengths(msgs [][]byte) []int {
	ls := make([]int, len(msgs))
	for i, m := range msgs {
		ls[i] = len(m)
	}
	return ls
}

// interesting lengths: around the padding boundary (55/56), the block size
// and its multiples.
var edgeLens = []int{0, 1, 55, 56, 63, 64, 65, 119, 120, 127, 128, 129, 191, 192, 640, 4096, 64 * maxCallBlocks, 64*maxCallBlocks + 1}

func TestSumManyCounts(t *testing.T) {
	ps := paths(t)
	data := randomBytes(1, 1<<20)
	rng := rand.New(rand.NewPCG(2, 3))
	// Up to 16 messages fill the lanes once; more are queued and refill
	// lanes as they free up.
	counts := []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 24, 33, 40}
	for _, n := range counts {
		for trial := range 20 {
			msgs := make([][]byte, n)
			for i := range msgs {
				var l int
				switch trial % 4 {
				case 0:
					l = edgeLens[rng.IntN(len(edgeLens))]
				case 1:
					l = rng.IntN(5000)
				case 2:
					l = 1000 + 64*trial // all equal
				default:
					l = rng.IntN(len(data))
				}
				off := rng.IntN(len(data) - l + 1)
				msgs[i] = data[off : off+l]
			}
			check(t, ps, msgs)
		}
	}
}

func TestSumManyLengths(t *testing.T) {
	ps := paths(t)
	data := randomBytes(4, 300_000)
	zeros := make([]byte, len(data))
	ones := bytes.Repeat([]byte{0xFF}, len(data))
	for _, src := range []struct {
		name string
		b    []byte
	}{{"random", data}, {"zeros", zeros}, {"ones", ones}} {
		t.Run(src.name, func(t *testing.T) {
			// Every edge length next to every other, in groups of up to 9 so
			// that lanes finish at different times and get refilled.
			for _, l := range edgeLens {
				for k := 1; k <= 9; k++ {
					msgs := make([][]byte, k)
					for i := range msgs {
						ll := edgeLens[(i*7+l)%len(edgeLens)]
						if i == 0 {
							ll = l
						}
						msgs[i] = src.b[i : i+ll]
					}
					check(t, ps, msgs)
				}
			}
			// All lengths 0..300 at once, then in 8s (equal lengths).
			var all [][]byte
			for l := 0; l <= 300; l++ {
				all = append(all, src.b[l:2*l])
				check(t, ps, [][]byte{src.b[:l], src.b[1 : 1+l], src.b[2 : 2+l], src.b[3 : 3+l], src.b[4 : 4+l], src.b[5 : 5+l], src.b[6 : 6+l], src.b[7 : 7+l]})
			}
			check(t, ps, all)
		})
	}
}

func TestSumManyLarge(t *testing.T) {
	ps := paths(t)
	data := randomBytes(5, 2<<20)
	rng := rand.New(rand.NewPCG(6, 7))
	cases := []struct {
		name string
		lens []int
	}{
		{"1B next to 1MiB", []int{1, 1 << 20}},
		{"1MiB next to 64B", []int{1 << 20, 64}},
		{"1MiB and short ones", []int{1 << 20, 100, 64, 65, 200, 1000, 128, 63, 4000, 10000}},
		{"2MiB x2", []int{2 << 20, 2 << 20}},
		{"8 x 512KiB", []int{512 << 10, 512 << 10, 512 << 10, 512 << 10, 512 << 10, 512 << 10, 512 << 10, 512 << 10}},
		{"9 x 100000", []int{100000, 100000, 100000, 100000, 100000, 100000, 100000, 100000, 100000}},
		{"random up to 2MiB", func() []int {
			ls := make([]int, 12)
			for i := range ls {
				ls[i] = rng.IntN(2<<20 + 1)
			}
			return ls
		}()},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			msgs := make([][]byte, len(c.lens))
			for i, l := range c.lens {
				off := rng.IntN(len(data) - l + 1)
				msgs[i] = data[off : off+l]
			}
			check(t, ps, msgs)
		})
	}
}

// TestSumManyAliasing hashes messages sharing one backing array: the same
// slice several times, overlapping slices, and slices of one another.
func TestSumManyAliasing(t *testing.T) {
	ps := paths(t)
	data := randomBytes(8, 10000)
	check(t, ps, [][]byte{data, data, data, data})
	check(t, ps, [][]byte{data[:5000], data[1:5001], data[64:], data[:64], data[4000:9000], data})
	var same [][]byte
	for range 20 {
		same = append(same, data[100:3000])
	}
	check(t, ps, same)
}

func TestSumManyMismatchPanics(t *testing.T) {
	for _, p := range paths(t) {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic for len(sums) != len(msgs)", p.name)
				}
			}()
			p.fn(make([][Size]byte, 2), make([][]byte, 3))
		}()
	}
}

// TestStateFormat pins the hand-off to crypto/md5: appendState must be what
// crypto/md5 marshals after whole blocks, and crypto/md5 must continue
// correctly from it. A change of crypto/md5's format fails here.
func TestStateFormat(t *testing.T) {
	if !stateFormatOK {
		t.Fatal("stateFormatOK is false: crypto/md5 changed its state marshaling")
	}
	data := randomBytes(9, 1000)
	for _, n := range []int{0, 64, 192, 960} {
		h := md5.New()
		h.Write(data[:n])
		m, err := h.(encoding.BinaryMarshaler).MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		if len(m) != marshaledSize {
			t.Fatalf("marshaled state is %d bytes, want %d", len(m), marshaledSize)
		}
		var s [4]uint32
		for k := range s {
			s[k] = binary.BigEndian.Uint32(m[4+4*k:])
		}
		if got := appendState(nil, s, uint64(n)); !bytes.Equal(got, m) {
			t.Fatalf("after %d bytes: appendState\n%x\ncrypto/md5\n%x", n, got, m)
		}
		var f finisher
		f.h = md5.New()
		f.u = f.h.(encoding.BinaryUnmarshaler)
		var sum [Size]byte
		f.finish(&sum, s, data, n)
		if want := md5.Sum(data); sum != want {
			t.Fatalf("finish after %d bytes: got %x, want %x", n, sum, want)
		}
	}
}

func TestSumManyAllocs(t *testing.T) {
	if racedetect.Enabled {
		t.Skip("allocation counts are not meaningful under -race")
	}
	data := randomBytes(10, 1<<20)
	msgs := make([][]byte, 12)
	for i := range msgs {
		msgs[i] = data[i*1000 : i*1000+10000+i*3000]
	}
	sums := make([][Size]byte, len(msgs))
	SumMany(sums, msgs) // warm the pool
	if allocs := testing.AllocsPerRun(50, func() { SumMany(sums, msgs) }); allocs > 0.1 {
		t.Fatalf("SumMany allocated %v times per call, want 0", allocs)
	}
}

func TestSumManyConcurrent(t *testing.T) {
	data := randomBytes(11, 1<<20)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(g), 12))
			for range 20 {
				msgs := make([][]byte, 1+rng.IntN(12))
				for i := range msgs {
					l := rng.IntN(100000)
					off := rng.IntN(len(data) - l)
					msgs[i] = data[off : off+l]
				}
				sums := make([][Size]byte, len(msgs))
				SumMany(sums, msgs)
				for i, m := range msgs {
					if sums[i] != md5.Sum(m) {
						t.Errorf("goroutine %d: msgs[%d] (len %d): wrong digest", g, i, len(m))
						return
					}
				}
			}
		})
	}
	wg.Wait()
}

// FuzzSumMany splits the input into messages at the lengths given by the
// first bytes, so that the fuzzer controls both the number of messages and
// their lengths (stretched to span several blocks).
func FuzzSumMany(f *testing.F) {
	f.Add([]byte{}, uint16(0))
	f.Add([]byte("abc"), uint16(0x0102))
	f.Add(randomBytes(12, 2000), uint16(64))
	f.Add(bytes.Repeat([]byte{0xFF}, 4000), uint16(0xFFFF))
	f.Add(bytes.Repeat([]byte{0}, 1000), uint16(7))
	ps := paths(f)
	f.Fuzz(func(t *testing.T, in []byte, shape uint16) {
		// Message count 1..16 from the low nibble; each message's length is
		// in[i] scaled by a factor from the rest of shape, clamped to the data.
		n := int(shape&15) + 1
		scale := int(shape>>4)%97 + 1
		if len(in) < n {
			n = max(len(in), 1)
		}
		head, body := in[:min(n, len(in))], in[min(n, len(in)):]
		msgs := make([][]byte, n)
		off := 0
		for i := range msgs {
			l := 0
			if i < len(head) {
				l = int(head[i]) * scale
			}
			if i == n-1 {
				l = len(body) - off // the last message takes the rest
			}
			l = min(l, len(body)-off)
			msgs[i] = body[off : off+l]
			off += l
			if shape&0x8000 != 0 { // overlapping messages
				off -= l / 2
			}
		}
		for _, p := range ps {
			sums := make([][Size]byte, n)
			p.fn(sums, msgs)
			for i, m := range msgs {
				if want := md5.Sum(m); sums[i] != want {
					t.Fatalf("%s: lengths %v: msgs[%d]: got %x, want %x", p.name, lengths(msgs), i, sums[i], want)
				}
			}
		}
	})
}

func BenchmarkSumMany(b *testing.B) {
	cases := []struct{ n, size int }{
		{1, 512 << 10}, {2, 512 << 10}, {3, 512 << 10}, {4, 512 << 10},
		{8, 512 << 10}, {16, 512 << 10}, {4, 64 << 10},
		{8, 100}, {8, 200}, {8, 500}, {8, 1 << 10}, {8, 4 << 10}, {16, 200}, {16, 1 << 10},
	}
	data := randomBytes(13, 16*(512<<10))
	for _, c := range cases {
		msgs := make([][]byte, c.n)
		for i := range msgs {
			msgs[i] = data[i*c.size : (i+1)*c.size]
		}
		sums := make([][Size]byte, c.n)
		name := fmt.Sprintf("%dx%dB", c.n, c.size)
		if c.size >= 1<<10 {
			name = fmt.Sprintf("%dx%dKiB", c.n, c.size>>10)
		}
		b.Run(name+"/md5.Sum", func(b *testing.B) {
			b.SetBytes(int64(c.n * c.size))
			b.ReportAllocs()
			for b.Loop() {
				for i, m := range msgs {
					sums[i] = md5.Sum(m)
				}
			}
		})
		b.Run(name+"/SumMany", func(b *testing.B) {
			b.SetBytes(int64(c.n * c.size))
			b.ReportAllocs()
			for b.Loop() {
				SumMany(sums, msgs)
			}
		})
	}
}
