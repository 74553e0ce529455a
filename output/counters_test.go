package output

import "testing"

// The exit line Close logs parses back into the counters it was made from.
func TestSummaryRoundTrip(t *testing.T) {
	var c Counters
	c.Events.Add(12)
	c.Delivered.Add(10)
	c.Misroutes.Add(3)
	c.PossibleDups.Add(7)
	c.SentBytes.Add(123456)
	log := "[2026/11/25 10:00:00] [ info] [output:kinesis_agg:kinesis_agg.1] stopped: " + c.Summary() + "\n"
	got, ok := ParseSummary(log, "kinesis_agg.1")
	if !ok {
		t.Fatal("summary line not found")
	}
	want := map[string]int64{"events": 12, "delivered": 10, "misroutes": 3, "possible_duplicates": 7, "sent_bytes": 123456, "rejected": 0}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %d, want %d (all: %v)", k, got[k], v, got)
		}
	}
	if len(got) < 20 {
		t.Errorf("only %d counters parsed", len(got))
	}
	if _, ok := ParseSummary(log, "kinesis_agg.0"); ok {
		t.Error("found a line of another instance")
	}
}
