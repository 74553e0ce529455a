package events

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"math"
	"math/bits"
	"slices"
	"strconv"
	"unicode/utf8"
	"unsafe"
)

// jsonEnc streams msgpack values as compact JSON. It is immutable.
type jsonEnc struct {
	// dots is the JSON-escaped replacement for '.' in map keys; replace says whether to use it.
	dots    []byte
	replace bool
	// avx2 selects plainItemsAVX2 over plainItemsGo (useAVX2; tests turn it off).
	avx2 bool
}

// pathKey is an element of a field path that a walk looks for (see members), also in the form
// plainItemsGo and plainItemsAVX2 compare keys with: zero-padded to 32 bytes, n = -1 when longer.
type pathKey struct {
	s   string
	pad [32]byte
	n   int
}

// noKey is the pathKey of no path: it matches no key.
var noKey = pathKey{n: -1}

// pathKeys returns path as pathKeys; nil for nil.
func pathKeys(path []string) []pathKey {
	if path == nil {
		return nil
	}
	keys := make([]pathKey, len(path))
	for i, k := range path {
		keys[i] = pathKey{s: k, n: -1}
		if len(k) <= 32 {
			keys[i].n = copy(keys[i].pad[:], k)
		}
	}
	return keys
}

// strAt returns the payload bounds of the fixstr or str8 at src[p:], the string headers that log
// records use; ok is false for any other value and for a truncated payload, which the general
// path reports.
func strAt(src []byte, p int) (s, end int, ok bool) {
	if uint(p) >= uint(len(src)) {
		return 0, 0, false
	}
	switch c := src[p]; {
	case c>>5 == 0xa0>>5:
		s, end = p+1, p+1+int(c&0x1f)
	case c == 0xd9 && p+1 < len(src):
		s, end = p+2, p+2+int(src[p+1])
	default:
		return 0, 0, false
	}
	return s, end, end <= len(src)
}

// mapAt returns the pair count of the map at src[p:] and the offset past its header; ok is false
// for any other value, and for a count the rest of src cannot hold (see container), which the
// general path reports.
func mapAt(src []byte, p int) (n, q int, ok bool) {
	if uint(p) >= uint(len(src)) {
		return 0, 0, false
	}
	var u uint64
	switch c := src[p]; {
	case c>>4 == 0x8:
		u, q = uint64(c&0x0f), p+1
	case c == 0xde && len(src)-p >= 3:
		u, q = uint64(binary.BigEndian.Uint16(src[p+1:])), p+3
	case c == 0xdf && len(src)-p >= 5:
		u, q = uint64(binary.BigEndian.Uint32(src[p+1:])), p+5
	default:
		return 0, 0, false
	}
	if 2*u > uint64(len(src)-q) {
		return 0, 0, false
	}
	return int(u), q, true
}

// value appends the JSON form of the msgpack value at src[p:] and returns the grown buffer and the
// offset past the value. On error buf holds partial output that the caller must discard.
func (e *jsonEnc) value(buf, src []byte, p, depth int) ([]byte, int, error) {
	// Fast paths for the most common values in log records.
	if s, end, ok := strAt(src, p); ok {
		return appendString(buf, src[s:end]), end, nil
	}
	if p < len(src) && src[p] <= 0x7f {
		return strconv.AppendUint(buf, uint64(src[p]), 10), p + 1, nil
	}
	h, q, err := readHdr(src, p)
	if err != nil {
		return buf, q, err
	}
	switch h.t {
	case tNil:
		buf = append(buf, "null"...)
	case tFalse:
		buf = append(buf, "false"...)
	case tTrue:
		buf = append(buf, "true"...)
	case tUint:
		buf = strconv.AppendUint(buf, h.u, 10)
	case tInt:
		buf = strconv.AppendInt(buf, int64(h.u), 10)
	case tFloat32:
		buf = appendFloat(buf, float64(math.Float32frombits(uint32(h.u))), 32)
	case tFloat64:
		buf = appendFloat(buf, math.Float64frombits(h.u), 64)
	case tStr, tBin:
		buf = appendString(buf, src[q:q+h.n])
		q += h.n
	case tExt:
		buf = appendExt(buf, h.x, src[q:q+h.n])
		q += h.n
	case tArray:
		if depth >= maxDepth {
			return buf, q, errTooDeep
		}
		buf = append(buf, '[')
		for i := 0; i < h.n; i++ {
			if i > 0 {
				buf = append(buf, ',')
			}
			if s, end, ok := strAt(src, q); ok {
				buf, q = appendString(buf, src[s:end]), end
			} else if buf, q, err = e.value(buf, src, q, depth+1); err != nil {
				return buf, q, err
			}
		}
		buf = append(buf, ']')
	case tMap:
		return e.object(buf, src, q, h.n, depth)
	}
	return buf, q, nil
}

// object writes the n key/value pairs at src[q:] of a map at depth as a JSON object and returns
// the offset past them.
func (e *jsonEnc) object(buf, src []byte, q, n, depth int) ([]byte, int, error) {
	buf, q, _, err := e.members(buf, src, q, n, depth, nil)
	return append(buf, '}'), q, err
}

// members writes the n key/value pairs at src[q:] of a map at depth as a JSON object without
// its closing brace and returns the offset past them. With a path it also returns the offset of
// the value that path names (the last duplicate wins; -1 when absent), saving a second scan.
func (e *jsonEnc) members(buf, src []byte, q, n, depth int, path []pathKey) (out []byte, end, found int, err error) {
	if depth >= maxDepth {
		return buf, q, -1, errTooDeep
	}
	found = -1
	if n == 0 {
		return append(buf, '{'), q, found, nil
	}
	// Item j is a key when j is even, else a value. plainItemsAVX2 or plainItemsGo writes the
	// runs of plain strings (keys without dots when they are replaced) and stops at the value of
	// a key path[0] it wrote; this loop writes the rest.
	keyStop := byte('"') // escaped anyway: no extra stop
	if e.replace {
		keyStop = '.'
	}
	want := &noKey
	if path != nil {
		want = &path[0]
	}
	n2 := 2 * n
	for j := 0; j < n2; {
		var at bool
		if e.avx2 {
			var o int
			o, q, j, at = plainItemsAVX2(unsafe.SliceData(buf), len(buf), cap(buf), unsafe.SliceData(src), len(src), q, j, n2, &want.pad, want.n, keyStop)
			buf = buf[:o]
		} else {
			buf, q, j, at = plainItemsGo(buf, src, q, j, n2, &want.pad, want.n, keyStop)
		}
		if at { // item j is the value of the key path[0]
			if len(path) == 1 {
				found = q
				continue
			}
			buf = append(buf, ':')
			if buf, q, found, err = e.valueFind(buf, src, q, depth+1, path[1:]); err != nil {
				return buf, q, -1, err
			}
			j++
			continue
		}
		if j == n2 {
			break
		}
		buf = append(buf, sepBefore(j))
		if j&1 != 0 {
			// A map directly, else value.
			if q >= len(src) || src[q]>>4 != 0x8 && src[q] != 0xde && src[q] != 0xdf {
				buf, q, err = e.value(buf, src, q, depth+1)
			} else if m, p, ok := mapAt(src, q); ok {
				buf, q, _, err = e.members(buf, src, p, m, depth+1, nil)
				buf = append(buf, '}')
			} else {
				buf, q, err = e.value(buf, src, q, depth+1)
			}
			if err != nil {
				return buf, q, -1, err
			}
			j++
			continue
		}
		var match bool
		if s, end, ok := strAt(src, q); ok {
			key := src[s:end]
			match = path != nil && string(key) == path[0].s
			if e.replace {
				buf = e.keyText(buf, key)
			} else {
				buf = appendString(buf, key)
			}
			q = end
		} else {
			kh, kq, err := readHdr(src, q)
			if err != nil {
				return buf, kq, -1, err
			}
			match = path != nil && (kh.t == tStr || kh.t == tBin) && string(src[kq:kq+kh.n]) == path[0].s
			if buf, q, err = e.key(buf, src, q, depth+1); err != nil {
				return buf, q, -1, err
			}
		}
		j++
		switch {
		case !match:
		case len(path) == 1:
			found = q
		default:
			buf = append(buf, ':')
			if buf, q, found, err = e.valueFind(buf, src, q, depth+1, path[1:]); err != nil {
				return buf, q, -1, err
			}
			j++
		}
	}
	return buf, q, found, nil
}

// sepBefore returns what goes before item j of a map's items: '{', then ':' before a value and
// ',' before a key.
func sepBefore(j int) byte {
	switch {
	case j == 0:
		return '{'
	case j&1 != 0:
		return ':'
	}
	return ','
}

// plainItemsGo writes items j, j+1 ... of a map (see members) while they are fixstrs or str8s
// that need no escaping, keys of at most 32 bytes without the byte keyStop, and returns the grown
// buffer, the offset past them and the index of the first item left. It stops before item n2,
// and after a key equal to the first wantLen bytes of want (found is then true); it may stop
// earlier near the end of src or of buf's capacity. plainItemsAVX2 does the same, 32 bytes at a
// time.
//
// It works a word at a time and calls nothing, so its state stays in registers. Like
// appendString, it copies whole words past a string's end, bounded by its length in buf; the
// checks at the top of each item keep them inside src and buf.
func plainItemsGo(buf, src []byte, q, j, n2 int, want *[32]byte, wantLen int, keyStop byte) (_ []byte, _, _ int, found bool) {
	sp, dp := unsafe.Pointer(unsafe.SliceData(src)), unsafe.Pointer(unsafe.SliceData(buf))
	o, lim, qlim := len(buf), cap(buf)-36, len(src)-34
	stop := lsb * uint64(keyStop)
	for ; j < n2 && q <= qlim && o <= lim; j++ {
		var s, n int
		switch c := *(*byte)(unsafe.Add(sp, q)); {
		case c>>5 == 0xa0>>5:
			s, n = q+1, int(c&0x1f)
		case c == 0xd9:
			s, n = q+2, int(*(*byte)(unsafe.Add(sp, q+1)))
		default:
			return buf[:o], q, j, false
		}
		d := unsafe.Add(dp, o)
		if n <= 32 {
			// A key's keyStop bytes count as needing attention; the test is exact in the same
			// way (a zero byte of w^stop sets its own high bit, borrows only go upwards).
			key := uint64(0)
			if j&1 == 0 {
				key = ^uint64(0)
			}
			t := (*[32]byte)(unsafe.Add(sp, s))
			b := (*[34]byte)(d)
			w0 := binary.LittleEndian.Uint64(t[:])
			binary.LittleEndian.PutUint64(b[2:], w0)
			a := (attention(w0) | ((w0^stop)-lsb)&key) & strMask[n][0]
			if n > 8 {
				w1 := binary.LittleEndian.Uint64(t[8:])
				binary.LittleEndian.PutUint64(b[10:], w1)
				a |= (attention(w1) | ((w1^stop)-lsb)&key) & strMask[n][1]
				if n > 16 {
					w2, w3 := binary.LittleEndian.Uint64(t[16:]), binary.LittleEndian.Uint64(t[24:])
					binary.LittleEndian.PutUint64(b[18:], w2)
					binary.LittleEndian.PutUint64(b[26:], w3)
					a |= (attention(w2)|((w2^stop)-lsb)&key)&strMask[n][2] | (attention(w3)|((w3^stop)-lsb)&key)&strMask[n][3]
				}
			}
			if a&msb != 0 {
				return buf[:o], q, j, false
			}
			b[0], b[1] = sepBefore(j), '"'
			if n == wantLen && j&1 == 0 && sameWindow(t, want, n) {
				*(*byte)(unsafe.Add(d, n+2)) = '"'
				return buf[:o+n+3], s + n, j + 1, true
			}
		} else {
			// A long value: whole words, the last one masked, while src and buf hold them.
			words := (n + 7) >> 3
			if j&1 == 0 || s+8*words > len(src) || o+8*words+4 > cap(buf) {
				return buf[:o], q, j, false
			}
			var a uint64
			k := 0
			for ; k < 8*(words-1); k += 8 {
				w := binary.LittleEndian.Uint64((*[8]byte)(unsafe.Add(sp, s+k))[:])
				binary.LittleEndian.PutUint64((*[8]byte)(unsafe.Add(d, 2+k))[:], w)
				a |= attention(w)
			}
			w := binary.LittleEndian.Uint64((*[8]byte)(unsafe.Add(sp, s+k))[:])
			binary.LittleEndian.PutUint64((*[8]byte)(unsafe.Add(d, 2+k))[:], w)
			if a|attention(w)&strMask[n-k][0] != 0 {
				return buf[:o], q, j, false
			}
			*(*[2]byte)(d) = [2]byte{sepBefore(j), '"'}
		}
		*(*byte)(unsafe.Add(d, n+2)) = '"'
		o += n + 3
		q = s + n
	}
	return buf[:o], q, j, false
}

// sameWindow reports whether the first n <= 32 bytes of a and b are equal.
func sameWindow(a, b *[32]byte, n int) bool {
	m := &strMask[n]
	var x uint64
	for i := range 4 {
		x |= (binary.LittleEndian.Uint64(a[8*i:]) ^ binary.LittleEndian.Uint64(b[8*i:])) & m[i]
	}
	return x == 0
}

// valueFind is value for a value that may contain the field path: while it writes a map it
// notes the offset of the value that path names (see members). found is -1 when the path is
// absent or the value is not a map.
func (e *jsonEnc) valueFind(buf, src []byte, p, depth int, path []pathKey) (out []byte, q, found int, err error) {
	n, q, ok := mapAt(src, p)
	if !ok {
		if p >= len(src) || src[p] != 0xde && src[p] != 0xdf { // not a map
			buf, q, err = e.value(buf, src, p, depth)
			return buf, q, -1, err
		}
		h, hq, err := readHdr(src, p)
		if err != nil {
			return buf, hq, -1, err
		}
		n, q = h.n, hq
	}
	buf, q, found, err = e.members(buf, src, q, n, depth, path)
	return append(buf, '}'), q, found, err
}

// key appends the map key at src[p:] as a JSON string. str and bin keys keep their bytes; scalar
// keys become the text of their JSON form ("42", "true", "null", "1.5", "NaN"); ext keys and
// map/array keys become the base64 of their data or msgpack bytes. Rendering a container key as
// its JSON text would be friendlier, but a key nested in a key nested in a key ... would be
// escaped once per level, an exponential blow-up that hostile input could trigger.
func (e *jsonEnc) key(buf, src []byte, p, depth int) ([]byte, int, error) {
	if p < len(src) && src[p]>>5 == 0xa0>>5 { // fixstr
		n := int(src[p] & 0x1f)
		if n > len(src)-p-1 {
			return buf, p, ErrTruncated
		}
		return e.keyText(buf, src[p+1:p+1+n]), p + 1 + n, nil
	}
	h, q, err := readHdr(src, p)
	if err != nil {
		return buf, q, err
	}
	var tmp [64]byte
	var text []byte
	switch h.t {
	case tStr, tBin:
		return e.keyText(buf, src[q:q+h.n]), q + h.n, nil
	case tFloat32, tFloat64:
		f := math.Float64frombits(h.u)
		bits := 64
		if h.t == tFloat32 {
			f, bits = float64(math.Float32frombits(uint32(h.u))), 32
		}
		if math.IsNaN(f) || math.IsInf(f, 0) {
			text = strconv.AppendFloat(tmp[:0], f, 'g', -1, bits) // NaN, +Inf, -Inf
		} else {
			text = appendFloat(tmp[:0], f, bits)
		}
	case tExt:
		if isEventTime(h) {
			text = appendEventTime(tmp[:0], src[q:q+h.n])
			q += h.n
			break
		}
		buf = append(buf, '"')
		buf = base64.StdEncoding.AppendEncode(buf, src[q:q+h.n]) // no dots, nothing to escape
		return append(buf, '"'), q + h.n, nil
	case tArray, tMap:
		end, err := skip(src, p)
		if err != nil {
			return buf, end, err
		}
		buf = append(buf, '"')
		buf = base64.StdEncoding.AppendEncode(buf, src[p:end])
		return append(buf, '"'), end, nil
	default: // nil, bool, int, uint
		text, q, err = e.value(tmp[:0], src, p, depth)
		if err != nil {
			return buf, q, err
		}
	}
	return e.keyText(buf, text), q, nil
}

// keyText appends s as a JSON string, replacing '.' when ReplaceDots is set.
func (e *jsonEnc) keyText(buf, s []byte) []byte {
	if !e.replace || bytes.IndexByte(s, '.') < 0 {
		return appendString(buf, s)
	}
	buf = append(buf, '"')
	for {
		i := bytes.IndexByte(s, '.')
		if i < 0 {
			break
		}
		buf = appendEscaped(buf, s[:i])
		buf = append(buf, e.dots...)
		s = s[i+1:]
	}
	buf = appendEscaped(buf, s)
	return append(buf, '"')
}

// isEventTime reports whether an ext header is Fluent Bit's EventTime (type 0, 8 bytes).
func isEventTime(h hdr) bool { return h.t == tExt && h.x == 0 && h.n == 8 }

// appendEventTime writes an EventTime's payload as "seconds.nanoseconds" with 9 fraction digits,
// which is both a valid JSON number and exact. Nanoseconds of 1e9 or more (never produced by
// Fluent Bit) carry into the seconds, so the number still equals seconds + nanoseconds/1e9.
func appendEventTime(buf, d []byte) []byte {
	sec := uint64(binary.BigEndian.Uint32(d))
	ns := binary.BigEndian.Uint32(d[4:])
	sec += uint64(ns / 1e9)
	ns %= 1e9
	buf = strconv.AppendUint(buf, sec, 10)
	var frac [10]byte
	frac[0] = '.'
	for i := 9; i >= 1; i-- {
		frac[i] = byte('0' + ns%10)
		ns /= 10
	}
	return append(buf, frac[:]...)
}

// appendExt writes an ext value: EventTime as a JSON number "seconds.nanoseconds", any other ext
// as a JSON string holding the standard base64 of its data.
func appendExt(buf []byte, typ int8, d []byte) []byte {
	if typ == 0 && len(d) == 8 {
		return appendEventTime(buf, d)
	}
	buf = append(buf, '"')
	buf = base64.StdEncoding.AppendEncode(buf, d)
	return append(buf, '"')
}

// appendFloat formats f like encoding/json: the shortest representation that round-trips at the
// given bit size, exponent form only for very large or small magnitudes; NaN and ±Inf become null.
func appendFloat(buf []byte, f float64, bits int) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(buf, "null"...)
	}
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 {
		if bits == 64 && (abs < 1e-6 || abs >= 1e21) ||
			bits == 32 && (float32(abs) < 1e-6 || float32(abs) >= 1e21) {
			format = 'e'
		}
	}
	buf = strconv.AppendFloat(buf, f, format, -1, bits)
	if format == 'e' {
		// Clean up e-09 to e-9, as encoding/json does.
		n := len(buf)
		if n >= 4 && buf[n-4] == 'e' && buf[n-3] == '-' && buf[n-2] == '0' {
			buf[n-2] = buf[n-1]
			buf = buf[:n-1]
		}
	}
	return buf
}

const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// attention returns a mask with the high bit set in the lowest byte of w (in memory order) that
// needs attention when writing a JSON string: a control byte, '"', '\\' or a byte >= 0x80. Borrows
// only spread upwards from such a byte, so the lowest flagged byte is exact; higher flags may be
// false positives, which is fine for finding the first one. One subtraction finds both control
// bytes and '"': xor 0x02 keeps 0x00-0x1f among themselves and turns '"' (0x22) into 0x20, the
// only other ASCII byte it takes below 0x21.
func attention(w uint64) uint64 {
	return (((w ^ (lsb * 0x02)) - lsb*0x21) | ((w ^ (lsb * '\\')) - lsb) | w) & msb
}

// safe marks the ASCII bytes that a JSON string can hold unescaped.
var safe = func() (t [utf8.RuneSelf]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

const hexDigits = "0123456789abcdef"

// appendString appends s as a quoted JSON string, escaped like encoding/json with HTML escaping
// off; invalid UTF-8 becomes \ufffd.
func appendString(buf, s []byte) []byte {
	// Most keys and many values are short and need no escaping: test them a word at a time and
	// store them whole. s is usually a window into the chunk, so the bytes past its end are
	// readable; strMask drops them, and what they put in buf is past the closing quote or
	// under it.
	if n := len(s); n <= 32 && cap(s) >= 32 && cap(buf)-len(buf) >= 34 {
		t := s[:32]
		o := len(buf)
		d := buf[o : o+34]
		w0, w1 := binary.LittleEndian.Uint64(t), binary.LittleEndian.Uint64(t[8:])
		if n <= 16 {
			if plain16(w0, w1, n) {
				d[0] = '"'
				binary.LittleEndian.PutUint64(d[1:], w0)
				binary.LittleEndian.PutUint64(d[9:], w1)
				d[n+1] = '"'
				return buf[:o+n+2]
			}
		} else {
			w2, w3 := binary.LittleEndian.Uint64(t[16:]), binary.LittleEndian.Uint64(t[24:])
			m := &strMask[n]
			if attention(w0)|attention(w1)|attention(w2)&m[2]|attention(w3)&m[3] == 0 {
				d[0] = '"'
				binary.LittleEndian.PutUint64(d[1:], w0)
				binary.LittleEndian.PutUint64(d[9:], w1)
				binary.LittleEndian.PutUint64(d[17:], w2)
				binary.LittleEndian.PutUint64(d[25:], w3)
				d[n+1] = '"'
				return buf[:o+n+2]
			}
		}
	}
	return escape(buf, s, true)
}

// plain16 reports whether the first n <= 16 bytes of the 16-byte window w0, w1 need no escaping.
func plain16(w0, w1 uint64, n int) bool {
	return attention(w0)&strMask[n][0]|attention(w1)&strMask[n][1] == 0
}

// strMask[n] masks the first n bytes of a 32-byte window, as four words.
var strMask = func() (t [33][4]uint64) {
	for n := range t {
		for i := 0; i < n; i++ {
			t[n][i/8] |= 0xFF << (8 * (i % 8))
		}
	}
	return t
}()

// appendEscaped appends the escaped body of a JSON string (no quotes).
func appendEscaped(buf, s []byte) []byte { return escape(buf, s, false) }

// escape appends s escaped, in quotes if quote is set.
func escape(buf, s []byte, quote bool) []byte {
	if quote {
		buf = append(buf, '"')
	}
	for {
		var k int
		buf, k = appendPlain(buf, s)
		if k == len(s) {
			break
		}
		buf, s = escapeSome(buf, s[k:])
	}
	if quote {
		buf = append(buf, '"')
	}
	return buf
}

// appendPlain appends the longest prefix of s that a JSON string holds as is and returns its
// length. It scans and copies in one pass, a word at a time; bytes it stores past that prefix
// are beyond the returned buffer's length, to be overwritten.
func appendPlain(buf, s []byte) ([]byte, int) {
	n := len(s)
	if cap(buf)-len(buf) < n+8 {
		buf = slices.Grow(buf, n+8)
	}
	free := buf[len(buf):cap(buf)]
	// Each word lies within s's memory (s is usually a window into the chunk, readable past its
	// end) and, as it starts before n, within free: whole words of s end by n <= cap(s), and the
	// partial last word is read only when it starts before cap(s)-7. Unchecked access keeps the
	// loop to the word's test.
	sp, dp := unsafe.Pointer(unsafe.SliceData(s)), unsafe.Pointer(unsafe.SliceData(free))
	k := 0
	for ; k+8 <= n; k += 8 {
		w := binary.LittleEndian.Uint64((*[8]byte)(unsafe.Add(sp, k))[:])
		binary.LittleEndian.PutUint64((*[8]byte)(unsafe.Add(dp, k))[:], w)
		if m := attention(w); m != 0 {
			k += bits.TrailingZeros64(m) >> 3
			return buf[:len(buf)+k], k
		}
	}
	if k < n && k < cap(s)-7 {
		w := binary.LittleEndian.Uint64((*[8]byte)(unsafe.Add(sp, k))[:])
		binary.LittleEndian.PutUint64((*[8]byte)(unsafe.Add(dp, k))[:], w)
		// A flag on the byte just past the end of s stops the count there.
		m := attention(w) | 0x80<<(8*uint(n-k))
		k += bits.TrailingZeros64(m) >> 3
		return buf[:len(buf)+k], k
	}
	// The last bytes of s's memory, one at a time.
	for k < n && s[k] < utf8.RuneSelf && safe[s[k]] {
		free[k] = s[k]
		k++
	}
	return buf[:len(buf)+k], k
}

// escapeSome appends the escaped form of the special byte or the UTF-8 run at the start of s and
// returns the rest of s.
func escapeSome(b, s []byte) ([]byte, []byte) {
	n := len(s)
	i := 0
	for {
		c := s[i]
		if c < utf8.RuneSelf {
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			return b, s[i+1:]
		}
		if c >= 0xC2 && c <= 0xDF && i+1 < n && s[i+1]&0xC0 == 0x80 {
			b = append(b, c, s[i+1])
			i += 2
		} else if c >= 0xE1 && c <= 0xEF && c != 0xED && c != 0xE2 && i+2 < n && s[i+1]&0xC0 == 0x80 && s[i+2]&0xC0 == 0x80 {
			b = append(b, c, s[i+1], s[i+2])
			i += 3
		} else {
			r, size := utf8.DecodeRune(s[i:])
			switch {
			case r == utf8.RuneError && size == 1:
				b = append(b, `\ufffd`...)
			case r == '\u2028' || r == '\u2029':
				b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			default:
				b = append(b, s[i:i+size]...)
			}
			i += size
		}
		// Non-ASCII text tends to continue: stay here while it does.
		if i == n || s[i] < utf8.RuneSelf {
			return b, s[i:]
		}
	}
}
