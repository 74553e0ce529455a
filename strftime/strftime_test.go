package strftime

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// allDirectives joins every directive with '|'. The expected outputs below were produced by GNU
// date(1) (glibc strftime) with TZ=UTC for the same instants.
const allDirectives = "%Y|%C|%y|%G|%g|%V|%m|%b|%B|%d|%e|%j|%a|%A|%u|%w|%U|%W|%H|%k|%I|%l|%M|%S|%p|%P|%s|%z|%Z|%F|%T|%D|%R|%r|%c|%x|%X|%h"

func TestAllDirectivesMatchGlibc(t *testing.T) {
	l, err := Compile(allDirectives)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		t    time.Time
		want string
	}{
		{time.Date(2026, 11, 25, 18, 30, 5, 123456789, time.UTC),
			"2026|20|26|2026|26|48|11|Nov|November|25|25|329|Wed|Wednesday|3|3|47|47|18|18|06| 6|30|05|PM|pm|1795631405|+0000|UTC|2026-11-25|18:30:05|11/25/26|18:30|06:30:05 PM|Wed Nov 25 18:30:05 2026|11/25/26|18:30:05|Nov"},
		{time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC),
			"2024|20|24|2024|24|01|01|Jan|January|01| 1|001|Mon|Monday|1|1|00|01|00| 0|12|12|00|00|AM|am|1704067200|+0000|UTC|2024-01-01|00:00:00|01/01/24|00:00|12:00:00 AM|Mon Jan  1 00:00:00 2024|01/01/24|00:00:00|Jan"},
		{time.Date(2021, 1, 3, 7, 4, 9, 0, time.UTC),
			"2021|20|21|2020|20|53|01|Jan|January|03| 3|003|Sun|Sunday|7|0|01|00|07| 7|07| 7|04|09|AM|am|1609657449|+0000|UTC|2021-01-03|07:04:09|01/03/21|07:04|07:04:09 AM|Sun Jan  3 07:04:09 2021|01/03/21|07:04:09|Jan"},
		{time.Date(1999, 12, 31, 12, 0, 0, 0, time.UTC),
			"1999|19|99|1999|99|52|12|Dec|December|31|31|365|Fri|Friday|5|5|52|52|12|12|12|12|00|00|PM|pm|946641600|+0000|UTC|1999-12-31|12:00:00|12/31/99|12:00|12:00:00 PM|Fri Dec 31 12:00:00 1999|12/31/99|12:00:00|Dec"},
	}
	for _, tt := range tests {
		if got := string(l.AppendFormat(nil, tt.t)); got != tt.want {
			t.Errorf("%v:\n got %s\nwant %s", tt.t, got, tt.want)
		}
	}
}

func TestFormat(t *testing.T) {
	ts := time.Date(2026, 11, 25, 18, 30, 5, 7_008_009, time.UTC)
	ist := time.FixedZone("IST", 5*3600+1800)
	nst := time.FixedZone("NST", -(3*3600 + 1800))
	tests := []struct {
		layout string
		t      time.Time
		want   string
	}{
		{"%Y-%m-%dT%H:%M:%S.%L", ts, "2026-11-25T18:30:05.007"},
		{"%s.%f", ts, "1795631405.007008"},
		{"%s.%N", ts, "1795631405.007008009"},
		{"%L|%f|%N", time.Date(2026, 1, 1, 0, 0, 0, 999_999_999, time.UTC), "999|999999|999999999"},
		{"%L|%f|%N", time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), "000|000000|000000000"},
		{"%H:%M %z %Z", ts.In(ist), "00:00 +0530 IST"},
		{"%H:%M %z %Z", ts.In(nst), "15:00 -0330 NST"},
		{"100%% %n%t", ts, "100% \n\t"},
		{"", ts, ""},
		{"no directives", ts, "no directives"},
		{"%Y", time.Date(12345, 1, 1, 0, 0, 0, 0, time.UTC), "12345"},
		{"%Y|%y|%C", time.Date(-5, 1, 1, 0, 0, 0, 0, time.UTC), "-5|95|-1"},
		{"%Y", time.Date(7, 1, 1, 0, 0, 0, 0, time.UTC), "0007"},
		{"%I%p %l%P", time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC), "12PM 12pm"},
		{"%I%p", time.Date(2026, 1, 1, 23, 0, 0, 0, time.UTC), "11PM"},
		{"%j", time.Date(2024, 12, 31, 0, 0, 0, 0, time.UTC), "366"},
		{"%s", time.Unix(-1, 0), "-1"},
		{"héllo %Y ✓", ts, "héllo 2026 ✓"},
		{"%3N|%6N|%9N|%1N|%2N", ts, "007|007008|007008009|0|00"},
		{"%S.%3N", time.Date(2026, 1, 1, 0, 0, 59, 999_999_999, time.UTC), "59.999"},
	}
	for _, tt := range tests {
		l, err := Compile(tt.layout)
		if err != nil {
			t.Fatalf("Compile(%q): %v", tt.layout, err)
		}
		if got := string(l.AppendFormat([]byte("x"), tt.t)); got != "x"+tt.want {
			t.Errorf("%q: got %q, want %q", tt.layout, got, "x"+tt.want)
		}
		if l.String() != tt.layout {
			t.Errorf("String() = %q, want %q", l.String(), tt.layout)
		}
	}
}

func TestCompileErrors(t *testing.T) {
	tests := []struct {
		layout, want string
	}{
		{"%Q", `strftime: unknown directive %Q in "%Q"`},
		{"%Y-%m-%d %Q", `strftime: unknown directive %Q in "%Y-%m-%d %Q"`},
		{"%-d", `strftime: unknown directive %- in "%-d"`},
		{"%Ez", `strftime: unknown directive %E in "%Ez"`},
		{"%é", `strftime: unknown directive %é in "%é"`},
		{"abc%", `strftime: dangling % at the end of "abc%"`},
		{"%Y%", `strftime: dangling % at the end of "%Y%"`},
		{"%3", `strftime: unknown directive %3 in "%3"`},
		{"%3X", `strftime: unknown directive %3X in "%3X"`},
		{"%3é", `strftime: unknown directive %3é in "%3é"`},
		{"%0N", `strftime: unknown directive %0 in "%0N"`},
	}
	for _, tt := range tests {
		l, err := Compile(tt.layout)
		if err == nil {
			t.Errorf("Compile(%q) = %v, want error", tt.layout, l)
			continue
		}
		if err.Error() != tt.want {
			t.Errorf("Compile(%q) error = %q, want %q", tt.layout, err, tt.want)
		}
	}
	if _, err := Compile(strings.Repeat("a", maxLayout+1)); err == nil {
		t.Error("oversized layout accepted")
	}
}

func TestMustCompilePanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("MustCompile did not panic on a bad layout")
		}
	}()
	MustCompile("%Q")
}

func TestAppendFormatAllocs(t *testing.T) {
	l := MustCompile(allDirectives + "%L%f%N")
	ts := time.Date(2026, 11, 25, 18, 30, 5, 123456789, time.FixedZone("IST", 19800))
	buf := make([]byte, 0, 512)
	if n := testing.AllocsPerRun(100, func() { buf = l.AppendFormat(buf[:0], ts) }); n != 0 {
		t.Errorf("AppendFormat allocates %v times per call, want 0", n)
	}
}

func FuzzCompile(f *testing.F) {
	for _, s := range []string{allDirectives, "%Y-%m-%dT%H:%M:%S.%L%z", "%", "%%%", "%Q", "abc", "%\xff", "%c%N"} {
		f.Add(s, int64(1795631405), int64(123456789))
	}
	f.Fuzz(func(t *testing.T, layout string, sec, nsec int64) {
		l, err := Compile(layout)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "strftime: ") {
				t.Fatalf("error without package prefix: %v", err)
			}
			return
		}
		ts := time.Unix(sec%(1<<40), nsec%1e9).UTC()
		out := l.AppendFormat(nil, ts)
		// Compiling the literal-only parts must be lossless: a layout without '%' formats to itself.
		if !strings.Contains(layout, "%") && string(out) != layout {
			t.Fatalf("literal layout %q formatted to %q", layout, out)
		}
	})
}

func BenchmarkAppendFormat(b *testing.B) {
	l := MustCompile("%Y-%m-%dT%H:%M:%S.%L%z")
	ts := time.Date(2026, 11, 25, 18, 30, 5, 123456789, time.UTC)
	buf := make([]byte, 0, 64)
	b.ReportAllocs()
	for b.Loop() {
		buf = l.AppendFormat(buf[:0], ts)
	}
}

func ExampleLayout_AppendFormat() {
	l, err := Compile("%Y-%m-%dT%H:%M:%S.%L%z")
	if err != nil {
		panic(err)
	}
	t := time.Date(2026, 11, 25, 18, 30, 5, 123456789, time.UTC)
	fmt.Println(string(l.AppendFormat(nil, t)))
	_, err = Compile("%Y %Q")
	fmt.Println(err)
	// Output:
	// 2026-11-25T18:30:05.123+0000
	// strftime: unknown directive %Q in "%Y %Q"
}
