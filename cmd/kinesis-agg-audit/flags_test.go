package main

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/kinesis-agg/kinesis_agg/internal/kclreader"
	"github.com/kinesis-agg/kinesis_agg/kinesisapi"
)

func TestUsageErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string // the whole first line of stderr
	}{
		{nil, "one of --stream or --stream-arn is required"},
		{[]string{"--stream", "a", "--stream-arn", "arn:aws:kinesis:eu-west-1:1:stream/a"},
			`--stream "a" and --stream-arn "arn:aws:kinesis:eu-west-1:1:stream/a": give only one`},
		{[]string{"--stream-arn", "my-stream"},
			`--stream-arn "my-stream": not a Kinesis stream ARN (arn:aws:kinesis:REGION:ACCOUNT:stream/NAME)`},
		{[]string{"--stream-arn", "arn:aws:sqs:eu-west-1:1:stream/a"},
			`--stream-arn "arn:aws:sqs:eu-west-1:1:stream/a": not a Kinesis stream ARN (arn:aws:kinesis:REGION:ACCOUNT:stream/NAME)`},
		{[]string{"--stream-arn", "arn:aws:kinesis:eu-west-1:1:stream/"},
			`--stream-arn "arn:aws:kinesis:eu-west-1:1:stream/": not a Kinesis stream ARN (arn:aws:kinesis:REGION:ACCOUNT:stream/NAME)`},
		{[]string{"--stream-arn", "arn:aws:kinesis:eu-west-1:1:stream/a", "--region", "us-east-1"},
			`--region "us-east-1" contradicts the region "eu-west-1" of --stream-arn`},
		{[]string{"--stream", "s", "--from", "EARLIEST"}, `--from "EARLIEST": must be TRIM_HORIZON, LATEST or AT_TIMESTAMP`},
		{[]string{"--stream", "s", "--from", "AT_TIMESTAMP"},
			"--from AT_TIMESTAMP needs --timestamp (RFC 3339, e.g. 2026-11-25T10:00:00Z)"},
		{[]string{"--stream", "s", "--timestamp", "yesterday"},
			`--timestamp "yesterday": not an RFC 3339 time such as 2026-11-25T10:00:00Z`},
		{[]string{"--stream", "s", "--timestamp", "2026-11-25 10:00:00"},
			`--timestamp "2026-11-25 10:00:00": not an RFC 3339 time such as 2026-11-25T10:00:00Z`},
		{[]string{"--stream", "s", "--from", "LATEST", "--timestamp", "2026-11-25T10:00:00Z"},
			`--timestamp "2026-11-25T10:00:00Z" is only valid with --from AT_TIMESTAMP, not LATEST`},
		{[]string{"--stream", "s", "--limit", "10001"}, "--limit 10001: must be between 1 and 10000 (0 for the service default)"},
		{[]string{"--stream", "s", "--limit", "-1"}, "--limit -1: must be between 1 and 10000 (0 for the service default)"},
		{[]string{"--stream", "s", "--limit", "many"}, `invalid value "many" for flag --limit: parse error`},
		{[]string{"--stream", "s", "--interval", "-1s"}, "--interval -1s: must not be negative"},
		{[]string{"--stream", "s", "--timeout", "-1s"}, "--timeout -1s: must not be negative (0 means no limit)"},
		{[]string{"--stream", "s", "--timeout", "soon"}, `invalid value "soon" for flag --timeout: parse error`},
		{[]string{"--stream", "s", "--losses", "-2"}, "--losses -2: must not be negative"},
		{[]string{"--stream", "s", "--external-id", "x"}, "--external-id needs --role-arn"},
		{[]string{"--stream", "s", "--no-range-filter"}, "flag provided but not defined: --no-range-filter"},
		{[]string{"--stream"}, "flag needs an argument: --stream"},
		{[]string{"--stream", "s", "extra"}, `unexpected argument "extra" (flags start with --)`},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			called := false
			f := func(context.Context, kinesisapi.Config) (*kinesis.Client, error) {
				called = true
				return nil, errors.New("not reached")
			}
			var out, errOut bytes.Buffer
			code := run(context.Background(), tc.args, &out, &errOut, f)
			want := "kinesis-agg-audit: " + tc.want + "\nRun kinesis-agg-audit --help for usage.\n"
			if code != exitError || out.Len() != 0 || errOut.String() != want || called {
				t.Fatalf("exit %d, stdout %q, client built %v, stderr:\n%s\nwant:\n%s", code, out.String(), called, errOut.String(), want)
			}
		})
	}
}

func TestHelp(t *testing.T) {
	for _, arg := range []string{"-h", "--help"} {
		var out, errOut bytes.Buffer
		code := run(context.Background(), []string{arg}, &out, &errOut, nil)
		if code != exitOK || errOut.Len() != 0 {
			t.Fatalf("%s: exit %d, stderr %q", arg, code, errOut.String())
		}
		help := out.String()
		// Every flag is listed with two dashes, and every --json field is named.
		for _, want := range []string{"--stream NAME", "--stream-arn ARN", "--region REGION", "--endpoint URL",
			"--profile PROFILE", "--role-arn ARN", "--external-id ID", "--from POSITION", "--timestamp TIME",
			"--client-side-timestamp", "--limit N", "--interval TIME", "--timeout DURATION", "--json", "--losses N",
			"(default TRIM_HORIZON)", "(default 30m0s)",
			"version", "stream, from, timestamp", "shard_id", "parent_shard_id", "adjacent_parent_shard_id", "closed",
			"starting_hash_key", "ending_hash_key", "kinesis_records", "plain_records", "aggregates", "empty_aggregates",
			"corrupt_aggregates", "user_records", "delivered", "lost", "dropped_aggregates", "dropped_out_of_range",
			"dropped_collateral", "malformed_aggregates", "malformed_lost", "data_loss", "loss_percent", "verdict",
			"losses_total", "sequence_number", "outcome", "members", "out_of_range", "error"} {
			if !strings.Contains(help, want) {
				t.Errorf("%s: help does not mention %q", arg, want)
			}
		}
		if strings.Contains(help, "\n  -") && !strings.Contains(help, "\n  --") {
			t.Errorf("flags listed with one dash")
		}
	}
}

func TestParseArgs(t *testing.T) {
	ts := time.Date(2026, 11, 25, 10, 0, 0, 500e6, time.FixedZone("", 3600))
	defaults := func(c config) config {
		if c.from == "" {
			c.from = kclreader.TrimHorizon
		}
		c.interval, c.timeout, c.losses = defaultInterval, defaultTimeout, defaultLosses
		return c
	}
	tests := []struct {
		args []string
		want config
	}{
		{[]string{"--stream", "s"}, defaults(config{stream: "s"})},
		{[]string{"-stream=s", "-json"}, defaults(config{stream: "s", json: true})},
		{[]string{"--stream-arn", "arn:aws:kinesis:eu-west-1:123456789012:stream/logs"},
			defaults(config{streamARN: "arn:aws:kinesis:eu-west-1:123456789012:stream/logs", aws: kinesisapi.Config{Region: "eu-west-1"}})},
		{[]string{"--stream-arn", "arn:aws-cn:kinesis:cn-north-1:123456789012:stream/logs", "--region", "cn-north-1"},
			defaults(config{streamARN: "arn:aws-cn:kinesis:cn-north-1:123456789012:stream/logs", aws: kinesisapi.Config{Region: "cn-north-1"}})},
		{[]string{"--stream", "s", "--from", "latest"}, defaults(config{stream: "s", from: kclreader.Latest})},
		// --timestamp implies AT_TIMESTAMP; server-side against AWS, client-side with --endpoint.
		{[]string{"--stream", "s", "--timestamp", "2026-11-25T10:00:00.5+01:00"},
			defaults(config{stream: "s", from: kclreader.AtTimestamp, timestamp: ts})},
		{[]string{"--stream", "s", "--timestamp", "2026-11-25T10:00:00.5+01:00", "--endpoint", "http://127.0.0.1:1"},
			defaults(config{stream: "s", from: kclreader.AtTimestamp, timestamp: ts, clientSideTimestamp: true,
				aws: kinesisapi.Config{Endpoint: "http://127.0.0.1:1"}})},
		{[]string{"--stream", "s", "--from", "AT_TIMESTAMP", "--timestamp", "2026-11-25T10:00:00.5+01:00",
			"--endpoint", "https://vpce", "--client-side-timestamp=false"},
			defaults(config{stream: "s", from: kclreader.AtTimestamp, timestamp: ts, aws: kinesisapi.Config{Endpoint: "https://vpce"}})},
		{[]string{"--stream", "s", "--timestamp", "2026-11-25T10:00:00.5+01:00", "--client-side-timestamp"},
			defaults(config{stream: "s", from: kclreader.AtTimestamp, timestamp: ts, clientSideTimestamp: true})},
		{[]string{"--stream", "s", "--limit", "10000", "--interval", "0", "--timeout", "0", "--losses", "0",
			"--profile", "p", "--role-arn", "arn:aws:iam::1:role/r", "--external-id", "e", "--sts-endpoint", "https://sts"},
			config{stream: "s", from: kclreader.TrimHorizon, limit: 10000,
				aws: kinesisapi.Config{Profile: "p", RoleARN: "arn:aws:iam::1:role/r", ExternalID: "e", STSEndpoint: "https://sts"}}},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			got, err := parseArgs(tc.args, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !got.timestamp.Equal(tc.want.timestamp) {
				t.Fatalf("timestamp %v, want %v", got.timestamp, tc.want.timestamp)
			}
			got.timestamp = tc.want.timestamp
			if *got != tc.want {
				t.Fatalf("config %+v\nwant   %+v", *got, tc.want)
			}
		})
	}
}

// FuzzParseArgs: any command line either fails with a usage error or yields a configuration the
// reader accepts.
func FuzzParseArgs(f *testing.F) {
	f.Add("--stream\x00s\x00--from\x00AT_TIMESTAMP\x00--timestamp\x002026-11-25T10:00:00Z")
	f.Add("--stream-arn\x00arn:aws:kinesis:eu-west-1:1:stream/a\x00--limit\x005")
	f.Add("--stream\x00s\x00--timestamp\x00x")
	f.Add("-h")
	f.Fuzz(func(t *testing.T, line string) {
		var args []string
		if line != "" {
			args = strings.Split(line, "\x00")
		}
		var help bytes.Buffer
		c, err := parseArgs(args, &help)
		if err != nil {
			var ue *usageError
			if !errors.Is(err, errHelp) && !errors.As(err, &ue) {
				t.Fatalf("error %T %v is neither help nor a usage error", err, err)
			}
			return
		}
		if (c.stream == "") == (c.streamARN == "") {
			t.Fatalf("stream %q, ARN %q", c.stream, c.streamARN)
		}
		switch c.from {
		case kclreader.TrimHorizon, kclreader.Latest:
			if !c.timestamp.IsZero() {
				t.Fatalf("timestamp %v with %s", c.timestamp, c.from)
			}
		case kclreader.AtTimestamp:
			if c.timestamp.IsZero() {
				t.Fatal("AT_TIMESTAMP without a timestamp")
			}
		default:
			t.Fatalf("from %q", c.from)
		}
		if c.limit < 0 || c.limit > maxLimit || c.interval < 0 || c.timeout < 0 || c.losses < 0 {
			t.Fatalf("config %+v", c)
		}
	})
}
