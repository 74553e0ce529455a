package bench

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
)

var (
	benchTable = flag.Bool("bench-table", false, "run every in-process benchmark and print a markdown table")
	benchOut   = flag.String("bench-out", "", "also write the markdown tables of -bench-table and -plugin-bench to this file")
)

// tableWriter writes to stdout and, with -bench-out, to that file too.
func tableWriter(t *testing.T) io.Writer {
	if *benchOut == "" {
		return os.Stdout
	}
	f, err := os.OpenFile(*benchOut, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return io.MultiWriter(os.Stdout, f)
}

// stageResult is one measured row.
type stageResult struct {
	name    string
	ns, cpu float64 // per user record
	allocs  float64 // per user record
	bytes   float64 // allocated per user record
	extra   map[string]float64
}

func measure(name string, f func(b *testing.B)) stageResult {
	r := testing.Benchmark(f)
	return stageResult{name: name, ns: r.Extra["ns/record"], cpu: r.Extra["cpu-ns/record"],
		allocs: r.Extra["allocs/record"], bytes: r.Extra["B/record"], extra: r.Extra}
}

// measureFloor measures one part of the floor for p's records.
func measureFloor(p *pipeline, part string) stageResult {
	f := floorFunc(p, part)
	return measure("floor: "+part, func(b *testing.B) {
		m := startMeter(b, p.records)
		for b.Loop() {
			f()
		}
		m.stop()
	})
}

// TestBenchTable prints, per configuration, each stage, the whole flush and the floor, per user
// record, as markdown.
//
//	go test ./bench -run TestBenchTable -bench-table -v
func TestBenchTable(t *testing.T) {
	if !*benchTable {
		t.Skip("needs -bench-table")
	}
	w := tableWriter(t)
	fmt.Fprintf(w, "\nChunks: %d × ~2 MB, %d Kubernetes-style events each on average; %d shards; per user record.\n\n",
		len(generated()), newPipeline(t, varJSONPK).records/len(generated()), benchShards)
	type summary struct {
		v                 variant
		flush             float64
		fake              float64
		stages, floor     float64
		floorFast         float64
		fill, kinesisRecs float64
	}
	var sums []summary
	for _, v := range stageVariants {
		p := newPipeline(t, v)
		rows := []stageResult{
			measure("convert (events)", func(b *testing.B) { benchConvert(b, p) }),
			measure("route+aggregate+seal (aggregation.Manager)", func(b *testing.B) { benchAggregate(b, p) }),
			measure("PutRecords build+serialize+sign (kinesisapi.PutRecordsClient, canned answer)", func(b *testing.B) { benchPutRecords(b, p) }),
		}
		stages := 0.0
		for _, r := range rows {
			stages += r.cpu
		}
		flush := measure("whole flush (output.Instance.Flush, fakekinesis on loopback)", func(b *testing.B) { benchFlush(b, v) })
		rows = append(rows, flush)
		var floors []stageResult
		floorOf := map[string]float64{}
		for _, part := range floorParts {
			floors = append(floors, measureFloor(p, part))
			floorOf[part] = floors[len(floors)-1].cpu
		}
		rows = append(rows, floors...)

		fmt.Fprintf(w, "### %s (%s)\n\n", v.name, describe(v))
		fmt.Fprintln(w, "| stage | ns/record | cpu-ns/record | allocs/record | B/record |")
		fmt.Fprintln(w, "|---|--:|--:|--:|--:|")
		for _, r := range rows {
			fmt.Fprintf(w, "| %s | %.0f | %.0f | %.3f | %.0f |\n", r.name, r.ns, r.cpu, r.allocs, r.bytes)
		}
		fmt.Fprintln(w)
		sums = append(sums, summary{v: v, flush: flush.cpu, fake: flush.extra["fake-ns/record"], stages: stages,
			floor: floorOf[floorSum], floorFast: floorOf[floorSumFast], fill: flush.extra["fill"], kinesisRecs: flush.extra["kinesis-records/record"]})
	}
	fmt.Fprintln(w, "### Whole flush against the floor (cpu-ns per user record)")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| configuration | stages summed | whole flush | flush / floor | floor | target (1.5 × floor) | flush / floor computed as the plugin does (fastbase64, md5x) | endpoint wall ns (other process) | aggregate fill | Kinesis records per user record |")
	fmt.Fprintln(w, "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
	for _, s := range sums {
		fmt.Fprintf(w, "| %s | %.0f | %.0f | %.2f× | %.0f | %.0f | %.2f× | %.0f | %.2f | %.4f |\n",
			s.v.name, s.stages, s.flush, s.flush/s.floor, s.floor, 1.5*s.floor, s.flush/s.floorFast, s.fake, s.fill, s.kinesisRecs)
	}
	fmt.Fprintln(w)
}

// describe lists a variant's properties.
func describe(v variant) string {
	if len(v.props) == 0 {
		return "no partition_key"
	}
	var parts []string
	for _, k := range []string{"partition_key", "log_key", "aggregation"} {
		if val, ok := v.props[k]; ok {
			parts = append(parts, k+"="+val)
		}
	}
	return strings.Join(parts, ", ")
}
