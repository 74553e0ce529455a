package conf

import (
	"reflect"
	"testing"
)

func TestParseAccessor(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"pod", []string{"pod"}},
		{"$pod", []string{"pod"}},
		{"my key", []string{"my key"}},
		{"$kubernetes.pod_name", []string{"kubernetes.pod_name"}},
		{"$kubernetes['pod_name']", []string{"kubernetes", "pod_name"}},
		{`$kubernetes["pod_name"]`, []string{"kubernetes", "pod_name"}},
		{`$a['b']["c"]['d']`, []string{"a", "b", "c", "d"}},
		{"$kubernetes['labels']['app.kubernetes.io/name']", []string{"kubernetes", "labels", "app.kubernetes.io/name"}},
		{`$kubernetes["labels"]["app.kubernetes.io/name"]`, []string{"kubernetes", "labels", "app.kubernetes.io/name"}},
		{`$a["it's"]`, []string{"a", "it's"}},
		{`$a['say "hi"']`, []string{"a", `say "hi"`}},
		{`$a['it\'s']`, []string{"a", "it's"}},
		{`$a["say \"hi\""]`, []string{"a", `say "hi"`}},
		{`$a['back\\slash']`, []string{"a", `back\slash`}},
		{`$a['trailing\\']`, []string{"a", `trailing\`}},
		{`$a['C:\path\to']`, []string{"a", `C:\path\to`}},
		{`$a['\"']`, []string{"a", `\"`}},
		{`$a['x]y']`, []string{"a", "x]y"}},
		{`$a['[0]']`, []string{"a", "[0]"}},
		{`$a[' spaced ']`, []string{"a", " spaced "}},
		{`$a['->']`, []string{"a", "->"}},
		{"$a['ключ']", []string{"a", "ключ"}},
		{"$$a", []string{"$a"}},
		{"kubernetes->pod_name", []string{"kubernetes", "pod_name"}},
		{"kubernetes -> labels -> app", []string{"kubernetes", "labels", "app"}},
		{"a->b.c->d e", []string{"a", "b.c", "d e"}},
		{"a->b['c']", []string{"a", "b['c']"}},
		{"a->$b", []string{"a", "$b"}},
	}
	for _, tt := range tests {
		got, err := parseAccessor(tt.in)
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("parseAccessor(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			continue
		}
		// The canonical form reads back as the same path.
		back, err := parseAccessor(formatAccessor(got))
		if err != nil || !reflect.DeepEqual(back, got) {
			t.Errorf("parseAccessor(formatAccessor(%q) = %q) = %q, %v", got, formatAccessor(got), back, err)
		}
	}
}

func TestParseAccessorErrors(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "empty record accessor"},
		{"$", "missing key name after $"},
		{"$['a']", "missing key name after $"},
		{"$a['b", "unterminated record accessor"},
		{"$a['b'", "unterminated record accessor"},
		{"$a[", "unterminated record accessor"},
		{`$a["b]`, "unterminated record accessor"},
		{`$a['b\']`, "unterminated record accessor"},
		{`$a['b']['c`, "unterminated record accessor"},
		{"$a[0]", "array indexes are not supported"},
		{"$a['b'][0]", "array indexes are not supported"},
		{"$a[-1]", "array indexes are not supported"},
		{"$a[b]", "want a quoted key in brackets, e.g. $a['b']"},
		{"$a[ 'b']", "want a quoted key in brackets, e.g. $a['b']"},
		{"$a['b'x]", `want ] after the quoted key, found "x"`},
		{"$a['b']x", `unexpected "x" after ]`},
		{"$a['b'] ['c']", `unexpected " " after ]`},
		{"$a['']", "empty key"},
		{`$a['b']][`, `unexpected "]" after ]`},
		{"$a]", `unexpected "]" in key name`},
		{"$a'b", `unexpected "'" in key name`},
		{"$ a", "unexpected space around key name"},
		{"$a ['b']", "unexpected space around key name"},
		{"$a->b", "mixes the $ and -> forms; write $a['b'] or a->b"},
		{"a['b']", "brackets and quotes need the record accessor form, e.g. $a['b']"},
		{`"pod"`, "brackets and quotes need the record accessor form, e.g. $a['b']"},
		{"a]", "brackets and quotes need the record accessor form, e.g. $a['b']"},
		{"a->", "empty key in -> path"},
		{"->a", "empty key in -> path"},
		{"a->->b", "empty key in -> path"},
		{"a-> ->b", "empty key in -> path"},
		{"a[0]->b", "brackets and quotes need the record accessor form, e.g. $a['b']"},
	}
	for _, tt := range tests {
		got, err := parseAccessor(tt.in)
		if err == nil || err.Error() != tt.want {
			t.Errorf("parseAccessor(%q) = %q, %v; want error %q", tt.in, got, err, tt.want)
		}
	}
}

func TestFormatAccessor(t *testing.T) {
	tests := []struct {
		in   []string
		want string
	}{
		{nil, ""},
		{[]string{"pod"}, "$pod"},
		{[]string{"kubernetes", "pod_name"}, "$kubernetes['pod_name']"},
		{[]string{"a", "it's"}, `$a['it\'s']`},
		{[]string{"a", `x\y`}, `$a['x\\y']`},
		{[]string{"a", `"`}, `$a['"']`},
	}
	for _, tt := range tests {
		if got := formatAccessor(tt.in); got != tt.want {
			t.Errorf("formatAccessor(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
