package fastbase64

import (
	"bytes"
	"encoding/base64"
	"math/rand/v2"
	"testing"
)

// encodeFast is Encode into an exactly-sized buffer surrounded by canaries,
// failing t if Encode writes outside EncodedLen(len(src)) bytes.
func encodeFast(t testing.TB, src []byte) string {
	t.Helper()
	n := EncodedLen(len(src))
	buf := bytes.Repeat([]byte{0xAA}, n+16)
	Encode(buf[8:8+n:8+n], src)
	if !bytes.Equal(buf[:8], bytes.Repeat([]byte{0xAA}, 8)) ||
		!bytes.Equal(buf[8+n:], bytes.Repeat([]byte{0xAA}, 8)) {
		t.Fatalf("len %d: Encode wrote outside dst", len(src))
	}
	return string(buf[8 : 8+n])
}

// raceEnabled is set by race_test.go when built with -race.
var raceEnabled bool

func TestEncodedLen(t *testing.T) {
	for n := range 1000 {
		if got, want := EncodedLen(n), base64.StdEncoding.EncodedLen(n); got != want {
			t.Fatalf("EncodedLen(%d) = %d, want %d", n, got, want)
		}
	}
}

func TestEncodeKnown(t *testing.T) {
	// RFC 4648 section 10 test vectors.
	tests := []struct{ in, want string }{
		{"", ""},
		{"f", "Zg=="},
		{"fo", "Zm8="},
		{"foo", "Zm9v"},
		{"foob", "Zm9vYg=="},
		{"fooba", "Zm9vYmE="},
		{"foobar", "Zm9vYmFy"},
		{"\xfb\xff\xbf", "+/+/"},
	}
	for _, tt := range tests {
		if got := encodeFast(t, []byte(tt.in)); got != tt.want {
			t.Errorf("Encode(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestEncodeMatchesStdlib(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	random := make([]byte, 1100+8)
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	inputs := []struct {
		name string
		data []byte
	}{
		{"random", random},
		{"zeros", make([]byte, 1100+8)},
		{"ones", bytes.Repeat([]byte{0xFF}, 1100+8)},
	}
	for _, in := range inputs {
		t.Run(in.name, func(t *testing.T) {
			for off := range 8 {
				for n := 0; n <= 1100; n++ {
					src := in.data[off : off+n]
					want := base64.StdEncoding.EncodeToString(src)
					if got := encodeFast(t, src); got != want {
						t.Fatalf("offset %d len %d:\n got %q\nwant %q", off, n, got, want)
					}
				}
			}
		})
	}
}

func TestEncodeLarge(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	src := make([]byte, 1<<20)
	for i := range src {
		src[i] = byte(rng.Uint32())
	}
	want := base64.StdEncoding.EncodeToString(src)
	if got := encodeFast(t, src); got != want {
		t.Fatal("1 MiB encoding differs from stdlib")
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
		if raceEnabled {
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
	f.Fuzz(func(t *testing.T, src []byte) {
		want := base64.StdEncoding.EncodeToString(src)
		if got := encodeFast(t, src); got != want {
			t.Fatalf("Encode(%x):\n got %q\nwant %q", src, got, want)
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
		{"340B", 340},
		{"48KiB", 48 << 10},
		{"1MiB", 1 << 20},
	}
	impls := []struct {
		name string
		fn   func(dst, src []byte)
	}{
		{"fast", Encode},
		{"stdlib", base64.StdEncoding.Encode},
	}
	for _, sz := range sizes {
		src := make([]byte, sz.n)
		rng := rand.New(rand.NewPCG(5, 6))
		for i := range src {
			src[i] = byte(rng.Uint32())
		}
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
