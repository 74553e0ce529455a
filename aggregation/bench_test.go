package aggregation

import (
	"crypto/md5"
	"fmt"
	"math/rand/v2"
	"testing"
)

// benchRecords returns n 300-byte records over 1000 partition keys.
func benchRecords(b testing.TB, n int) []UserRecord {
	rng := rand.New(rand.NewPCG(7, 7))
	recs := make([]UserRecord, n)
	for i := range recs {
		data := make([]byte, 300)
		for j := range data {
			data[j] = 'a' + byte(rng.IntN(26))
		}
		r, err := NewUserRecord(fmt.Sprintf("namespace/pod-%04d", rng.IntN(1000)), "", data, i)
		if err != nil {
			b.Fatal(err)
		}
		recs[i] = r
	}
	return recs
}

const benchRecordsPerFlush = 6000

// BenchmarkManager measures routing, aggregation and sealing of one flush of 300-byte records.
func BenchmarkManager(b *testing.B) {
	for _, shards := range []int{4, 64} {
		b.Run(fmt.Sprintf("shards=%d", shards), func(b *testing.B) {
			sm := evenMap(b, shards)
			recs := benchRecords(b, benchRecordsPerFlush)
			m := NewManager(Limits{})
			flush := func() {
				m.Reset(sm)
				for j := range recs {
					if err := m.Add(&recs[j]); err != nil {
						b.Fatal(err)
					}
				}
				m.Seal()
			}
			// Warm up as a plugin worker's Manager is: its buffers sized by earlier flushes.
			for range 3 {
				flush()
			}
			b.ReportAllocs()
			b.SetBytes(int64(len(recs) * 300))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				flush()
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(recs)), "ns/record")
		})
	}
}

// BenchmarkManagerMD5Floor computes only the MD5 over the bytes BenchmarkManager seals: the work no
// KPL producer can skip.
func BenchmarkManagerMD5Floor(b *testing.B) {
	for _, shards := range []int{4, 64} {
		b.Run(fmt.Sprintf("shards=%d", shards), func(b *testing.B) {
			sm := evenMap(b, shards)
			recs := benchRecords(b, benchRecordsPerFlush)
			m := NewManager(Limits{})
			m.Reset(sm)
			for j := range recs {
				m.Add(&recs[j])
			}
			var blobs [][]byte
			for _, s := range m.Seal() {
				blobs = append(blobs, s.Data[4:len(s.Data)-16])
			}
			b.ReportAllocs()
			b.SetBytes(int64(len(recs) * 300))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				for _, blob := range blobs {
					_ = md5.Sum(blob)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(recs)), "ns/record")
		})
	}
}
