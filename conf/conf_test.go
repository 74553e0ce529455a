package conf

import (
	"errors"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
)

// flb mimics Fluent Bit's property lookup: case-insensitive, "" for an absent key.
func flb(props map[string]string) func(string) string {
	return func(k string) string {
		for pk, v := range props {
			if strings.EqualFold(pk, k) {
				return v
			}
		}
		return ""
	}
}

// props returns the minimal valid properties plus the given key/value pairs; a pair with value
// "\x00" deletes the key.
func props(kv ...string) map[string]string {
	m := map[string]string{"region": "us-east-1", "stream": "logs"}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "\x00" {
			delete(m, kv[i])
			continue
		}
		m[kv[i]] = kv[i+1]
	}
	return m
}

func mustParse(t *testing.T, m map[string]string) *Config {
	t.Helper()
	c, err := Parse(flb(m))
	if err != nil {
		t.Fatalf("Parse(%v): %v", m, err)
	}
	return c
}

func TestDefaults(t *testing.T) {
	c := mustParse(t, props())
	if c.TimeFormat == nil || c.TimeFormat.String() != DefaultTimeKeyFormat {
		t.Fatalf("TimeFormat = %v, want compiled %q", c.TimeFormat, DefaultTimeKeyFormat)
	}
	c.TimeFormat = nil
	want := Config{
		Region:                 "us-east-1",
		StreamName:             "logs",
		TimeKeyFormat:          "%Y-%m-%dT%H:%M:%S.%L%z",
		Compression:            "none",
		Aggregation:            true,
		AggregationMaxBytes:    0,
		AggregationMaxRecords:  0,
		MaxRecordBytes:         0,
		ShardRefreshRecords:    50000,
		ShardRefreshInterval:   60 * time.Second,
		ShardRefreshMinSpacing: time.Second,
		ShardRateLimit:         1.5,
		MetricsSummaryInterval: 5 * time.Minute,
		DeadLetterMaxBytes:     100 << 20,
		DeadLetterKeep:         3,
		RequestMaxBytes:        5 << 20,
		RetryBudget:            20 * time.Second,
		RetryLedgerMaxChunks:   1024,
		RetryLedgerMaxAge:      time.Hour,
		HTTPRequestTimeout:     10 * time.Second,
		PutRecordsClient:       "direct",
		LogLevel:               LogInfo,
	}
	if !reflect.DeepEqual(*c, want) {
		t.Errorf("defaults:\n got %+v\nwant %+v", *c, want)
	}
}

func TestBlankValueMeansAbsent(t *testing.T) {
	c := mustParse(t, props("compression", "   ", "retry_budget", "\t", "partition_key", " "))
	if c.Compression != "none" || c.RetryBudget != 20*time.Second || c.PartitionKey != nil {
		t.Errorf("blank values not treated as absent: %q %v %q", c.Compression, c.RetryBudget, c.PartitionKey)
	}
}

func TestParseValues(t *testing.T) {
	tests := []struct {
		key, value string
		field      func(c *Config) any
		want       any
	}{
		{"region", "eu-west-1", func(c *Config) any { return c.Region }, "eu-west-1"},
		{"region", "  us-gov-west-1  ", func(c *Config) any { return c.Region }, "us-gov-west-1"},
		{"stream", "my.stream_1-x", func(c *Config) any { return c.StreamName }, "my.stream_1-x"},
		{"endpoint", "http://127.0.0.1:4567", func(c *Config) any { return c.Endpoint }, "http://127.0.0.1:4567"},
		{"sts_endpoint", "https://sts.us-east-1.amazonaws.com", func(c *Config) any { return c.STSEndpoint }, "https://sts.us-east-1.amazonaws.com"},
		{"role_arn", "arn:aws:iam::123456789012:role/r", func(c *Config) any { return c.RoleARN }, "arn:aws:iam::123456789012:role/r"},
		{"profile", "prod", func(c *Config) any { return c.Profile }, "prod"},
		{"partition_key", "pod", func(c *Config) any { return c.PartitionKey }, []string{"pod"}},
		{"partition_key", "$kubernetes['pod_name']", func(c *Config) any { return c.PartitionKey }, []string{"kubernetes", "pod_name"}},
		{"partition_key", "kubernetes->pod_name", func(c *Config) any { return c.PartitionKey }, []string{"kubernetes", "pod_name"}},
		{"partition_key", " kubernetes->pod_name ", func(c *Config) any { return c.PartitionKeyRaw }, "kubernetes->pod_name"},
		{"explicit_hash_key", `$meta["ehk"]`, func(c *Config) any { return c.ExplicitHashKey }, []string{"meta", "ehk"}},
		{"explicit_hash_key", `$meta["ehk"]`, func(c *Config) any { return c.ExplicitHashKeyRaw }, `$meta["ehk"]`},
		{"log_key", "log", func(c *Config) any { return c.LogKey }, []string{"log"}},
		{"log_key", "$log", func(c *Config) any { return c.LogKeyRaw }, "$log"},
		{"data_keys", "log", func(c *Config) any { return c.DataKeys }, []string{"log"}},
		{"data_keys", " log , stream,time ", func(c *Config) any { return c.DataKeys }, []string{"log", "stream", "time"}},
		{"time_key", "ts", func(c *Config) any { return c.TimeKey }, "ts"},
		{"time_key_format", "%s.%L", func(c *Config) any { return c.TimeKeyFormat + "|" + c.TimeFormat.String() }, "%s.%L|%s.%L"},
		{"append_newline", "on", func(c *Config) any { return c.AppendNewline }, true},
		{"append_newline", "Yes", func(c *Config) any { return c.AppendNewline }, true},
		{"append_newline", "1", func(c *Config) any { return c.AppendNewline }, true},
		{"append_newline", "false", func(c *Config) any { return c.AppendNewline }, false},
		{"replace_dots", "_", func(c *Config) any { return c.ReplaceDots }, "_"},
		{"compression", "none", func(c *Config) any { return c.Compression }, "none"},
		{"compression", "GZIP", func(c *Config) any { return c.Compression }, "gzip"},
		{"compression", "Zlib", func(c *Config) any { return c.Compression }, "zlib"},
		{"compression", "zstd", func(c *Config) any { return c.Compression }, "zstd"},
		{"put_records_client", "SDK", func(c *Config) any { return c.PutRecordsClient }, "sdk"},
		{"put_records_client", "direct", func(c *Config) any { return c.PutRecordsClient }, "direct"},
		{"aggregation", "off", func(c *Config) any { return c.Aggregation }, false},
		{"aggregation", "NO", func(c *Config) any { return c.Aggregation }, false},
		{"aggregation", "0", func(c *Config) any { return c.Aggregation }, false},
		{"aggregation", "TRUE", func(c *Config) any { return c.Aggregation }, true},
		{"aggregation_max_bytes", "0", func(c *Config) any { return c.AggregationMaxBytes }, 0},
		{"aggregation_max_bytes", "256KiB", func(c *Config) any { return c.AggregationMaxBytes }, 256 << 10},
		{"aggregation_max_bytes", "1K", func(c *Config) any { return c.AggregationMaxBytes }, 1024},
		{"aggregation_max_bytes", "10 MB", func(c *Config) any { return c.AggregationMaxBytes }, 10 << 20},
		{"aggregation_max_records", "0", func(c *Config) any { return c.AggregationMaxRecords }, 0},
		{"aggregation_max_records", "1000", func(c *Config) any { return c.AggregationMaxRecords }, 1000},
		{"max_record_bytes", "1MiB", func(c *Config) any { return c.MaxRecordBytes }, 1 << 20},
		{"max_record_bytes", "10485760", func(c *Config) any { return c.MaxRecordBytes }, 10 << 20},
		{"shard_refresh_records", "0", func(c *Config) any { return c.ShardRefreshRecords }, int64(0)},
		{"shard_refresh_records", "1000000", func(c *Config) any { return c.ShardRefreshRecords }, int64(1000000)},
		{"shard_refresh_interval", "0", func(c *Config) any { return c.ShardRefreshInterval }, time.Duration(0)},
		{"shard_refresh_interval", "5m", func(c *Config) any { return c.ShardRefreshInterval }, 5 * time.Minute},
		{"shard_refresh_interval", "120", func(c *Config) any { return c.ShardRefreshInterval }, 2 * time.Minute},
		{"shard_refresh_min_spacing", "0", func(c *Config) any { return c.ShardRefreshMinSpacing }, time.Duration(0)},
		{"shard_refresh_min_spacing", "250ms", func(c *Config) any { return c.ShardRefreshMinSpacing }, 250 * time.Millisecond},
		{"shard_rate_limit", "0", func(c *Config) any { return c.ShardRateLimit }, 0.0},
		{"shard_rate_limit", "2.5", func(c *Config) any { return c.ShardRateLimit }, 2.5},
		{"request_max_bytes", "1KiB", func(c *Config) any { return c.RequestMaxBytes }, 1024},
		{"request_max_bytes", "10M", func(c *Config) any { return c.RequestMaxBytes }, 10 << 20},
		{"retry_budget", "1m30s", func(c *Config) any { return c.RetryBudget }, 90 * time.Second},
		{"retry_budget", "5", func(c *Config) any { return c.RetryBudget }, 5 * time.Second},
		{"retry_ledger_max_chunks", "0", func(c *Config) any { return c.RetryLedgerMaxChunks }, 0},
		{"retry_ledger_max_chunks", "4096", func(c *Config) any { return c.RetryLedgerMaxChunks }, 4096},
		{"retry_ledger_max_age", "30m", func(c *Config) any { return c.RetryLedgerMaxAge }, 30 * time.Minute},
		{"http_request_timeout", "2500ms", func(c *Config) any { return c.HTTPRequestTimeout }, 2500 * time.Millisecond},
		{"plugin_log_level", "error", func(c *Config) any { return c.LogLevel }, LogError},
		{"plugin_log_level", "WARN", func(c *Config) any { return c.LogLevel }, LogWarn},
		{"plugin_log_level", "Info", func(c *Config) any { return c.LogLevel }, LogInfo},
		{"plugin_log_level", "debug", func(c *Config) any { return c.LogLevel }, LogDebug},
	}
	for _, tt := range tests {
		c, err := Parse(flb(props(tt.key, tt.value)))
		if err != nil {
			t.Errorf("%s %q: %v", tt.key, tt.value, err)
			continue
		}
		if got := tt.field(c); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s %q: got %#v, want %#v", tt.key, tt.value, got, tt.want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		props map[string]string
		want  string
	}{
		{props("region", "US-EAST-1"), `conf: region "US-EAST-1": want an AWS region such as us-east-1`},
		{props("region", `"us-east-1"`), `conf: region "\"us-east-1\"": want an AWS region such as us-east-1 (classic configs keep quotes literally; remove them)`},
		{props("region", "\x00"), `conf: region: required unless stream_arn is given`},
		{props("stream", "my stream"), `conf: stream "my stream": want 1-128 characters of a-z, A-Z, 0-9, _, . and -`},
		{props("stream", strings.Repeat("s", 129)), `conf: stream "` + strings.Repeat("s", 129) + `": want 1-128 characters`},
		{props("stream", "\x00"), `conf: stream: one of stream or stream_arn is required`},
		{props("stream_arn", "arn:aws:kinesis:us-east-1:123456789012:stream/logs"),
			`conf: stream "logs": set either stream or stream_arn, not both`},
		{props("stream", "\x00", "stream_arn", "arn:aws:kinesis:us-east-1:123:stream/logs"),
			`conf: stream_arn "arn:aws:kinesis:us-east-1:123:stream/logs": account "123" is not 12 digits; want arn:<partition>:kinesis:<region>:<12-digit account>:stream/<name>`},
		{props("stream", "\x00", "stream_arn", "arn:aws:kinesis:eu-west-1:123456789012:stream/logs"),
			`conf: region "us-east-1": differs from region "eu-west-1" in stream_arn`},
		{props("endpoint", "localhost:4566"), `conf: endpoint "localhost:4566": want an http:// or https:// URL with a host, e.g. https://kinesis.us-east-1.amazonaws.com`},
		{props("sts_endpoint", "https://"), `conf: sts_endpoint "https://": missing host; want an http:// or https:// URL with a host, e.g. https://kinesis.us-east-1.amazonaws.com`},
		{props("role_arn", "my-role"), `conf: role_arn "my-role": want arn:<partition>:iam::<12-digit account>:role/<name>`},
		{props("external_id", "secret-id"), `conf: external_id: needs role_arn`},
		{props("role_arn", "arn:aws:iam::123456789012:role/r", "external_id", "s e c r e t"),
			`conf: external_id: want characters a-z, A-Z, 0-9 and +=,.@:/_-`},
		{props("partition_key", "$a['b"), `conf: partition_key "$a['b": unterminated record accessor`},
		{props("partition_key", "$a['b'][0]"), `conf: partition_key "$a['b'][0]": array indexes are not supported`},
		{props("explicit_hash_key", "$a[b]"), `conf: explicit_hash_key "$a[b]": want a quoted key in brackets, e.g. $a['b']`},
		{props("log_key", "a->"), `conf: log_key "a->": empty key in -> path`},
		{props("data_keys", "a,,b"), `conf: data_keys "a,,b": empty item in comma-separated list`},
		{props("data_keys", "a, b ,a"), `conf: data_keys "a, b ,a": duplicate key "a"`},
		{props("time_key_format", "%Y %Q"), `conf: time_key_format "%Y %Q": strftime: unknown directive %Q in "%Y %Q"`},
		{props("append_newline", "enabled"), `conf: append_newline "enabled": want on/off, true/false, yes/no or 1/0`},
		{props("compression", "lz4"), `conf: compression "lz4": want one of none, gzip, zlib, zstd`},
		{props("metrics_listen", "2021"), `conf: metrics_listen "2021": want HOST:PORT, e.g. 127.0.0.1:2021`},
		{props("metrics_listen", "127.0.0.1:99999"), `conf: metrics_listen "127.0.0.1:99999": want HOST:PORT with a port from 0 to 65535`},
		{props("metrics_summary_interval", "10ms"), `conf: metrics_summary_interval "10ms": want 0 (off) or at least 1s`},
		{props("dead_letter_path", "dead.jsonl"), `conf: dead_letter_path "dead.jsonl": want an absolute file path, e.g. /var/log/fluent-bit/kinesis-dead-letter.jsonl`},
		{props("dead_letter_max_bytes", "10K"), `conf: dead_letter_max_bytes "10K": want 1MiB to 1TiB`},
		{props("dead_letter_keep", "5000"), `conf: dead_letter_keep "5000": want 0 to 1000`},
		{props("shard_rate_limit", "fast"), `conf: shard_rate_limit "fast": want a number from 0 (off) to 100, e.g. 1.5`},
		{props("shard_rate_limit", "-1"), `conf: shard_rate_limit "-1": want a number from 0 (off) to 100, e.g. 1.5`},
		{props("aggregation", "2"), `conf: aggregation "2": want on/off, true/false, yes/no or 1/0`},
		{props("put_records_client", "http"), `conf: put_records_client "http": want direct or sdk`},
		{props("aggregation_max_bytes", "512"), `conf: aggregation_max_bytes "512": want 0 or 1KiB to 10MiB`},
		{props("aggregation_max_bytes", "11M"), `conf: aggregation_max_bytes "11M": want 0 or 1KiB to 10MiB`},
		{props("aggregation_max_bytes", "1.5M"), `conf: aggregation_max_bytes "1.5M": want a whole number (fractions are not supported; use a smaller unit)`},
		{props("aggregation_max_bytes", "2MiB", "max_record_bytes", "1MiB"),
			`conf: aggregation_max_bytes "2MiB": exceeds max_record_bytes "1MiB"`},
		{props("aggregation_max_records", "-1"), `conf: aggregation_max_records "-1": must not be negative`},
		{props("aggregation_max_records", "many"), `conf: aggregation_max_records "many": want a whole number`},
		{props("aggregation_max_records", "99999999999999999999"), `conf: aggregation_max_records "99999999999999999999": too large`},
		{props("max_record_bytes", "1023"), `conf: max_record_bytes "1023": want 0 or 1KiB to 10MiB`},
		{props("max_record_bytes", "-1M"), `conf: max_record_bytes "-1M": must not be negative`},
		{props("max_record_bytes", "99999999999G"), `conf: max_record_bytes "99999999999G": too large`},
		{props("shard_refresh_records", "1e6"), `conf: shard_refresh_records "1e6": want a whole number`},
		{props("shard_refresh_interval", "-5s"), `conf: shard_refresh_interval "-5s": must not be negative`},
		{props("shard_refresh_min_spacing", "1 sec"), `conf: shard_refresh_min_spacing "1 sec": want a duration such as 500ms, 30s, 5m or 1h30m (a bare number means seconds, at most 2562047h)`},
		{props("request_max_bytes", "0"), `conf: request_max_bytes "0": want 1KiB to 10MiB`},
		{props("request_max_bytes", "20MiB"), `conf: request_max_bytes "20MiB": want 1KiB to 10MiB`},
		{props("retry_budget", "0"), `conf: retry_budget "0": want a duration above 0`},
		{props("retry_budget", "0s"), `conf: retry_budget "0s": want a duration above 0`},
		{props("retry_ledger_max_chunks", "-5"), `conf: retry_ledger_max_chunks "-5": must not be negative`},
		{props("retry_ledger_max_age", "0"), `conf: retry_ledger_max_age "0": want a duration above 0 (turn the ledger off with retry_ledger_max_chunks 0)`},
		{props("http_request_timeout", "99999999999"), `conf: http_request_timeout "99999999999": too large`},
		{props("http_request_timeout", "0ms"), `conf: http_request_timeout "0ms": want a duration above 0`},
		{props("plugin_log_level", "trace"), `conf: plugin_log_level "trace": want one of error, warn, info, debug`},
	}
	for _, tt := range tests {
		c, err := Parse(flb(tt.props))
		if err == nil {
			t.Errorf("Parse(%v) = %+v, want error %q", tt.props, c, tt.want)
			continue
		}
		if c != nil {
			t.Errorf("Parse(%v) returned a Config with its error", tt.props)
		}
		if err.Error() != tt.want {
			t.Errorf("Parse(%v)\n error %s\n  want %s", tt.props, err, tt.want)
		}
		var e *Error
		if !errors.As(err, &e) || e.Key == "" {
			t.Errorf("Parse(%v) error %T is not a *conf.Error with a key", tt.props, err)
		}
	}
}

func TestStreamARN(t *testing.T) {
	const arn = "arn:aws:kinesis:eu-west-1:123456789012:stream/orders"
	tests := []struct {
		name   string
		region string
	}{
		{"region from ARN", ""},
		{"same region given", "eu-west-1"},
	}
	for _, tt := range tests {
		c := mustParse(t, map[string]string{"stream_arn": arn, "region": tt.region})
		if c.Region != "eu-west-1" || c.StreamName != "orders" || c.StreamARN != arn {
			t.Errorf("%s: Region=%q StreamName=%q StreamARN=%q", tt.name, c.Region, c.StreamName, c.StreamARN)
		}
	}
}

func TestExternalIDWithRole(t *testing.T) {
	c := mustParse(t, props("role_arn", "arn:aws:iam::123456789012:role/r", "external_id", "ext-123"))
	if c.ExternalID != "ext-123" || c.RoleARN != "arn:aws:iam::123456789012:role/r" {
		t.Errorf("ExternalID=%q RoleARN=%q", c.ExternalID, c.RoleARN)
	}
}

func TestAggregationMaxBytesWithinRecordLimit(t *testing.T) {
	for _, kv := range [][]string{
		{"aggregation_max_bytes", "1MiB", "max_record_bytes", "1MiB"},
		{"aggregation_max_bytes", "10MiB", "max_record_bytes", "0"},
		{"aggregation_max_bytes", "0", "max_record_bytes", "1K"},
	} {
		if _, err := Parse(flb(props(kv...))); err != nil {
			t.Errorf("%v: %v", kv, err)
		}
	}
}

// The error returned is that of the earliest key in Keys order, whether it is a syntax error or
// a check across keys.
func TestFirstErrorInKeysOrder(t *testing.T) {
	tests := []struct {
		props map[string]string
		key   string
	}{
		{props("compression", "lz4", "region", "x_y"), "region"},
		{props("plugin_log_level", "x", "compression", "lz4"), "compression"},
		{props("region", "\x00", "compression", "lz4"), "region"},
		{props("stream", "\x00", "retry_budget", "0"), "stream"},
		{props("external_id", "ab", "endpoint", "ftp://x"), "endpoint"},
		{props("external_id", "ab", "time_key_format", "%Q"), "external_id"},
		// A bad stream_arn suppresses the region check that depends on it.
		{props("stream", "\x00", "region", "us-west-2", "stream_arn", "arn:aws:kinesis:eu-west-1:1:stream/s"), "stream_arn"},
		// A bad max_record_bytes suppresses the comparison with aggregation_max_bytes.
		{props("aggregation_max_bytes", "2M", "max_record_bytes", "1"), "max_record_bytes"},
	}
	for _, tt := range tests {
		for range 3 { // map order must not matter
			_, err := Parse(flb(tt.props))
			var e *Error
			if !errors.As(err, &e) || e.Key != tt.key {
				t.Errorf("Parse(%v) = %v, want an error for %s", tt.props, err, tt.key)
				break
			}
		}
	}
}

func TestErrorUnwrapAndSecrets(t *testing.T) {
	_, err := Parse(flb(props("time_key_format", "%Q")))
	var e *Error
	if !errors.As(err, &e) || e.Err == nil || errors.Unwrap(err) != e.Err {
		t.Fatalf("time_key_format error %v does not wrap its cause", err)
	}
	_, err = Parse(flb(props("role_arn", "arn:aws:iam::123456789012:role/r", "external_id", "TOPSECRET#")))
	if err == nil || strings.Contains(err.Error(), "TOPSECRET") || !errors.As(err, &e) || e.Value != "" {
		t.Errorf("external_id error leaks the secret: %v", err)
	}
}

func TestWarnings(t *testing.T) {
	tests := []struct {
		props map[string]string
		want  []string
	}{
		{props(), nil},
		{props("experimental_concurrency", "4", "experimental_concurrency_retries", "2", "auto_retry_requests", "true", "simple_aggregation", "on"),
			[]string{
				"experimental_concurrency is a key of another Kinesis plugin and is ignored: use Workers for concurrent flushes",
				"experimental_concurrency_retries is a key of another Kinesis plugin and is ignored: retries are built in (see retry_budget)",
				"auto_retry_requests is a key of another Kinesis plugin and is ignored: retries are built in (see retry_budget)",
				"simple_aggregation is a key of another Kinesis plugin and is ignored: records are KPL-aggregated (see aggregation)",
			}},
		{props("Experimental_Concurrency", "4"),
			[]string{"experimental_concurrency is a key of another Kinesis plugin and is ignored: use Workers for concurrent flushes"}},
		{props("time_key", `"ts"`), []string{`time_key "\"ts\"" is quoted; classic configs keep quotes as part of the value`}},
		{props("time_key_format", "%s"), []string{"time_key_format has no effect without time_key"}},
		{props("time_key", "ts", "time_key_format", "%s"), nil},
		{props("aggregation", "off", "aggregation_max_bytes", "64K", "aggregation_max_records", "10"),
			[]string{"aggregation_max_bytes has no effect with aggregation off", "aggregation_max_records has no effect with aggregation off"}},
		{props("aggregation", "on", "aggregation_max_bytes", "64K"), nil},
	}
	for _, tt := range tests {
		c, err := Parse(flb(tt.props))
		if err != nil {
			t.Errorf("Parse(%v): %v", tt.props, err)
			continue
		}
		if !slices.Equal(c.Warnings, tt.want) {
			t.Errorf("Parse(%v) warnings\n got %q\nwant %q", tt.props, c.Warnings, tt.want)
		}
	}
}

func TestEffective(t *testing.T) {
	c := mustParse(t, map[string]string{
		"stream_arn":              "arn:aws:kinesis:eu-west-1:123456789012:stream/orders",
		"endpoint":                "http://127.0.0.1:4567",
		"role_arn":                "arn:aws:iam::123456789012:role/writer",
		"external_id":             "very-secret",
		"partition_key":           "kubernetes->pod_name",
		"explicit_hash_key":       `$meta["hash"]`,
		"log_key":                 "log",
		"data_keys":               "log, kubernetes",
		"time_key":                "ts",
		"append_newline":          "yes",
		"replace_dots":            "_",
		"compression":             "ZSTD",
		"aggregation_max_bytes":   "262144",
		"aggregation_max_records": "500",
		"max_record_bytes":        "1 MB",
		"shard_refresh_records":   "0",
		"shard_refresh_interval":  "90",
		"request_max_bytes":       "1048577",
		"retry_budget":            "1m",
		"retry_ledger_max_age":    "3600",
		"plugin_log_level":        "DEBUG",
	})
	want := []Setting{
		{"region", "eu-west-1"},
		{"stream", "orders"},
		{"stream_arn", "arn:aws:kinesis:eu-west-1:123456789012:stream/orders"},
		{"endpoint", "http://127.0.0.1:4567"},
		{"sts_endpoint", ""},
		{"role_arn", "arn:aws:iam::123456789012:role/writer"},
		{"external_id", "********"},
		{"profile", ""},
		{"partition_key", "$kubernetes['pod_name']"},
		{"explicit_hash_key", "$meta['hash']"},
		{"log_key", "$log"},
		{"data_keys", "log,kubernetes"},
		{"time_key", "ts"},
		{"time_key_format", "%Y-%m-%dT%H:%M:%S.%L%z"},
		{"append_newline", "on"},
		{"replace_dots", "_"},
		{"compression", "zstd"},
		{"aggregation", "on"},
		{"aggregation_max_bytes", "256KiB"},
		{"aggregation_max_records", "500"},
		{"max_record_bytes", "1MiB"},
		{"shard_refresh_records", "0"},
		{"shard_refresh_interval", "1m30s"},
		{"shard_refresh_min_spacing", "1s"},
		{"shard_rate_limit", "1.5"},
		{"request_max_bytes", "1048577"},
		{"retry_budget", "1m"},
		{"retry_ledger_max_chunks", "1024"},
		{"retry_ledger_max_age", "1h"},
		{"http_request_timeout", "10s"},
		{"put_records_client", "direct"},
		{"metrics_listen", ""},
		{"metrics_summary_interval", "5m"},
		{"dead_letter_path", ""},
		{"dead_letter_max_bytes", "100MiB"},
		{"dead_letter_keep", "3"},
		{"plugin_log_level", "debug"},
	}
	if got := c.Effective(); !slices.Equal(got, want) {
		t.Errorf("Effective():")
		for i := range max(len(got), len(want)) {
			var g, w Setting
			if i < len(got) {
				g = got[i]
			}
			if i < len(want) {
				w = want[i]
			}
			if g != w {
				t.Errorf("  [%d] got %q, want %q", i, g, w)
			}
		}
	}
	for _, s := range c.Effective() {
		if strings.Contains(s.Value, "very-secret") {
			t.Errorf("Effective leaks external_id in %s", s.Key)
		}
	}
	// Unset secrets stay empty rather than showing a mask.
	for _, s := range mustParse(t, props()).Effective() {
		if s.Key == "external_id" && s.Value != "" {
			t.Errorf("unset external_id shown as %q", s.Value)
		}
	}
}

// Effective values are valid input: feeding them back to Parse gives the same Config.
func TestEffectiveRoundTrip(t *testing.T) {
	inputs := []map[string]string{
		props(),
		props("partition_key", "kubernetes->labels->app", "log_key", `$a["it's"]`, "data_keys", "a,b",
			"aggregation_max_bytes", "1536", "max_record_bytes", "3K", "shard_refresh_interval", "3661",
			"retry_budget", "1500ms", "compression", "GZip", "aggregation", "0", "plugin_log_level", "WARN"),
		{"stream_arn": "arn:aws-cn:kinesis:cn-north-1:123456789012:stream/s", "role_arn": "arn:aws-cn:iam::123456789012:role/x",
			"external_id": "abc", "time_key": "t", "time_key_format": "%s", "explicit_hash_key": `$k['a\\b']`},
	}
	for _, in := range inputs {
		c := mustParse(t, in)
		eff := map[string]string{}
		for _, s := range c.Effective() {
			eff[s.Key] = s.Value
		}
		eff["external_id"] = c.ExternalID // masked in Effective
		if c.StreamARN != "" {
			delete(eff, "stream") // derived from stream_arn; giving both is an error
		}
		c2 := mustParse(t, eff)
		for _, cc := range []*Config{c, c2} {
			cc.PartitionKeyRaw, cc.ExplicitHashKeyRaw, cc.LogKeyRaw, cc.Warnings = "", "", "", nil
			if cc.TimeFormat == nil {
				t.Fatal("TimeFormat not compiled")
			}
		}
		if c.TimeFormat.String() != c2.TimeFormat.String() {
			t.Errorf("TimeFormat %q != %q", c.TimeFormat, c2.TimeFormat)
		}
		c.TimeFormat, c2.TimeFormat = nil, nil
		if !reflect.DeepEqual(c, c2) {
			t.Errorf("round trip of %v via %v:\n got %+v\nwant %+v", in, eff, c2, c)
		}
	}
}

// Keys lists exactly the keys Parse reads (besides the foreign keys it warns about).
func TestKeysCoverParse(t *testing.T) {
	var asked []string
	_, err := Parse(func(k string) string {
		asked = append(asked, k)
		return props()[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, k := range Keys() {
		want = append(want, k.Name)
	}
	for _, f := range foreignKeys() {
		want = append(want, f.name)
	}
	sort.Strings(asked)
	asked = slices.Compact(asked)
	sort.Strings(want)
	if !slices.Equal(asked, want) {
		t.Errorf("keys asked by Parse:\n %q\nkeys documented:\n %q", asked, want)
	}
}

func TestKeysDocs(t *testing.T) {
	want := []KeyDoc{
		{Name: "region"}, {Name: "stream"}, {Name: "stream_arn"}, {Name: "endpoint"}, {Name: "sts_endpoint"},
		{Name: "role_arn"}, {Name: "external_id"}, {Name: "profile"}, {Name: "partition_key"},
		{Name: "explicit_hash_key"}, {Name: "log_key"}, {Name: "data_keys"}, {Name: "time_key"},
		{Name: "time_key_format", Default: "%Y-%m-%dT%H:%M:%S.%L%z"}, {Name: "append_newline", Default: "off"},
		{Name: "replace_dots"}, {Name: "compression", Default: "none"}, {Name: "aggregation", Default: "on"},
		{Name: "aggregation_max_bytes", Default: "0"}, {Name: "aggregation_max_records", Default: "0"},
		{Name: "max_record_bytes", Default: "0"}, {Name: "shard_refresh_records", Default: "50000"},
		{Name: "shard_refresh_interval", Default: "1m"}, {Name: "shard_refresh_min_spacing", Default: "1s"},
		{Name: "shard_rate_limit", Default: "1.5"}, {Name: "request_max_bytes", Default: "5MiB"}, {Name: "retry_budget", Default: "20s"},
		{Name: "retry_ledger_max_chunks", Default: "1024"}, {Name: "retry_ledger_max_age", Default: "1h"},
		{Name: "http_request_timeout", Default: "10s"}, {Name: "put_records_client", Default: "direct"},
		{Name: "metrics_listen", Default: ""}, {Name: "metrics_summary_interval", Default: "5m"},
		{Name: "dead_letter_path", Default: ""}, {Name: "dead_letter_max_bytes", Default: "100MiB"},
		{Name: "dead_letter_keep", Default: "3"}, {Name: "plugin_log_level", Default: "info"},
	}
	got := Keys()
	if len(got) != len(want) {
		t.Fatalf("Keys() has %d keys, want %d", len(got), len(want))
	}
	for i, k := range got {
		if k.Name != want[i].Name || k.Default != want[i].Default {
			t.Errorf("Keys()[%d] = %q default %q, want %q default %q", i, k.Name, k.Default, want[i].Name, want[i].Default)
		}
		if len(k.Description) < 10 || !strings.HasSuffix(k.Description, ".") {
			t.Errorf("Keys()[%d] %s: description %q is not a sentence", i, k.Name, k.Description)
		}
		if k.Name != strings.ToLower(k.Name) {
			t.Errorf("key %q is not lower case", k.Name)
		}
	}
	// Defaults as documented are what Parse applies.
	eff := mustParse(t, props()).Effective()
	for i, k := range got {
		if k.Name == "region" || k.Name == "stream" {
			continue
		}
		if eff[i].Value != k.Default {
			t.Errorf("%s: documented default %q, parsed default %q", k.Name, k.Default, eff[i].Value)
		}
	}
}

// Fluent Bit consumes these keys itself and the plugin never sees them.
func TestKeyNamesAvoidCore(t *testing.T) {
	exact := []string{"name", "match", "match_regex", "alias", "log_level", "log_suppress_interval",
		"host", "port", "ipv6", "retry_limit", "workers", "tls"}
	prefixes := []string{"tls.", "net.", "storage.", "oauth2"}
	for _, k := range Keys() {
		if slices.Contains(exact, k.Name) {
			t.Errorf("key %q is consumed by Fluent Bit core", k.Name)
		}
		for _, p := range prefixes {
			if strings.HasPrefix(k.Name, p) {
				t.Errorf("key %q is consumed by Fluent Bit core (%s*)", k.Name, p)
			}
		}
	}
}

func TestLogLevel(t *testing.T) {
	names := map[LogLevel]string{LogError: "error", LogWarn: "warn", LogInfo: "info", LogDebug: "debug", LogLevel(7): "LogLevel(7)"}
	for l, want := range names {
		if got := l.String(); got != want {
			t.Errorf("LogLevel(%d).String() = %q, want %q", int(l), got, want)
		}
	}
	if !LogInfo.Enabled(LogWarn) || !LogInfo.Enabled(LogInfo) || LogInfo.Enabled(LogDebug) {
		t.Error("LogInfo enables the wrong levels")
	}
	if !LogError.Enabled(LogError) || LogError.Enabled(LogWarn) {
		t.Error("LogError enables the wrong levels")
	}
	var zero Config
	if zero.LogLevel != LogError {
		t.Error("zero LogLevel is not LogError")
	}
}
