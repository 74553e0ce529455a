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
}

// value appends the JSON form of the msgpack value at src[p:] and returns the grown buffer and the
// offset past the value. On error buf holds partial output that the caller must discard.
func (e *jsonEnc) value(buf, src []byte, p, depth int) ([]byte, int, error) {
	// Fast paths for the most common scalars in log records.
	if p < len(src) {
		c := src[p]
		if c <= 0x7f {
			return strconv.AppendUint(buf, uint64(c), 10), p + 1, nil
		}
		if c >= 0xa0 && c <= 0xbf {
			n := int(c & 0x1f)
			if n > len(src)-p-1 {
				return buf, p, ErrTruncated
			}
			return appendString(buf, src[p+1:p+1+n]), p + 1 + n, nil
		}
		if c == 0xd9 && p+1 < len(src) { // str8
			n := int(src[p+1])
			if n > len(src)-p-2 {
				return buf, p, ErrTruncated
			}
			return appendString(buf, src[p+2:p+2+n]), p + 2 + n, nil
		}
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
			if buf, q, err = e.value(buf, src, q, depth+1); err != nil {
				return buf, q, err
			}
		}
		buf = append(buf, ']')
	case tMap:
		if depth >= maxDepth {
			return buf, q, errTooDeep
		}
		buf = append(buf, '{')
		for i := 0; i < h.n; i++ {
			if i > 0 {
				buf = append(buf, ',')
			}
			if buf, q, err = e.key(buf, src, q, depth+1); err != nil {
				return buf, q, err
			}
			buf = append(buf, ':')
			if buf, q, err = e.value(buf, src, q, depth+1); err != nil {
				return buf, q, err
			}
		}
		buf = append(buf, '}')
	}
	return buf, q, nil
}

// valueFind is value for a value that may contain the field path: while it writes a map it
// notes the offset of the value that path names (the last duplicate wins), saving a second scan.
// found is -1 when the path is absent or the value is not a map.
func (e *jsonEnc) valueFind(buf, src []byte, p, depth int, path []string) (out []byte, q, found int, err error) {
	if p >= len(src) {
		return buf, p, -1, ErrTruncated
	}
	if c := src[p]; c>>4 != 0x8 && c != 0xde && c != 0xdf { // not a map
		buf, q, err = e.value(buf, src, p, depth)
		return buf, q, -1, err
	}
	h, q, err := readHdr(src, p)
	if err != nil {
		return buf, q, -1, err
	}
	if depth >= maxDepth {
		return buf, q, -1, errTooDeep
	}
	found = -1
	buf = append(buf, '{')
	for i := 0; i < h.n; i++ {
		if i > 0 {
			buf = append(buf, ',')
		}
		kp := q
		var (
			key   []byte
			isStr bool
		)
		if kp < len(src) && src[kp]>>5 == 0xa0>>5 { // fixstr
			q = kp + 1 + int(src[kp]&0x1f)
			if q > len(src) {
				return buf, kp, -1, ErrTruncated
			}
			key, isStr = src[kp+1:q], true
			buf = e.keyText(buf, key)
		} else {
			kh, kq, err := readHdr(src, kp)
			if err != nil {
				return buf, kq, -1, err
			}
			if kh.t == tStr || kh.t == tBin {
				key, isStr = src[kq:kq+kh.n], true
			}
			if buf, q, err = e.key(buf, src, kp, depth+1); err != nil {
				return buf, q, -1, err
			}
		}
		buf = append(buf, ':')
		vp := q
		switch {
		case !isStr || string(key) != path[0]:
			buf, q, err = e.value(buf, src, vp, depth+1)
		case len(path) == 1:
			found = vp
			buf, q, err = e.value(buf, src, vp, depth+1)
		default:
			buf, q, found, err = e.valueFind(buf, src, vp, depth+1, path[1:])
		}
		if err != nil {
			return buf, q, -1, err
		}
	}
	return append(buf, '}'), q, found, nil
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
// false positives, which is fine for finding the first one.
func attention(w uint64) uint64 {
	return ((w - lsb*0x20) | ((w ^ (lsb * '"')) - lsb) | ((w ^ (lsb * '\\')) - lsb) | w) & msb
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
	// readable; shortMask drops them, and what they put in buf is past the closing quote or
	// under it.
	if n := len(s); n <= 16 && cap(s) >= 16 && cap(buf)-len(buf) >= 18 {
		t := s[:16]
		w0, w1 := binary.LittleEndian.Uint64(t), binary.LittleEndian.Uint64(t[8:])
		if attention(w0)&shortMask[n][0]|attention(w1)&shortMask[n][1] == 0 {
			o := len(buf)
			d := buf[o : o+18]
			d[0] = '"'
			binary.LittleEndian.PutUint64(d[1:], w0)
			binary.LittleEndian.PutUint64(d[9:], w1)
			d[n+1] = '"'
			return buf[:o+n+2]
		}
	}
	return escape(buf, s, true)
}

// shortMask[n] masks the first n bytes of a 16-byte window, as two words.
var shortMask = func() (t [17][2]uint64) {
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
	// Words start before lim, so each one lies within s's memory (s is usually a window into the
	// chunk, readable past its end) and, as they start before n, within free. Unchecked access
	// keeps the loop to the word's test; a flag on the byte just past the end of s stops the
	// count there.
	lim := min(n, cap(s)-7)
	sp, dp := unsafe.Pointer(unsafe.SliceData(s)), unsafe.Pointer(unsafe.SliceData(free))
	k := 0
	for ; k < lim; k += 8 {
		w := binary.LittleEndian.Uint64((*[8]byte)(unsafe.Add(sp, k))[:])
		binary.LittleEndian.PutUint64((*[8]byte)(unsafe.Add(dp, k))[:], w)
		m := attention(w)
		if r := n - k; r < 8 {
			m |= 0x80 << (8 * uint(r))
		}
		if m != 0 {
			k += bits.TrailingZeros64(m) >> 3
			return buf[:len(buf)+k], k
		}
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
