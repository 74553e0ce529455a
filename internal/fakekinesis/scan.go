package fakekinesis

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"
)

// maxDepth bounds the nesting of skipped values, so a hostile body cannot exhaust the stack.
const maxDepth = 64

// errSyntax is wrapped by every error of the scanner.
var errSyntax = errors.New("malformed JSON")

// scanner walks a JSON document in place. It validates what it passes over (the same documents
// as encoding/json.Valid) but only decodes what the caller asks for.
type scanner struct {
	b []byte
	i int
}

func (s *scanner) fail(what string) error {
	return fmt.Errorf("%w: %s at offset %d", errSyntax, what, s.i)
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

// peek returns the next non-space byte without consuming it, 0 at the end.
func (s *scanner) peek() byte {
	s.ws()
	if s.i >= len(s.b) {
		return 0
	}
	return s.b[s.i]
}

// consume takes c if it is the next non-space byte.
func (s *scanner) consume(c byte) bool {
	if s.peek() == c {
		s.i++
		return true
	}
	return false
}

// end checks that only white space follows.
func (s *scanner) end() error {
	if s.ws(); s.i < len(s.b) {
		return s.fail("data after the document")
	}
	return nil
}

// str reads a string and returns its raw content (between the quotes, escapes left in place) and
// whether it holds escapes. check validates the content (control characters, escapes); without
// it, a string whose closing quote is not preceded by a backslash is taken as it is, in one pass
// that only looks for the quote: for large values from a trusted writer (base64 record data from
// the SDK, which escapes none of its characters).
func (s *scanner) str(check bool) (raw []byte, escaped bool, err error) {
	if s.peek() != '"' {
		return nil, false, s.fail("want a string")
	}
	start := s.i + 1
	q := bytes.IndexByte(s.b[start:], '"')
	if q < 0 {
		return nil, false, s.fail("unterminated string")
	}
	end := start + q
	if !check && (end == start || s.b[end-1] != '\\') {
		s.i = end + 1
		return s.b[start:end], false, nil
	}
	if bytes.IndexByte(s.b[start:end], '\\') < 0 {
		if check {
			for _, c := range s.b[start:end] {
				if c < 0x20 {
					return nil, false, s.fail("control character in string")
				}
			}
		}
		s.i = end + 1
		return s.b[start:end], false, nil
	}
	// Escapes: walk byte by byte (a quote may itself be escaped).
	for i := start; i < len(s.b); i++ {
		switch c := s.b[i]; {
		case c == '"':
			s.i = i + 1
			return s.b[start:i], true, nil
		case c < 0x20:
			s.i = i
			return nil, false, s.fail("control character in string")
		case c == '\\':
			if i+1 >= len(s.b) {
				s.i = i
				return nil, false, s.fail("unterminated escape")
			}
			switch s.b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i++
			case 'u':
				if i+5 >= len(s.b) || !isHex4(s.b[i+2:i+6]) {
					s.i = i
					return nil, false, s.fail(`bad \u escape`)
				}
				i += 5
			default:
				s.i = i
				return nil, false, s.fail("bad escape")
			}
		}
	}
	s.i = len(s.b)
	return nil, false, s.fail("unterminated string")
}

func isHex4(b []byte) bool {
	for _, c := range b {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// text returns a string's value as encoding/json decodes it (escapes resolved, invalid UTF-8
// replaced by U+FFFD). raw is what str returned.
func text(raw []byte, escaped bool) string {
	if !escaped && utf8.Valid(raw) {
		return string(raw)
	}
	q := make([]byte, 0, len(raw)+2)
	q = append(q, '"')
	q = append(q, raw...)
	q = append(q, '"')
	var v string
	if err := json.Unmarshal(q, &v); err != nil {
		return string(raw) // unreachable: str validated the escapes
	}
	return v
}

// fields calls f for each member of an object, with the scanner positioned on the value; f must
// consume the value. A nil f skips every value.
func (s *scanner) fields(depth int, f func(key []byte, escaped bool) error) error {
	if depth > maxDepth {
		return s.fail("nested too deeply")
	}
	if !s.consume('{') {
		return s.fail("want an object")
	}
	if s.consume('}') {
		return nil
	}
	for {
		key, esc, err := s.str(true)
		if err != nil {
			return err
		}
		if !s.consume(':') {
			return s.fail("want ':'")
		}
		if f != nil {
			err = f(key, esc)
		} else {
			err = s.skip(depth + 1)
		}
		if err != nil {
			return err
		}
		if s.consume(',') {
			continue
		}
		if s.consume('}') {
			return nil
		}
		return s.fail("want ',' or '}'")
	}
}

// elements calls f for each element of an array, with the scanner positioned on it; f must
// consume the element.
func (s *scanner) elements(depth int, f func() error) error {
	if depth > maxDepth {
		return s.fail("nested too deeply")
	}
	if !s.consume('[') {
		return s.fail("want an array")
	}
	if s.consume(']') {
		return nil
	}
	for {
		if err := f(); err != nil {
			return err
		}
		if s.consume(',') {
			continue
		}
		if s.consume(']') {
			return nil
		}
		return s.fail("want ',' or ']'")
	}
}

// skip passes over one value of any kind.
func (s *scanner) skip(depth int) error {
	switch c := s.peek(); {
	case c == '{':
		return s.fields(depth, nil)
	case c == '[':
		return s.elements(depth, func() error { return s.skip(depth + 1) })
	case c == '"':
		_, _, err := s.str(true)
		return err
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	case c == '-' || '0' <= c && c <= '9':
		return s.number()
	}
	return s.fail("want a value")
}

func (s *scanner) literal(lit string) error {
	if !bytes.HasPrefix(s.b[s.i:], []byte(lit)) {
		return s.fail("bad literal")
	}
	s.i += len(lit)
	return nil
}

// isNull consumes a null if one comes next.
func (s *scanner) isNull() bool {
	if s.peek() == 'n' && bytes.HasPrefix(s.b[s.i:], []byte("null")) {
		s.i += 4
		return true
	}
	return false
}

// number passes over -?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)? and returns an error for anything else.
func (s *scanner) number() error {
	b, i := s.b, s.i
	if i < len(b) && b[i] == '-' {
		i++
	}
	digits := func() int {
		n := 0
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			i++
			n++
		}
		return n
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case digits() == 0:
		s.i = i
		return s.fail("bad number")
	}
	if i < len(b) && b[i] == '.' {
		i++
		if digits() == 0 {
			s.i = i
			return s.fail("bad number")
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if digits() == 0 {
			s.i = i
			return s.fail("bad number")
		}
	}
	s.i = i
	return nil
}
