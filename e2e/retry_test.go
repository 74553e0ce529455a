package e2e

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kinesis-agg/kinesis_agg/internal/chunkgen"
	"github.com/kinesis-agg/kinesis_agg/internal/faultproxy"
)

// Scenario 3: the plugin answers FLB_RETRY with part of a chunk delivered; Fluent Bit re-delivers
// the identical chunk; the ledger makes the second delivery send only the rest, so no id is
// delivered twice by our own retry.
func TestFluentBitRetryNoDuplicates(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fault func(p *faultproxy.Proxy, on bool)
	}{
		{"half the entries fail", func(p *faultproxy.Proxy, on bool) {
			rate := 0.0
			if on {
				rate = 0.5
			}
			if err := p.SetEntryFailures(faultproxy.EntryFailures{Rate: rate}); err != nil {
				t.Error(err)
			}
		}},
		{"everything rejected", func(p *faultproxy.Proxy, on bool) { p.SetRejectAll(on) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, 4, true, faultproxy.Options{Seed: 7})
			n := 12_000
			chunks := chunkgen.Generate(chunkgen.Options{Records: n, Seed: 3, ChunkBytes: 1_000_000})
			tc.fault(e.proxy, true)
			// Fix the faults once a flush has met them for longer than its retry budget, so that
			// at least one answered FLB_RETRY however slow the machine is.
			wait := startAfter(0, func() {
				for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
					if st := e.proxy.Stats(); st.EntriesFailed()+st.ServiceUnavailable503+st.InternalFailure500 > 0 {
						break
					}
				}
				time.Sleep(1200 * time.Millisecond) // > retry_budget (400ms) plus the backoff in flight
				tc.fault(e.proxy, false)
			})
			run := runHost(t, e.ctx, hostArgs(e.props("partition_key=$kubernetes['pod_name']", "retry_budget=400ms"),
				append(writeChunks(t, chunks, "kube.shop"), "--threads", "2", "--retry-limit", "-1",
					"--retry-delay-ms", "2500")...)...)
			wait()
			if run.ExitCode != 0 || run.Summary.DroppedChunks != 0 {
				t.Fatalf("host exit %d, dropped %d\n%s", run.ExitCode, run.Summary.DroppedChunks, tail(run.Stderr, 20))
			}
			retried := 0
			for _, f := range run.Flushes {
				if f.Attempt > 1 {
					retried++
				}
			}
			if run.Summary.Retry == 0 || retried == 0 {
				t.Fatalf("no chunk was answered FLB_RETRY and re-delivered (retry=%d)", run.Summary.Retry)
			}
			s := exitSummary(t, run.Stderr, 0)
			ids, _ := e.readIDs(nil)
			if dups := checkIDs(t, ids, 0, n); dups != 0 {
				t.Fatalf("%d ids delivered twice (plugin: %v)", dups, s)
			}
			if strings.Contains(tc.name, "half") && s["ledger_skipped"] == 0 {
				t.Errorf("re-deliveries sent everything again: %v", s)
			}
			t.Logf("%d re-deliveries; plugin: ledger_skipped=%d retried=%d", retried, s["ledger_skipped"], s["retried"])
		})
	}
}

// Scenario 7: shutdown while a flush is retrying returns promptly and leaves no goroutine behind.
func TestShutdownWhileRetrying(t *testing.T) {
	e := newEnv(t, 2, true, faultproxy.Options{Seed: 9})
	e.proxy.SetRejectAll(true)
	chunks := chunkgen.Generate(chunkgen.Options{Records: 2000, Seed: 5, ChunkBytes: 400_000})
	run := runHost(t, e.ctx, hostArgs(e.props("retry_budget=60s"),
		append(writeChunks(t, chunks, "kube.shop"), "--threads", "2", "--exit-after-ms", "1500")...)...)
	if len(run.Exits) != 1 {
		t.Fatalf("exits: %+v\n%s", run.Exits, tail(run.Stderr, 20))
	}
	if d := time.Duration(run.Exits[0].NS); d > 3*time.Second {
		t.Errorf("ExitCtx took %v while flushes were retrying", d)
	}
	for _, f := range run.Flushes {
		if f.RC != 2 {
			t.Errorf("flush answered %d during shutdown, want FLB_RETRY (2)", f.RC)
		}
	}
	if len(run.Flushes) == 0 {
		t.Fatal("no flush ran before the shutdown")
	}
	var goroutines, baseline int
	for _, line := range strings.Split(run.Stderr, "\n") {
		if i := strings.Index(line, "all instances stopped:"); i >= 0 {
			for _, m := range kvRe.FindAllStringSubmatch(line[i:], -1) {
				switch m[1] {
				case "goroutines":
					goroutines, _ = strconv.Atoi(m[2])
				case "baseline":
					baseline, _ = strconv.Atoi(m[2])
				}
			}
		}
	}
	if goroutines == 0 || goroutines > baseline {
		t.Errorf("after exit %d goroutines remain, %d ran before the first Init", goroutines, baseline)
	}
}
