package main

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
)

func TestCommas(t *testing.T) {
	for n, want := range map[int64]string{
		0: "0", 7: "7", 999: "999", 1000: "1,000", 100000: "100,000", 1234567: "1,234,567",
		-1000: "-1,000", -999: "-999", 9223372036854775807: "9,223,372,036,854,775,807",
	} {
		if got := commas(n); got != want {
			t.Errorf("commas(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestMegabytes(t *testing.T) {
	if got := megabytes(33_159_731); got != "33.2 MB" {
		t.Errorf("megabytes = %q", got)
	}
}

// squeeze collapses runs of spaces, so that expectations need not match the column widths.
func squeeze(s string) string { return regexp.MustCompile(` {2,}`).ReplaceAllString(s, " ") }

func TestResultVerdict(t *testing.T) {
	clean := result{sent: 100, delivered: 100, kinesisRecords: 5, aggregates: 4, passthrough: 1, aggregatedUserRecords: 110,
		misroutes: 2, rerouted: 10, kclDropped: 10, possibleDuplicates: 10}
	for _, tc := range []struct {
		name     string
		mutate   func(r *result)
		ok       bool
		zeroLoss bool
		lines    []string // in the printed report
	}{
		{"clean", func(*result) {}, true, true, []string{
			" records sent 100\n",
			" Kinesis records 5 4 KPL aggregates, 1 plain records\n",
			" lost 0\n",
			" aggregates 4 27.5 user records per aggregate on average\n",
			" KCL-dropped members of misrouted copies 10 = records re-routed",
			"\nZERO LOSS: all 100 records reached the consumer\n",
		}},
		{"loss", func(r *result) { r.delivered, r.lost, r.missing = 97, 3, []int{4, 50, 99} }, false, false, []string{
			" lost 3 first: id-000000004, id-000000050, id-000000099\n",
			"\nLOSS: 3 of 100 records never reached the consumer\n",
		}},
		{"explained duplicates", func(r *result) { r.duplicates = 10 }, true, true, nil},
		{"unexplained duplicates", func(r *result) { r.duplicates = 11 }, false, true, []string{
			" PROBLEM: 11 duplicates, more than the 10 the plugin counted as possible\n", "\nZERO LOSS",
		}},
		{"foreign records", func(r *result) { r.unexpected = 2 }, false, true, []string{"PROBLEM: 2 delivered records carry no id"}},
		{"undecodable", func(r *result) { r.decodeLost = 1 }, false, true, []string{"PROBLEM: 1 records were in aggregates KCL could not decode"}},
		{"dropped chunks", func(r *result) { r.droppedChunks = 1 }, false, true, []string{"PROBLEM: the shipper dropped 1 chunks"}},
		{"dropped ≠ re-routed", func(r *result) { r.kclDropped = 9 }, true, true, []string{"9 differs from the 10 records re-routed"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := clean
			tc.mutate(&r)
			if r.ok() != tc.ok || r.zeroLoss() != tc.zeroLoss {
				t.Errorf("ok %v zero loss %v, want %v %v (problems %v)", r.ok(), r.zeroLoss(), tc.ok, tc.zeroLoss, r.problems())
			}
			var out bytes.Buffer
			r.print(&printer{w: &out})
			text := squeeze(out.String())
			for _, want := range tc.lines {
				if !strings.Contains(text, want) {
					t.Errorf("report lacks %q:\n%s", want, out.String())
				}
			}
		})
	}
	var nilResult *result
	if nilResult.ok() {
		t.Error("a nil result is ok")
	}
}
