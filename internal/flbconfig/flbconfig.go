// Package flbconfig reads Fluent Bit's classic configuration format far enough to check the
// [OUTPUT] sections we ship in examples: sections, "key value" lines, comments and ${VAR}
// expansion. It is test tooling, not a full Fluent Bit parser (no @INCLUDE, no YAML).
package flbconfig

import (
	"bufio"
	"fmt"
	"strings"
)

// Section is one [NAME] block with its properties in file order.
type Section struct {
	Name  string // upper-cased, e.g. "OUTPUT"
	Props [][2]string
	Line  int
}

// Get looks a property up as Fluent Bit does: case-insensitive, first match wins.
func (s Section) Get(key string) string {
	for _, kv := range s.Props {
		if strings.EqualFold(kv[0], key) {
			return kv[1]
		}
	}
	return ""
}

// Parse reads classic-format text. env expands ${VAR} (nil leaves them as written).
func Parse(text string, env func(string) string) ([]Section, error) {
	var out []Section
	sc := bufio.NewScanner(strings.NewReader(text))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if strings.HasPrefix(line, "[") {
			if !strings.HasSuffix(line, "]") {
				return nil, fmt.Errorf("flbconfig: line %d: unterminated section header %q", n, line)
			}
			out = append(out, Section{Name: strings.ToUpper(strings.TrimSpace(line[1 : len(line)-1])), Line: n})
			continue
		}
		if len(out) == 0 {
			return nil, fmt.Errorf("flbconfig: line %d: property outside a section", n)
		}
		key, value, _ := strings.Cut(line, " ")
		if i := strings.IndexByte(line, '\t'); i >= 0 && (i < len(key)) {
			key, value = line[:i], line[i+1:]
		}
		value = strings.TrimSpace(value)
		if env != nil {
			value = expand(value, env)
		}
		out[len(out)-1].Props = append(out[len(out)-1].Props, [2]string{key, value})
	}
	return out, sc.Err()
}

// expand replaces ${VAR} as Fluent Bit does; a bare $name (a record accessor) stays as written.
func expand(s string, env func(string) string) string {
	var b strings.Builder
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			break
		}
		j := strings.IndexByte(s[i:], '}')
		if j < 0 {
			break
		}
		b.WriteString(s[:i])
		b.WriteString(env(s[i+2 : i+j]))
		s = s[i+j+1:]
	}
	b.WriteString(s)
	return b.String()
}

// Outputs returns the [OUTPUT] sections whose Name is name.
func Outputs(sections []Section, name string) []Section {
	var out []Section
	for _, s := range sections {
		if s.Name == "OUTPUT" && strings.EqualFold(s.Get("name"), name) {
			out = append(out, s)
		}
	}
	return out
}
