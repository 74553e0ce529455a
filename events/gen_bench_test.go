package events

import (
	"runtime"
	"sync"
	"testing"

	"github.com/kinesis-agg/kinesis_agg/internal/chunkgen"
)

// genChunks are the bench package's stage-benchmark chunks (same generator options), so that a
// change can be measured here, under cachegrind, without building the whole pipeline.
var genChunks = sync.OnceValue(func() [][]byte {
	chunks := chunkgen.Generate(chunkgen.Options{Records: 4 * 6100, ChunkBytes: 2_000_000, Pods: 1000, Seed: 20261125})
	return chunks[:4]
})

func BenchmarkConvertGenerated(b *testing.B) {
	pk := []string{"kubernetes", "pod_name"}
	for _, v := range []struct {
		name string
		o    Options
	}{
		{"json+pk", Options{PartitionKey: pk}},
		{"json+randomkey", Options{}},
		{"logkey+pk", Options{PartitionKey: pk, LogKey: []string{"log"}}},
	} {
		b.Run(v.name, func(b *testing.B) {
			v.o.SteerRandomKeys = true
			c, err := NewConverter(v.o)
			if err != nil {
				b.Fatal(err)
			}
			chunks := genChunks()
			var batch Batch
			records := 0
			for _, ch := range chunks {
				c.Convert(ch, "", &batch)
				records += len(batch.Records)
			}
			runtime.GC() // the generator's garbage, so that no collection runs in the loop
			b.ResetTimer()
			cpu0, cpuOK := cpuTime()
			for b.Loop() {
				for _, ch := range chunks {
					c.Convert(ch, "", &batch)
				}
			}
			b.StopTimer()
			perRecord := float64(b.N) * float64(records)
			if cpu1, ok := cpuTime(); ok && cpuOK {
				b.ReportMetric(float64(cpu1-cpu0)/perRecord, "cpu-ns/record")
			}
		})
	}
}
