// Package e2e proves the delivery guarantee end to end: the built plugin .so, loaded by the C test
// host exactly as Fluent Bit 5.1.1 loads it, ships generated chunks through a fault-injecting proxy
// into kinesalite while shards are split and merged, and a KCL-exact reader checks every id.
//
// The tests live in _test.go files; this package has no product code. Long soak variants run with
// `go test ./e2e -soak`.
package e2e
