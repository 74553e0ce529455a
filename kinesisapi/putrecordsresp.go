package kinesisapi

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"

	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// putRecordsDeserializer decodes successful PutRecords answers itself. The SDK's decoder makes
// about four allocations per entry (a struct and three strings), which without aggregation is
// one Kinesis entry per log record; this one makes a handful per answer: shard ids and error
// codes come from a small table of strings already seen, and the sequence numbers share one
// string. Error answers (non-2xx) still go to the SDK's decoder, which maps them to typed errors.
type putRecordsDeserializer struct {
	orig   middleware.DeserializeMiddleware // the SDK's, for error answers
	shared *answerStrings
}

// answerStrings interns the few distinct strings an answer repeats. Safe for concurrent use.
type answerStrings struct {
	mu     sync.RWMutex
	values map[string]*string
	bodies sync.Pool // of *bytes.Buffer
}

// maxInterned bounds answerStrings; shard ids of a stream number at most a few thousand.
const maxInterned = 1 << 12

func (a *answerStrings) intern(b []byte) *string {
	a.mu.RLock()
	p := a.values[string(b)]
	a.mu.RUnlock()
	if p != nil {
		return p
	}
	s := string(b)
	a.mu.Lock()
	defer a.mu.Unlock()
	if q := a.values[s]; q != nil {
		return q
	}
	if len(a.values) < maxInterned {
		a.values[s] = &s
	}
	return &s
}

// readAnswer reads body to its end and closes it. The buffer comes from a pool: give it back with
// a.bodies.Put once done with its bytes.
func (a *answerStrings) readAnswer(body io.ReadCloser) (*bytes.Buffer, error) {
	buf, _ := a.bodies.Get().(*bytes.Buffer)
	if buf == nil {
		buf = new(bytes.Buffer)
	}
	buf.Reset()
	_, err := buf.ReadFrom(body)
	body.Close()
	return buf, err
}

func (*putRecordsDeserializer) ID() string { return "OperationDeserializer" }

func (d *putRecordsDeserializer) HandleDeserialize(ctx context.Context, in middleware.DeserializeInput, next middleware.DeserializeHandler) (
	middleware.DeserializeOutput, middleware.Metadata, error,
) {
	out, md, err := next.HandleDeserialize(ctx, in)
	resp, ok := out.RawResponse.(*smithyhttp.Response)
	if err != nil || !ok || resp.StatusCode < 200 || resp.StatusCode > 299 {
		return d.orig.HandleDeserialize(ctx, in, replay{out, md, err})
	}
	buf, rerr := d.shared.readAnswer(resp.Body)
	defer d.shared.bodies.Put(buf)
	if rerr != nil {
		return out, md, &smithy.DeserializationError{Err: fmt.Errorf("kinesisapi: PutRecords: reading the answer: %w", rerr)}
	}
	result, perr := decodePutRecordsOutput(buf.Bytes(), d.shared)
	if perr != nil {
		return out, md, &smithy.DeserializationError{Err: perr, Snapshot: snapshot(buf.Bytes())}
	}
	out.Result = result
	return out, md, nil
}

func snapshot(b []byte) []byte { return bytes.Clone(b[:min(len(b), 1024)]) }

// replay hands the SDK's decoder the response this middleware already received.
type replay struct {
	out middleware.DeserializeOutput
	md  middleware.Metadata
	err error
}

func (r replay) HandleDeserialize(context.Context, middleware.DeserializeInput) (middleware.DeserializeOutput, middleware.Metadata, error) {
	return r.out, r.md, r.err
}

// seqNumberLen is the usual length of a sequence number, to size their buffer.
const seqNumberLen = 56

// decodePutRecordsOutput decodes {"FailedRecordCount":n,"Records":[{...}],"EncryptionType":"..."}
// (fields in any order, unknown fields skipped, null as absent).
func decodePutRecordsOutput(body []byte, strs *answerStrings) (*kinesis.PutRecordsOutput, error) {
	s := scanner{b: body}
	out := &kinesis.PutRecordsOutput{}
	var seqBytes []byte
	var seqSpans [][2]int // per entry: its sequence number in seqBytes, {-1, -1} for none
	err := s.object(func(field []byte) error {
		switch string(field) {
		case "FailedRecordCount":
			if s.null() {
				return nil
			}
			n, err := s.int32()
			out.FailedRecordCount = &n
			return err
		case "EncryptionType":
			v, ok, err := s.str()
			if ok {
				out.EncryptionType = types.EncryptionType(*strs.intern(v))
			}
			return err
		case "Records":
			if s.null() {
				return nil
			}
			// Every entry is an object: size everything once.
			n := max(0, bytes.Count(body, []byte{'{'})-1)
			out.Records = make([]types.PutRecordsResultEntry, 0, n)
			seqSpans = make([][2]int, 0, n)
			seqBytes = make([]byte, 0, n*seqNumberLen)
			var recent shardCache
			return s.array(func() error {
				if seq, shard, ok := s.plainEntry(); ok {
					out.Records = append(out.Records, types.PutRecordsResultEntry{ShardId: recent.intern(shard, strs)})
					seqSpans = append(seqSpans, [2]int{len(seqBytes), len(seqBytes) + len(seq)})
					seqBytes = append(seqBytes, seq...)
					return nil
				}
				var e types.PutRecordsResultEntry
				span := [2]int{-1, -1}
				err := s.object(func(field []byte) error {
					var dst **string
					switch string(field) {
					case "ShardId":
						dst = &e.ShardId
					case "ErrorCode":
						dst = &e.ErrorCode
					case "SequenceNumber", "ErrorMessage":
					default:
						return s.skip()
					}
					v, ok, err := s.str()
					if err != nil || !ok {
						return err
					}
					switch {
					case dst != nil:
						*dst = strs.intern(v)
					case string(field) == "SequenceNumber":
						span[0] = len(seqBytes)
						seqBytes = append(seqBytes, v...)
						span[1] = len(seqBytes)
					default:
						m := string(v)
						e.ErrorMessage = &m
					}
					return nil
				})
				out.Records = append(out.Records, e)
				seqSpans = append(seqSpans, span)
				return err
			})
		}
		return s.skip()
	})
	if err == nil {
		s.ws()
		if s.i != len(s.b) {
			err = s.errorf("data after the answer")
		}
	}
	if err != nil {
		return nil, fmt.Errorf("kinesisapi: PutRecords: decoding the answer: %w", err)
	}
	if len(seqSpans) > 0 {
		// seqBytes was made for this answer and is never written again: the strings can share it.
		all := unsafe.String(unsafe.SliceData(seqBytes), len(seqBytes))
		seqs := make([]string, len(seqSpans))
		for i, span := range seqSpans {
			if span[0] < 0 {
				continue
			}
			seqs[i] = all[span[0]:span[1]]
			out.Records[i].SequenceNumber = &seqs[i]
		}
	}
	return out, nil
}

// shardCache remembers the last shard ids of one answer, which repeat entry after entry, so
// that most entries skip answerStrings' lock and map.
type shardCache struct {
	ids  [4][]byte // in the answer
	ptrs [4]*string
	next int
}

func (c *shardCache) intern(id []byte, strs *answerStrings) *string {
	for i := range c.ids {
		if c.ptrs[i] != nil && bytes.Equal(c.ids[i], id) {
			return c.ptrs[i]
		}
	}
	p := strs.intern(id)
	c.ids[c.next], c.ptrs[c.next] = id, p
	c.next = (c.next + 1) % len(c.ids)
	return p
}

// Entry prefixes of the answers Kinesis writes: compact, sequence number first.
const (
	plainEntryStart = `{"SequenceNumber":"`
	plainEntryShard = `","ShardId":"`
)

// plainEntry reads an accepted entry written the way Kinesis writes it,
// {"SequenceNumber":"…","ShardId":"…"} with printable ASCII values, and reports whether it was
// one; anything else leaves s where it was for the general path.
func (s *scanner) plainEntry() (seq, shard []byte, ok bool) {
	b := s.b[s.i:]
	if !bytes.HasPrefix(b, []byte(plainEntryStart)) {
		return nil, nil, false
	}
	b = b[len(plainEntryStart):]
	seq, b, ok = plainValue(b)
	if !ok || !bytes.HasPrefix(b, []byte(plainEntryShard)) {
		return nil, nil, false
	}
	shard, b, ok = plainValue(b[len(plainEntryShard):])
	if !ok || len(b) < 2 || b[0] != '"' || b[1] != '}' {
		return nil, nil, false
	}
	s.i = len(s.b) - len(b) + 2
	return seq, shard, true
}

// plainValue returns the string value at the start of b, up to its closing '"', and what follows
// from that quote on; ok is false when the value holds anything but printable ASCII other than
// '\\' (escapes, control characters, UTF-8), which the general path reads.
func plainValue(b []byte) (v, rest []byte, ok bool) {
	q := bytes.IndexByte(b, '"')
	if q < 0 || !isPrintable(b[:q]) {
		return nil, nil, false
	}
	return b[:q], b[q:], true
}

// isPrintable reports whether every byte of v is printable ASCII other than '\\', eight bytes
// at a time: sequence numbers are 56 bytes, and this test was most of an answer's decoding.
func isPrintable(v []byte) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	for len(v) >= 8 {
		x := binary.LittleEndian.Uint64(v)
		// A byte below 0x20, a byte of 0x7f and up, a backslash: each sets its high bit here.
		// Borrows and carries cross into the next byte only from a byte already caught.
		bad := (x-0x20*ones)&^x | (x + ones) | x | ((x^0x5c*ones)-ones)&^(x^0x5c*ones)
		if bad&highs != 0 {
			return false
		}
		v = v[8:]
	}
	for _, c := range v {
		if !printable[c] {
			return false
		}
	}
	return true
}

// printable marks the bytes plainValue takes as they are.
var printable = func() (t [256]bool) {
	for c := 0x20; c < 0x7f; c++ {
		t[c] = c != '\\'
	}
	return t
}()

// scanner reads the JSON values of an answer in place.
type scanner struct {
	b       []byte
	i       int
	scratch []byte // unescaped strings
	name    []byte // the member name being read
	depth   int    // of the values being skipped
}

// maxSkipDepth bounds the nesting of skipped values, so that a hostile answer cannot grow the
// stack without limit.
const maxSkipDepth = 64

var errSyntax = errors.New("invalid JSON")

func (s *scanner) errorf(what string) error {
	return fmt.Errorf("%w at offset %d: %s", errSyntax, s.i, what)
}

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// peek returns the next non-space byte, 0 at the end.
func (s *scanner) peek() byte {
	s.ws()
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

func (s *scanner) literal(word string) bool {
	if bytes.HasPrefix(s.b[s.i:], []byte(word)) {
		s.i += len(word)
		return true
	}
	return false
}

// null consumes a null and reports whether there was one.
func (s *scanner) null() bool {
	return s.peek() == 'n' && s.literal("null")
}

// object calls field for each member, with the value left for field to read (or skip).
func (s *scanner) object(field func(name []byte) error) error {
	if s.peek() != '{' {
		return s.errorf("want an object")
	}
	s.i++
	if s.peek() == '}' {
		s.i++
		return nil
	}
	for {
		name, ok, err := s.str()
		if err != nil {
			return err
		}
		if !ok {
			return s.errorf("want a member name")
		}
		// The name may live in scratch, which reading the value may reuse.
		s.name = append(s.name[:0], name...)
		if s.peek() != ':' {
			return s.errorf("want ':'")
		}
		s.i++
		if err := field(s.name); err != nil {
			return err
		}
		switch s.peek() {
		case ',':
			s.i++
		case '}':
			s.i++
			return nil
		default:
			return s.errorf("want ',' or '}'")
		}
	}
}

func (s *scanner) array(elem func() error) error {
	if s.peek() != '[' {
		return s.errorf("want an array")
	}
	s.i++
	if s.peek() == ']' {
		s.i++
		return nil
	}
	for {
		if err := elem(); err != nil {
			return err
		}
		switch s.peek() {
		case ',':
			s.i++
		case ']':
			s.i++
			return nil
		default:
			return s.errorf("want ',' or ']'")
		}
	}
}

// str reads a string (ok) or a null (!ok). The bytes are valid until the next call.
func (s *scanner) str() (v []byte, ok bool, err error) {
	if s.null() {
		return nil, false, nil
	}
	if s.peek() != '"' {
		return nil, false, s.errorf("want a string")
	}
	s.i++
	start := s.i
	// Find the closing quote with the vectorised search, then check the span once: sequence
	// numbers and shard ids never hold escapes.
	q := bytes.IndexByte(s.b[start:], '"')
	if q < 0 {
		s.i = len(s.b)
		return nil, false, s.errorf("unterminated string")
	}
	v = s.b[start : start+q]
	for j, c := range v {
		if c == '\\' {
			s.i = start + j
			return s.unescape(start)
		}
		if c < 0x20 {
			s.i = start + j
			return nil, false, s.errorf("control character in string")
		}
	}
	s.i = start + q + 1
	return v, true, nil
}

// unescape finishes a string with escapes into scratch; s.i is at the first backslash.
func (s *scanner) unescape(start int) ([]byte, bool, error) {
	out := append(s.scratch[:0], s.b[start:s.i]...)
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			s.i++
			s.scratch = out
			return out, true, nil
		case c < 0x20:
			return nil, false, s.errorf("control character in string")
		case c != '\\':
			out = append(out, c)
			s.i++
			continue
		}
		if s.i+1 >= len(s.b) {
			break
		}
		esc := s.b[s.i+1]
		s.i += 2
		switch esc {
		case '"', '\\', '/':
			out = append(out, esc)
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, ok := s.hex4()
			if !ok {
				return nil, false, s.errorf("bad \\u escape")
			}
			if utf16.IsSurrogate(r) {
				// A high surrogate followed by an escaped low one is one character; any other
				// surrogate is U+FFFD, and what follows it is read on its own.
				r2 := rune(utf8.RuneError)
				if back := s.i; s.i+1 < len(s.b) && s.b[s.i] == '\\' && s.b[s.i+1] == 'u' {
					s.i += 2
					lo, ok := s.hex4()
					if d := utf16.DecodeRune(r, lo); ok && d != utf8.RuneError {
						r2 = lo
					} else {
						s.i = back
					}
				}
				r = utf16.DecodeRune(r, r2)
			}
			out = utf8.AppendRune(out, r)
		default:
			return nil, false, s.errorf("bad escape")
		}
	}
	return nil, false, s.errorf("unterminated string")
}

func (s *scanner) hex4() (rune, bool) {
	if s.i+4 > len(s.b) {
		return 0, false
	}
	v, err := strconv.ParseUint(string(s.b[s.i:s.i+4]), 16, 16)
	if err != nil {
		return 0, false
	}
	s.i += 4
	return rune(v), true
}

func (s *scanner) int32() (int32, error) {
	num, err := s.number()
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseInt(string(num), 10, 32)
	if err != nil {
		return 0, s.errorf("want a 32-bit integer")
	}
	return int32(n), nil
}

// number reads a number as JSON writes them: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
func (s *scanner) number() ([]byte, error) {
	s.ws()
	start := s.i
	digits := func() int {
		n := 0
		for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
			s.i++
			n++
		}
		return n
	}
	if s.i < len(s.b) && s.b[s.i] == '-' {
		s.i++
	}
	if s.i < len(s.b) && s.b[s.i] == '0' {
		s.i++
	} else if digits() == 0 {
		return nil, s.errorf("bad number")
	}
	if s.i < len(s.b) && s.b[s.i] == '.' {
		s.i++
		if digits() == 0 {
			return nil, s.errorf("bad number")
		}
	}
	if s.i < len(s.b) && (s.b[s.i] == 'e' || s.b[s.i] == 'E') {
		s.i++
		if s.i < len(s.b) && (s.b[s.i] == '+' || s.b[s.i] == '-') {
			s.i++
		}
		if digits() == 0 {
			return nil, s.errorf("bad number")
		}
	}
	return s.b[start:s.i], nil
}

// skip reads over any value.
func (s *scanner) skip() error {
	s.depth++
	defer func() { s.depth-- }()
	if s.depth > maxSkipDepth {
		return s.errorf("values nested too deep")
	}
	switch c := s.peek(); {
	case c == '{':
		return s.object(func([]byte) error { return s.skip() })
	case c == '[':
		return s.array(s.skip)
	case c == '"':
		_, _, err := s.str()
		return err
	case c == 't' && s.literal("true"), c == 'f' && s.literal("false"), c == 'n' && s.literal("null"):
		return nil
	case c == '-' || c >= '0' && c <= '9':
		_, err := s.number()
		return err
	}
	return s.errorf("want a value")
}
