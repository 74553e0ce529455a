package e2e

import (
	"strings"
	"testing"
)

// Scenario 6: every invalid key or value stops Init with a message naming it.
func TestBadConfiguration(t *testing.T) {
	base := []string{"region=us-east-1", "stream=s", "endpoint=http://127.0.0.1:1"}
	for _, tc := range []struct {
		props []string
		want  string // in the error line
	}{
		{[]string{"region=us-east-1", "endpoint=http://127.0.0.1:1"}, "stream"},
		{[]string{"stream=s", "endpoint=http://127.0.0.1:1"}, "region"},
		{append(base, "stream_arn=arn:aws:kinesis:us-east-1:123456789012:stream/s"), "set either stream or stream_arn"},
		{append(base, "compression=lz4"), `compression "lz4"`},
		{append(base, "aggregation=maybe"), `aggregation "maybe"`},
		{append(base, "partition_key=$a['b"), `partition_key "$a['b"`},
		{append(base, "max_record_bytes=20M"), `max_record_bytes "20M"`},
		{append(base, "request_max_bytes=-1"), `request_max_bytes`},
		{append(base, "retry_budget=soon"), `retry_budget "soon"`},
		{append(base, "shard_refresh_interval=-5s"), `shard_refresh_interval`},
		{append(base, "plugin_log_level=verbose"), `plugin_log_level "verbose"`},
		{append(base, "time_key=t", "time_key_format=%Q"), `time_key_format`},
		{append(base, "external_id=x"), `external_id`},
		{append(base, "role_arn=not-an-arn"), `role_arn "not-an-arn"`},
		{append(base, "aggregation_max_bytes=2M", "max_record_bytes=1M"), "aggregation_max_bytes"},
		{[]string{"endpoint=ftp://x", "region=us-east-1", "stream=s"}, `endpoint "ftp://x"`},
	} {
		t.Run(tc.want, func(t *testing.T) {
			run := runHost(t, t.Context(), hostArgs(tc.props)...)
			if run.ExitCode != 2 || len(run.Inits) != 1 || run.Inits[0].RC > 0 {
				t.Fatalf("Init did not fail: exit %d inits %+v", run.ExitCode, run.Inits)
			}
			if !strings.Contains(run.Stderr, "[error] [output:kinesis_agg] conf: ") || !strings.Contains(run.Stderr, tc.want) {
				t.Fatalf("stderr does not name %q:\n%s", tc.want, run.Stderr)
			}
		})
	}
}
