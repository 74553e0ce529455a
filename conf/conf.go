// Package conf turns the properties of a Fluent Bit [OUTPUT] section into a validated Config for
// the kinesis_agg output plugin.
//
// Go plugins register no config map, so Fluent Bit accepts any key silently and hands over raw
// strings; this package is where every value is checked. One table lists the keys, their
// defaults, their parsers and their documentation: Parse reads it, Keys documents it and
// Effective reports it, so the three cannot drift apart.
package conf

import (
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/kinesis-agg/kinesis_agg/strftime"
)

// Defaults and limits. The default Config is built from these in one place, defaultConfig.
const (
	// DefaultTimeKeyFormat is the strftime layout used for time_key when time_key_format is unset.
	DefaultTimeKeyFormat = "%Y-%m-%dT%H:%M:%S.%L%z"
	// FallbackMaxRecordBytes is the Kinesis record limit assumed when max_record_bytes is 0 and
	// the stream's DescribeStreamSummary does not answer with MaxRecordSizeInKiB.
	FallbackMaxRecordBytes = 1 << 20
	// MinSizeBytes and MaxSizeBytes bound every size-valued key that is not 0.
	MinSizeBytes = 1 << 10
	MaxSizeBytes = 10 << 20

	// Defaults of the keys with the matching names.
	DefaultShardRefreshRecords    = 50000
	DefaultShardRefreshInterval   = 60 * time.Second
	DefaultShardRefreshMinSpacing = time.Second
	DefaultRequestMaxBytes        = 5 << 20
	DefaultRetryBudget            = 20 * time.Second
	DefaultRetryLedgerMaxChunks   = 1024
	DefaultRetryLedgerMaxAge      = time.Hour
	DefaultHTTPRequestTimeout     = 10 * time.Second
	DefaultShardRateLimit         = 1.5 // KPL's default RateLimit of 150%
	DefaultMetricsSummaryInterval = 5 * time.Minute
	DefaultDeadLetterMaxBytes     = 100 << 20
	DefaultDeadLetterKeep         = 3
)

// Compression algorithms accepted by the compression key.
const (
	CompressionNone = "none"
	CompressionGzip = "gzip"
	CompressionZlib = "zlib"
	CompressionZstd = "zstd"
)

// PutRecords clients accepted by the put_records_client key.
const (
	PutRecordsDirect = "direct" // kinesisapi.PutRecordsClient: the plugin's own request and SigV4
	PutRecordsSDK    = "sdk"    // the AWS SDK's operation stack
)

// LogLevel is the plugin's own log verbosity (plugin_log_level). Fluent Bit's log_level is
// consumed by the core and never reaches a Go plugin. Levels are ordered by verbosity, and the
// zero value is LogError.
type LogLevel int

// Log levels, least verbose first.
const (
	LogError LogLevel = iota
	LogWarn
	LogInfo
	LogDebug
)

// String returns the level's configuration spelling, e.g. "warn".
func (l LogLevel) String() string {
	switch l {
	case LogError:
		return "error"
	case LogWarn:
		return "warn"
	case LogInfo:
		return "info"
	case LogDebug:
		return "debug"
	}
	return "LogLevel(" + strconv.Itoa(int(l)) + ")"
}

// Enabled reports whether a message at level msg is logged when l is configured.
func (l LogLevel) Enabled(msg LogLevel) bool { return msg <= l }

// Config is the validated configuration of one kinesis_agg output instance. Parse fills every
// field; a zero Config is not usable.
type Config struct {
	Region      string // AWS region; taken from StreamARN when region is unset
	StreamName  string // from stream, or the name inside stream_arn
	StreamARN   string // "" when the stream was given by name
	Endpoint    string // Kinesis endpoint URL; "" = the SDK's default
	STSEndpoint string // STS endpoint URL; "" = the SDK's default
	RoleARN     string // IAM role to assume; "" = use the default credential chain as is
	ExternalID  string // STS external id for RoleARN; secret, masked by Effective
	Profile     string // shared config/credentials profile; "" = the SDK's default

	// Record field paths (map keys from the record root). nil means unset.
	PartitionKey       []string // nil: a random partition key per record
	PartitionKeyRaw    string   // partition_key as written
	ExplicitHashKey    []string // field holding a decimal explicit hash key; nil: none
	ExplicitHashKeyRaw string   // explicit_hash_key as written
	LogKey             []string // send only this field's value; nil: the whole record as JSON
	LogKeyRaw          string   // log_key as written
	DataKeys           []string // keep only these top-level keys; nil: all

	TimeKey       string           // add the event time under this key; "" = off
	TimeKeyFormat string           // strftime layout for TimeKey
	TimeFormat    *strftime.Layout // TimeKeyFormat compiled
	AppendNewline bool             // append "\n" to each record's data
	ReplaceDots   string           // replace "." in key names with this; "" = off
	Compression   string           // one of the Compression* constants

	Aggregation           bool // KPL-aggregate user records
	AggregationMaxBytes   int  // cap on an aggregate's size; 0 = the record limit
	AggregationMaxRecords int  // cap on user records per aggregate; 0 = no cap
	MaxRecordBytes        int  // Kinesis record limit; 0 = ask the stream (FallbackMaxRecordBytes if unknown)

	ShardRefreshRecords    int64         // refresh the shard map after this many routed records; 0 = off
	ShardRefreshInterval   time.Duration // periodic shard map refresh; 0 = off
	ShardRefreshMinSpacing time.Duration // minimum time between two shard map loads

	// ShardRateLimit paces Kinesis records per shard at this multiple of the shard write limits
	// (1,000 records/s and 1 MiB/s); 0 = off.
	ShardRateLimit float64

	RequestMaxBytes      int           // PutRecords request size cap
	RetryBudget          time.Duration // time a flush may spend retrying before answering FLB_RETRY
	RetryLedgerMaxChunks int           // chunks remembered after FLB_RETRY; 0 = ledger off
	RetryLedgerMaxAge    time.Duration // how long a ledger entry is kept
	HTTPRequestTimeout   time.Duration // per HTTP request to AWS
	PutRecordsClient     string        // PutRecordsDirect or PutRecordsSDK

	LogLevel LogLevel

	MetricsListen          string        // host:port of the Prometheus endpoint; "" = off
	MetricsSummaryInterval time.Duration // periodic one-line summary in the log; 0 = off
	DeadLetterPath         string        // JSON lines file for permanently rejected records; "" = off
	DeadLetterMaxBytes     int64         // rotate the dead-letter file at this size
	DeadLetterKeep         int           // rotated dead-letter files kept

	// Warnings holds non-fatal notes for the Init log, such as keys of other Kinesis plugins
	// that this one ignores.
	Warnings []string
}

// defaultConfig is the one place defaults live.
func defaultConfig() Config {
	return Config{
		TimeKeyFormat:          DefaultTimeKeyFormat,
		Compression:            CompressionNone,
		Aggregation:            true,
		ShardRefreshRecords:    DefaultShardRefreshRecords,
		ShardRefreshInterval:   DefaultShardRefreshInterval,
		ShardRefreshMinSpacing: DefaultShardRefreshMinSpacing,
		RequestMaxBytes:        DefaultRequestMaxBytes,
		RetryBudget:            DefaultRetryBudget,
		RetryLedgerMaxChunks:   DefaultRetryLedgerMaxChunks,
		RetryLedgerMaxAge:      DefaultRetryLedgerMaxAge,
		HTTPRequestTimeout:     DefaultHTTPRequestTimeout,
		PutRecordsClient:       PutRecordsDirect,
		ShardRateLimit:         DefaultShardRateLimit,
		MetricsSummaryInterval: DefaultMetricsSummaryInterval,
		DeadLetterMaxBytes:     DefaultDeadLetterMaxBytes,
		DeadLetterKeep:         DefaultDeadLetterKeep,
		LogLevel:               LogInfo,
	}
}

// Error reports a property that failed validation. Its text names the key, the value as given
// (never for secrets) and what is accepted: conf: compression "lz4": want one of none, gzip, zlib, zstd
type Error struct {
	Key    string // property name
	Value  string // the value as given, "" when absent or secret
	Reason string // what is wrong and what is accepted
	Err    error  // underlying cause, if any
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("conf: ")
	b.WriteString(e.Key)
	if e.Value != "" {
		b.WriteByte(' ')
		b.WriteString(strconv.Quote(e.Value))
	}
	b.WriteString(": ")
	b.WriteString(e.Reason)
	if isQuoted(e.Value) {
		b.WriteString(" (classic configs keep quotes literally; remove them)")
	}
	return b.String()
}

// Unwrap returns the underlying cause.
func (e *Error) Unwrap() error { return e.Err }

func isQuoted(v string) bool {
	return len(v) >= 2 && (v[0] == '"' && v[len(v)-1] == '"' || v[0] == '\'' && v[len(v)-1] == '\'')
}

// Setting is one key and its effective value, as Effective reports it.
type Setting struct{ Key, Value string }

// KeyDoc documents one configuration key.
type KeyDoc struct {
	Name        string
	Default     string // as shown to users; "" = unset
	Description string
}

// key is one row of the key table.
type key struct {
	name, desc string
	secret     bool
	// parse stores a trimmed, non-empty value into c. Errors carry only the reason; Parse adds
	// the key and the value.
	parse  func(c *Config, v string) error
	format func(c *Config) string
}

// foreignKeys are keys of AWS's Go kinesis plugin and of core kinesis_streams that kinesis_agg
// does not implement, with what to use instead. Setting one is not an error, so that configs can
// be switched over by changing Name alone.
func foreignKeys() []struct{ name, instead string } {
	return []struct{ name, instead string }{
		{"experimental_concurrency", "use Workers for concurrent flushes"},
		{"experimental_concurrency_retries", "retries are built in (see retry_budget)"},
		{"auto_retry_requests", "retries are built in (see retry_budget)"},
		{"simple_aggregation", "records are KPL-aggregated (see aggregation)"},
	}
}

// Keys documents every key Parse reads, in the order Parse checks them.
func Keys() []KeyDoc {
	tab := keyTable()
	def := defaultConfig()
	docs := make([]KeyDoc, len(tab))
	for i, k := range tab {
		docs[i] = KeyDoc{Name: k.name, Default: k.format(&def), Description: k.desc}
	}
	return docs
}

// Effective lists every key with the value in force, in Keys order. Values use the syntax Parse
// accepts (sizes in the largest exact unit, durations like 1h30m, fields as record accessors),
// except that external_id is masked.
func (c *Config) Effective() []Setting {
	tab := keyTable()
	out := make([]Setting, len(tab))
	for i, k := range tab {
		v := k.format(c)
		if k.secret && v != "" {
			v = "********"
		}
		out[i] = Setting{Key: k.name, Value: v}
	}
	return out
}

// Parse reads every key with get, which returns "" for an absent key (Fluent Bit lookups are
// case-insensitive and ${VAR} is already expanded), and validates it. Values are trimmed; quotes
// are not stripped. On failure it returns the error of the earliest key in Keys order, as an
// *Error.
func Parse(get func(key string) string) (*Config, error) {
	tab := keyTable()
	c := defaultConfig()
	errs := make([]error, len(tab))
	set := make(map[string]string, len(tab))
	for i, k := range tab {
		v := strings.TrimSpace(get(k.name))
		if v == "" {
			continue
		}
		set[k.name] = v
		if err := k.parse(&c, v); err != nil {
			e := &Error{Key: k.name, Value: v, Reason: err.Error(), Err: err}
			if k.secret {
				e.Value = ""
			}
			errs[i] = e
		}
	}

	// Checks across keys. Each one is filed under a key and runs only when the keys it reads
	// parsed, so a syntax error always wins over a consequence of it.
	index := make(map[string]int, len(tab))
	for i, k := range tab {
		index[k.name] = i
	}
	ok := func(names ...string) bool {
		for _, n := range names {
			if errs[index[n]] != nil {
				return false
			}
		}
		return true
	}
	fail := func(name, reason string) {
		if i := index[name]; errs[i] == nil {
			e := &Error{Key: name, Value: set[name], Reason: reason}
			if tab[i].secret {
				e.Value = ""
			}
			errs[i] = e
		}
	}

	if ok("stream", "stream_arn") {
		switch {
		case set["stream"] == "" && set["stream_arn"] == "":
			fail("stream", "one of stream or stream_arn is required")
		case set["stream"] != "" && set["stream_arn"] != "":
			fail("stream", "set either stream or stream_arn, not both")
		}
	}
	if ok("region", "stream_arn") {
		arnRegion := ""
		if c.StreamARN != "" {
			a, _ := parseStreamARN(c.StreamARN) // already validated
			arnRegion = a.Region
		}
		switch {
		case c.Region == "" && arnRegion == "":
			fail("region", "required unless stream_arn is given")
		case c.Region == "":
			c.Region = arnRegion
		case arnRegion != "" && c.Region != arnRegion:
			fail("region", "differs from region "+strconv.Quote(arnRegion)+" in stream_arn")
		}
	}
	if ok("external_id", "role_arn") && c.ExternalID != "" && c.RoleARN == "" {
		fail("external_id", "needs role_arn")
	}
	if ok("aggregation_max_bytes", "max_record_bytes") && c.AggregationMaxBytes > 0 && c.MaxRecordBytes > 0 &&
		c.AggregationMaxBytes > c.MaxRecordBytes {
		fail("aggregation_max_bytes", "exceeds max_record_bytes "+strconv.Quote(set["max_record_bytes"]))
	}

	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}

	if c.TimeFormat == nil {
		// Not set by the user: compile the default. It is a constant, so a failure here is a bug
		// in the strftime package, reported rather than panicking.
		l, err := strftime.Compile(c.TimeKeyFormat)
		if err != nil {
			return nil, &Error{Key: "time_key_format", Value: c.TimeKeyFormat, Reason: "default layout: " + err.Error(), Err: err}
		}
		c.TimeFormat = l
	}

	for _, k := range tab {
		if v := set[k.name]; isQuoted(v) {
			shown := " " + strconv.Quote(v)
			if k.secret {
				shown = ""
			}
			c.Warnings = append(c.Warnings, fmt.Sprintf("%s%s is quoted; classic configs keep quotes as part of the value", k.name, shown))
		}
	}
	for _, f := range foreignKeys() {
		if strings.TrimSpace(get(f.name)) != "" {
			c.Warnings = append(c.Warnings, fmt.Sprintf("%s is a key of another Kinesis plugin and is ignored: %s", f.name, f.instead))
		}
	}
	if c.DeadLetterPath == "" {
		for _, n := range []string{"dead_letter_max_bytes", "dead_letter_keep"} {
			if set[n] != "" {
				c.Warnings = append(c.Warnings, n+" has no effect without dead_letter_path")
			}
		}
	}
	if set["time_key_format"] != "" && c.TimeKey == "" {
		c.Warnings = append(c.Warnings, "time_key_format has no effect without time_key")
	}
	if !c.Aggregation {
		for _, n := range []string{"aggregation_max_bytes", "aggregation_max_records"} {
			if set[n] != "" {
				c.Warnings = append(c.Warnings, n+" has no effect with aggregation off")
			}
		}
	}
	return &c, nil
}

// Field parsers shared by the table.

func stringKey(dst func(c *Config) *string, check func(string) error) (func(*Config, string) error, func(*Config) string) {
	return func(c *Config, v string) error {
			if check != nil {
				if err := check(v); err != nil {
					return err
				}
			}
			*dst(c) = v
			return nil
		}, func(c *Config) string {
			return *dst(c)
		}
}

func boolKey(dst func(c *Config) *bool) (func(*Config, string) error, func(*Config) string) {
	return func(c *Config, v string) error {
			b, ok := parseBool(v)
			if !ok {
				return errors.New("want on/off, true/false, yes/no or 1/0")
			}
			*dst(c) = b
			return nil
		}, func(c *Config) string {
			return formatBool(*dst(c))
		}
}

// sizeKey parses a size; zeroOK allows 0 as a "not set" value outside [MinSizeBytes, MaxSizeBytes].
func sizeKey(dst func(c *Config) *int, zeroOK bool) (func(*Config, string) error, func(*Config) string) {
	return func(c *Config, v string) error {
			n, err := parseSize(v)
			if err != nil {
				return err
			}
			if !(zeroOK && n == 0) && (n < MinSizeBytes || n > MaxSizeBytes) {
				want := "want 1KiB to 10MiB"
				if zeroOK {
					want = "want 0 or 1KiB to 10MiB"
				}
				return errors.New(want)
			}
			*dst(c) = int(n)
			return nil
		}, func(c *Config) string {
			return formatSize(int64(*dst(c)))
		}
}

// durationKey parses a duration; positive demands > 0.
func durationKey(dst func(c *Config) *time.Duration, positive bool, zeroHint string) (func(*Config, string) error, func(*Config) string) {
	return func(c *Config, v string) error {
			d, err := parseDuration(v)
			if err != nil {
				return err
			}
			if positive && d == 0 {
				return errors.New("want a duration above 0" + zeroHint)
			}
			*dst(c) = d
			return nil
		}, func(c *Config) string {
			return formatDuration(*dst(c))
		}
}

func countKey(set func(c *Config, n int64), get func(c *Config) int64, bits int) (func(*Config, string) error, func(*Config) string) {
	return func(c *Config, v string) error {
			n, err := parseCount(v, bits)
			if err != nil {
				return err
			}
			set(c, n)
			return nil
		}, func(c *Config) string {
			return strconv.FormatInt(get(c), 10)
		}
}

func accessorKey(path func(c *Config) *[]string, raw func(c *Config) *string) (func(*Config, string) error, func(*Config) string) {
	return func(c *Config, v string) error {
			p, err := parseAccessor(v)
			if err != nil {
				return err
			}
			*path(c), *raw(c) = p, v
			return nil
		}, func(c *Config) string {
			return formatAccessor(*path(c))
		}
}

// keyTable is the single source of truth for keys: order, parsing, formatting and documentation.
// It is built per call so that no mutable table is shared between instances.
func keyTable() []key {
	var rows []key
	add := func(name, desc string, parse func(*Config, string) error, format func(*Config) string) {
		rows = append(rows, key{name: name, desc: desc, parse: parse, format: format})
	}

	p, f := stringKey(func(c *Config) *string { return &c.Region }, func(v string) error {
		if !validRegion(v) {
			return errors.New("want an AWS region such as us-east-1")
		}
		return nil
	})
	add("region", "AWS region of the stream. Required unless stream_arn is given, which supplies it.", p, f)

	p, f = stringKey(func(c *Config) *string { return &c.StreamName }, checkStreamName)
	add("stream", "Name of the Kinesis data stream. Give exactly one of stream and stream_arn.", p, f)

	add("stream_arn", "ARN of the Kinesis data stream ("+streamARNForm+"); supplies the stream name and region.",
		func(c *Config, v string) error {
			a, err := parseStreamARN(v)
			if err != nil {
				return err
			}
			c.StreamARN, c.StreamName = v, a.Name
			return nil
		}, func(c *Config) string { return c.StreamARN })

	p, f = stringKey(func(c *Config) *string { return &c.Endpoint }, checkEndpoint)
	add("endpoint", "Kinesis API endpoint URL (http or https), e.g. for a VPC endpoint or a local emulator. Default: the SDK's regional endpoint.", p, f)

	p, f = stringKey(func(c *Config) *string { return &c.STSEndpoint }, checkEndpoint)
	add("sts_endpoint", "STS endpoint URL used to assume role_arn. Default: the SDK's regional endpoint.", p, f)

	p, f = stringKey(func(c *Config) *string { return &c.RoleARN }, checkRoleARN)
	add("role_arn", "IAM role to assume for Kinesis calls ("+roleARNForm+").", p, f)

	p, f = stringKey(func(c *Config) *string { return &c.ExternalID }, checkExternalID)
	rows = append(rows, key{name: "external_id", secret: true, parse: p, format: f,
		desc: "External ID passed when assuming role_arn; requires role_arn. Masked in logs."})

	p, f = stringKey(func(c *Config) *string { return &c.Profile }, nil)
	add("profile", "Profile in the shared AWS config and credentials files. Default: the SDK's default profile.", p, f)

	p, f = accessorKey(func(c *Config) *[]string { return &c.PartitionKey }, func(c *Config) *string { return &c.PartitionKeyRaw })
	add("partition_key", "Record field whose value is the partition key: $a['b'], a->b or a top-level key. Default: a random key per record.", p, f)

	p, f = accessorKey(func(c *Config) *[]string { return &c.ExplicitHashKey }, func(c *Config) *string { return &c.ExplicitHashKeyRaw })
	add("explicit_hash_key", "Record field holding a decimal explicit hash key (0 to 2^128-1) that overrides the partition key's hash. Same syntax as partition_key.", p, f)

	p, f = accessorKey(func(c *Config) *[]string { return &c.LogKey }, func(c *Config) *string { return &c.LogKeyRaw })
	add("log_key", "Send only the value of this record field instead of the whole record as JSON. Same syntax as partition_key.", p, f)

	add("data_keys", "Comma-separated top-level keys to keep; the others are dropped before sending. Default: all keys.",
		func(c *Config, v string) error {
			items := strings.Split(v, ",")
			for i, it := range items {
				it = strings.TrimSpace(it)
				if it == "" {
					return errors.New("empty item in comma-separated list")
				}
				for _, prev := range items[:i] {
					if prev == it {
						return errors.New("duplicate key " + strconv.Quote(it))
					}
				}
				items[i] = it
			}
			c.DataKeys = items
			return nil
		}, func(c *Config) string { return strings.Join(c.DataKeys, ",") })

	p, f = stringKey(func(c *Config) *string { return &c.TimeKey }, nil)
	add("time_key", "Add the event time to each record under this key. Default: off.", p, f)

	add("time_key_format", "strftime layout for time_key; %L is milliseconds.",
		func(c *Config, v string) error {
			l, err := strftime.Compile(v)
			if err != nil {
				return err
			}
			c.TimeKeyFormat, c.TimeFormat = v, l
			return nil
		}, func(c *Config) string { return c.TimeKeyFormat })

	p, f = boolKey(func(c *Config) *bool { return &c.AppendNewline })
	add("append_newline", "Append a newline to each record's data.", p, f)

	p, f = stringKey(func(c *Config) *string { return &c.ReplaceDots }, nil)
	add("replace_dots", "Replace dots in record key names with this string. Default: off.", p, f)

	add("compression", "Compress each record's data: none, gzip, zlib or zstd.",
		func(c *Config, v string) error {
			switch l := strings.ToLower(v); l {
			case CompressionNone, CompressionGzip, CompressionZlib, CompressionZstd:
				c.Compression = l
				return nil
			}
			return errors.New("want one of none, gzip, zlib, zstd")
		}, func(c *Config) string { return c.Compression })

	p, f = boolKey(func(c *Config) *bool { return &c.Aggregation })
	add("aggregation", "Pack records into KPL aggregates, one shard's records per aggregate.", p, f)

	p, f = sizeKey(func(c *Config) *int { return &c.AggregationMaxBytes }, true)
	add("aggregation_max_bytes", "Largest aggregate, e.g. 256KiB; 0 means the record limit (max_record_bytes). Range 1KiB-10MiB.", p, f)

	p, f = countKey(func(c *Config, n int64) { c.AggregationMaxRecords = int(n) }, func(c *Config) int64 { return int64(c.AggregationMaxRecords) }, strconv.IntSize)
	add("aggregation_max_records", "Most user records per aggregate; 0 means no cap.", p, f)

	p, f = sizeKey(func(c *Config) *int { return &c.MaxRecordBytes }, true)
	add("max_record_bytes", "Kinesis record size limit (data plus partition key). 0 reads it from the stream (DescribeStreamSummary), falling back to 1MiB. Range 1KiB-10MiB.", p, f)

	p, f = countKey(func(c *Config, n int64) { c.ShardRefreshRecords = n }, func(c *Config) int64 { return c.ShardRefreshRecords }, 64)
	add("shard_refresh_records", "Reload the shard map after this many routed records; 0 turns this off.", p, f)

	p, f = durationKey(func(c *Config) *time.Duration { return &c.ShardRefreshInterval }, false, "")
	add("shard_refresh_interval", "Reload the shard map this often, e.g. 60s; 0 turns this off. A bare number means seconds.", p, f)

	p, f = durationKey(func(c *Config) *time.Duration { return &c.ShardRefreshMinSpacing }, false, "")
	add("shard_refresh_min_spacing", "Never load the shard map twice within this time.", p, f)

	add("shard_rate_limit", "Pace Kinesis records per shard at this multiple of the shard write limits (1,000 records/s and 1MiB/s), lowering it while a shard throttles; 0 turns pacing off.",
		func(c *Config, v string) error {
			x, err := strconv.ParseFloat(v, 64)
			if err != nil || x < 0 || x > 100 || x != x {
				return errors.New("want a number from 0 (off) to 100, e.g. 1.5")
			}
			c.ShardRateLimit = x
			return nil
		}, func(c *Config) string { return strconv.FormatFloat(c.ShardRateLimit, 'g', -1, 64) })

	p, f = sizeKey(func(c *Config) *int { return &c.RequestMaxBytes }, false)
	add("request_max_bytes", "Largest PutRecords request. Range 1KiB-10MiB.", p, f)

	p, f = durationKey(func(c *Config) *time.Duration { return &c.RetryBudget }, true, "")
	add("retry_budget", "Time a flush may spend retrying failed records before handing the rest back to Fluent Bit for a later retry.", p, f)

	p, f = countKey(func(c *Config, n int64) { c.RetryLedgerMaxChunks = int(n) }, func(c *Config) int64 { return int64(c.RetryLedgerMaxChunks) }, strconv.IntSize)
	add("retry_ledger_max_chunks", "Chunks whose delivered records are remembered across Fluent Bit retries, so a retry resends only the rest; 0 turns the ledger off.", p, f)

	p, f = durationKey(func(c *Config) *time.Duration { return &c.RetryLedgerMaxAge }, true, " (turn the ledger off with retry_ledger_max_chunks 0)")
	add("retry_ledger_max_age", "How long the retry ledger remembers a chunk.", p, f)

	p, f = durationKey(func(c *Config) *time.Duration { return &c.HTTPRequestTimeout }, true, "")
	add("http_request_timeout", "Timeout of each HTTP request to AWS.", p, f)

	add("put_records_client", "How PutRecords is sent: direct (the plugin builds and signs the request itself and sends it over its own HTTP/1.1 keep-alive connections, or through Go's net/http when HTTPS_PROXY/HTTP_PROXY applies; several times cheaper per call) or sdk (the AWS SDK's full operation stack over net/http, a fallback should a proxy or endpoint need what only the SDK does). Errors are the SDK's either way.",
		func(c *Config, v string) error {
			switch l := strings.ToLower(v); l {
			case PutRecordsDirect, PutRecordsSDK:
				c.PutRecordsClient = l
				return nil
			}
			return errors.New("want direct or sdk")
		}, func(c *Config) string { return c.PutRecordsClient })

	add("metrics_listen", "Serve Prometheus metrics at http://HOST:PORT/metrics, e.g. 127.0.0.1:2021 or 0.0.0.0:2021; instances with the same value share one endpoint (Fluent Bit's own HTTP server uses 2020). Default: off.",
		func(c *Config, v string) error {
			host, port, err := net.SplitHostPort(v)
			if err != nil {
				return errors.New("want HOST:PORT, e.g. 127.0.0.1:2021")
			}
			if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 || strings.ContainsAny(host, "/ ") {
				return errors.New("want HOST:PORT with a port from 0 to 65535")
			}
			c.MetricsListen = v
			return nil
		}, func(c *Config) string { return c.MetricsListen })

	add("metrics_summary_interval", "Log a one-line summary of the counters (rates, rejections, errors, shard map) at info level this often; 0 turns it off.",
		func(c *Config, v string) error {
			d, err := parseDuration(v)
			if err != nil {
				return err
			}
			if d != 0 && d < time.Second {
				return errors.New("want 0 (off) or at least 1s")
			}
			c.MetricsSummaryInterval = d
			return nil
		}, func(c *Config) string { return formatDuration(c.MetricsSummaryInterval) })

	add("dead_letter_path", "Append records rejected permanently (too large, not a map, missing log_key) to this file as JSON lines with reason, tag and time; its directory must exist. Default: off (rejections are only logged and counted).",
		func(c *Config, v string) error {
			if !filepath.IsAbs(v) || strings.HasSuffix(v, "/") {
				return errors.New("want an absolute file path, e.g. /var/log/fluent-bit/kinesis-dead-letter.jsonl")
			}
			c.DeadLetterPath = v
			return nil
		}, func(c *Config) string { return c.DeadLetterPath })

	add("dead_letter_max_bytes", "Size at which dead_letter_path is rotated to PATH.1, PATH.2, ...; 1MiB to 1TiB.",
		func(c *Config, v string) error {
			n, err := parseSize(v)
			if err != nil {
				return err
			}
			if n < 1<<20 || n > 1<<40 {
				return errors.New("want 1MiB to 1TiB")
			}
			c.DeadLetterMaxBytes = n
			return nil
		}, func(c *Config) string { return formatSize(c.DeadLetterMaxBytes) })

	add("dead_letter_keep", "Rotated dead-letter files kept (0 to 1000); 0 keeps none.",
		func(c *Config, v string) error {
			n, err := parseCount(v, 64)
			if err != nil || n > 1000 {
				return errors.New("want 0 to 1000")
			}
			c.DeadLetterKeep = int(n)
			return nil
		}, func(c *Config) string { return strconv.Itoa(c.DeadLetterKeep) })

	add("plugin_log_level", "The plugin's own log level: error, warn, info or debug (Fluent Bit's log_level does not reach Go plugins).",
		func(c *Config, v string) error {
			for l := LogError; l <= LogDebug; l++ {
				if strings.EqualFold(v, l.String()) {
					c.LogLevel = l
					return nil
				}
			}
			return errors.New("want one of error, warn, info, debug")
		}, func(c *Config) string { return c.LogLevel.String() })

	return rows
}
