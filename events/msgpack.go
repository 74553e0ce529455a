package events

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// Errors wrapped by MalformedError.Err and by rejections' causes.
var (
	// ErrTruncated means the chunk ends inside an event.
	ErrTruncated = errors.New("unexpected end of chunk")
	// ErrInvalidByte means the chunk holds the byte 0xc1, which msgpack never uses.
	ErrInvalidByte = errors.New("invalid msgpack byte 0xc1")
	// ErrNotEvent means an event is not a 2-element msgpack array, so the chunk's framing is lost.
	ErrNotEvent = errors.New("event is not a 2-element array")
)

// errTooDeep stops the JSON encoder at maxDepth; the event is rejected, not the chunk.
var errTooDeep = errors.New("nested too deeply")

// maxDepth bounds map/array nesting in converted values. Deeper records are rejected: the encoder
// recurses, and hostile input must not exhaust the goroutine stack.
const maxDepth = 500

// vtype is a msgpack value family.
type vtype uint8

const (
	tNil vtype = iota
	tFalse
	tTrue
	tUint    // u holds the value
	tInt     // u holds the int64 bits; only ever negative or from a signed encoding
	tFloat32 // u holds the float32 bits
	tFloat64 // u holds the float64 bits
	tStr     // payload n bytes
	tBin     // payload n bytes
	tExt     // payload n bytes, ext type in x
	tArray   // n elements follow
	tMap     // n key/value pairs follow
)

var typeNames = [...]string{
	tNil: "nil", tFalse: "bool", tTrue: "bool", tUint: "uint", tInt: "int", tFloat32: "float32",
	tFloat64: "float64", tStr: "str", tBin: "bin", tExt: "ext", tArray: "array", tMap: "map",
}

func (t vtype) String() string { return typeNames[t] }

// hdr is a decoded msgpack header.
type hdr struct {
	t vtype
	x int8   // ext type
	n int    // payload length (str, bin, ext) or element count (array, map)
	u uint64 // scalar value bits
}

// readHdr decodes the header at b[p:] and returns it with the offset just past it. For str, bin
// and ext it guarantees that the n payload bytes are inside b; for arrays and maps it guarantees
// that b has at least one byte per remaining element, which keeps counts small and lets callers
// fail early. It never reads outside b.
func readHdr(b []byte, p int) (hdr, int, error) {
	if p >= len(b) || p < 0 {
		return hdr{}, p, ErrTruncated
	}
	c := b[p]
	p++
	switch {
	case c <= 0x7f:
		return hdr{t: tUint, u: uint64(c)}, p, nil
	case c >= 0xe0:
		return hdr{t: tInt, u: uint64(int64(int8(c)))}, p, nil
	case c <= 0x8f:
		return container(b, p, tMap, int(c&0x0f))
	case c <= 0x9f:
		return container(b, p, tArray, int(c&0x0f))
	case c <= 0xbf:
		return payload(b, p, tStr, int(c&0x1f), 0)
	}
	switch c {
	case 0xc0:
		return hdr{t: tNil}, p, nil
	case 0xc2:
		return hdr{t: tFalse}, p, nil
	case 0xc3:
		return hdr{t: tTrue}, p, nil
	case 0xc4, 0xc5, 0xc6:
		n, q, err := readLen(b, p, 1<<(c-0xc4))
		if err != nil {
			return hdr{}, p, err
		}
		return payload(b, q, tBin, n, 0)
	case 0xc7, 0xc8, 0xc9:
		n, q, err := readLen(b, p, 1<<(c-0xc7))
		if err != nil {
			return hdr{}, p, err
		}
		if q >= len(b) {
			return hdr{}, p, ErrTruncated
		}
		return payload(b, q+1, tExt, n, int8(b[q]))
	case 0xca:
		u, q, err := readUint(b, p, 4)
		return hdr{t: tFloat32, u: u}, q, err
	case 0xcb:
		u, q, err := readUint(b, p, 8)
		return hdr{t: tFloat64, u: u}, q, err
	case 0xcc, 0xcd, 0xce, 0xcf:
		u, q, err := readUint(b, p, 1<<(c-0xcc))
		return hdr{t: tUint, u: u}, q, err
	case 0xd0:
		u, q, err := readUint(b, p, 1)
		return hdr{t: tInt, u: uint64(int64(int8(u)))}, q, err
	case 0xd1:
		u, q, err := readUint(b, p, 2)
		return hdr{t: tInt, u: uint64(int64(int16(u)))}, q, err
	case 0xd2:
		u, q, err := readUint(b, p, 4)
		return hdr{t: tInt, u: uint64(int64(int32(u)))}, q, err
	case 0xd3:
		u, q, err := readUint(b, p, 8)
		return hdr{t: tInt, u: u}, q, err
	case 0xd4, 0xd5, 0xd6, 0xd7, 0xd8:
		if p >= len(b) {
			return hdr{}, p, ErrTruncated
		}
		return payload(b, p+1, tExt, 1<<(c-0xd4), int8(b[p]))
	case 0xd9, 0xda, 0xdb:
		n, q, err := readLen(b, p, 1<<(c-0xd9))
		if err != nil {
			return hdr{}, p, err
		}
		return payload(b, q, tStr, n, 0)
	case 0xdc, 0xdd:
		n, q, err := readLen(b, p, 2<<(c-0xdc))
		if err != nil {
			return hdr{}, p, err
		}
		return container(b, q, tArray, n)
	case 0xde, 0xdf:
		n, q, err := readLen(b, p, 2<<(c-0xde))
		if err != nil {
			return hdr{}, p, err
		}
		return container(b, q, tMap, n)
	}
	return hdr{}, p - 1, ErrInvalidByte // 0xc1
}

// readUint reads a size-byte big-endian unsigned integer at b[p:].
func readUint(b []byte, p, size int) (uint64, int, error) {
	if size > len(b)-p {
		return 0, p, ErrTruncated
	}
	switch size {
	case 1:
		return uint64(b[p]), p + 1, nil
	case 2:
		return uint64(binary.BigEndian.Uint16(b[p:])), p + 2, nil
	case 4:
		return uint64(binary.BigEndian.Uint32(b[p:])), p + 4, nil
	}
	return binary.BigEndian.Uint64(b[p:]), p + 8, nil
}

// readLen reads a length field; lengths are at most 32 bits wide, so the result fits in an int on
// 64-bit platforms and is checked against the chunk by the caller.
func readLen(b []byte, p, size int) (int, int, error) {
	u, q, err := readUint(b, p, size)
	if err != nil {
		return 0, p, err
	}
	if u > math.MaxInt32 && math.MaxInt == math.MaxInt32 {
		return 0, p, ErrTruncated
	}
	return int(u), q, nil
}

func payload(b []byte, p int, t vtype, n int, x int8) (hdr, int, error) {
	if n > len(b)-p {
		return hdr{}, p, ErrTruncated
	}
	return hdr{t: t, n: n, x: x}, p, nil
}

func container(b []byte, p int, t vtype, n int) (hdr, int, error) {
	// Every element takes at least one byte: a count the rest of the chunk cannot hold is
	// truncation, found here instead of after a long scan.
	// In uint64: 2*n overflows an int on 32-bit platforms.
	need := uint64(n)
	if t == tMap {
		need *= 2
	}
	if need > uint64(len(b)-p) {
		return hdr{}, p, ErrTruncated
	}
	return hdr{t: t, n: n}, p, nil
}

// skip returns the offset just past the value at b[p:]. It is iterative, so nesting depth does
// not matter, and it validates every header on the way.
func skip(b []byte, p int) (int, error) {
	// Fast paths for the values that dominate log records.
	if p < len(b) {
		switch c := b[p]; {
		case c>>5 == 0xa0>>5: // fixstr
			if n := int(c & 0x1f); n <= len(b)-p-1 {
				return p + 1 + n, nil
			}
			return p, ErrTruncated
		case c == 0xd9 && p+1 < len(b): // str8
			if n := int(b[p+1]); n <= len(b)-p-2 {
				return p + 2 + n, nil
			}
			return p, ErrTruncated
		case c <= 0x7f || c >= 0xe0 || c == 0xc0 || c == 0xc2 || c == 0xc3:
			return p + 1, nil
		}
	}
	return skipSlow(b, p)
}

func skipSlow(b []byte, p int) (int, error) {
	for rem := 1; rem > 0; rem-- {
		// The headers of log records inline, the rest through readHdr; each inline case fails
		// as readHdr would, with ErrTruncated.
		if p >= len(b) {
			return p, ErrTruncated
		}
		c := b[p]
		q, n := p+1, 0 // past the header; elements to add (pairs count twice)
		switch c >> 4 {
		case 0x0, 0x1, 0x2, 0x3, 0x4, 0x5, 0x6, 0x7, 0xe, 0xf: // fixint
		case 0x8: // fixmap
			n = 2 * int(c&0x0f)
		case 0x9: // fixarray
			n = int(c & 0x0f)
		case 0xa, 0xb: // fixstr
			if q += int(c & 0x1f); q > len(b) {
				return p, ErrTruncated
			}
		default:
			switch {
			case c == 0xd9 && q < len(b): // str8
				if q += 1 + int(b[q]); q > len(b) {
					return p, ErrTruncated
				}
			case c == 0xdf && len(b)-q >= 4: // map32
				u := uint64(binary.BigEndian.Uint32(b[q:]))
				if q += 4; 2*u > uint64(len(b)-q) {
					return p, ErrTruncated
				}
				n = 2 * int(u)
			default:
				h, hq, err := readHdr(b, p)
				if err != nil {
					return hq, err
				}
				switch q = hq; h.t {
				case tStr, tBin, tExt:
					q += h.n
				case tArray:
					n = h.n
				case tMap:
					n = 2 * h.n
				}
			}
		}
		// A container holds at least a byte per element; each pending value needs one more.
		if n > len(b)-q {
			return p, ErrTruncated
		}
		rem += n
		p = q
		if rem-1 > len(b)-p {
			return p, ErrTruncated
		}
	}
	return p, nil
}

// describe names a header's msgpack type for messages ("map", "str", "ext type 7" ...).
func describe(h hdr) string {
	if h.t == tExt {
		return fmt.Sprintf("ext type %d", h.x)
	}
	return h.t.String()
}
