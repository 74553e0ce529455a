package bench

import (
	"context"
	"flag"
	"fmt"
	"github.com/kinesis-agg/kinesis_agg/output"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kinesis-agg/kinesis_agg/internal/fakekinesis"
	"github.com/kinesis-agg/kinesis_agg/internal/flbhost"
)

var (
	pluginBench  = flag.Bool("plugin-bench", false, "drive the built .so through the C host against fakekinesis and print a markdown table")
	pluginRepeat = flag.Int("plugin-repeat", 75, "passes over the generated chunks per host run (-plugin-bench)")
	pluginPath   = flag.String("plugin-so", "", "use this built plugin instead of building one (-plugin-bench)")
	pluginOnly   = flag.String("plugin-only", "", "run only the configurations whose name contains this (-plugin-bench)")
)

// pluginVariants are the configurations the whole-plugin benchmark runs.
var pluginVariants = []variant{varJSONPK, varJSON, varNoAggPK}

// TestPluginBenchmark runs the built plugin in the C test host (which loads it as Fluent Bit
// 5.1.1 does) against a fakekinesis listening on loopback in this test process, so that the
// host's CPU time and RSS are the plugin's (plus the host's own small share: it copies and
// poisons each 2 MB chunk buffer, as Fluent Bit hands every flush fresh memory).
//
//	go test ./bench -run TestPluginBenchmark -v -plugin-bench [-plugin-repeat=75] [-plugin-so=X.so]
//
// (Write the flags' values with '=': go test cannot tell which unknown flags take one.)
func TestPluginBenchmark(t *testing.T) {
	if !*pluginBench {
		t.Skip("needs -plugin-bench")
	}
	dir := t.TempDir()
	root, err := flbhost.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	so := *pluginPath
	if so == "" {
		so = filepath.Join(dir, "out_kinesis_agg.so")
		start := time.Now()
		if err := flbhost.BuildPlugin(root, so, "-trimpath"); err != nil {
			t.Fatal(err)
		}
		t.Logf("built %s in %v", so, time.Since(start).Round(time.Millisecond))
	}
	host, err := flbhost.BuildHost(dir)
	if err != nil {
		t.Fatal(err)
	}
	chunks := generated()
	var chunkArgs []string
	for i, c := range chunks {
		p := filepath.Join(dir, fmt.Sprintf("chunk-%02d.msgpack", i))
		if err := os.WriteFile(p, c, 0o644); err != nil {
			t.Fatal(err)
		}
		chunkArgs = append(chunkArgs, "--chunk", p+":"+benchTag)
	}

	type row struct {
		v                    variant
		threads              int
		records              int64
		recsPerSec           float64
		cpuPerRecord         float64
		sysPerRecord         float64 // of cpuPerRecord, in the kernel (socket writes and reads)
		floor                float64 // cpu-ns per record of the floor (floorSum), measured in this run
		rssGrowthKB          int64
		allocs, allocBytes   float64
		fill, avgEntry       float64
		kinesisRecsPerRecord float64
		flushMS              float64
	}
	var rows []row
	for _, v := range pluginVariants {
		if !strings.Contains(v.name, *pluginOnly) {
			continue
		}
		// Allocations cannot be counted inside the .so without changing the product: measure
		// the same flush path in this process instead.
		inProc := testing.Benchmark(func(b *testing.B) { benchFlush(b, v) })
		// The floor of the same records in the same run, for the ratio the targets are set in.
		floor := measureFloor(newPipeline(t, v), floorSum).cpu
		perPass := 0
		for _, c := range chunks {
			perPass += countRecords(t, v, c)
		}
		for _, threads := range []int{1, 2} {
			l, err := fakekinesis.Listen("127.0.0.1:0", fakekinesis.Options{Shards: benchShards, StreamName: benchStream})
			if err != nil {
				t.Fatal(err)
			}
			args := append([]string{"--plugin", so}, v.hostProps(l.Endpoint)...)
			args = append(args, chunkArgs...)
			args = append(args, "--repeat", strconv.Itoa(*pluginRepeat), "--threads", strconv.Itoa(threads), "--retry-limit", "0")
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
			run, err := flbhost.Exec(ctx, host, args...)
			cancel()
			st := l.Stats()
			l.Close()
			if err != nil {
				t.Fatalf("%s, %d threads: %v", v.name, threads, err)
			}
			s := run.Summary
			want := int64(perPass) * int64(*pluginRepeat)
			exit := exitCounters(run.Stderr)
			if s.OK != s.Flushes || s.Flushes != int64(len(chunks)**pluginRepeat) || exit["delivered"] != want {
				t.Fatalf("%s, %d threads: %d flushes, %d OK, %d records delivered (want %d); stderr tail:\n%s",
					v.name, threads, s.Flushes, s.OK, exit["delivered"], want, tail(run.Stderr, 20))
			}
			var flushNS int64
			for _, f := range run.Flushes {
				flushNS += f.NS
			}
			rows = append(rows, row{
				v: v, threads: threads, records: want,
				recsPerSec:           float64(want) / (float64(s.FlushPhaseNS) / 1e9),
				cpuPerRecord:         float64(s.CPUUserNS+s.CPUSysNS) / float64(want),
				sysPerRecord:         float64(s.CPUSysNS) / float64(want),
				floor:                floor,
				rssGrowthKB:          s.MaxRSSKB - s.RSSAfterInitKB,
				allocs:               inProc.Extra["allocs/record"],
				allocBytes:           inProc.Extra["B/record"],
				fill:                 st.AvgEntryBytes() / float64(fakekinesis.DefaultMaxRecordSizeKiB<<10),
				avgEntry:             st.AvgEntryBytes(),
				kinesisRecsPerRecord: float64(st.Entries) / float64(want),
				flushMS:              float64(flushNS) / float64(len(run.Flushes)) / 1e6,
			})
		}
	}

	w := tableWriter(t)
	fmt.Fprintf(w, "\nWhole plugin: the .so in the C host, %d passes over %d chunks (~2 MB, ~6,000 events each), "+
		"fakekinesis (%d shards) on loopback in another process, shard_rate_limit=0.\n\n", *pluginRepeat, len(chunks), benchShards)
	fmt.Fprintln(w, "| configuration | threads | records | records/s | host CPU ns/record | of which kernel | floor ns/record (same run) | host CPU / floor | mean flush ms | peak RSS above init | allocs/record (in-process) | B allocated/record (in-process) | Kinesis records/record | mean entry bytes | fill (of 1 MiB) |")
	fmt.Fprintln(w, "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
	for _, r := range rows {
		fmt.Fprintf(w, "| %s | %d | %d | %.0f | %.0f | %.0f | %.0f | %.2f× | %.1f | %.1f MiB | %.3f | %.0f | %.4f | %.0f | %.2f |\n",
			r.v.name, r.threads, r.records, r.recsPerSec, r.cpuPerRecord, r.sysPerRecord, r.floor, r.cpuPerRecord/r.floor, r.flushMS,
			float64(r.rssGrowthKB)/1024, r.allocs, r.allocBytes, r.kinesisRecsPerRecord, r.avgEntry, r.fill)
	}
	fmt.Fprintln(w)
}

// exitCounters parses the plugin's "stopped:" line for instance 0.
func exitCounters(stderr string) map[string]int64 {
	values, _ := output.ParseSummary(stderr, "kinesis_agg.0")
	return values
}

func tail(s string, lines int) string {
	parts := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(parts) > lines {
		parts = parts[len(parts)-lines:]
	}
	return strings.Join(parts, "\n")
}
