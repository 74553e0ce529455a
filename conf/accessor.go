package conf

import (
	"errors"
	"strconv"
	"strings"
)

// parseAccessor turns a record field reference into the path of map keys that leads to it. It
// accepts three spellings:
//
//	$kubernetes['pod_name']   Fluent Bit record accessor; ["..."] works too
//	kubernetes->pod_name      the AWS Go kinesis plugin's nested form
//	pod                       a plain top-level key
//
// Inside a quoted key a backslash escapes the quote character or another backslash; any other
// backslash is kept literally, so Windows-like paths need no doubling. Array indexes ($a[0]) are
// rejected: the events code looks keys up in maps only. s must already be trimmed and non-empty.
func parseAccessor(s string) ([]string, error) {
	switch {
	case s == "":
		return nil, errors.New("empty record accessor")
	case s[0] == '$':
		return parseRecordAccessor(s[1:])
	case strings.Contains(s, "->"):
		parts := strings.Split(s, "->")
		for i, p := range parts {
			p = strings.TrimSpace(p)
			if p == "" {
				return nil, errors.New("empty key in -> path")
			}
			parts[i] = p
		}
		if err := checkTopKey(parts[0]); err != nil {
			return nil, err
		}
		return parts, nil
	}
	if err := checkTopKey(s); err != nil {
		return nil, err
	}
	return []string{s}, nil
}

// checkTopKey validates a top-level key written without quotes, as in $name, name or name->sub.
func checkTopKey(name string) error {
	if strings.ContainsAny(name, `[]'"`) {
		return errors.New(`brackets and quotes need the record accessor form, e.g. $a['b']`)
	}
	if strings.TrimSpace(name) != name {
		return errors.New("unexpected space around key name")
	}
	return nil
}

func parseRecordAccessor(s string) ([]string, error) {
	i := strings.IndexByte(s, '[')
	if i < 0 {
		i = len(s)
	}
	name := s[:i]
	switch {
	case name == "":
		return nil, errors.New("missing key name after $")
	case strings.Contains(name, "->"):
		return nil, errors.New(`mixes the $ and -> forms; write $a['b'] or a->b`)
	case strings.ContainsAny(name, `]'"`):
		return nil, errors.New("unexpected " + strconv.Quote(name[strings.IndexAny(name, `]'"`):][:1]) + " in key name")
	}
	if err := checkTopKey(name); err != nil {
		return nil, err
	}
	path := []string{name}
	var key []byte
	for i < len(s) {
		if s[i] != '[' {
			return nil, errors.New("unexpected " + strconv.Quote(s[i:i+1]) + " after ]")
		}
		i++
		if i == len(s) {
			return nil, errors.New("unterminated record accessor")
		}
		q := s[i]
		if q != '\'' && q != '"' {
			if q >= '0' && q <= '9' || q == '-' {
				return nil, errors.New("array indexes are not supported")
			}
			return nil, errors.New(`want a quoted key in brackets, e.g. $a['b']`)
		}
		i++
		key = key[:0]
		closed := false
		for i < len(s) {
			c := s[i]
			if c == '\\' && i+1 < len(s) && (s[i+1] == q || s[i+1] == '\\') {
				key = append(key, s[i+1])
				i += 2
				continue
			}
			i++
			if c == q {
				closed = true
				break
			}
			key = append(key, c)
		}
		if !closed || i == len(s) {
			return nil, errors.New("unterminated record accessor")
		}
		if s[i] != ']' {
			return nil, errors.New("want ] after the quoted key, found " + strconv.Quote(s[i:i+1]))
		}
		i++
		if len(key) == 0 {
			return nil, errors.New("empty key")
		}
		path = append(path, string(key))
	}
	return path, nil
}

// formatAccessor writes path in record accessor form; parseAccessor reads it back unchanged.
func formatAccessor(path []string) string {
	if len(path) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteByte('$')
	b.WriteString(path[0])
	for _, k := range path[1:] {
		b.WriteString("['")
		for i := 0; i < len(k); i++ {
			if k[i] == '\'' || k[i] == '\\' {
				b.WriteByte('\\')
			}
			b.WriteByte(k[i])
		}
		b.WriteString("']")
	}
	return b.String()
}
