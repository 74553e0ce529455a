package metrics

import (
	"io"
	"net/http"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// fakeSource serves whatever snapshot was stored last.
type fakeSource struct{ p atomic.Pointer[Snapshot] }

func newFake(s Snapshot) *fakeSource {
	f := &fakeSource{}
	f.p.Store(&s)
	return f
}

func (f *fakeSource) Snapshot() Snapshot { return *f.p.Load() }

func fullSnapshot() Snapshot {
	return Snapshot{
		At:                 t0,
		Received:           1000,
		Delivered:          990,
		Rejected:           map[string]int64{ReasonTooLarge: 7, ReasonNotAMap: 3},
		Retried:            12,
		Rerouted:           4,
		PossibleDuplicates: 5,
		Undelivered:        2,
		LedgerSkipped:      6,
		RandomKeys:         8,
		BadHashKeys:        9,
		DeadLettered:       10,
		DeadLetterErrors:   1,
		FlushOK:            40,
		FlushRetry:         2,
		FlushError:         1,
		MalformedChunks:    1,

		KinesisRecords:       33,
		KinesisRecordsFailed: 3,
		SentBytes:            123456,
		PutRecordsCalls:      11,
		Errors:               map[string]int64{"ProvisionedThroughputExceededException": 3, "unknown-outcome": 1},
		Throttles:            3,
		Misroutes:            2,

		TopologyRefreshes:       map[string]int64{"start": 1, "records": 2, "interval": 0, "invalidate": 1, "retry": 0},
		TopologyRefreshFailures: 1,
		TopologyLoadedAt:        t0.Add(-90 * time.Second),
		OpenShards:              2,
		Shards: []ShardStats{
			{ID: "shardId-000000000001", Records: 20, Bytes: 80000, Throttles: 3},
			{ID: "shardId-000000000002", Records: 13, Bytes: 43456},
		},
		LedgerEntries: 4,
	}
}

// scrape fetches url and parses the exposition text.
func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET %s: %s: %s", url, resp.Status, b)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parsing the exposition: %v", err)
	}
	return fams
}

// value finds the series of family name with exactly the given labels.
func value(fams map[string]*dto.MetricFamily, name string, labels ...string) (float64, bool) {
	f := fams[name]
	if f == nil {
		return 0, false
	}
	want := map[string]string{}
	for i := 0; i+1 < len(labels); i += 2 {
		want[labels[i]] = labels[i+1]
	}
	for _, m := range f.GetMetric() {
		if len(m.GetLabel()) != len(want) {
			continue
		}
		match := true
		for _, l := range m.GetLabel() {
			if v, ok := want[l.GetName()]; !ok || v != l.GetValue() {
				match = false
				break
			}
		}
		if !match {
			continue
		}
		switch f.GetType() {
		case dto.MetricType_COUNTER:
			return m.GetCounter().GetValue(), true
		case dto.MetricType_GAUGE:
			return m.GetGauge().GetValue(), true
		}
		return m.GetUntyped().GetValue(), true
	}
	return 0, false
}

// seriesLabels lists, for every series of family name, its label values for label.
func seriesLabels(fams map[string]*dto.MetricFamily, name, label string) []string {
	var out []string
	for _, m := range fams[name].GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == label {
				out = append(out, l.GetValue())
			}
		}
	}
	sort.Strings(out)
	return out
}

func serve(t *testing.T) *Server {
	t.Helper()
	s, err := Serve("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Release)
	return s
}

func register(t *testing.T, s *Server, name string, src Source) func() {
	t.Helper()
	un, err := s.Register(name, src)
	if err != nil {
		t.Fatal(err)
	}
	return un
}

func TestScrapeTwoInstances(t *testing.T) {
	s := serve(t)
	a := fullSnapshot()
	b := Snapshot{At: t0, Received: 5, Delivered: 5, KinesisRecords: 1, SentBytes: 700, PutRecordsCalls: 1}
	register(t, s, "kinesis_agg.0", newFake(a))
	register(t, s, "kinesis_agg.1", newFake(b))
	fams := scrape(t, s.URL())

	type want struct {
		metric string
		labels []string
		v      float64
		typ    dto.MetricType
	}
	C, G := dto.MetricType_COUNTER, dto.MetricType_GAUGE
	i0 := func(kv ...string) []string { return append([]string{"name", "kinesis_agg.0"}, kv...) }
	i1 := func(kv ...string) []string { return append([]string{"name", "kinesis_agg.1"}, kv...) }
	for _, w := range []want{
		{"kinesis_agg_user_records_received_total", i0(), 1000, C},
		{"kinesis_agg_user_records_delivered_total", i0(), 990, C},
		{"kinesis_agg_user_records_rejected_total", i0("reason", "too_large"), 7, C},
		{"kinesis_agg_user_records_rejected_total", i0("reason", "not_a_map"), 3, C},
		{"kinesis_agg_user_records_rejected_total", i0("reason", "log_key_missing"), 0, C},
		{"kinesis_agg_user_records_rejected_total", i0("reason", "other"), 0, C},
		{"kinesis_agg_user_records_retried_total", i0(), 12, C},
		{"kinesis_agg_user_records_rerouted_total", i0(), 4, C},
		{"kinesis_agg_user_records_possible_duplicates_total", i0(), 5, C},
		{"kinesis_agg_user_records_undelivered_total", i0(), 2, C},
		{"kinesis_agg_user_records_ledger_skipped_total", i0(), 6, C},
		{"kinesis_agg_user_records_random_partition_key_total", i0(), 8, C},
		{"kinesis_agg_user_records_invalid_hash_key_total", i0(), 9, C},
		{"kinesis_agg_user_records_dead_lettered_total", i0(), 10, C},
		{"kinesis_agg_dead_letter_write_errors_total", i0(), 1, C},
		{"kinesis_agg_flushes_total", i0("status", "ok"), 40, C},
		{"kinesis_agg_flushes_total", i0("status", "retry"), 2, C},
		{"kinesis_agg_flushes_total", i0("status", "error"), 1, C},
		{"kinesis_agg_malformed_chunks_total", i0(), 1, C},
		{"kinesis_agg_kinesis_records_sent_total", i0(), 33, C},
		{"kinesis_agg_kinesis_records_failed_total", i0(), 3, C},
		{"kinesis_agg_sent_bytes_total", i0(), 123456, C},
		{"kinesis_agg_put_records_requests_total", i0(), 11, C},
		{"kinesis_agg_put_records_errors_total", i0("code", "ProvisionedThroughputExceededException"), 3, C},
		{"kinesis_agg_put_records_errors_total", i0("code", "unknown-outcome"), 1, C},
		{"kinesis_agg_throttles_total", i0(), 3, C},
		{"kinesis_agg_misroutes_total", i0(), 2, C},
		{"kinesis_agg_topology_refreshes_total", i0("cause", "start"), 1, C},
		{"kinesis_agg_topology_refreshes_total", i0("cause", "records"), 2, C},
		{"kinesis_agg_topology_refreshes_total", i0("cause", "interval"), 0, C},
		{"kinesis_agg_topology_refresh_failures_total", i0(), 1, C},
		{"kinesis_agg_topology_age_seconds", i0(), 90, G},
		{"kinesis_agg_open_shards", i0(), 2, G},
		{"kinesis_agg_shard_records_total", i0("shard", "shardId-000000000001"), 20, C},
		{"kinesis_agg_shard_bytes_total", i0("shard", "shardId-000000000001"), 80000, C},
		{"kinesis_agg_shard_throttles_total", i0("shard", "shardId-000000000001"), 3, C},
		{"kinesis_agg_shard_records_total", i0("shard", "shardId-000000000002"), 13, C},
		{"kinesis_agg_shard_bytes_total", i0("shard", "shardId-000000000002"), 43456, C},
		{"kinesis_agg_shard_throttles_total", i0("shard", "shardId-000000000002"), 0, C},
		{"kinesis_agg_ledger_entries", i0(), 4, G},

		{"kinesis_agg_user_records_received_total", i1(), 5, C},
		{"kinesis_agg_sent_bytes_total", i1(), 700, C},
		{"kinesis_agg_user_records_rejected_total", i1("reason", "too_large"), 0, C},
		{"kinesis_agg_flushes_total", i1("status", "ok"), 0, C},
		{"kinesis_agg_ledger_entries", i1(), 0, G},
	} {
		got, ok := value(fams, w.metric, w.labels...)
		if !ok {
			t.Errorf("%s%v: no such series", w.metric, w.labels)
			continue
		}
		if got != w.v {
			t.Errorf("%s%v = %v, want %v", w.metric, w.labels, got, w.v)
		}
		if typ := fams[w.metric].GetType(); typ != w.typ {
			t.Errorf("%s is a %v, want %v", w.metric, typ, w.typ)
		}
	}

	// Instance 1 has no shard map: no age, no open-shard gauge, no shard series.
	for _, m := range []string{"kinesis_agg_topology_age_seconds", "kinesis_agg_open_shards", "kinesis_agg_shard_records_total"} {
		if got := seriesLabels(fams, m, "name"); strings.Join(got, ",") != "kinesis_agg.0" && !(len(got) == 2 && got[0] == "kinesis_agg.0") {
			t.Errorf("%s: series for %v, want only kinesis_agg.0", m, got)
		}
	}
	if got := seriesLabels(fams, "kinesis_agg_open_shards", "name"); len(got) != 1 {
		t.Errorf("open_shards series for %v, want only kinesis_agg.0", got)
	}
	if got := seriesLabels(fams, "kinesis_agg_put_records_errors_total", "name"); len(got) != 2 {
		t.Errorf("errors series for %v, want two for kinesis_agg.0 and none for kinesis_agg.1", got)
	}

	// Every kinesis_agg series is labelled with its instance; the Go runtime's are there too.
	var ours int
	for name, f := range fams {
		if !strings.HasPrefix(name, "kinesis_agg_") {
			continue
		}
		ours++
		for _, m := range f.GetMetric() {
			var has bool
			for _, l := range m.GetLabel() {
				has = has || l.GetName() == Label
			}
			if !has {
				t.Errorf("%s: series without a %s label: %v", name, Label, m.GetLabel())
			}
		}
	}
	if ours != 29 {
		t.Errorf("%d kinesis_agg families, want 29", ours)
	}
	if _, ok := fams["go_goroutines"]; !ok {
		t.Error("no Go runtime metrics")
	}
}

func TestClosedShardSeriesVanish(t *testing.T) {
	s := serve(t)
	snap := fullSnapshot()
	f := newFake(snap)
	register(t, s, "kinesis_agg.0", f)
	if got := seriesLabels(scrape(t, s.URL()), "kinesis_agg_shard_bytes_total", "shard"); len(got) != 2 {
		t.Fatalf("shards before the split: %v", got)
	}

	// shardId-000000000001 closes; its children open.
	var sc ShardCounters
	sc.Accepted("shardId-000000000001", 20, 80000)
	sc.Accepted("shardId-000000000003", 2, 100)
	sc.Throttled("shardId-000000000004", 1)
	sc.Accepted("shardId-000000000002", 13, 43456)
	snap.Shards = sc.Snapshot([]string{"shardId-000000000002", "shardId-000000000003", "shardId-000000000004"})
	snap.OpenShards = 3
	f.p.Store(&snap)
	fams := scrape(t, s.URL())
	got := seriesLabels(fams, "kinesis_agg_shard_records_total", "shard")
	if want := "shardId-000000000002,shardId-000000000003,shardId-000000000004"; strings.Join(got, ",") != want {
		t.Errorf("shard series %v, want %s", got, want)
	}
	for _, m := range []string{"kinesis_agg_shard_records_total", "kinesis_agg_shard_bytes_total", "kinesis_agg_shard_throttles_total"} {
		if _, ok := value(fams, m, "name", "kinesis_agg.0", "shard", "shardId-000000000001"); ok {
			t.Errorf("%s still has the closed shard", m)
		}
	}
	if v, _ := value(fams, "kinesis_agg_shard_throttles_total", "name", "kinesis_agg.0", "shard", "shardId-000000000004"); v != 1 {
		t.Errorf("throttles of shard 4 = %v, want 1", v)
	}
	if v, _ := value(fams, "kinesis_agg_shard_bytes_total", "name", "kinesis_agg.0", "shard", "shardId-000000000003"); v != 100 {
		t.Errorf("bytes of shard 3 = %v, want 100", v)
	}
}

func TestSharedServerRefcount(t *testing.T) {
	h1, err := Serve("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h2, err := Serve(h1.Addr())
	if err != nil {
		t.Fatalf("second Serve on %s: %v", h1.Addr(), err)
	}
	if h1.s != h2.s || h1.URL() != h2.URL() {
		t.Fatalf("two Serve calls on %s built two servers", h1.Addr())
	}
	// Port 0 is never shared by its written form.
	h3, err := Serve("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if h3.Addr() == h1.Addr() {
		t.Fatal("a second :0 server reused the first's port")
	}
	h3.Release()

	register(t, h1, "a", newFake(Snapshot{Received: 1}))
	register(t, h2, "b", newFake(Snapshot{Received: 2}))
	fams := scrape(t, h1.URL())
	if got := seriesLabels(fams, "kinesis_agg_user_records_received_total", "name"); strings.Join(got, ",") != "a,b" {
		t.Fatalf("instances %v, want a,b on the shared server", got)
	}

	h1.Release()
	h1.Release() // a second Release of the same handle must not drop h2's reference
	if v, _ := value(scrape(t, h2.URL()), "kinesis_agg_user_records_received_total", "name", "b"); v != 2 {
		t.Fatalf("after the first Release: b = %v, want 2", v)
	}
	if _, err := h1.Register("c", newFake(Snapshot{})); err == nil {
		t.Error("Register on a released handle succeeded")
	}

	h2.Release()
	c := http.Client{Timeout: 2 * time.Second}
	if resp, err := c.Get(h2.URL()); err == nil {
		resp.Body.Close()
		t.Fatal("server still answers after the last Release")
	}
	// The address is free again and a new Serve starts a new server there.
	h4, err := Serve(h2.Addr())
	if err != nil {
		t.Fatalf("Serve on the released address: %v", err)
	}
	defer h4.Release()
	if h4.s == h2.s {
		t.Fatal("a stopped server was handed out again")
	}
	if got := seriesLabels(scrape(t, h4.URL()), "kinesis_agg_user_records_received_total", "name"); len(got) != 0 {
		t.Errorf("new server has old instances %v", got)
	}
}

func TestRegister(t *testing.T) {
	s := serve(t)
	un := register(t, s, "kinesis_agg.0", newFake(Snapshot{Received: 1}))
	if _, err := s.Register("kinesis_agg.0", newFake(Snapshot{})); err == nil || !strings.Contains(err.Error(), `"kinesis_agg.0" already registered`) {
		t.Errorf("duplicate Register: %v", err)
	}
	if _, err := s.Register("", newFake(Snapshot{})); err == nil {
		t.Error("empty name accepted")
	}
	if _, err := s.Register("x", nil); err == nil {
		t.Error("nil source accepted")
	}
	un()
	un()
	if got := seriesLabels(scrape(t, s.URL()), "kinesis_agg_user_records_received_total", "name"); len(got) != 0 {
		t.Errorf("series after unregister: %v", got)
	}
	// The name is free again.
	register(t, s, "kinesis_agg.0", SourceFunc(func() Snapshot { return Snapshot{Received: 3} }))
	if v, _ := value(scrape(t, s.URL()), "kinesis_agg_user_records_received_total", "name", "kinesis_agg.0"); v != 3 {
		t.Errorf("re-registered instance: %v, want 3", v)
	}
}

func TestServeBadAddress(t *testing.T) {
	for _, tc := range []struct{ listen, want string }{
		{"2021", `metrics: listen "2021": want host:port`},
		{"127.0.0.1:http", `metrics: listen "127.0.0.1:http": port "http" is not a number from 0 to 65535`},
		{"127.0.0.1:70000", `port "70000" is not a number`},
		{"", `metrics: listen "": want host:port`},
		{"256.0.0.1:0", `metrics: listen "256.0.0.1:0"`},
	} {
		s, err := Serve(tc.listen)
		if err == nil {
			s.Release()
			t.Errorf("Serve(%q) succeeded", tc.listen)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Serve(%q) = %v, want %q", tc.listen, err, tc.want)
		}
	}
	// An address in use by something else is reported with the address.
	s := serve(t)
	other := &table{servers: map[string]*shared{}}
	if _, err := other.serve(s.Addr()); err == nil || !strings.Contains(err.Error(), s.Addr()) {
		t.Errorf("listening twice on %s: %v", s.Addr(), err)
	}
}

// A panicking source must not take the process down nor hide the other instances.
func TestPanickingSource(t *testing.T) {
	s := serve(t)
	register(t, s, "bad", SourceFunc(func() Snapshot { panic("boom") }))
	register(t, s, "good", newFake(Snapshot{Delivered: 42}))
	if v, ok := value(scrape(t, s.URL()), "kinesis_agg_user_records_delivered_total", "name", "good"); !ok || v != 42 {
		t.Errorf("good instance: %v %v, want 42", v, ok)
	}
}

// Hostile label values (invalid UTF-8, duplicates after cleaning) still give a valid exposition.
func TestLabelValuesSanitised(t *testing.T) {
	s := serve(t)
	register(t, s, "in\xffstance", newFake(Snapshot{
		Errors: map[string]int64{"Bad\xfe": 1, "Bad\xff": 2},
		Shards: []ShardStats{{ID: "a", Records: 1}, {ID: "a", Records: 2}},
	}))
	fams := scrape(t, s.URL())
	if v, ok := value(fams, "kinesis_agg_put_records_errors_total", "name", "in\uFFFDstance", "code", "Bad\uFFFD"); !ok || v != 3 {
		t.Errorf("merged error code: %v %v, want 3", v, ok)
	}
	if v, ok := value(fams, "kinesis_agg_shard_records_total", "name", "in\uFFFDstance", "shard", "a"); !ok || v != 1+2 {
		t.Errorf("merged shard: %v %v, want 3", v, ok)
	}
}

func TestNotFound(t *testing.T) {
	s := serve(t)
	resp, err := http.Get("http://" + s.Addr() + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET / = %s, want 404", resp.Status)
	}
}

func TestConcurrentScrapesAndRegistrations(t *testing.T) {
	s := serve(t)
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for j := range 20 {
				un, err := s.Register(string(rune('a'+i))+string(rune('a'+j)), newFake(fullSnapshot()))
				if err != nil {
					t.Error(err)
					return
				}
				un()
			}
		}()
		go func() {
			defer wg.Done()
			for range 5 {
				resp, err := http.Get(s.URL())
				if err != nil {
					t.Error(err)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}()
	}
	wg.Wait()
}

// The collector passes client_golang's own consistency checks (pedantic registry).
func TestCollectorPedantic(t *testing.T) {
	sh := &shared{sources: map[string]Source{"x": newFake(fullSnapshot()), "y": newFake(Snapshot{})}}
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(&collector{s: sh, d: newDescs()}); err != nil {
		t.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	if len(mfs) != 29 {
		t.Errorf("%d families, want 29", len(mfs))
	}
}

func TestClassifyReason(t *testing.T) {
	for _, tc := range []struct{ text, want string }{
		{"record too large: 1048700 bytes (data 1048600 + key 100) > limit 1048576", ReasonTooLarge},
		{"aggregation: record of 2000000 bytes (data 1999990 + partition key 10) > limit 1048576: record larger than the stream's record limit", ReasonTooLarge},
		{"record is not a map (msgpack type str)", ReasonNotAMap},
		{"log_key field not present", ReasonLogKeyMissing},
		{"record nested deeper than 1000 levels", ReasonTooDeep},
		{"compression failed: zstd: boom", ReasonCompressionFailed},
		{"unsupported timestamp (msgpack type str)", ReasonMalformed},
		{"event header is an array of 3 elements, want [time, metadata]", ReasonMalformed},
		{"", ReasonOther},
		{"something new", ReasonOther},
	} {
		if got := ClassifyReason(tc.text); got != tc.want {
			t.Errorf("ClassifyReason(%q) = %q, want %q", tc.text, got, tc.want)
		}
	}
}

func TestSummaryLine(t *testing.T) {
	prev := fullSnapshot()
	cur := prev
	cur.At = t0.Add(time.Minute)
	cur.Received += 1200
	cur.Delivered += 1197
	cur.Rejected = map[string]int64{ReasonTooLarge: 9, ReasonNotAMap: 3, ReasonLogKeyMissing: 1}
	cur.KinesisRecords += 42
	cur.KinesisRecordsFailed += 2
	cur.SentBytes += 3 << 20
	cur.PutRecordsCalls += 12
	cur.Errors = map[string]int64{"ProvisionedThroughputExceededException": 5, "unknown-outcome": 1}
	cur.Throttles += 2
	cur.Retried += 80
	cur.OpenShards = 4
	cur.TopologyLoadedAt = t0.Add(25 * time.Second)

	for _, tc := range []struct {
		name      string
		cur, prev Snapshot
		d         time.Duration
		want      string
	}{
		{"busy minute", cur, prev, time.Minute,
			"last 1m0s: received=1200 (20.0/s) delivered=1197 (19.9/s) rejected=3 [log_key_missing=1 too_large=2] " +
				"kinesis_records=42 (0.7/s) records_per_kinesis_record=29.9 sent=3.0MiB (51.2KiB/s) put_records=12 " +
				"errors=2 [ProvisionedThroughputExceededException=2] throttles=2 misroutes=0 retried=80 possible_duplicates=0 " +
				"undelivered=0 open_shards=4 shard_map_age=35s ledger_entries=4"},
		{"idle, no shard map, no interval", Snapshot{}, Snapshot{}, 0,
			"last 0s: received=0 delivered=0 rejected=0 kinesis_records=0 records_per_kinesis_record=- sent=0B put_records=0 " +
				"errors=0 throttles=0 misroutes=0 retried=0 possible_duplicates=0 undelivered=0 ledger_entries=0"},
		{"restart counts from zero, dead letters shown", Snapshot{Received: 10, DeadLettered: 2, SentBytes: 512}, Snapshot{Received: 50}, 10 * time.Second,
			"last 10s: received=10 (1.0/s) delivered=0 (0.0/s) rejected=0 kinesis_records=0 (0.0/s) records_per_kinesis_record=- " +
				"sent=512B (51B/s) put_records=0 errors=0 throttles=0 misroutes=0 retried=0 possible_duplicates=0 undelivered=0 " +
				"dead_lettered=2 dead_letter_errors=0 ledger_entries=0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := SummaryLine(tc.cur, tc.prev, tc.d); got != tc.want {
				t.Errorf("got\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
}

func TestFormatBytes(t *testing.T) {
	for _, tc := range []struct {
		n    float64
		want string
	}{{0, "0B"}, {1023, "1023B"}, {1024, "1.0KiB"}, {1536, "1.5KiB"}, {100 << 20, "100.0MiB"}, {3 << 40, "3.0TiB"}, {1 << 70, "1024.0EiB"}} {
		if got := formatBytes(tc.n); got != tc.want {
			t.Errorf("formatBytes(%v) = %q, want %q", tc.n, got, tc.want)
		}
	}
}

func TestShardCounters(t *testing.T) {
	var c ShardCounters
	if got := c.Snapshot(nil); len(got) != 0 {
		t.Fatalf("empty: %v", got)
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 1000 {
				c.Accepted("s"+string(rune('0'+i%3)), 1, 10)
				if i%100 == 0 {
					c.Throttled("s0", 1)
				}
			}
		}()
	}
	wg.Wait()
	got := c.Snapshot([]string{"s0", "s1", "s9"})
	want := []ShardStats{{"s0", 1336, 13360, 40}, {"s1", 1332, 13320, 0}, {"s9", 0, 0, 0}}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("shard %d: %+v, want %+v", i, got[i], want[i])
		}
	}
	// s2 was not listed as open: it is forgotten, and counts again from zero if it reappears.
	c.Accepted("s2", 1, 1)
	if got := c.Snapshot([]string{"s2"}); got[0] != (ShardStats{"s2", 1, 1, 0}) {
		t.Errorf("forgotten shard: %+v", got[0])
	}
	if len(c.shards) != 1 {
		t.Errorf("%d shards kept, want 1", len(c.shards))
	}
}

func BenchmarkShardCountersAccepted(b *testing.B) {
	var c ShardCounters
	ids := []string{"shardId-000000000000", "shardId-000000000001", "shardId-000000000002", "shardId-000000000003"}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			c.Accepted(ids[i&3], 1, 1000)
			i++
		}
	})
}

func BenchmarkScrape(b *testing.B) {
	sh := &shared{sources: map[string]Source{}}
	for _, n := range []string{"a", "b", "c"} {
		snap := fullSnapshot()
		for i := range 64 {
			snap.Shards = append(snap.Shards, ShardStats{ID: "shardId-0000000001" + string(rune('0'+i/10)) + string(rune('0'+i%10)), Records: int64(i)})
		}
		sh.sources[n] = newFake(snap)
	}
	reg := prometheus.NewRegistry()
	if err := reg.Register(&collector{s: sh, d: newDescs()}); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := reg.Gather(); err != nil {
			b.Fatal(err)
		}
	}
}

// FuzzCollect feeds arbitrary label values and counts through the collector: it must never panic
// and the registry must accept every series.
func FuzzCollect(f *testing.F) {
	f.Add("kinesis_agg.0", "too_large", "Throttled", "shardId-000000000001", int64(5))
	f.Add("\xff", "\xfe", "", "", int64(-1))
	f.Fuzz(func(t *testing.T, name, reason, code, shard string, n int64) {
		if name == "" {
			return
		}
		sh := &shared{sources: map[string]Source{name: newFake(Snapshot{
			Rejected:          map[string]int64{reason: n, ReasonOther: n},
			Errors:            map[string]int64{code: n, code + "\xff": 1},
			TopologyRefreshes: map[string]int64{code: n},
			TopologyLoadedAt:  t0,
			Shards:            []ShardStats{{ID: shard, Records: n}, {ID: shard + "\xff", Bytes: n}, {ID: shard}},
		})}}
		reg := prometheus.NewPedanticRegistry()
		if err := reg.Register(&collector{s: sh, d: newDescs()}); err != nil {
			t.Fatal(err)
		}
		if _, err := reg.Gather(); err != nil {
			t.Fatal(err)
		}
		_ = SummaryLine(sh.sources[name].Snapshot(), Snapshot{}, time.Second)
	})
}

// Nothing outlives the last Release: Fluent Bit may unload instances and start new ones.
func TestReleaseLeavesNoGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	s, err := Serve("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	register(t, s, "a", newFake(fullSnapshot()))
	tr := &http.Transport{}
	c := http.Client{Transport: tr}
	for range 3 {
		resp, err := c.Get(s.URL())
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	s.Release()
	tr.CloseIdleConnections()
	deadline := time.Now().Add(3 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines after Release, %d before", runtime.NumGoroutine(), before)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
