package events

import (
	"crypto/md5"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/kinesis-agg/kinesis_agg/aggregation"
	"github.com/kinesis-agg/kinesis_agg/hashkey"
	"github.com/kinesis-agg/kinesis_agg/strftime"
)

// DefaultMaxRecordBytes is the Kinesis per-record limit on data plus partition key.
const DefaultMaxRecordBytes = 1 << 20

// DefaultTimeFormat is the layout used for Options.TimeKey when Options.TimeFormat is nil.
const DefaultTimeFormat = "%Y-%m-%dT%H:%M:%S"

// Options configures a Converter. The zero value sends every record as JSON with a random
// partition key.
type Options struct {
	// PartitionKey is the path of the field that holds the partition key; nil means a random key
	// per record.
	PartitionKey []string
	// ExplicitHashKey is the path of the field that holds a decimal hash key; nil means none.
	ExplicitHashKey []string
	// LogKey, when set, sends only this field: its raw bytes if it is a str or bin, else its JSON.
	LogKey []string
	// DataKeys keeps only these top-level keys in the JSON; nil keeps all.
	DataKeys []string
	// TimeKey, when not "", adds the event time under this key as the last key of the JSON.
	TimeKey string
	// TimeFormat formats TimeKey's value (in UTC); nil means DefaultTimeFormat.
	TimeFormat *strftime.Layout
	// AppendNewline appends '\n' to each record's data (before compression).
	AppendNewline bool
	// ReplaceDots, when not "", replaces '.' in map keys at every nesting level.
	ReplaceDots string
	// Compression is "none" (or ""), "gzip", "zlib" or "zstd", applied to each record.
	Compression string
	// MaxRecordBytes bounds len(Data after compression) + len(PartitionKey); 0 means
	// DefaultMaxRecordBytes.
	MaxRecordBytes int
	// SteerRandomKeys leaves the hash of a random partition key unset (zero): the records are
	// Steerable, and an aggregation.Manager with Steering places them without it (saving an MD5
	// per record); one without Steering computes it.
	SteerRandomKeys bool
}

// Converter turns chunks into user records. It is immutable and safe for concurrent use; all
// per-call state lives in the Batch passed to Convert.
type Converter struct {
	enc         jsonEnc
	pk, ehk     []string
	pkKeys      []pathKey // pk for the JSON walk
	logKey      []string
	dataKeys    map[string]struct{}
	timeKeyJSON []byte // `,"key":"` or `"key":"` without the leading comma
	timeFormat  *strftime.Layout
	comp        compression
	newline     bool
	maxBytes    int
	steer       bool
}

// NewConverter validates o and returns a Converter.
func NewConverter(o Options) (*Converter, error) {
	c := &Converter{
		enc:      jsonEnc{avx2: useAVX2},
		pk:       clonePath(o.PartitionKey),
		pkKeys:   pathKeys(o.PartitionKey),
		ehk:      clonePath(o.ExplicitHashKey),
		logKey:   clonePath(o.LogKey),
		newline:  o.AppendNewline,
		maxBytes: o.MaxRecordBytes,
		steer:    o.SteerRandomKeys,
	}
	var err error
	if c.comp, err = parseCompression(o.Compression); err != nil {
		return nil, err
	}
	switch {
	case o.MaxRecordBytes < 0:
		return nil, fmt.Errorf("events: max record bytes %d is negative", o.MaxRecordBytes)
	case o.MaxRecordBytes == 0:
		c.maxBytes = DefaultMaxRecordBytes
	}
	if o.DataKeys != nil {
		c.dataKeys = make(map[string]struct{}, len(o.DataKeys))
		for _, k := range o.DataKeys {
			c.dataKeys[k] = struct{}{}
		}
	}
	if o.TimeKey != "" {
		c.timeKeyJSON = appendString(nil, []byte(o.TimeKey))
		c.timeKeyJSON = append(c.timeKeyJSON, ':', '"')
		c.timeFormat = o.TimeFormat
		if c.timeFormat == nil {
			c.timeFormat = strftime.MustCompile(DefaultTimeFormat)
		}
	}
	if o.ReplaceDots != "" {
		c.enc.replace = true
		c.enc.dots = appendEscaped(nil, []byte(o.ReplaceDots))
	}
	return c, nil
}

func clonePath(p []string) []string {
	if len(p) == 0 {
		return nil
	}
	return append([]string(nil), p...)
}

// Batch receives the result of Convert. A zero Batch is ready to use; reuse it across flushes so
// that its buffers are reused. A Batch is not safe for concurrent use.
type Batch struct {
	// Records are the user records, in chunk order. Their Data, PartitionKey and ExplicitHashKey
	// point into the Batch's arena and stay valid until the next Reset or Convert.
	Records []aggregation.UserRecord
	// Rejected lists events that produce no record for a permanent reason, in chunk order.
	Rejected []Rejection
	// Events counts the events decoded, group markers included.
	Events int
	// Markers counts the group markers skipped.
	Markers int
	// RandomKeys counts the records that got a random partition key.
	RandomKeys int
	// BadHashKeys counts the records whose explicit hash key field was present but not a valid
	// hash key; they keep the hash of their partition key.
	BadHashKeys int
	// Malformed is non-nil when decoding stopped at a damaged event; the events before it are in
	// Records and Rejected.
	Malformed *MalformedError

	arena   []byte // Data, partition keys and explicit hash keys of all records
	spans   []span // where each record's bytes sit in arena, until the arena stops growing
	scratch []byte // uncompressed data when compressing
	comp    compressors
	rng     randSource
	hashes  keyCache
}

// span locates one record's bytes in the arena.
type span struct {
	data, dataLen int
	pk, pkLen     int
	ehk, ehkLen   int
}

// Rejection is an event that produces no record for a permanent reason.
type Rejection struct {
	// Ref is the event's index in the chunk.
	Ref int
	// Reason says why, with the values involved.
	Reason string
	// Size is the rejected record's size in bytes: data plus partition key for a record too
	// large, else the event's msgpack length.
	Size int
	// Start and End are the event's byte range in the chunk (its msgpack), for a dead-letter copy.
	Start, End int
}

// MalformedError reports where and why decoding of a chunk stopped.
type MalformedError struct {
	// Offset is the byte offset of the damaged event's start in the chunk.
	Offset int
	// Event is the damaged event's index.
	Event int
	// Err is the cause; it wraps ErrTruncated, ErrInvalidByte or ErrNotEvent.
	Err error
}

// Error names the damaged event, its byte offset and the cause.
func (e *MalformedError) Error() string {
	return fmt.Sprintf("events: malformed chunk: event %d at byte offset %d: %v", e.Event, e.Offset, e.Err)
}

// Unwrap returns the cause, so errors.Is(err, ErrTruncated) works.
func (e *MalformedError) Unwrap() error { return e.Err }

// maxRetained bounds the buffers a Batch keeps across Reset, so one huge chunk does not pin its
// memory for the life of the Batch.
const maxRetained = 64 << 20

// Reset empties b, keeping its buffers for reuse.
func (b *Batch) Reset() {
	clear(b.Records) // drop references into the arena
	b.Records = b.Records[:0]
	clear(b.Rejected)
	b.Rejected = b.Rejected[:0]
	b.Events, b.Markers, b.RandomKeys, b.BadHashKeys = 0, 0, 0, 0
	b.Malformed = nil
	b.hashes.reset()
	b.spans = b.spans[:0]
	b.arena = b.arena[:0]
	if cap(b.arena) > maxRetained {
		b.arena = nil
	}
	b.scratch = b.scratch[:0]
	if cap(b.scratch) > maxRetained {
		b.scratch = nil
	}
}

// Convert decodes chunk and appends its records to b after resetting it. tag is the chunk's
// Fluent Bit tag; it is not used today and is part of the signature so that tag-derived keys
// need no API change.
func (c *Converter) Convert(chunk []byte, tag string, b *Batch) {
	b.Reset()
	for p := 0; p < len(chunk); {
		end, err := c.event(chunk, p, b)
		if err != nil {
			b.Malformed = &MalformedError{Offset: p, Event: b.Events, Err: err}
			break
		}
		b.Events++
		p = end
	}
	// The arena has stopped growing: point the records into it.
	for i := range b.Records {
		s := &b.spans[i]
		r := &b.Records[i]
		r.Data = b.arena[s.data : s.data+s.dataLen : s.data+s.dataLen]
		r.PartitionKey = unsafe.String(unsafe.SliceData(b.arena[s.pk:]), s.pkLen)
		if s.ehkLen > 0 {
			r.ExplicitHashKey = unsafe.String(&b.arena[s.ehk], s.ehkLen)
		}
	}
}

// eventTime is an event's timestamp.
type eventTime struct {
	sec, nsec int64
}

// event converts the event at src[start:] and returns the offset past it. An error means the
// chunk is malformed there; rejections are recorded in b and are not errors.
func (c *Converter) event(src []byte, start int, b *Batch) (int, error) {
	// Fluent Bit's usual v2 event, [[EventTime, {}], map], needs no general decoding.
	if rp := v2Record(src, start); rp > 0 {
		e := src[start+4 : start+12]
		if sec := binary.BigEndian.Uint32(e); sec != groupStart && sec != groupEnd {
			return c.record(src, start, rp, eventTime{int64(sec), int64(binary.BigEndian.Uint32(e[4:]))}, b)
		}
	}
	h, p, err := readHdr(src, start)
	if err != nil {
		return 0, err
	}
	if h.t != tArray || h.n != 2 {
		if h.t == tArray {
			return 0, fmt.Errorf("%w: array of %d elements", ErrNotEvent, h.n)
		}
		return 0, fmt.Errorf("%w: %s", ErrNotEvent, describe(h))
	}
	th, tq, err := readHdr(src, p)
	if err != nil {
		return 0, err
	}
	tsPos := p
	if th.t == tArray { // v2: [time, metadata]
		if th.n != 2 {
			return c.reject(src, start, b, fmt.Sprintf("event header is an array of %d elements, want [time, metadata]", th.n))
		}
		tsPos = tq
	}
	rp, err := skip(src, p) // past the header (v2) or the time (legacy)
	if err != nil {
		return 0, err
	}
	ts, marker, ok := readTime(src, tsPos)
	if !ok {
		th, _, _ := readHdr(src, tsPos)
		return c.reject(src, start, b, "unsupported timestamp (msgpack type "+describe(th)+")")
	}
	if marker {
		end, err := skip(src, rp)
		if err != nil {
			return 0, err
		}
		b.Markers++
		return end, nil
	}
	rh, _, err := readHdr(src, rp)
	if err != nil {
		return 0, err
	}
	if rh.t != tMap {
		return c.reject(src, start, b, "record is not a map (msgpack type "+describe(rh)+")")
	}
	return c.record(src, start, rp, ts, b)
}

// v2Record returns the offset of the record of the event at src[start:] when the event starts
// like [[EventTime, {}], map], else 0. The empty metadata map is a fixmap or, as Fluent Bit
// writes it, a map32.
func v2Record(src []byte, start int) int {
	e := src[start:]
	if len(e) < 18 || binary.BigEndian.Uint32(e) != 0x9292d700 {
		return 0
	}
	rp := 13
	if e[12] == 0xdf && binary.BigEndian.Uint32(e[13:]) == 0 {
		rp = 17
	} else if e[12] != 0x80 {
		return 0
	}
	if c := e[rp]; c>>4 != 0x8 && c != 0xde && c != 0xdf {
		return 0
	}
	return start + rp
}

// reject records the event at src[start:] as rejected and returns the offset past it.
func (c *Converter) reject(src []byte, start int, b *Batch, reason string) (int, error) {
	end, err := skip(src, start)
	if err != nil {
		return 0, err
	}
	b.Rejected = append(b.Rejected, Rejection{Ref: b.Events, Reason: reason, Size: end - start, Start: start, End: end})
	return end, nil
}

// Group marker seconds (FLB_LOG_EVENT_GROUP_START / _END as uint32).
const (
	groupStart = 0xFFFFFFFF
	groupEnd   = 0xFFFFFFFE
)

// readTime decodes the timestamp at src[p:] (already validated by skip).
func readTime(src []byte, p int) (ts eventTime, marker, ok bool) {
	h, q, err := readHdr(src, p)
	if err != nil {
		return ts, false, false
	}
	switch h.t {
	case tExt:
		if !isEventTime(h) {
			return ts, false, false
		}
		sec := uint32(src[q])<<24 | uint32(src[q+1])<<16 | uint32(src[q+2])<<8 | uint32(src[q+3])
		ns := uint32(src[q+4])<<24 | uint32(src[q+5])<<16 | uint32(src[q+6])<<8 | uint32(src[q+7])
		return eventTime{int64(sec), int64(ns)}, sec == groupStart || sec == groupEnd, true
	case tUint:
		if h.u > math.MaxInt64 {
			return eventTime{sec: math.MaxInt64}, false, true
		}
		return eventTime{sec: int64(h.u)}, false, true
	case tInt:
		return eventTime{sec: int64(h.u)}, false, true
	case tFloat32, tFloat64:
		f := math.Float64frombits(h.u)
		if h.t == tFloat32 {
			f = float64(math.Float32frombits(uint32(h.u)))
		}
		// Non-finite or out-of-range times only matter for TimeKey; they read as the epoch.
		if math.IsNaN(f) || f >= 1<<62 || f <= -(1<<62) {
			return ts, false, true
		}
		sec, frac := math.Modf(f)
		ns := math.Round(frac * 1e9)
		ts = eventTime{int64(sec), int64(ns)}
		if ts.nsec < 0 {
			ts.sec--
			ts.nsec += 1e9
		}
		if ts.nsec >= 1e9 {
			ts.sec++
			ts.nsec -= 1e9
		}
		return ts, false, true
	}
	return ts, false, false
}

// locs holds the offsets of the top-level values that the field paths start from (-1: absent).
// When pkResolved is set, pk is already the offset of the value the whole partition key path
// names, found while writing the JSON.
type locs struct {
	pk, ehk, log int
	pkResolved   bool
}

// track notes where the fields named by the paths' first elements are; the last duplicate wins.
func (c *Converter) track(l *locs, key []byte, vp int) {
	if c.pk != nil && string(key) == c.pk[0] {
		l.pk, l.pkResolved = vp, false
	}
	if c.ehk != nil && string(key) == c.ehk[0] {
		l.ehk = vp
	}
	if c.logKey != nil && string(key) == c.logKey[0] {
		l.log = vp
	}
}

// record converts the map record at src[rp:] of the event at src[start:].
func (c *Converter) record(src []byte, start, rp int, ts eventTime, b *Batch) (int, error) {
	recStart := len(b.arena)
	var buf []byte
	if c.comp == compNone {
		buf = b.arena
	} else {
		buf = b.scratch[:0]
	}
	dataStart := len(buf)
	var (
		l   locs
		end int
		err error
	)
	if c.logKey != nil {
		if l, end, err = c.scan(src, rp); err != nil {
			return 0, err
		}
		vp := resolve(src, l.log, c.logKey[1:])
		if vp < 0 {
			return c.reject(src, start, b, "log_key field not present")
		}
		buf, _, err = c.logValue(buf, src, vp)
	} else {
		buf, l, end, err = c.recordJSON(buf, src, rp, ts)
	}
	if c.comp == compNone {
		b.arena = buf // keep any growth
	} else {
		b.scratch = buf
	}
	if err != nil {
		b.arena = b.arena[:recStart]
		if errors.Is(err, errTooDeep) {
			return c.reject(src, start, b, fmt.Sprintf("record nested deeper than %d levels", maxDepth))
		}
		return 0, err
	}
	if c.newline {
		if c.comp == compNone {
			b.arena = append(b.arena, '\n')
		} else {
			b.scratch = append(b.scratch, '\n')
		}
	}
	if c.comp != compNone {
		if b.arena, err = b.comp.compress(c.comp, b.arena, b.scratch[dataStart:]); err != nil {
			b.arena = b.arena[:recStart]
			return c.reject(src, start, b, "compression failed: "+err.Error())
		}
	}
	s := span{data: recStart, dataLen: len(b.arena) - recStart}

	// Partition key.
	s.pk = len(b.arena)
	random := false
	var ok bool
	if c.pk != nil {
		vp := l.pk
		if !l.pkResolved {
			vp = resolve(src, vp, c.pk[1:])
		}
		b.arena, ok = appendPartitionKey(b.arena, src, vp)
	}
	if !ok {
		b.arena = b.rng.appendKey(b.arena)
		random = true
	}
	s.pkLen = len(b.arena) - s.pk

	if total := s.dataLen + s.pkLen; total > c.maxBytes {
		b.arena = b.arena[:recStart]
		b.Rejected = append(b.Rejected, Rejection{
			Ref:    b.Events,
			Reason: fmt.Sprintf("record too large: %d bytes (data %d + key %d) > limit %d", total, s.dataLen, s.pkLen, c.maxBytes),
			Size:   total,
			Start:  start,
			End:    end,
		})
		return end, nil
	}

	// Explicit hash key, else the partition key's MD5.
	var hash hashkey.Key
	hasEHK := false
	if c.ehk != nil {
		s.ehk = len(b.arena)
		var st ehkState
		b.arena, hash, st = appendExplicitHashKey(b.arena, src, resolve(src, l.ehk, c.ehk[1:]))
		switch st {
		case ehkOK:
			hasEHK = true
			s.ehkLen = len(b.arena) - s.ehk
		case ehkBad:
			b.BadHashKeys++
		}
	}
	switch {
	case hasEHK:
	case random && c.steer: // placed by the router, which needs no hash
	case random: // unique: not worth caching
		hash = hashkey.FromBytes(md5.Sum(b.arena[s.pk : s.pk+s.pkLen]))
	default:
		hash = b.hashes.hashRun(b.arena, s.pk, s.pkLen)
	}
	if random {
		b.RandomKeys++
	}
	// A random key means no shard affinity: the router may steer the record to any shard.
	b.Records = append(b.Records, aggregation.UserRecord{Hash: hash, Ref: b.Events, Steerable: random && !hasEHK})
	b.spans = append(b.spans, s)
	return end, nil
}

// recordJSON writes the map record at src[rp:] as JSON, noting where the keyed fields are.
func (c *Converter) recordJSON(buf, src []byte, rp int, ts eventTime) ([]byte, locs, int, error) {
	l := locs{pk: -1, ehk: -1, log: -1}
	n, q, ok := mapAt(src, rp)
	if !ok {
		h, hq, err := readHdr(src, rp)
		if err != nil {
			return buf, l, hq, err
		}
		n, q = h.n, hq
	}
	var err error
	if c.dataKeys == nil && c.ehk == nil {
		// The usual case: every member is written and only the partition key is looked for, as
		// in a nested map.
		if buf, q, l.pk, err = c.enc.members(buf, src, q, n, 0, c.pkKeys); err != nil {
			return buf, l, q, err
		}
		l.pkResolved = true
		return c.closeRecord(buf, n, ts), l, q, nil
	}
	buf = append(buf, '{')
	written := 0
	for i := 0; i < n; i++ {
		kp := q
		var (
			key []byte
			str bool
			vp  int
		)
		if kp < len(src) && src[kp]>>5 == 0xa0>>5 { // fixstr: most keys
			vp = kp + 1 + int(src[kp]&0x1f)
			if vp > len(src) {
				return buf, l, kp, ErrTruncated
			}
			key, str = src[kp+1:vp], true
		} else {
			kh, kq, err := readHdr(src, kp)
			if err != nil {
				return buf, l, kq, err
			}
			if str = kh.t == tStr || kh.t == tBin; str {
				vp = kq + kh.n
				key = src[kq:vp]
			} else if vp, err = skip(src, kp); err != nil {
				return buf, l, vp, err
			}
		}
		if str {
			c.track(&l, key, vp)
		}
		if c.dataKeys != nil {
			if _, keep := c.dataKeys[string(key)]; !keep || !str {
				if q, err = skip(src, vp); err != nil {
					return buf, l, q, err
				}
				continue
			}
		}
		if written > 0 {
			buf = append(buf, ',')
		}
		written++
		if str {
			buf = c.enc.keyText(buf, key)
		} else if buf, _, err = c.enc.key(buf, src, kp, 1); err != nil {
			return buf, l, kp, err
		}
		buf = append(buf, ':')
		if len(c.pk) > 1 && str && string(key) == c.pk[0] {
			var found int
			if buf, q, found, err = c.enc.valueFind(buf, src, vp, 1, c.pkKeys[1:]); err != nil {
				return buf, l, q, err
			}
			l.pk, l.pkResolved = found, true
			continue
		}
		if buf, q, err = c.enc.value(buf, src, vp, 1); err != nil {
			return buf, l, q, err
		}
	}
	return c.closeRecord(buf, written, ts), l, q, nil
}

// closeRecord appends the time key, if any, and the closing brace to a record of written members.
func (c *Converter) closeRecord(buf []byte, written int, ts eventTime) []byte {
	if c.timeKeyJSON != nil {
		if written > 0 {
			buf = append(buf, ',')
		}
		buf = append(buf, c.timeKeyJSON...)
		buf = c.appendTime(buf, ts)
		buf = append(buf, '"')
	}
	return append(buf, '}')
}

// appendTime appends the formatted event time, escaped for a JSON string.
func (c *Converter) appendTime(buf []byte, ts eventTime) []byte {
	start := len(buf)
	buf = c.timeFormat.AppendFormat(buf, time.Unix(ts.sec, ts.nsec).UTC())
	if text := buf[start:]; !isPlain(text) {
		// Literal text in the layout needs escaping (rare): escape a copy.
		text = append([]byte(nil), text...)
		return appendEscaped(buf[:start], text)
	}
	return buf
}

// isPlain reports whether a JSON string holds s as is, a word at a time.
func isPlain(s []byte) bool {
	var a uint64
	for ; len(s) >= 8; s = s[8:] {
		a |= attention(binary.LittleEndian.Uint64(s))
	}
	for _, ch := range s {
		if ch >= utf8.RuneSelf || !safe[ch] {
			return false
		}
	}
	return a == 0
}

// scan walks the map record at src[rp:] without writing anything, noting where the keyed fields
// are, and returns the offset past the record.
func (c *Converter) scan(src []byte, rp int) (locs, int, error) {
	l := locs{pk: -1, ehk: -1, log: -1}
	n, q, ok := mapAt(src, rp)
	if !ok {
		h, hq, err := readHdr(src, rp)
		if err != nil {
			return l, hq, err
		}
		n, q = h.n, hq
	}
	for i := 0; i < n; i++ {
		var vp int
		if s, end, ok := strAt(src, q); ok {
			vp = end
			key := src[s:end]
			c.track(&l, key, vp)
			// A nested partition key is looked up while its map is skipped: one walk, not two.
			if len(c.pk) > 1 && string(key) == c.pk[0] {
				if pk, end, ok := resolveEnd(src, vp, c.pk[1:]); ok {
					l.pk, l.pkResolved, q = pk, true, end
					continue
				}
			}
		} else {
			kh, kq, err := readHdr(src, q)
			if err != nil {
				return l, kq, err
			}
			if kh.t == tStr || kh.t == tBin {
				vp = kq + kh.n
				c.track(&l, src[kq:vp], vp)
			} else if vp, err = skip(src, q); err != nil {
				return l, vp, err
			}
		}
		var err error
		if q, err = skip(src, vp); err != nil {
			return l, q, err
		}
	}
	return l, q, nil
}

// logValue appends the log_key value at src[vp:]: raw bytes for str/bin, else JSON.
func (c *Converter) logValue(buf, src []byte, vp int) ([]byte, int, error) {
	h, q, err := readHdr(src, vp)
	if err != nil {
		return buf, q, err
	}
	if h.t == tStr || h.t == tBin {
		return append(buf, src[q:q+h.n]...), q + h.n, nil
	}
	return c.enc.value(buf, src, vp, 1)
}

// resolve follows path from the value at src[vp:] through nested maps and returns the offset of
// the value it names, or -1. The last of duplicate keys wins.
func resolve(src []byte, vp int, path []string) int {
	for _, k := range path {
		if vp < 0 {
			return -1
		}
		vp, _ = lookup(src, vp, k)
	}
	return vp
}

// resolveEnd is resolve for a non-empty path and also returns the offset past the value at
// src[vp:]; ok is false, and the rest undefined, when that value is not a well-formed map.
func resolveEnd(src []byte, vp int, path []string) (found, end int, ok bool) {
	found, end = lookup(src, vp, path[0])
	if end < 0 {
		return -1, -1, false
	}
	return resolve(src, found, path[1:]), end, true
}

// lookup returns the offset of the value of key k in the map at src[vp:] (the last duplicate
// wins; -1 when absent) and the offset past the map; both are -1 when the value is not a map or
// is malformed.
func lookup(src []byte, vp int, k string) (found, end int) {
	n, q, ok := mapAt(src, vp)
	if !ok {
		h, hq, err := readHdr(src, vp)
		if err != nil || h.t != tMap {
			return -1, -1
		}
		n, q = h.n, hq
	}
	found = -1
	for i := 0; i < n; i++ {
		var (
			key   []byte
			isStr bool
			next  int
		)
		if s, end, ok := strAt(src, q); ok {
			key, isStr, next = src[s:end], true, end
		} else {
			kh, kq, err := readHdr(src, q)
			if err != nil {
				return -1, -1
			}
			if kh.t == tStr || kh.t == tBin {
				next = kq + kh.n
				key, isStr = src[kq:next], true
			} else if next, err = skip(src, q); err != nil {
				return -1, -1
			}
		}
		if isStr && string(key) == k {
			found = next
		}
		var err error
		if q, err = skip(src, next); err != nil {
			return -1, -1
		}
	}
	return found, q
}
