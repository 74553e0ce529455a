// Command kinesis-agg-demo shows the kinesis_agg plugin doing its job on a developer machine:
// it starts a local Kinesis (kinesalite, in memory, on 127.0.0.1), creates a stream, builds the
// plugin, ships generated Kubernetes log records through it (with a real fluent-bit when one is
// installed, else with the C test host that calls the plugin exactly as Fluent Bit does), splits
// and merges shards while records are in flight, reads the stream back with KCL's rules and
// reports whether every record arrived.
//
// Run it from the repository (make demo). It never talks to real AWS: the processes it starts
// get dummy credentials and a local endpoint.
//
// Exit status: 0 when every record was delivered, 1 on loss, 2 when the demo could not run,
// 130 when interrupted.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	os.Exit(mainExit(os.Args[1:], os.Stdout, os.Stderr))
}

// mainExit parses args, runs the demo and returns the exit status.
func mainExit(args []string, stdout, stderr io.Writer) int {
	opts, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		// A second Ctrl-C while cleaning up kills the demo the usual way.
		<-ctx.Done()
		stop()
	}()
	res, err := run(ctx, opts, stdout)
	switch {
	case ctx.Err() != nil:
		fmt.Fprintln(stderr, "kinesis-agg-demo: interrupted; everything it started has been stopped")
		return 130
	case err != nil:
		fmt.Fprintln(stderr, "kinesis-agg-demo:", err)
		return 2
	case !res.ok():
		return 1
	}
	return 0
}

// parseFlags reads the command line into options.
func parseFlags(args []string, stderr io.Writer) (options, error) {
	o := defaultOptions()
	fs := flag.NewFlagSet("kinesis-agg-demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&o.Records, "records", o.Records, "log records to ship")
	fs.IntVar(&o.Shards, "shards", o.Shards, "shards of the stream before resharding (3 are split and 2 pairs merged while shipping)")
	fs.BoolVar(&o.Keep, "keep", false, "keep the temporary directory (config, logs, chunks) and print its path")
	fs.StringVar(&o.FluentBit, "fluent-bit", "", "ship through this fluent-bit binary (default: fluent-bit from PATH or /opt/fluent-bit/bin, else the C host)")
	fs.BoolVar(&o.NoFluentBit, "no-fluent-bit", false, "ship through the C test host even if fluent-bit is installed")
	fs.StringVar(&o.Plugin, "plugin", "", "use this plugin .so instead of building build/out_kinesis_agg.so")
	fs.BoolVar(&o.Verbose, "v", false, "show the plugin's (and fluent-bit's) log")
	fs.DurationVar(&o.Duration, "duration", o.Duration, "how long shipping should take (paces the chunks or the log writes)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: kinesis-agg-demo [flags]\n\n"+
			"Ships generated log records through the kinesis_agg plugin into a local Kinesis (kinesalite)\n"+
			"while its shards are split and merged, reads them back with KCL's rules and reports any loss.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		err := fmt.Errorf("unexpected argument %q", fs.Arg(0))
		fmt.Fprintln(stderr, "kinesis-agg-demo:", err)
		return o, err
	}
	if err := o.validate(); err != nil {
		fmt.Fprintln(stderr, "kinesis-agg-demo:", err)
		return o, err
	}
	return o, nil
}

// defaultOptions are the settings of a plain `make demo`.
func defaultOptions() options {
	return options{
		Records:    100_000,
		Shards:     4,
		Duration:   6 * time.Second,
		BuildFlags: []string{"-trimpath", "-buildvcs=false"}, // as the Makefile builds it
	}
}
