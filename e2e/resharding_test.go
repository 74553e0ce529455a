package e2e

import (
	"testing"
	"time"

	"github.com/kinesis-agg/kinesis_agg/internal/chunkgen"
	"github.com/kinesis-agg/kinesis_agg/internal/faultproxy"
)

// loadScenario ships 50,000 records (1-2 MB chunks, 1,000 partition keys) from 2 host threads into
// one instance while three shards are split and two merged, then checks every id with KCL's rules.
func loadScenario(t *testing.T, e *env, faults func()) (ids map[string]int, summary map[string]int, n int) {
	n = 50_000
	if *soak {
		n = 500_000
	}
	chunks := chunkgen.Generate(chunkgen.Options{Records: n, Seed: 1, ChunkBytes: 1_500_000})
	args := hostArgs(e.props("partition_key=$kubernetes['pod_name']", "retry_budget=5s"),
		append(writeChunks(t, chunks, "kube.shop"), "--threads", "2", "--pace-ms", "250",
			"--retry-limit", "-1", "--retry-delay-ms", "500")...)
	reshardDone := e.reshard(150 * time.Millisecond)
	if faults != nil {
		faults()
	}
	start := time.Now()
	run := runHost(t, e.ctx, args...)
	if err := <-reshardDone; err != nil {
		t.Fatalf("resharding: %v", err)
	}
	t.Logf("shipped %d records in %d chunks in %v", n, len(chunks), time.Since(start).Round(time.Millisecond))
	if run.ExitCode != 0 || run.Summary.DroppedChunks != 0 {
		t.Fatalf("host exit %d, %d chunks dropped\n%s", run.ExitCode, run.Summary.DroppedChunks, tail(run.Stderr, 30))
	}
	summary = exitSummary(t, run.Stderr, 0)
	ids, rep := e.readIDs(nil)
	t.Logf("plugin: %v", summary)
	t.Logf("reader: %d Kinesis records, %d aggregates, %d user records, %d dropped out of range, %d collateral",
		rep.KinesisRecords, rep.Aggregates, rep.UserRecordsDelivered, rep.DroppedOutOfRange, rep.DroppedCollateral)
	if summary["delivered"] < n || summary["events"] != n {
		t.Errorf("plugin counted %d events, %d delivered; want %d", summary["events"], summary["delivered"], n)
	}
	return ids, summary, n
}

// Scenario 1: zero missing ids while the stream is resharded under load.
func TestReshardingUnderLoad(t *testing.T) {
	e := newEnv(t, 4, false, faultproxy.Options{})
	ids, s, n := loadScenario(t, e, nil)
	dups := checkIDs(t, ids, 0, n)
	if dups > s["possible_duplicates"] {
		t.Errorf("%d duplicates, more than the %d re-routed records can explain", dups, s["possible_duplicates"])
	}
	if s["misroutes"] == 0 {
		t.Logf("note: no misroute happened in this run (resharding did not race a put)")
	}
}

// Scenario 2: the same with faults: 10% failed entries, 5% 5xx, 2% lost acks, ListShards two
// shards a page, and a period where ListShards fails.
func TestReshardingUnderFaults(t *testing.T) {
	e := newEnv(t, 4, true, faultproxy.Options{
		Seed:               42,
		EntryFailures:      faultproxy.EntryFailures{Rate: 0.10, InternalShare: 0.5},
		RequestErrors:      faultproxy.RequestErrors{Rate: 0.05, UnavailableShare: 0.5},
		LostAckRate:        0.02,
		ListShardsPageSize: 2,
	})
	var stopOutage func()
	ids, s, n := loadScenario(t, e, func() {
		stopOutage = startAfter(400*time.Millisecond, func() {
			if err := e.proxy.SetListShardsFailure(faultproxy.LimitExceeded); err != nil {
				t.Error(err)
			}
			time.Sleep(time.Second)
			if err := e.proxy.SetListShardsFailure(faultproxy.NoError); err != nil {
				t.Error(err)
			}
		})
	})
	stopOutage()
	dups := checkIDs(t, ids, 0, n)
	st := e.proxy.Stats()
	t.Logf("proxy: %+v", st)
	t.Logf("%d duplicate deliveries; plugin counted %d possible duplicates", dups, s["possible_duplicates"])
	if dups > s["possible_duplicates"] {
		t.Errorf("%d duplicates, more than lost acks and re-routes explain (%d)", dups, s["possible_duplicates"])
	}
	if s["entries_failed"] == 0 || s["retried"] == 0 {
		t.Errorf("faults did not reach the plugin: %v", s)
	}
}
