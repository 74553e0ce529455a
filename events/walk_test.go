package events

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"
	"unsafe"
)

// The JSON walk has fast paths (plainItemsAVX2 and plainItemsGo for runs of plain strings, the
// partition key found during the walk, strAt, appendString's word path); these tests compare
// them with the general path on generated msgpack, and the two plainItems with each other.

// walkPieces are the strings random text is made of: plain ASCII, every kind of escape, UTF-8
// that is kept, U+2028/9 that are escaped, and invalid UTF-8.
var walkPieces = []string{"a", "Z", " ", ".", "~", "\x7f", "\"", "\\", "\n", "\t", "\x00", "\x1f", "é", "日",
	"🙂", "\u2028", "\u2029", "\xff", "\xe6\x97", "\xed\xa0\x80", "\xf4\x90\x80\x80", "<", "&", "abcdefgh"}

// walkKeys are keys the test paths look for, with near misses of the same lengths.
var walkKeys = []string{"kubernetes", "kubernetez", "pod_name", "pod_namE", "a", "b", "h", "x.y", "log",
	strings.Repeat("k", 40), strings.Repeat("k", 39) + "K", strings.Repeat("q", 32)}

// walkText returns a random string: mostly plain (printable ASCII) of a length around the
// 32-byte window and word boundaries, sometimes with a single special byte placed anywhere, or
// a mix of walkPieces.
func walkText(r *rand.Rand) string {
	var n int
	switch r.IntN(8) {
	case 0:
		n = r.IntN(4)
	case 1, 2, 3:
		n = r.IntN(40)
	case 4:
		n = 28 + r.IntN(10)
	case 5:
		n = r.IntN(300)
	default:
		n = r.IntN(12)
	}
	b := make([]byte, 0, n+4)
	switch r.IntN(4) {
	case 0:
		for len(b) < n {
			b = append(b, walkPieces[r.IntN(len(walkPieces))]...)
		}
		return string(b)
	default:
		for len(b) < n {
			c := byte(' ' + r.IntN(95))
			if c == '"' || c == '\\' {
				c = 'x'
			}
			b = append(b, c)
		}
		if n > 0 && r.IntN(3) == 0 {
			b[r.IntN(n)] = walkPieces[6+r.IntN(len(walkPieces)-6)][0]
		}
		return string(b)
	}
}

// walkStr appends s as a str, sometimes in a wider header than needed (str8 for a short string,
// str16), as other encoders may write it.
func walkStr(m mp, r *rand.Rand, s string) mp {
	switch n := len(s); {
	case n < 256 && r.IntN(6) == 0:
		m = append(m, 0xd9, byte(n))
	case n < 1<<16 && r.IntN(10) == 0:
		m = append(m, 0xda, byte(n>>8), byte(n))
	default:
		return m.str(s)
	}
	return append(m, s...)
}

// walkMapH appends a map header of n pairs as a fixmap (when it fits), map16 or map32.
func walkMapH(m mp, r *rand.Rand, n int) mp {
	switch r.IntN(4) {
	case 0:
		return append(m, 0xde, byte(n>>8), byte(n))
	case 1:
		return append(m, 0xdf, 0, 0, byte(n>>8), byte(n))
	}
	return m.mapH(n)
}

func walkKey(m mp, r *rand.Rand, depth int) mp {
	switch k := r.IntN(16); {
	case k < 8:
		return walkStr(m, r, walkKeys[r.IntN(len(walkKeys))])
	case k < 14:
		return walkStr(m, r, walkText(r))
	case k == 14:
		return m.bin(walkKeys[r.IntN(len(walkKeys))])
	}
	return walkValue(m, r, depth+3) // a non-string key
}

func walkValue(m mp, r *rand.Rand, depth int) mp {
	k := r.IntN(22)
	if depth > 5 && k >= 17 {
		k %= 10
	}
	switch k {
	case 0, 1, 2, 3, 4, 5, 6, 7:
		return walkStr(m, r, walkText(r))
	case 8:
		return m.uint(r.Uint64() >> r.IntN(64))
	case 9:
		return m.int(-1 - int64(r.Uint64()>>(1+r.IntN(63))))
	case 10:
		if r.IntN(2) == 0 {
			return m.f64(math.Float64frombits(r.Uint64()))
		}
		return m.f64(float64(r.IntN(100000)) / 8)
	case 11:
		return m.f32(float32(r.NormFloat64() * 1e3))
	case 12:
		switch r.IntN(3) {
		case 0:
			return m.nil()
		}
		return m.bool(r.IntN(2) == 0)
	case 13:
		return m.bin(walkText(r))
	case 14:
		if r.IntN(2) == 0 {
			return m.eventTime(r.Uint32(), r.Uint32()%1_100_000_000)
		}
		return m.ext(int8(r.IntN(256)-128), strings.Repeat("q", r.IntN(20)))
	case 15:
		return m.uint(uint64(r.IntN(128)))
	case 16:
		return m.int(int64(-r.IntN(32)))
	case 17, 18, 19:
		n := r.IntN(7)
		if r.IntN(8) == 0 {
			n = r.IntN(20)
		}
		m = walkMapH(m, r, n)
		for i := 0; i < n; i++ {
			m = walkKey(m, r, depth)
			m = walkValue(m, r, depth+1)
		}
		return m
	default:
		n := r.IntN(5)
		m = m.arr(n)
		for i := 0; i < n; i++ {
			m = walkValue(m, r, depth+1)
		}
		return m
	}
}

// walkRecord returns a random record: a map with the keys walkKeys, nested maps on the paths the
// tests use, and everything else.
func walkRecord(r *rand.Rand) mp {
	n := r.IntN(9)
	m := walkMapH(nil, r, n)
	for i := 0; i < n; i++ {
		m = walkKey(m, r, 0)
		m = walkValue(m, r, 1)
	}
	return m
}

// refJSON writes the msgpack value at src[p:] as JSON by the general path only: readHdr for
// every header and escape for every string. Scalars other than strings go through e.value,
// itself general for them.
func refJSON(e *jsonEnc, buf, src []byte, p, depth int) ([]byte, int, error) {
	h, q, err := readHdr(src, p)
	if err != nil {
		return buf, q, err
	}
	switch h.t {
	case tStr, tBin:
		return escape(buf, src[q:q+h.n], true), q + h.n, nil
	case tArray, tMap:
		if depth >= maxDepth {
			return buf, q, errTooDeep
		}
		open, close := byte('['), byte(']')
		if h.t == tMap {
			open, close = '{', '}'
		}
		buf = append(buf, open)
		for i := 0; i < h.n; i++ {
			if i > 0 {
				buf = append(buf, ',')
			}
			if h.t == tMap {
				kh, kq, err := readHdr(src, q)
				if err != nil {
					return buf, kq, err
				}
				if kh.t == tStr || kh.t == tBin {
					buf, q = refKey(e, buf, src[kq:kq+kh.n]), kq+kh.n
				} else if buf, q, err = e.key(buf, src, q, depth+1); err != nil {
					return buf, q, err
				}
				buf = append(buf, ':')
			}
			if buf, q, err = refJSON(e, buf, src, q, depth+1); err != nil {
				return buf, q, err
			}
		}
		return append(buf, close), q, nil
	}
	return e.value(buf, src, p, depth)
}

// refKey writes a str key with its dots replaced if ReplaceDots is set.
func refKey(e *jsonEnc, buf, k []byte) []byte {
	if !e.replace {
		return escape(buf, k, true)
	}
	buf = append(buf, '"')
	for i, part := range bytes.Split(k, []byte(".")) {
		if i > 0 {
			buf = append(buf, e.dots...)
		}
		buf = escape(buf, part, false)
	}
	return append(buf, '"')
}

// walkConverters returns converters for o with each plainItems this build and CPU have.
func walkConverters(tb testing.TB, o Options) map[string]*Converter {
	tb.Helper()
	cs := map[string]*Converter{}
	for _, avx2 := range []bool{false, true} {
		if avx2 && !useAVX2 {
			continue
		}
		c, err := NewConverter(o)
		if err != nil {
			tb.Fatal(err)
		}
		c.enc.avx2 = avx2
		cs[fmt.Sprintf("avx2=%v", avx2)] = c
	}
	return cs
}

var walkOptions = []Options{
	{},
	{PartitionKey: []string{"kubernetes", "pod_name"}},
	{PartitionKey: []string{"a"}},
	{PartitionKey: []string{"a", "b", "h"}},
	{PartitionKey: []string{strings.Repeat("k", 40)}},
	{PartitionKey: []string{strings.Repeat("q", 32)}},
	{PartitionKey: []string{"x.y"}, ReplaceDots: "_"},
	{PartitionKey: []string{"kubernetes", "pod_name"}, ReplaceDots: "\"\u2028."},
}

// checkWalk converts a chunk of records with every option set and plainItems and compares the
// data and partition keys with the general path.
func checkWalk(t *testing.T, records []mp) {
	var chunk mp
	var offsets []int
	for i, rec := range records {
		chunk = chunk.arr(2).arr(2).eventTime(uint32(i), 0).mapH(0)
		offsets = append(offsets, len(chunk))
		chunk = chunk.raw(rec)
	}
	for _, o := range walkOptions {
		o.SteerRandomKeys = true
		for name, c := range walkConverters(t, o) {
			var b Batch
			c.Convert(chunk, "", &b)
			if b.Malformed != nil || len(b.Records) != len(records) {
				t.Fatalf("%+v %s: %d of %d records, malformed %v, rejected %v", o, name, len(b.Records), len(records), b.Malformed, b.Rejected)
			}
			for i, r := range b.Records {
				want, end, err := refJSON(&c.enc, nil, chunk, offsets[i], 0)
				if err != nil || end != offsets[i]+len(records[i]) {
					t.Fatalf("record %d: reference failed: %v", i, err)
				}
				if !bytes.Equal(r.Data, want) {
					t.Fatalf("%+v %s: record %d (msgpack %x)\n got %q\nwant %q", o, name, i, records[i], r.Data, want)
				}
				wantKey, ok := []byte(nil), false
				if o.PartitionKey != nil {
					wantKey, ok = appendPartitionKey(nil, chunk, resolve(chunk, offsets[i], o.PartitionKey))
				}
				if ok && r.PartitionKey != string(wantKey) || !ok && !r.Steerable {
					t.Fatalf("%+v %s: record %d (msgpack %x): key %q, want %q (found %v)", o, name, i, records[i], r.PartitionKey, wantKey, ok)
				}
			}
		}
	}
}

func TestWalkMatchesGeneralPath(t *testing.T) {
	r := rand.New(rand.NewPCG(20261125, 3))
	n := 300
	if testing.Short() {
		n = 30
	}
	for round := 0; round < n; round++ {
		recs := make([]mp, 1+r.IntN(20))
		for i := range recs {
			recs[i] = walkRecord(r)
		}
		checkWalk(t, recs)
	}
	// The benchmark's records and the stored chunks' records.
	var kube []mp
	k := kubeChunk(50)
	for p := 0; p < len(k); {
		rp := v2Record(k, p)
		end, err := skip(k, rp)
		if rp == 0 || err != nil {
			t.Fatal("kubeChunk is not v2 events")
		}
		kube, p = append(kube, mp(k[rp:end])), end
	}
	checkWalk(t, kube)
}

// FuzzWalk checks that both plainItems give the same batch for any record bytes, and the general
// path's JSON when it decodes the record.
func FuzzWalk(f *testing.F) {
	r := rand.New(rand.NewPCG(1, 1))
	for i := 0; i < 20; i++ {
		f.Add([]byte(walkRecord(r)))
	}
	f.Add([]byte(mp{}.mapH(2).str("kubernetes").mapH(1).str("pod_name").str("p").str("log").str(strings.Repeat("x", 40))))
	var convs [][]*Converter
	for _, o := range walkOptions {
		cs := walkConverters(f, o)
		convs = append(convs, []*Converter{cs["avx2=false"], cs["avx2=true"]})
	}
	f.Fuzz(func(t *testing.T, rec []byte) {
		chunk := mp{}.arr(2).arr(2).eventTime(1, 2).mapH(0).raw(rec)
		rp := len(chunk) - len(rec)
		isMap := len(rec) > 0 && (rec[0]>>4 == 8 || rec[0] == 0xde || rec[0] == 0xdf)
		for _, cs := range convs {
			var b Batch
			b.rng.r = rand.NewChaCha8([32]byte{})
			cs[0].Convert(chunk, "", &b)
			want, end, err := refJSON(&cs[0].enc, nil, chunk, rp, 0)
			switch {
			case err == nil && end == len(chunk) && isMap:
				if len(b.Records) != 1 || !bytes.Equal(b.Records[0].Data, want) {
					t.Fatalf("got %d records %v, want %q", len(b.Records), b.Records, want)
				}
			case err == errTooDeep:
				if len(b.Rejected) != 1 {
					t.Fatalf("too deep, but rejected %v", b.Rejected)
				}
			}
			if cs[1] == nil {
				continue
			}
			var b2 Batch
			b2.rng.r = rand.NewChaCha8([32]byte{})
			cs[1].Convert(chunk, "", &b2)
			if fmt.Sprint(b.Records, b.Rejected, b.Malformed) != fmt.Sprint(b2.Records, b2.Rejected, b2.Malformed) {
				t.Fatalf("plainItemsGo:\n%v %v %v\nplainItemsAVX2:\n%v %v %v", b.Records, b.Rejected, b.Malformed, b2.Records, b2.Rejected, b2.Malformed)
			}
		}
	})
}

// plainRun is one plainItems implementation.
type plainRun func(buf, src []byte, q, j, n2 int, want *pathKey, keyStop byte) ([]byte, int, int, bool)

// plainRuns returns plainItemsGo and, if this build and CPU have it, plainItemsAVX2.
func plainRuns() map[string]plainRun {
	runs := map[string]plainRun{"go": func(buf, src []byte, q, j, n2 int, want *pathKey, keyStop byte) ([]byte, int, int, bool) {
		return plainItemsGo(buf, src, q, j, n2, &want.pad, want.n, keyStop)
	}}
	if useAVX2 {
		runs["avx2"] = func(buf, src []byte, q, j, n2 int, want *pathKey, keyStop byte) ([]byte, int, int, bool) {
			o, q, j, found := plainItemsAVX2(unsafe.SliceData(buf), len(buf), cap(buf), unsafe.SliceData(src), len(src), q, j, n2, &want.pad, want.n, keyStop)
			return buf[:o], q, j, found
		}
	}
	return runs
}

// walkItems returns the items of a random map (not its header), with their offsets: mostly
// strings, keys among walkKeys, and some other values, which plainItems stops at.
func walkItems(r *rand.Rand, n2 int) (src mp, offsets []int) {
	for i := 0; i < n2; i++ {
		offsets = append(offsets, len(src))
		switch k := r.IntN(10); {
		case k == 0:
			src = walkValue(src, r, 5)
		case k < 4 && i&1 == 0:
			src = walkStr(src, r, walkKeys[r.IntN(len(walkKeys))])
		default:
			src = walkStr(src, r, walkText(r))
		}
	}
	return src, append(offsets, len(src))
}

// checkRun checks what a plainItems call did against appendString's output, item by item:
// before is buf's content before the call, got the buffer it returned.
func checkRun(src []byte, q, j, n2 int, want *pathKey, keyStop byte, before, got []byte, q2, j2 int, found bool) error {
	if len(got) < len(before) || !bytes.Equal(got[:len(before)], before) {
		return fmt.Errorf("changed the buffer's content")
	}
	var exp []byte
	p, lastWant := q, false
	for i := j; i < j2; i++ {
		s, end, ok := strAt(src, p)
		if !ok {
			return fmt.Errorf("wrote item %d, not a fixstr or str8", i)
		}
		str := src[s:end]
		if i&1 == 0 && (len(str) > 32 || bytes.IndexByte(str, keyStop) >= 0) {
			return fmt.Errorf("wrote key %d %q, keyStop %q", i, str, keyStop)
		}
		if lastWant {
			return fmt.Errorf("went on after key %q", want.s)
		}
		exp = append(exp, sepBefore(i))
		exp = appendString(exp, str)
		lastWant = i&1 == 0 && want.n >= 0 && string(str) == want.s
		p = end
	}
	if p != q2 || !bytes.Equal(got[len(before):], exp) {
		return fmt.Errorf("items %d-%d: offset %d, want %d; wrote\n%q, want\n%q", j, j2, q2, p, got[len(before):], exp)
	}
	if found != lastWant {
		return fmt.Errorf("found %v after items %d-%d, want %v", found, j, j2, lastWant)
	}
	// It may stop only where it has to, or near the ends of src and buf.
	if s, end, ok := strAt(src, q2); ok && !found && j2 < n2 && q2 <= len(src)-34 && len(got) <= cap(got)-36 {
		str := src[s:end]
		whole := (len(str) + 7) &^ 7
		plain := true // printable ASCII but '"' and '\\'
		for _, c := range str {
			plain = plain && c < utf8.RuneSelf && safe[c]
		}
		if plain && (j2&1 == 0 && len(str) <= 32 && bytes.IndexByte(str, keyStop) < 0 ||
			j2&1 != 0 && (len(str) <= 32 || s+whole <= len(src) && len(got)+whole+4 <= cap(got))) {
			return fmt.Errorf("stopped at item %d, plain %q", j2, str)
		}
	}
	return nil
}

func TestPlainItemsRuns(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	runs := plainRuns()
	const canary = 0xcc
	for round := 0; round < 20000; round++ {
		n2 := 2 * (1 + r.IntN(12))
		items, offsets := walkItems(r, n2)
		// Sometimes the items end the chunk, sometimes more follows.
		src := append(items, bytes.Repeat([]byte{0xa5}, r.IntN(3)*r.IntN(40))...)
		j := r.IntN(n2)
		want := &noKey
		if r.IntN(3) != 0 {
			want = &pathKeys([]string{walkKeys[r.IntN(len(walkKeys))]})[0]
		}
		keyStop := byte('"')
		if r.IntN(3) == 0 {
			keyStop = '.'
		}
		o, free := r.IntN(50), r.IntN(600)
		for name, run := range runs {
			mem := bytes.Repeat([]byte{canary}, o+free+64)
			for i := range o {
				mem[i] = byte('A' + i%26)
			}
			buf := mem[: o : o+free]
			got, q2, j2, found := run(buf, src, offsets[j], j, n2, want, keyStop)
			if err := checkRun(src, offsets[j], j, n2, want, keyStop, mem[:o], got, q2, j2, found); err != nil {
				t.Fatalf("%s, round %d, items %x from %d, want %q, keyStop %q, buf %d+%d: %v", name, round, items, j, want.s, keyStop, o, free, err)
			}
			for i, c := range mem[o+free:] {
				if c != canary {
					t.Fatalf("%s, round %d: wrote past the buffer's capacity at +%d", name, round, i)
				}
			}
		}
	}
}
