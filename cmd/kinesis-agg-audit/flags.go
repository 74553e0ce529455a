package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/arn"

	"github.com/kinesis-agg/kinesis_agg/internal/kclreader"
	"github.com/kinesis-agg/kinesis_agg/kinesisapi"
)

const (
	progName = "kinesis-agg-audit"

	// defaultInterval keeps one audit at 5 GetRecords calls per second per shard, the service's
	// per-shard limit (shared with every other consumer of the stream; throttled calls are retried).
	defaultInterval = 200 * time.Millisecond
	defaultTimeout  = 30 * time.Minute
	defaultLosses   = 10
	maxLimit        = 10000 // GetRecords' own ceiling
)

// config is the validated command line.
type config struct {
	stream    string // name, or "" with streamARN
	streamARN string
	aws       kinesisapi.Config
	from      kclreader.Position
	timestamp time.Time
	// clientSideTimestamp reads AT_TIMESTAMP as TRIM_HORIZON plus a filter on arrival time.
	clientSideTimestamp bool
	limit               int32
	interval            time.Duration
	timeout             time.Duration
	json                bool
	losses              int // losses listed in the report
}

// streamLabel names the audited stream as the user gave it.
func (c *config) streamLabel() string {
	if c.streamARN != "" {
		return c.streamARN
	}
	return c.stream
}

const usageHead = `Usage: kinesis-agg-audit --stream NAME [flags]
       kinesis-agg-audit --stream-arn ARN [flags]

Reads every shard of a Kinesis stream, open and closed, the way a KCL consumer does, and reports
per shard and in total: Kinesis records, KPL aggregates, the user records a KCL consumer receives,
and the user records it silently drops: members outside the hash-key range of the shard that
stored their aggregate (KCL then drops the whole aggregate, in-range "collateral" members
included) and members lost after a malformed member (decode failure). Works on any producer's
stream: KPL, aws-kinesis-agg, Fluent Bit plugins, your own code.

Exit status: 0 no user record lost, 1 a KCL consumer would lose user records, 2 usage or AWS
error (nothing was concluded).

Flags:
`

const usageTail = `
Credentials come from the default AWS chain (environment, shared config and --profile, web
identity, ECS, EC2 instance metadata), optionally assuming --role-arn. AWS calls are retried with
backoff on throttling and server errors (up to 10 attempts). Needs kinesis:ListShards,
kinesis:GetShardIterator and kinesis:GetRecords on the stream.

Only counts are kept in memory (and the first --losses losses), so any stream size can be audited;
shards are read one after another. --from LATEST only sees records that arrive while each shard is
being read.

--json prints one JSON object (field names are stable):
  version                       1
  stream, from, timestamp       what was audited (timestamp only with AT_TIMESTAMP)
  shards[]                      per shard: shard_id, parent_shard_id, adjacent_parent_shard_id,
                                closed, starting_hash_key, ending_hash_key, and the counts below
  total                         the counts below, over all shards
  counts: kinesis_records, plain_records, aggregates, empty_aggregates, corrupt_aggregates,
          user_records (delivered + lost), delivered, lost, dropped_aggregates,
          dropped_out_of_range, dropped_collateral, malformed_aggregates, malformed_lost
  data_loss                     true when total.lost > 0 (exit status 1)
  loss_percent                  100 * total.lost / total.user_records
  verdict                       the one-sentence verdict
  losses_total                  Kinesis records that lost user records
  losses[]                      the first --losses of them: shard_id, sequence_number, outcome
                                (dropped-out-of-range | decode-failed), members, delivered,
                                out_of_range, lost, error
corrupt_aggregates start with the KPL magic but fail the MD5 or protobuf check: KCL hands them to
the application as one raw record, so they count as delivered, not lost.

Examples:
  kinesis-agg-audit --stream my-log-stream --region eu-west-1
  kinesis-agg-audit --stream my-log-stream --from AT_TIMESTAMP --timestamp 2026-11-25T10:00:00Z --json
`

// flagDashes makes the flag package's messages name flags as the help does, with two dashes.
var flagDashes = strings.NewReplacer("flag -", "flag --", "defined: -", "defined: --", "argument: -", "argument: --")

// errHelp is returned by parseArgs when the user asked for help; the usage went to stdout.
var errHelp = errors.New("help requested")

// usageError is a command-line mistake; its message names the flag.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return &usageError{fmt.Sprintf(format, args...)} }

// parseArgs parses and validates the command line. Help goes to stdout and yields errHelp; a
// mistake yields a *usageError naming the flag.
func parseArgs(args []string, stdout io.Writer) (*config, error) {
	c := &config{}
	var from, ts string
	var limit int
	fs := flag.NewFlagSet(progName, flag.ContinueOnError)
	declare(fs, c, &from, &ts, &limit)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printUsage(fs, stdout)
			return nil, errHelp
		}
		return nil, usagef("%s", flagDashes.Replace(err.Error()))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })

	if fs.NArg() > 0 {
		return nil, usagef("unexpected argument %q (flags start with --)", fs.Arg(0))
	}
	switch {
	case c.stream == "" && c.streamARN == "":
		return nil, usagef("one of --stream or --stream-arn is required")
	case c.stream != "" && c.streamARN != "":
		return nil, usagef("--stream %q and --stream-arn %q: give only one", c.stream, c.streamARN)
	}
	if c.streamARN != "" {
		a, err := arn.Parse(c.streamARN)
		if err != nil || a.Service != "kinesis" || !strings.HasPrefix(a.Resource, "stream/") || len(a.Resource) == len("stream/") {
			return nil, usagef("--stream-arn %q: not a Kinesis stream ARN (arn:aws:kinesis:REGION:ACCOUNT:stream/NAME)", c.streamARN)
		}
		switch {
		case c.aws.Region == "":
			c.aws.Region = a.Region
		case a.Region != "" && a.Region != c.aws.Region:
			return nil, usagef("--region %q contradicts the region %q of --stream-arn", c.aws.Region, a.Region)
		}
	}
	if c.aws.ExternalID != "" && c.aws.RoleARN == "" {
		return nil, usagef("--external-id needs --role-arn")
	}

	if !set["from"] && ts != "" {
		from = string(kclreader.AtTimestamp)
	}
	c.from = kclreader.Position(strings.ToUpper(from))
	switch c.from {
	case kclreader.TrimHorizon, kclreader.Latest:
		if ts != "" {
			return nil, usagef("--timestamp %q is only valid with --from AT_TIMESTAMP, not %s", ts, c.from)
		}
	case kclreader.AtTimestamp:
		if ts == "" {
			return nil, usagef("--from AT_TIMESTAMP needs --timestamp (RFC 3339, e.g. 2026-11-25T10:00:00Z)")
		}
		t, err := time.Parse(time.RFC3339Nano, ts)
		if err != nil || t.IsZero() {
			return nil, usagef("--timestamp %q: not an RFC 3339 time such as 2026-11-25T10:00:00Z", ts)
		}
		c.timestamp = t
	default:
		return nil, usagef("--from %q: must be TRIM_HORIZON, LATEST or AT_TIMESTAMP", from)
	}
	if !set["client-side-timestamp"] {
		c.clientSideTimestamp = c.aws.Endpoint != ""
	}
	if limit < 0 || limit > maxLimit {
		return nil, usagef("--limit %d: must be between 1 and %d (0 for the service default)", limit, maxLimit)
	}
	c.limit = int32(limit)
	if c.interval < 0 {
		return nil, usagef("--interval %v: must not be negative", c.interval)
	}
	if c.timeout < 0 {
		return nil, usagef("--timeout %v: must not be negative (0 means no limit)", c.timeout)
	}
	if c.losses < 0 {
		return nil, usagef("--losses %d: must not be negative", c.losses)
	}
	return c, nil
}

// declare defines every flag on fs, storing into c and the raw strings the caller validates.
func declare(fs *flag.FlagSet, c *config, from, ts *string, limit *int) {
	fs.SetOutput(io.Discard) // parseArgs reports errors itself, once
	fs.Usage = func() {}
	fs.StringVar(&c.stream, "stream", "", "stream `NAME` (or --stream-arn)")
	fs.StringVar(&c.streamARN, "stream-arn", "", "stream `ARN`; its region is used when --region is not set")
	fs.StringVar(&c.aws.Region, "region", "", "AWS `REGION` (default: the ARN's region, else AWS_REGION or the shared config)")
	fs.StringVar(&c.aws.Endpoint, "endpoint", "", "Kinesis endpoint `URL`: a VPC endpoint, or e.g. http://127.0.0.1:4567 for kinesalite")
	fs.StringVar(&c.aws.STSEndpoint, "sts-endpoint", "", "STS endpoint `URL` used to assume --role-arn")
	fs.StringVar(&c.aws.Profile, "profile", "", "shared config and credentials `PROFILE`")
	fs.StringVar(&c.aws.RoleARN, "role-arn", "", "IAM role `ARN` to assume on top of the default credential chain")
	fs.StringVar(&c.aws.ExternalID, "external-id", "", "external `ID` to pass when assuming --role-arn")
	fs.StringVar(from, "from", string(kclreader.TrimHorizon),
		"starting `POSITION` in every shard: TRIM_HORIZON, LATEST or AT_TIMESTAMP (implied by --timestamp)")
	fs.StringVar(ts, "timestamp", "", "RFC 3339 `TIME` to start at with AT_TIMESTAMP, e.g. 2026-11-25T10:00:00Z")
	fs.BoolVar(&c.clientSideTimestamp, "client-side-timestamp", false,
		"implement AT_TIMESTAMP by reading from TRIM_HORIZON and skipping earlier records\n"+
			"(default true when --endpoint is set, since emulators such as kinesalite never answer a\n"+
			"server-side AT_TIMESTAMP on a shard without a later record; false without --endpoint;\n"+
			"pass --client-side-timestamp=false with a VPC endpoint of AWS to skip reading older records)")
	fs.IntVar(limit, "limit", 0, "records per GetRecords call, `N` from 1 to 10000 (default: the service's, 10000)")
	fs.DurationVar(&c.interval, "interval", defaultInterval,
		"least `TIME` between two GetRecords calls on one shard (Kinesis allows 5 per second per shard)")
	fs.DurationVar(&c.timeout, "timeout", defaultTimeout, "give up with exit status 2 after this `DURATION`; 0 means never")
	fs.BoolVar(&c.json, "json", false, "print the report as one JSON object (fields below) instead of a table")
	fs.IntVar(&c.losses, "losses", defaultLosses, "list the first `N` Kinesis records that lost user records")
}

// printUsage writes the help: flags are listed with two dashes, as every message names them.
func printUsage(fs *flag.FlagSet, w io.Writer) {
	var b strings.Builder
	b.WriteString(usageHead)
	fs.VisitAll(func(f *flag.Flag) {
		name, usage := flag.UnquoteUsage(f)
		b.WriteString("  --" + f.Name)
		if name != "" {
			b.WriteString(" " + name)
		}
		switch f.DefValue {
		case "", "0", "false":
		default:
			usage += fmt.Sprintf(" (default %s)", f.DefValue)
		}
		b.WriteString("\n      " + strings.ReplaceAll(usage, "\n", "\n      ") + "\n")
	})
	b.WriteString(usageTail)
	io.WriteString(w, b.String())
}
