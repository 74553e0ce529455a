// Package bench measures where a kinesis_agg flush spends its time. It holds only tests and
// benchmarks (the product never imports it):
//
//   - BenchmarkStage: each stage of a flush on the same realistic chunks (internal/chunkgen:
//     ~2 MB, ~6,000 Kubernetes-style records of ~330 bytes of JSON, 1,000 partition keys):
//     chunk to user records (events), routing + aggregation + sealing over 4 shards
//     (aggregation.Manager), and PutRecords request building + serialization + signing with the
//     product's kinesisapi.PutRecordsClient against a canned answer.
//   - BenchmarkFloor: the work no implementation can skip for the same records (the KPL MD5 over
//     each aggregate, the base64 of the JSON protocol, the SigV4 SHA-256 of each request body,
//     the MD5 of each partition key), part by part and summed.
//   - BenchmarkFlush: output.Instance.Flush, the whole flush, against internal/fakekinesis
//     over loopback in a child process (this test binary re-executed), so that its CPU time and
//     allocations are the plugin's alone.
//   - TestBenchTable (go test ./bench -run TestBenchTable -v -bench-table [-bench-out=FILE]): all of the above as a
//     markdown table, with the whole flush as a multiple of the floor.
//   - TestPluginBenchmark (go test ./bench -run TestPluginBenchmark -v -plugin-bench [-plugin-repeat=75]): the built
//     .so driven by the C test host (internal/flbhost) from 1 and 2 threads against a
//     fakekinesis listener in the test process, as a markdown table of records/s, host CPU per
//     record, peak RSS growth, allocations per record and aggregate fill ratio.
//
// Every benchmark reports ns/record (wall) and cpu-ns/record (process CPU time from getrusage,
// which is steadier than wall time on a busy machine). Without flags, go test ./bench runs only
// quick checks of the fixtures.
package bench
