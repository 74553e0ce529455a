package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestRunHostMode runs the whole demo through the C host with a small record count: kinesalite,
// plugin and host builds, resharding while shipping, the KCL read-back and the report.
func TestRunHostMode(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the plugin and starts kinesalite")
	}
	const n = 20_000
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var out bytes.Buffer
	res, err := run(ctx, options{
		Records: n, Shards: 4, NoFluentBit: true, Duration: 2 * time.Second,
		BuildDir: t.TempDir(), // no -trimpath: shares the build cache with the e2e tests
	}, &out)
	t.Logf("demo output:\n%s", out.String())
	if err != nil {
		t.Fatal(err)
	}

	if !res.ok() || res.lost != 0 || len(res.problems()) != 0 {
		t.Errorf("not a clean run: lost %d, problems %v", res.lost, res.problems())
	}
	if res.sent != n || res.delivered != n || res.delivered+res.lost != res.sent {
		t.Errorf("sent %d, delivered %d, lost %d; want %d delivered of %d", res.sent, res.delivered, res.lost, n, n)
	}
	if res.pluginEvents != n {
		t.Errorf("the plugin received %d events, want %d", res.pluginEvents, n)
	}
	if int64(res.duplicates) > res.possibleDuplicates {
		t.Errorf("%d duplicates, more than the %d the plugin counted as possible", res.duplicates, res.possibleDuplicates)
	}
	if int64(res.kclDropped) != res.rerouted {
		t.Errorf("KCL dropped %d members of misrouted copies, the plugin re-routed %d", res.kclDropped, res.rerouted)
	}
	if res.rerouted > 0 && res.misroutes == 0 {
		t.Errorf("%d records re-routed without a misroute", res.rerouted)
	}
	if res.aggregates == 0 || res.kinesisRecords != res.aggregates+res.passthrough || res.aggregatedUserRecords+res.passthrough < n {
		t.Errorf("kinesis records %d: %d aggregates holding %d user records, %d plain records",
			res.kinesisRecords, res.aggregates, res.aggregatedUserRecords, res.passthrough)
	}
	if _, err := os.Stat(res.tempDir); !os.IsNotExist(err) {
		t.Errorf("temporary directory %s not removed: %v", res.tempDir, err)
	}

	text := out.String()
	for i := 1; i <= stepCount; i++ {
		re := regexp.MustCompile(fmt.Sprintf(`(?m)^\[%d/%d\] `, i, stepCount))
		if c := len(re.FindAllString(text, -1)); c != 1 {
			t.Errorf("step %d printed %d times", i, c)
		}
	}
	if got := len(regexp.MustCompile(`(?m)^ +\d+% shipped: (split|merged) `).FindAllString(text, -1)); got != 5 {
		t.Errorf("%d resharding lines, want 5", got)
	}
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^  records sent +20,000$`),
		regexp.MustCompile(`(?m)^  delivered to a KCL consumer \(unique ids\) +20,000$`),
		regexp.MustCompile(`(?m)^  lost +0$`),
		regexp.MustCompile(`(?m)^ZERO LOSS: all 20,000 records reached the consumer$`),
	} {
		if !want.MatchString(text) {
			t.Errorf("output lacks %s", want)
		}
	}
	if strings.Contains(text, "PROBLEM") || strings.Contains(text, "\nLOSS") {
		t.Errorf("output reports a problem")
	}
}

// TestRunCancelled stops everything and returns promptly when the context ends mid-run.
func TestRunCancelled(t *testing.T) {
	if testing.Short() {
		t.Skip("starts kinesalite")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var out bytes.Buffer
	res, err := run(ctx, options{Records: 10, Shards: 1, NoFluentBit: true, Duration: time.Second, BuildDir: t.TempDir()}, &out)
	if err == nil || res != nil {
		t.Fatalf("run with a cancelled context: result %v, error %v", res, err)
	}
}

func TestRunRejectsBadOptions(t *testing.T) {
	for _, o := range []options{
		{Records: 0, Shards: 4, Duration: time.Second},
		{Records: 10, Shards: 0, Duration: time.Second},
		{Records: 10, Shards: 4, Duration: 0},
		{Records: 10, Shards: 4, Duration: time.Second, FluentBit: "x", NoFluentBit: true},
	} {
		var out bytes.Buffer
		if _, err := run(context.Background(), o, &out); err == nil {
			t.Errorf("%+v: no error", o)
		}
		if out.Len() != 0 {
			t.Errorf("%+v: printed %q before validating", o, out.String())
		}
	}
}
