package conf

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func FuzzParseAccessor(f *testing.F) {
	for _, s := range []string{
		"pod", "$pod", "$kubernetes['pod_name']", `$a["b"]['c']`, "$kubernetes['labels']['app.kubernetes.io/name']",
		`$a['it\'s']`, `$a['x\\']`, "a->b->c", "$a['b", "$a[0]", "$", "a['b']", "$a->b", " a -> b ",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		path, err := parseAccessor(s)
		if err != nil {
			if path != nil {
				t.Fatalf("parseAccessor(%q) returned %q with error %v", s, path, err)
			}
			return
		}
		if len(path) == 0 {
			t.Fatalf("parseAccessor(%q) returned an empty path", s)
		}
		for _, k := range path {
			if k == "" {
				t.Fatalf("parseAccessor(%q) = %q has an empty key", s, path)
			}
		}
		canon := formatAccessor(path)
		back, err := parseAccessor(canon)
		if err != nil || !reflect.DeepEqual(back, path) {
			t.Fatalf("parseAccessor(%q) = %q; canonical %q reads back as %q, %v", s, path, canon, back, err)
		}
		if formatAccessor(back) != canon {
			t.Fatalf("canonical form of %q is not stable", s)
		}
	})
}

func FuzzParseSize(f *testing.F) {
	for _, s := range []string{"0", "1", "1K", "5 MiB", "2gb", "-1", "1.5M", "9223372036854775807", "8589934592G", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := parseSize(s)
		if err != nil {
			if n != 0 {
				t.Fatalf("parseSize(%q) = %d with error %v", s, n, err)
			}
			return
		}
		if n < 0 {
			t.Fatalf("parseSize(%q) = %d, negative", s, n)
		}
		back, err := parseSize(formatSize(n))
		if err != nil || back != n {
			t.Fatalf("parseSize(%q) = %d; formatSize gives %q which reads back as %d, %v", s, n, formatSize(n), back, err)
		}
		// Units are case-insensitive.
		if up, err := parseSize(strings.ToUpper(s)); err != nil || up != n {
			t.Fatalf("parseSize(%q) = %d but parseSize(upper) = %d, %v", s, n, up, err)
		}
	})
}

func FuzzParseDuration(f *testing.F) {
	for _, s := range []string{"0", "30", "500ms", "1h30m", "1.5h", "-1s", "9223372037", "2562047h47m16.854775807s", "µs", "+5"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := parseDuration(s)
		if err != nil {
			if d != 0 {
				t.Fatalf("parseDuration(%q) = %v with error %v", s, d, err)
			}
			return
		}
		if d < 0 {
			t.Fatalf("parseDuration(%q) = %v, negative", s, d)
		}
		back, err := parseDuration(formatDuration(d))
		if err != nil || back != d {
			t.Fatalf("parseDuration(%q) = %v; formatDuration gives %q which reads back as %v, %v", s, d, formatDuration(d), back, err)
		}
	})
}

// FuzzParse feeds arbitrary values to a handful of keys: Parse must never panic, must return
// either a Config or an *Error naming a key, and a Config's Effective values must parse again.
func FuzzParse(f *testing.F) {
	f.Add("us-east-1", "logs", "", "$a['b']", "5MiB", "30s", "gzip")
	f.Add("", "", "arn:aws:kinesis:eu-west-1:123456789012:stream/s", "a->b", "0", "0", "none")
	f.Add("x", "y z", "arn:", "$a[", "-1", "-1", "lz4")
	f.Fuzz(func(t *testing.T, region, stream, arn, pk, size, dur, comp string) {
		m := map[string]string{
			"region": region, "stream": stream, "stream_arn": arn, "partition_key": pk,
			"aggregation_max_bytes": size, "request_max_bytes": size, "retry_budget": dur,
			"shard_refresh_interval": dur, "compression": comp, "data_keys": pk, "time_key_format": comp,
		}
		c, err := Parse(flb(m))
		if err != nil {
			var e *Error
			if c != nil || !errors.As(err, &e) || e.Key == "" || !strings.HasPrefix(err.Error(), "conf: "+e.Key) {
				t.Fatalf("Parse(%q) = %v, %v", m, c, err)
			}
			return
		}
		eff := map[string]string{}
		for _, s := range c.Effective() {
			eff[s.Key] = s.Value
		}
		if c.StreamARN != "" {
			delete(eff, "stream")
		}
		if _, err := Parse(flb(eff)); err != nil {
			t.Fatalf("Effective of %q does not parse: %v", m, err)
		}
	})
}
