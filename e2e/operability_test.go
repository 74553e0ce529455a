package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/kinesis-agg/kinesis_agg/internal/chunkgen"
	"github.com/kinesis-agg/kinesis_agg/internal/faultproxy"
	"github.com/kinesis-agg/kinesis_agg/internal/flbhost"
)

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func scrape(url string) (map[string]*dto.MetricFamily, error) {
	resp, err := http.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	return p.TextToMetricFamilies(resp.Body)
}

// value returns the value of the series of family name whose labels include want.
func value(fams map[string]*dto.MetricFamily, name string, want map[string]string) (float64, bool) {
	f := fams[name]
	if f == nil {
		return 0, false
	}
next:
	for _, m := range f.Metric {
		labels := map[string]string{}
		for _, l := range m.Label {
			labels[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if labels[k] != v {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		}
	}
	return 0, false
}

// The metrics endpoint is scraped while the plugin runs, the periodic summary is logged, and
// rejected records land in the dead-letter file with their reasons.
var periodicSummary = regexp.MustCompile(`\] last (1s|1\.\d+s|9\d\dms): received=`)

func TestMetricsAndDeadLetters(t *testing.T) {
	e := newEnv(t, 2, true, faultproxy.Options{Seed: 21})
	const n = 3000
	chunks := chunkgen.Generate(chunkgen.Options{Records: n, Seed: 8, ChunkBytes: 300_000})
	ts := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	bad := chunkgen.AppendEvent(nil, ts, [][2]any{{"id", "too-large"}, {"blob", strings.Repeat("x", 1<<20)}})
	bad = append(bad, 0x92, 0x92, 0xd7, 0x00, 0, 0, 0, 1, 0, 0, 0, 0, 0x80, 0xa5, 'h', 'e', 'l', 'l', 'o')
	chunks = append(chunks, bad)
	deadPath := filepath.Join(t.TempDir(), "dead.jsonl")
	port := freePort(t)
	url := fmt.Sprintf("http://127.0.0.1:%d/metrics", port)
	props := e.props("partition_key=$kubernetes['pod_name']", "max_record_bytes=1MiB",
		fmt.Sprintf("metrics_listen=127.0.0.1:%d", port), "metrics_summary_interval=1s", "dead_letter_path="+deadPath)

	done := make(chan *flbhost.Run, 1)
	go func() {
		run, _ := flbhost.Exec(e.ctx, hostPath, hostArgs(props, append(writeChunks(t, chunks, "kube.shop"),
			"--threads", "2", "--pace-ms", "100", "--linger-ms", "2500")...)...)
		done <- run
	}()
	name := map[string]string{"name": "kinesis_agg.0"}
	var fams map[string]*dto.MetricFamily
	deadline := time.Now().Add(60 * time.Second)
	for {
		var err error
		fams, err = scrape(url)
		if err == nil {
			if v, _ := value(fams, "kinesis_agg_user_records_delivered_total", name); v == n {
				if d, _ := value(fams, "kinesis_agg_user_records_dead_lettered_total", name); d == 2 {
					break
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("metrics never showed %d delivered records (last error %v)", n, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	run := <-done
	if run == nil || run.ExitCode != 0 {
		t.Fatalf("host failed: %+v", run)
	}
	s := exitSummary(t, run.Stderr, 0)
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"kinesis_agg_user_records_received_total", name, n + 2},
		{"kinesis_agg_user_records_rejected_total", map[string]string{"name": "kinesis_agg.0", "reason": "too_large"}, 1},
		{"kinesis_agg_user_records_rejected_total", map[string]string{"name": "kinesis_agg.0", "reason": "not_a_map"}, 1},
		{"kinesis_agg_kinesis_records_sent_total", name, float64(s["kinesis_records"])},
		{"kinesis_agg_sent_bytes_total", name, float64(s["sent_bytes"])},
		{"kinesis_agg_put_records_requests_total", name, float64(s["calls"])},
		{"kinesis_agg_flushes_total", map[string]string{"name": "kinesis_agg.0", "status": "ok"}, float64(len(chunks))},
		{"kinesis_agg_open_shards", name, 2},
		{"kinesis_agg_ledger_entries", name, 0},
	} {
		if got, ok := value(fams, c.name, c.labels); !ok || got != c.want {
			t.Errorf("%s%v = %v (present %v), want %v", c.name, c.labels, got, ok, c.want)
		}
	}
	// Per-shard series: one per open shard, adding up to what was sent.
	var shardRecords float64
	for _, m := range fams["kinesis_agg_shard_records_total"].GetMetric() {
		shardRecords += m.Counter.GetValue()
	}
	if len(fams["kinesis_agg_shard_records_total"].GetMetric()) != 2 || shardRecords != float64(s["kinesis_records"]) {
		t.Errorf("per-shard records %v over %d series, want %d over 2", shardRecords,
			len(fams["kinesis_agg_shard_records_total"].GetMetric()), s["kinesis_records"])
	}
	if v, _ := value(fams, "kinesis_agg_topology_refreshes_total", map[string]string{"name": "kinesis_agg.0", "cause": "start"}); v != 1 {
		t.Errorf("topology refreshes at start = %v, want 1", v)
	}
	// The ticker's period is measured, not assumed: "last 1s", "last 1.002s" or "last 998ms".
	if !periodicSummary.MatchString(run.Stderr) {
		t.Errorf("no periodic summary line in the log:\n%s", tail(run.Stderr, 20))
	}

	f, err := os.Open(deadPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var reasons []string
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 4<<20)
	for sc.Scan() {
		var line struct {
			Tag, Reason  string
			Size         int
			Record       string
			RecordBase64 string `json:"record_base64"`
		}
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("dead-letter line is not JSON: %v", err)
		}
		if line.Tag != "kube.shop" || (line.Record == "" && line.RecordBase64 == "") {
			t.Errorf("dead-letter line %+v", line)
		}
		reasons = append(reasons, line.Reason)
	}
	if len(reasons) != 2 || !strings.Contains(reasons[0], "record too large") || !strings.Contains(reasons[1], "not a map") {
		t.Fatalf("dead-letter reasons %q", reasons)
	}
}
