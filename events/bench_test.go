package events

import (
	"fmt"
	"testing"
)

// kubeChunk builds n v2 events of a ~330-byte (as JSON) Kubernetes-style record.
func kubeChunk(n int) []byte {
	var m mp
	for i := 0; i < n; i++ {
		rec := mp{}.mapH(4).
			str("log").str(fmt.Sprintf("2026-11-25T17:25:59.%03dZ INFO [http] GET /api/v1/orders/%05d 200 %d.%dms", i%1000, i, i%97, i%10)).
			str("stream").str("stdout").
			str("time").str("2026-11-25T17:25:59.570982428Z").
			str("kubernetes").mapH(5).
			/**/ str("pod_name").str(fmt.Sprintf("checkout-7d9f8b6c5d-%05d", i%50)).
			/**/ str("namespace_name").str("prod").
			/**/ str("host").str("ip-10-0-1-23.ec2.internal").
			/**/ str("container_name").str("checkout").
			/**/ str("labels").mapH(2).str("app").str("checkout").str("pod-template-hash").str("7d9f8b6c5d")
		m = m.v2(1795627559, uint32(i), rec)
	}
	return m
}

func benchConvert(b *testing.B, chunk []byte, o Options) {
	c, err := NewConverter(o)
	if err != nil {
		b.Fatal(err)
	}
	var batch Batch
	c.Convert(chunk, "", &batch)
	if batch.Malformed != nil || len(batch.Records) == 0 {
		b.Fatalf("malformed %v, %d records", batch.Malformed, len(batch.Records))
	}
	records := len(batch.Records)
	dataBytes := 0
	for _, r := range batch.Records {
		dataBytes += len(r.Data)
	}
	b.SetBytes(int64(len(chunk)))
	b.ReportAllocs()
	b.ResetTimer()
	cpu0, cpuOK := cpuTime()
	for b.Loop() {
		c.Convert(chunk, "", &batch)
	}
	b.StopTimer()
	perRecord := float64(b.N) * float64(records)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/perRecord, "ns/record")
	if cpu1, ok := cpuTime(); ok && cpuOK {
		b.ReportMetric(float64(cpu1-cpu0)/perRecord, "cpu-ns/record")
	}
	b.ReportMetric(float64(dataBytes)/float64(records), "B-data/record")
}

func BenchmarkConvert(b *testing.B) {
	kube := kubeChunk(6000)
	podName := []string{"kubernetes", "pod_name"}
	b.Run("app_json_2/json", func(b *testing.B) {
		benchConvert(b, loadChunk(b, "b_tail_app_json_2"), Options{})
	})
	b.Run("kube/json+pk", func(b *testing.B) {
		benchConvert(b, kube, Options{PartitionKey: podName})
	})
	b.Run("kube/json+pk+time+dots+newline", func(b *testing.B) {
		benchConvert(b, kube, Options{PartitionKey: podName, TimeKey: "@timestamp", ReplaceDots: "_", AppendNewline: true})
	})
	b.Run("kube/json+pk+zstd", func(b *testing.B) {
		benchConvert(b, kube, Options{PartitionKey: podName, Compression: "zstd"})
	})
	b.Run("kube/json+pk+gzip", func(b *testing.B) {
		benchConvert(b, kube, Options{PartitionKey: podName, Compression: "gzip"})
	})
	b.Run("access_1/log_key", func(b *testing.B) {
		benchConvert(b, loadChunk(b, "b_tail_access_1"), Options{LogKey: []string{"log"}})
	})
}

func BenchmarkAppendString(b *testing.B) {
	chunk := loadChunk(b, "b_tail_access_1")
	inputs := map[string][]byte{
		"key8":        chunk[100:108:len(chunk)],
		"ascii30":     []byte("checkout-7d9f8b6c5d-00042 pod."),
		"access_line": []byte(`10.16.45.29 - - [25/Nov/2026:09:00:00 +0100] "GET /login HTTP/1.1" 204 35504 "https://www.example.com/" "Go-http-client/2.0" rt=0.260 uct="0.045" upstream="10.0.3.4:8080"`),
		"greek":       []byte("Ελληνικά: η παραγγελία ολοκληρώθηκε"),
	}
	for name, s := range inputs {
		b.Run(name, func(b *testing.B) {
			buf := make([]byte, 0, 1024)
			b.SetBytes(int64(len(s)))
			for b.Loop() {
				buf = appendString(buf[:0], s)
			}
		})
	}
}
