// Command kinesis-agg-audit reads a Kinesis stream, written by any producer, with KCL's exact
// deaggregation rules and reports per shard and in total how many user records a KCL consumer
// receives and how many it silently drops: members of KPL aggregates stored in a shard whose
// hash-key range does not contain them (with the in-range members dropped alongside) and members
// lost to malformed aggregates. It exits 0 when nothing is lost, 1 when something is, and 2 on a
// usage or AWS error, so that it can gate CI and alerts.
//
// Run it with --help for the flags and the fields of the --json report.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/kinesis-agg/kinesis_agg/kinesisapi"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr, kinesisapi.NewClient)
	stop()
	os.Exit(code)
}
