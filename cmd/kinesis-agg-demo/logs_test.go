package main

import (
	"bytes"
	"fmt"
	"maps"
	"strings"
	"testing"
)

func TestParseStopped(t *testing.T) {
	for _, tc := range []struct {
		line     string
		instance string
		counts   map[string]int64
		ok       bool
	}{
		{
			line:     "[2026/11/25 18:43:53] [ info] [output:kinesis_agg:kinesis_agg.0] stopped: flushes=40 ok=40 events=5000 misroutes=14 rerouted=181 possible_duplicates=181",
			instance: "kinesis_agg.0",
			counts:   map[string]int64{"flushes": 40, "ok": 40, "events": 5000, "misroutes": 14, "rerouted": 181, "possible_duplicates": 181},
			ok:       true,
		},
		{
			line:     "[output:kinesis_agg:kinesis_agg.12] stopped: a=1 junk b=x =3 c= d=-4 e=18446744073709551616 f=9223372036854775807",
			instance: "kinesis_agg.12",
			counts:   map[string]int64{"a": 1, "f": 9223372036854775807},
			ok:       true,
		},
		{line: "[output:kinesis_agg:kinesis_agg.0] stopped: nothing here"},
		{line: "[output:kinesis_agg:kinesis_agg.0] configuration: region=us-east-1"},
		{line: "[output:kinesis_agg] all instances stopped: goroutines=1 baseline=1"},
		{line: "[output:kinesis_agg:a] b] stopped: x=1"},
		{line: "stopped: flushes=1"},
		{line: ""},
	} {
		instance, counts, ok := parseStopped(tc.line)
		if ok != tc.ok || instance != tc.instance && tc.ok || !maps.Equal(counts, tc.counts) {
			t.Errorf("parseStopped(%q) = %q, %v, %v; want %q, %v, %v", tc.line, instance, counts, ok, tc.instance, tc.counts, tc.ok)
		}
	}
}

func FuzzParseStopped(f *testing.F) {
	f.Add("[2026/11/25 18:43:53] [ info] [output:kinesis_agg:kinesis_agg.0] stopped: flushes=40 ok=40 events=5000")
	f.Add("[output:kinesis_agg:x] stopped: a=1 b==2 =3 c=99999999999999999999")
	f.Add("[output:kinesis_agg:")
	f.Fuzz(func(t *testing.T, line string) {
		instance, counts, ok := parseStopped(line)
		if ok != (counts != nil) {
			t.Fatalf("ok %v with counts %v", ok, counts)
		}
		if !ok {
			return
		}
		if !strings.Contains(line, instancePrefix+instance+stoppedMarker) {
			t.Fatalf("instance %q is not in %q", instance, line)
		}
		for k, v := range counts {
			if k == "" || v < 0 {
				t.Fatalf("counter %q=%d", k, v)
			}
		}
	})
}

func TestLogSink(t *testing.T) {
	var out bytes.Buffer
	s := newLogSink(&printer{w: &out}, true)
	stream := "[ info] [output:kinesis_agg:kinesis_agg.0] configuration: region=us-east-1\r\n" +
		"[ info] [output:kinesis_agg:kinesis_agg.0] stopped: events=3 delivered=3 misroutes=1\n" +
		"[ info] [output:kinesis_agg:kinesis_agg.1] stopped: events=2 delivered=2 rerouted=7\n" +
		"no newline at the end"
	// Pieces split lines anywhere.
	for i := 0; i < len(stream); i += 7 {
		if _, err := s.Write([]byte(stream[i:min(i+7, len(stream))])); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case <-s.ready():
	default:
		t.Error("ready not closed after the configuration line")
	}
	s.close()

	sum := s.pluginTotals()
	if want := []string{"kinesis_agg.0", "kinesis_agg.1"}; fmt.Sprint(sum.instances) != fmt.Sprint(want) {
		t.Errorf("instances %v, want %v", sum.instances, want)
	}
	for k, want := range map[string]int64{"events": 5, "delivered": 5, "misroutes": 1, "rerouted": 7, "absent": 0} {
		if got := sum.get(k); got != want {
			t.Errorf("%s = %d, want %d", k, got, want)
		}
	}
	if got, want := sum.brief(), "events=5 delivered=5 kinesis_records=0 calls=0 misroutes=1 rerouted=7 retried=0 possible_duplicates=0"; got != want {
		t.Errorf("brief %q, want %q", got, want)
	}
	if n := strings.Count(out.String(), "      | "); n != 4 {
		t.Errorf("echoed %d lines, want 4:\n%s", n, out.String())
	}
	if !strings.HasSuffix(s.tail(), "    no newline at the end") || strings.Contains(s.tail(), "\r") {
		t.Errorf("tail %q", s.tail())
	}
}

func TestLogSinkQuietKeepsTail(t *testing.T) {
	var out bytes.Buffer
	s := newLogSink(&printer{w: &out}, false)
	for i := range 100 {
		fmt.Fprintf(s, "line %d\n", i)
	}
	if out.Len() != 0 {
		t.Errorf("a quiet sink printed %q", out.String())
	}
	lines := strings.Split(s.tail(), "\n")
	if len(lines) != tailLines || lines[0] != "    line 70" || lines[tailLines-1] != "    line 99" {
		t.Errorf("tail has %d lines from %q to %q", len(lines), lines[0], lines[len(lines)-1])
	}
	if len(s.pluginTotals().instances) != 0 || s.pluginTotals().brief() != "(no exit summary)" {
		t.Errorf("a summary out of nowhere: %+v", s.pluginTotals())
	}
}
