package fastbase64

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/kinesis-agg/kinesis_agg/internal/racedetect"
)

// path is one way of encoding: the dispatching Encode, or one implementation
// forced, so that both are checked on a machine with AVX2 whatever Encode
// picks.
type path struct {
	name string
	fn   func(dst, src []byte)
}

// paths returns Encode, the pure-Go path and, if this CPU has AVX2 (and the
// build has the assembly), the AVX2 path.
func paths(tb testing.TB) []path {
	ps := []path{
		{"Encode", Encode},
		{"purego", func(dst, src []byte) { encode(dst, src, false) }},
	}
	if useAVX2 {
		ps = append(ps, path{"avx2", func(dst, src []byte) { encode(dst, src, true) }})
	} else {
		tb.Log("AVX2 path not available in this build or on this CPU; not tested")
	}
	return ps
}

const canary = 0xAA

// encodeWith runs fn into an exactly-sized dst (length and capacity) at offset
// dstOff of a canary-filled buffer, failing t if fn writes outside dst.
func encodeWith(t testing.TB, fn func(dst, src []byte), src []byte, dstOff int) string {
	t.Helper()
	n := EncodedLen(len(src))
	buf := bytes.Repeat([]byte{canary}, dstOff+n+32)
	fn(buf[dstOff:dstOff+n:dstOff+n], src)
	for i, c := range buf {
		if (i < dstOff || i >= dstOff+n) && c != canary {
			t.Fatalf("len %d: wrote %#x at offset %d outside dst [%d:%d]", len(src), c, i, dstOff, dstOff+n)
		}
	}
	return string(buf[dstOff : dstOff+n])
}

// encodeFast is Encode through encodeWith.
func encodeFast(t testing.TB, src []byte) string {
	t.Helper()
	return encodeWith(t, Encode, src, 8)
}

func randomBytes(seed uint64, n int) []byte {
	rng := rand.New(rand.NewPCG(seed, seed+1))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

func TestEncodedLen(t *testing.T) {
	for n := range 1000 {
		if got, want := EncodedLen(n), base64.StdEncoding.EncodedLen(n); got != want {
			t.Fatalf("EncodedLen(%d) = %d, want %d", n, got, want)
		}
	}
}

func TestEncodeKnown(t *testing.T) {
	// RFC 4648 section 10 test vectors, plus the last two alphabet characters.
	tests := []struct{ in, want string }{
		{"", ""},
		{"f", "Zg=="},
		{"fo", "Zm8="},
		{"foo", "Zm9v"},
		{"foob", "Zm9vYg=="},
		{"fooba", "Zm9vYmE="},
		{"foobar", "Zm9vYmFy"},
		{"\xfb\xff\xbf", "+/+/"},
		// Long enough for the AVX2 kernel: every alphabet character in order.
		{
			"\x00\x10\x83\x10\x51\x87\x20\x92\x8b\x30\xd3\x8f\x41\x14\x93\x51\x55\x97\x61\x96\x9b\x71\xd7\x9f\x82\x18\xa3\x92\x59\xa7\xa2\x9a\xab\xb2\xdb\xaf\xc3\x1c\xb3\xd3\x5d\xb7\xe3\x9e\xbb\xf3\xdf\xbf",
			alphabet,
		},
	}
	for _, p := range paths(t) {
		for _, tt := range tests {
			if got := encodeWith(t, p.fn, []byte(tt.in), 8); got != tt.want {
				t.Errorf("%s(%q) = %q, want %q", p.name, tt.in, got, tt.want)
			}
		}
	}
}

// TestEncodeMatchesStdlib checks every length 0..2048 at several source
// alignments (and destination alignments) against the standard library.
func TestEncodeMatchesStdlib(t *testing.T) {
	const maxLen = 2048
	offsets := []int{0, 1, 2, 3, 4, 7, 13, 31}
	inputs := []struct {
		name string
		data []byte
	}{
		{"random", randomBytes(1, maxLen+32)},
		{"zeros", make([]byte, maxLen+32)},
		{"ones", bytes.Repeat([]byte{0xFF}, maxLen+32)},
	}
	ps := paths(t)
	for _, in := range inputs {
		t.Run(in.name, func(t *testing.T) {
			for _, off := range offsets {
				for n := 0; n <= maxLen; n++ {
					src := in.data[off : off+n]
					want := base64.StdEncoding.EncodeToString(src)
					for _, p := range ps {
						if got := encodeWith(t, p.fn, src, off); got != want {
							t.Fatalf("%s: src offset %d len %d:\n got %q\nwant %q", p.name, off, n, got, want)
						}
					}
				}
			}
		})
	}
}

func TestEncodeLarge(t *testing.T) {
	for _, size := range []int{1 << 20, 4 << 20} {
		src := randomBytes(3, size)
		want := base64.StdEncoding.EncodeToString(src)
		for _, p := range paths(t) {
			if got := encodeWith(t, p.fn, src, 8); got != want {
				t.Fatalf("%s: %d MiB encoding differs from stdlib", p.name, size>>20)
			}
		}
	}
}

func TestEncodeShortDstPanics(t *testing.T) {
	src := []byte("foobar!")
	// Short in length though not in capacity: writing into the capacity would be a silent bug.
	dst := make([]byte, EncodedLen(len(src))-1, 64)
	defer func() {
		if recover() == nil {
			t.Fatal("Encode with short dst did not panic")
		}
		if !bytes.Equal(dst, make([]byte, len(dst))) {
			t.Fatalf("Encode wrote %q before panicking", dst)
		}
	}()
	Encode(dst, src)
}

// TestEncodeShortDstPanicsAllPaths repeats the check with inputs long enough
// for the AVX2 kernel, and for every path.
func TestEncodeShortDstPanicsAllPaths(t *testing.T) {
	for _, p := range paths(t) {
		for _, n := range []int{1, 7, 28, 52, 100, 1000} {
			for _, short := range []int{1, 4, EncodedLen(n)} {
				t.Run(fmt.Sprintf("%s/len%d/short%d", p.name, n, short), func(t *testing.T) {
					src := randomBytes(7, n)
					full := make([]byte, 2*EncodedLen(n)+64) // capacity would suffice
					dst := full[:EncodedLen(n)-short]
					defer func() {
						if recover() == nil {
							t.Fatal("no panic")
						}
						if !bytes.Equal(full, make([]byte, len(full))) {
							t.Fatal("wrote to dst before panicking")
						}
					}()
					p.fn(dst, src)
				})
			}
		}
	}
}

func TestEncodeLongDst(t *testing.T) {
	// Bytes past EncodedLen must be left untouched, as with the stdlib.
	src := []byte("hello, world")
	dst := bytes.Repeat([]byte{'#'}, 40)
	Encode(dst, src)
	want := base64.StdEncoding.EncodeToString(src) + string(bytes.Repeat([]byte{'#'}, 40-16))
	if string(dst) != want {
		t.Fatalf("got %q, want %q", dst, want)
	}
}

// TestEncodeLongDstAllPaths: a dst longer (in length, not just capacity) than
// needed, so an implementation bounding its stores by len(dst) rather than by
// EncodedLen would overwrite the extra bytes.
func TestEncodeLongDstAllPaths(t *testing.T) {
	data := randomBytes(9, 1100)
	for _, p := range paths(t) {
		for n := 0; n <= len(data); n++ {
			src := data[:n]
			want := base64.StdEncoding.EncodeToString(src)
			for _, extra := range []int{1, 31, 32, 100} {
				dst := bytes.Repeat([]byte{'#'}, len(want)+extra)
				p.fn(dst, src)
				if string(dst[:len(want)]) != want {
					t.Fatalf("%s: len %d extra %d: wrong encoding", p.name, n, extra)
				}
				if i := bytes.IndexFunc(dst[len(want):], func(r rune) bool { return r != '#' }); i >= 0 {
					t.Fatalf("%s: len %d extra %d: overwrote dst[%d]", p.name, n, extra, len(want)+i)
				}
			}
		}
	}
}

func TestAppendEncode(t *testing.T) {
	src := []byte("any carnal pleasure.")
	enc := base64.StdEncoding.EncodeToString(src)
	tests := []struct {
		name    string
		dst     []byte
		growing bool
	}{
		{"nil", nil, true},
		{"prefix full cap", []byte(`{"Data":"`), true},
		{"prefix spare cap", append(make([]byte, 0, 64), `{"Data":"`...), false},
		{"prefix exact cap", append(make([]byte, 0, 9+len(enc)), `{"Data":"`...), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prefix := string(tt.dst)
			oldCap := cap(tt.dst)
			got := AppendEncode(tt.dst, src)
			if string(got) != prefix+enc {
				t.Fatalf("got %q, want %q", got, prefix+enc)
			}
			if cap(got) < len(got) {
				t.Fatalf("cap %d < len %d", cap(got), len(got))
			}
			if !tt.growing {
				if cap(got) != oldCap || &got[0] != &tt.dst[:1][0] {
					t.Fatalf("reallocated although capacity %d sufficed", oldCap)
				}
			}
		})
	}
	t.Run("single allocation", func(t *testing.T) {
		if racedetect.Enabled {
			t.Skip("allocation counts are not meaningful under -race")
		}
		big := make([]byte, 48<<10)
		prefix := []byte(`{"Data":"`)
		allocs := testing.AllocsPerRun(20, func() {
			_ = AppendEncode(prefix[:len(prefix):len(prefix)], big)
		})
		if allocs != 1 {
			t.Fatalf("AppendEncode allocated %v times, want 1", allocs)
		}
	})
	t.Run("empty src", func(t *testing.T) {
		dst := []byte("x")
		if got := AppendEncode(dst, nil); string(got) != "x" {
			t.Fatalf("got %q, want %q", got, "x")
		}
	})
}

func FuzzEncode(f *testing.F) {
	for _, s := range []string{"", "f", "fo", "foo", "foobar", "\xff\xff\xff\xff\xff\xff\xff\xff\xff", "0123456789abcdefghijklmnopqrstuvwxyz"} {
		f.Add([]byte(s))
	}
	f.Add(bytes.Repeat([]byte{0xFF}, 100))
	f.Add(randomBytes(11, 333))
	ps := paths(f)
	f.Fuzz(func(t *testing.T, src []byte) {
		want := base64.StdEncoding.EncodeToString(src)
		for _, p := range ps {
			if got := encodeWith(t, p.fn, src, 8); got != want {
				t.Fatalf("%s(%x):\n got %q\nwant %q", p.name, src, got, want)
			}
		}
		prefix := []byte("p:")
		if got := AppendEncode(prefix, src); string(got) != "p:"+want {
			t.Fatalf("AppendEncode(%x) = %q, want %q", src, got, "p:"+want)
		}
	})
}

func BenchmarkEncode(b *testing.B) {
	sizes := []struct {
		name string
		n    int
	}{
		{"64B", 64},
		{"334B", 334},
		{"340B", 340},
		{"4KiB", 4 << 10},
		{"48KiB", 48 << 10},
		{"1MiB", 1 << 20},
	}
	// fast is Encode (whatever dispatch picked); purego and avx2 force a path.
	impls := []path{{"fast", Encode}}
	for _, p := range paths(b)[1:] {
		impls = append(impls, p)
	}
	impls = append(impls, path{"stdlib", base64.StdEncoding.Encode})
	for _, sz := range sizes {
		src := randomBytes(5, sz.n)
		dst := make([]byte, EncodedLen(sz.n))
		for _, im := range impls {
			b.Run(sz.name+"/"+im.name, func(b *testing.B) {
				b.SetBytes(int64(sz.n))
				b.ReportAllocs()
				for b.Loop() {
					im.fn(dst, src)
				}
			})
		}
	}
}

func BenchmarkAppendEncode(b *testing.B) {
	src := make([]byte, 340)
	dst := make([]byte, 0, 1024)
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	for b.Loop() {
		dst = AppendEncode(dst[:0], src)
	}
}
