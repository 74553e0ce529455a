package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/kinesis-agg/kinesis_agg/internal/kclreader"
	"github.com/kinesis-agg/kinesis_agg/kinesisapi"
)

// Exit statuses.
const (
	exitOK    = 0 // no user record lost
	exitLoss  = 1 // a KCL consumer would lose user records
	exitError = 2 // usage or AWS error: nothing concluded
)

// Retries of the audit's AWS calls. kinesisapi's client makes one attempt per call (the plugin
// retries with its own budget); a read-only audit sharing a stream's 5 GetRecords calls per
// second per shard with production consumers must ride out throttling instead of giving up.
const (
	maxAttempts = 10
	maxBackoff  = 5 * time.Second
)

// clientFactory builds the Kinesis client; main passes kinesisapi.NewClient, tests a client for
// kinesalite.
type clientFactory func(context.Context, kinesisapi.Config) (*kinesis.Client, error)

// run audits the stream the arguments name, writes the report to stdout and errors to stderr, and
// returns the exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, newClient clientFactory) int {
	c, err := parseArgs(args, stdout)
	if errors.Is(err, errHelp) {
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\nRun %s --help for usage.\n", progName, err, progName)
		return exitError
	}
	rep, err := audit(ctx, c, newClient)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", progName, err)
		return exitError
	}
	a := buildReport(c, rep, c.losses)
	if c.json {
		err = writeJSON(stdout, a)
	} else {
		err = writeTable(stdout, a)
	}
	if err != nil {
		fmt.Fprintf(stderr, "%s: writing the report: %v\n", progName, err)
		return exitError
	}
	if a.DataLoss {
		return exitLoss
	}
	return exitOK
}

// audit reads the whole stream within c.timeout.
func audit(ctx context.Context, c *config, newClient clientFactory) (*kclreader.Report, error) {
	if c.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	client, err := newClient(ctx, c.aws)
	if err != nil {
		return nil, fmt.Errorf("stream %s: %w", c.streamLabel(), err)
	}
	client = withRetries(client, maxAttempts, nil)
	rep, err := kclreader.Read(ctx, client, kclreader.ReadOptions{
		Stream:              c.stream,
		StreamARN:           c.streamARN,
		From:                c.from,
		Timestamp:           c.timestamp,
		ClientSideTimestamp: c.clientSideTimestamp,
		Limit:               c.limit,
		GetRecordsInterval:  c.interval,
		CountOnly:           true,
	})
	if err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return nil, fmt.Errorf("stream %s: the audit did not finish within --timeout %v: %w", c.streamLabel(), c.timeout, err)
		}
		return nil, err
	}
	return rep, nil
}

// withRetries returns a copy of c whose calls are retried on throttling, 5xx and network errors,
// at most attempts times in all, with exponential backoff up to maxBackoff (backoff, when not
// nil, replaces it). There is no retry quota: a long audit must not run out of retries.
func withRetries(c *kinesis.Client, attempts int, backoff retry.BackoffDelayer) *kinesis.Client {
	return kinesis.New(c.Options(), func(o *kinesis.Options) {
		o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) {
			so.MaxAttempts = attempts
			so.MaxBackoff = maxBackoff
			so.RateLimiter = ratelimit.None
			if backoff != nil {
				so.Backoff = backoff
			}
		})
		o.RetryMaxAttempts = 0 // or the SDK wraps Retryer in another one
	})
}
