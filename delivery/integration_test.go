package delivery_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/kinesis-agg/kinesis_agg/aggregation"
	"github.com/kinesis-agg/kinesis_agg/delivery"
	"github.com/kinesis-agg/kinesis_agg/internal/faultproxy"
	"github.com/kinesis-agg/kinesis_agg/internal/kclreader"
	"github.com/kinesis-agg/kinesis_agg/internal/kinesalite"
	"github.com/kinesis-agg/kinesis_agg/kinesisapi"
	"github.com/kinesis-agg/kinesis_agg/topology"
)

const (
	itStream   = "it-logs"
	itRecords  = 20000
	itKeys     = 1000
	itChunk    = 500
	itWorkers  = 2 // concurrent Deliver calls, like Fluent Bit's Workers 2
	itMaxTries = 20
)

// itEnv is a kinesalite stream, optionally behind a fault proxy, with a sender on top.
type itEnv struct {
	admin   *kinesis.Client // straight to kinesalite: administration and reading
	client  *kinesis.Client // what the plugin uses (through the proxy when there is one)
	proxy   *faultproxy.Proxy
	tracker *topology.Tracker
	api     *countingAPI
	sender  *delivery.Sender
}

// newITEnv starts kinesalite with a stream of the given shards, the proxy when proxyOpts is set
// (prepared by setup before anything else talks to it), a tracker and a sender.
func newITEnv(t *testing.T, shards int, proxyOpts *faultproxy.Options, setup func(*faultproxy.Proxy), waitForMap bool) *itEnv {
	t.Helper()
	isolateAWSEnv(t)
	srv := kinesalite.StartT(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	e := &itEnv{admin: kinesalite.NewClient(srv.Endpoint)}
	if err := kinesalite.CreateStream(ctx, e.admin, itStream, shards); err != nil {
		t.Fatal(err)
	}
	endpoint := srv.Endpoint
	if proxyOpts != nil {
		p, err := faultproxy.New(srv.Endpoint, *proxyOpts)
		if err != nil {
			t.Fatal(err)
		}
		if endpoint, err = p.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { p.Close() })
		e.proxy = p
		if setup != nil {
			setup(p)
		}
	}
	client, err := kinesisapi.NewClient(ctx, kinesisapi.Config{Region: kinesalite.Region, Endpoint: endpoint, HTTPTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	e.client = client
	e.tracker = topology.NewTracker(&kinesisapi.ShardLister{API: client, StreamName: itStream}, topology.TrackerOptions{
		// No periodic refresh: the map goes stale at every reshard, so wrong-shard answers happen.
		RetryBase: 50 * time.Millisecond, RetryMax: 200 * time.Millisecond,
		Logf: func(format string, args ...any) { t.Logf("tracker: "+format, args...) },
	})
	t.Cleanup(e.tracker.Close)
	if waitForMap {
		waitFor(t, "first shard map", func() bool { return e.tracker.Current() != nil })
	}
	// The plugin's PutRecords client: its own requests over h1, each built while the last is answered.
	e.api = &countingAPI{api: kinesisapi.NewPutRecordsClient(client)}
	e.sender = delivery.New(e.api, e.tracker, delivery.Options{
		StreamName: itStream, Aggregate: true,
		// Small aggregates: many Kinesis records per chunk, so reshards hit several of them.
		Limits:      aggregation.Limits{MaxAggregateBytes: 16 << 10},
		RetryBudget: 10 * time.Second, BackoffBase: 20 * time.Millisecond, BackoffMax: 200 * time.Millisecond,
	})
	return e
}

// countingAPI counts plain and aggregated entries sent.
type countingAPI struct {
	api        *kinesisapi.PutRecordsClient
	mu         sync.Mutex
	plain, agg int
}

func (c *countingAPI) PutRecords(ctx context.Context, in *kinesis.PutRecordsInput, opt ...func(*kinesis.Options)) (*kinesis.PutRecordsOutput, error) {
	c.count(in)
	return c.api.PutRecords(ctx, in, opt...)
}

func (c *countingAPI) PreparePutRecords(ctx context.Context, in *kinesis.PutRecordsInput) kinesisapi.PreparedPut {
	return &countedCall{PreparedPut: c.api.PreparePutRecords(ctx, in), c: c, in: in}
}

// countedCall counts a prepared request when it is sent (the Sender starts every request it
// sends); one discarded unsent is not counted.
type countedCall struct {
	kinesisapi.PreparedPut
	c  *countingAPI
	in *kinesis.PutRecordsInput
}

func (cc *countedCall) Start(ctx context.Context) {
	cc.c.count(cc.in)
	cc.PreparedPut.Start(ctx)
}

func (c *countingAPI) count(in *kinesis.PutRecordsInput) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, e := range in.Records {
		if strings.HasPrefix(string(e.Data), string(aggregation.Magic[:])) {
			c.agg++
		} else {
			c.plain++
		}
	}
}

func (c *countingAPI) counts() (plain, agg int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.plain, c.agg
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// itRecordsFor builds the records of the test: unique ids in the data, itKeys partition keys.
func itRecordsFor(t *testing.T) []aggregation.UserRecord {
	recs := make([]aggregation.UserRecord, itRecords)
	for i := range recs {
		r, err := aggregation.NewUserRecord("pk-"+strconv.Itoa(i%itKeys), "",
			[]byte(fmt.Sprintf("id-%06d|{\"msg\":\"record %d of the integration test\",\"pad\":\"%s\"}", i, i, strings.Repeat("p", i%97))), i)
		if err != nil {
			t.Fatal(err)
		}
		recs[i] = r
	}
	return recs
}

// deliverChunk delivers one chunk the way the output does with Fluent Bit: records left
// undelivered are sent again (FLB_RETRY plus the ledger: only the missing ones).
func deliverChunk(ctx context.Context, t *testing.T, s *delivery.Sender, chunk []aggregation.UserRecord) (delivery.Stats, int) {
	var total delivery.Stats
	pending := chunk
	for try := 1; ; try++ {
		res := s.Deliver(ctx, pending)
		total.Add(res.Stats)
		if len(res.Rejected) != 0 {
			t.Errorf("rejected %+v", res.Rejected)
		}
		if res.Undelivered == 0 {
			return total, try
		}
		if try == itMaxTries {
			t.Errorf("chunk still has %d undelivered records after %d flushes: %v", res.Undelivered, try, res.Err)
			return total, try
		}
		var rest []aggregation.UserRecord
		for i, r := range pending {
			if !res.Delivered.Has(i) {
				rest = append(rest, r)
			}
		}
		pending = rest
	}
}

// run delivers all records in chunks with itWorkers concurrent callers while reshard runs in the
// middle (started after chunk 10, finished before chunk 30).
func (e *itEnv) run(t *testing.T, recs []aggregation.UserRecord, reshard func(ctx context.Context) error) (delivery.Stats, int) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	chunks := make(chan []aggregation.UserRecord)
	var (
		mu      sync.Mutex
		total   delivery.Stats
		flushes int
		wg      sync.WaitGroup
	)
	for w := 0; w < itWorkers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range chunks {
				st, n := deliverChunk(ctx, t, e.sender, c)
				mu.Lock()
				total.Add(st)
				flushes += n
				mu.Unlock()
			}
		}()
	}
	reshardDone := make(chan error, 1)
	for i, n := 0, 0; i < len(recs); i, n = i+itChunk, n+1 {
		if n == 10 && reshard != nil {
			go func() { reshardDone <- reshard(ctx) }()
		}
		if n == 30 && reshard != nil {
			if err := <-reshardDone; err != nil {
				t.Errorf("reshard: %v", err)
			}
		}
		chunks <- recs[i:min(i+itChunk, len(recs))]
	}
	close(chunks)
	wg.Wait()
	return total, flushes
}

// splitThreeMergeTwo splits three of the four shards at their midpoints, then merges the two
// highest open shards, pausing between operations so that deliveries run against stale maps.
func splitThreeMergeTwo(admin *kinesis.Client) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		open, err := kinesalite.OpenShards(ctx, admin, itStream)
		if err != nil {
			return err
		}
		for _, s := range open[:3] {
			time.Sleep(150 * time.Millisecond)
			if err := kinesalite.SplitShardEvenly(ctx, admin, itStream, *s.ShardId); err != nil {
				return err
			}
		}
		time.Sleep(150 * time.Millisecond)
		open, err = kinesalite.OpenShards(ctx, admin, itStream)
		if err != nil {
			return err
		}
		type sr struct {
			id    string
			start string
		}
		var byStart []sr
		for _, s := range open {
			r, err := kinesalite.ShardRange(s)
			if err != nil {
				return err
			}
			byStart = append(byStart, sr{*s.ShardId, fmt.Sprintf("%020d%020d", r.Start.Hi, r.Start.Lo)})
		}
		sort.Slice(byStart, func(i, j int) bool { return byStart[i].start < byStart[j].start })
		a, b := byStart[len(byStart)-2], byStart[len(byStart)-1]
		return kinesalite.MergeShards(ctx, admin, itStream, a.id, b.id)
	}
}

// readIDs reads the stream as KCL does (filter) or as a non-filtering consumer does, and counts
// each id.
func readIDs(t *testing.T, admin *kinesis.Client, filter bool) (map[int]int, *kclreader.Report) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	rep, err := kclreader.Read(ctx, admin, kclreader.ReadOptions{Stream: itStream, NoRangeFilter: !filter})
	if err != nil {
		t.Fatal(err)
	}
	ids := make(map[int]int, itRecords)
	for _, d := range rep.Delivered {
		s := string(d.Data)
		if !strings.HasPrefix(s, "id-") || len(s) < 9 {
			t.Fatalf("unexpected user record %q on %s", s, d.ShardID)
		}
		id, err := strconv.Atoi(s[3:9])
		if err != nil {
			t.Fatal(err)
		}
		ids[id]++
	}
	if rep.DecodeFailures != 0 || rep.EmptyAggregates != 0 {
		t.Errorf("reader: %d decode failures, %d empty aggregates", rep.DecodeFailures, rep.EmptyAggregates)
	}
	return ids, rep
}

func missingAndDuplicates(ids map[int]int) (missing []int, dups int) {
	for i := 0; i < itRecords; i++ {
		switch c := ids[i]; {
		case c == 0:
			missing = append(missing, i)
		case c > 1:
			dups += c - 1
		}
	}
	return missing, dups
}

func logStats(t *testing.T, st delivery.Stats, flushes int) {
	t.Logf("flushes %d, stats: calls %d entries %d failed %d throttles %d misroutes %d rerouted %d retried %d rounds %d possible-dups %d errors %v",
		flushes, st.Calls, st.EntriesSent, st.EntriesFailed, st.Throttles, st.Misroutes, st.Rerouted, st.Retried, st.Rounds, st.PossibleDuplicates, st.ErrorsByCode)
}

// TestIntegrationReshardDuringDelivery: 20,000 records through a real tracker and kinesalite while
// three shards split and two merge. A KCL consumer receives every id exactly once: misrouted
// aggregates are dropped by KCL and were re-sent whole.
func TestIntegrationReshardDuringDelivery(t *testing.T) {
	start := time.Now()
	e := newITEnv(t, 4, nil, nil, true)
	st, flushes := e.run(t, itRecordsFor(t), splitThreeMergeTwo(e.admin))
	logStats(t, st, flushes)

	ids, rep := readIDs(t, e.admin, true)
	missing, dups := missingAndDuplicates(ids)
	if len(missing) != 0 || dups != 0 {
		t.Fatalf("KCL view: %d ids missing (first %v), %d duplicates", len(missing), missing[:min(10, len(missing))], dups)
	}
	if flushes != itRecords/itChunk {
		t.Errorf("%d flushes for %d chunks: a chunk needed a Fluent Bit retry without any fault", flushes, itRecords/itChunk)
	}
	if st.Misroutes == 0 || st.Rerouted == 0 {
		t.Errorf("no wrong-shard answers: the reshard did not exercise verification (stats %+v)", st)
	}
	// Every re-routed member sits in a misrouted aggregate that KCL dropped, and nothing else
	// was dropped.
	if dropped := rep.DroppedOutOfRange + rep.DroppedCollateral; dropped != st.Rerouted {
		t.Errorf("KCL dropped %d user records in misrouted aggregates, the sender re-routed %d", dropped, st.Rerouted)
	}
	all, _ := readIDs(t, e.admin, false)
	_, rawDups := missingAndDuplicates(all)
	if rawDups != st.Rerouted || rawDups > st.PossibleDuplicates {
		t.Errorf("non-filtering consumer sees %d duplicates; Rerouted %d PossibleDuplicates %d", rawDups, st.Rerouted, st.PossibleDuplicates)
	}
	if _, agg := e.api.counts(); agg == 0 {
		t.Error("nothing was aggregated")
	}
	t.Logf("KCL: %d Kinesis records, %d aggregates, %d dropped aggregates; took %v", rep.KinesisRecords, rep.Aggregates, rep.DroppedAggregates, time.Since(start))
}

// TestIntegrationFaults: the same through the fault proxy. Every id arrives; duplicates come only
// from lost acks and re-routes, and the sender counted at least as many.
func TestIntegrationFaults(t *testing.T) {
	start := time.Now()
	e := newITEnv(t, 4, &faultproxy.Options{
		Seed:               42,
		EntryFailures:      faultproxy.EntryFailures{Rate: 0.10, InternalShare: 0.5},
		RequestErrors:      faultproxy.RequestErrors{Rate: 0.05, UnavailableShare: 0.5},
		LostAckRate:        0.02,
		ListShardsPageSize: 2,
		KeepEvents:         true,
	}, nil, true)
	st, flushes := e.run(t, itRecordsFor(t), splitThreeMergeTwo(e.admin))
	logStats(t, st, flushes)

	ids, rep := readIDs(t, e.admin, true)
	missing, kclDups := missingAndDuplicates(ids)
	if len(missing) != 0 {
		t.Fatalf("KCL view: %d ids missing (first %v)", len(missing), missing[:min(10, len(missing))])
	}
	all, _ := readIDs(t, e.admin, false)
	_, rawDups := missingAndDuplicates(all)
	if rawDups > st.PossibleDuplicates || kclDups > st.PossibleDuplicates {
		t.Errorf("duplicates: KCL %d, non-filtering %d; PossibleDuplicates only %d", kclDups, rawDups, st.PossibleDuplicates)
	}
	if st.EntriesFailed == 0 || st.ErrorsByCode["InternalFailure"] == 0 || st.Retried == 0 {
		t.Errorf("faults not exercised: %+v", st)
	}
	lostAcks := 0
	for _, ev := range e.proxy.Events() {
		if ev.Injected == "LostAck" {
			lostAcks++
		}
	}
	t.Logf("KCL duplicates %d, non-filtering duplicates %d, lost acks %d; KCL dropped %d aggregates; took %v",
		kclDups, rawDups, lostAcks, rep.DroppedAggregates, time.Since(start))
}

// TestIntegrationTopologyUnavailableAtStart: while ListShards fails the sender never aggregates
// (never aggregate blind) and still delivers; once the map loads, records are aggregated.
func TestIntegrationTopologyUnavailableAtStart(t *testing.T) {
	e := newITEnv(t, 2, &faultproxy.Options{Seed: 7, KeepEvents: true}, func(p *faultproxy.Proxy) {
		if err := p.SetListShardsFailure(faultproxy.InternalFailure); err != nil {
			t.Fatal(err)
		}
	}, false)
	recs := itRecordsFor(t)[:6000]
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	// Phase 1: no map. The tracker is retrying ListShards in the background.
	t0 := time.Now()
	for i := 0; i < 3000; i += itChunk {
		deliverChunk(ctx, t, e.sender, recs[i:i+itChunk])
	}
	if e.tracker.Current() != nil {
		t.Fatal("a shard map loaded while ListShards was failing")
	}
	plain, agg := e.api.counts()
	if agg != 0 || plain != 3000 {
		t.Fatalf("without a map: %d plain, %d aggregated entries; want 3000 plain", plain, agg)
	}

	t.Logf("phase 1 took %v", time.Since(t0))

	// Phase 2: ListShards recovers; the tracker's retry loads the map.
	if err := e.proxy.SetListShardsFailure(faultproxy.NoError); err != nil {
		t.Fatal(err)
	}
	t0 = time.Now()
	waitFor(t, "shard map after ListShards recovered", func() bool { return e.tracker.Current() != nil })
	t.Logf("map loaded after %v", time.Since(t0))
	t0 = time.Now()
	for i := 3000; i < len(recs); i += itChunk {
		deliverChunk(ctx, t, e.sender, recs[i:i+itChunk])
	}
	t.Logf("phase 2 took %v", time.Since(t0))
	plain2, agg2 := e.api.counts()
	if agg2 == 0 {
		t.Fatal("no aggregated entries after the map loaded")
	}
	if plain2-plain >= 3000 {
		t.Errorf("after the map loaded: %d more plain entries for 3000 records", plain2-plain)
	}
	failedLists := 0
	for _, ev := range e.proxy.Events() {
		if ev.Op == "ListShards" && ev.Injected != "" {
			failedLists++
		}
	}
	if failedLists == 0 {
		t.Error("the proxy failed no ListShards request")
	}

	ids, _ := readIDs(t, e.admin, true)
	for i := 0; i < len(recs); i++ {
		if ids[i] != 1 {
			t.Fatalf("KCL receives id %d %d times", i, ids[i])
		}
	}
	if len(ids) != len(recs) {
		t.Fatalf("KCL receives %d distinct ids, want %d", len(ids), len(recs))
	}
	t.Logf("phase 1: %d plain entries; phase 2: %d plain, %d aggregated; %d failed ListShards", plain, plain2-plain, agg2, failedLists)
}

// isolateAWSEnv gives kinesisapi.NewClient static dummy credentials and keeps the host's AWS
// configuration (files, IMDS, profiles) out of the test.
func isolateAWSEnv(t *testing.T) {
	dir := t.TempDir()
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID":                      "AKIDINTEGRATION",
		"AWS_SECRET_ACCESS_KEY":                  "secret",
		"AWS_SESSION_TOKEN":                      "",
		"AWS_CONFIG_FILE":                        filepath.Join(dir, "config"),
		"AWS_SHARED_CREDENTIALS_FILE":            filepath.Join(dir, "credentials"),
		"AWS_EC2_METADATA_DISABLED":              "true",
		"AWS_PROFILE":                            "",
		"AWS_ROLE_ARN":                           "",
		"AWS_WEB_IDENTITY_TOKEN_FILE":            "",
		"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "",
		"AWS_CONTAINER_CREDENTIALS_FULL_URI":     "",
	} {
		t.Setenv(k, v)
	}
}

// A fault proxy throttles each shard above 200 records/s. Without pacing the plugin hammers the
// shards into throttling; with a limiter below that rate almost nothing is throttled, and every
// record is delivered either way.
func TestIntegrationShardRateLimit(t *testing.T) {
	run := func(t *testing.T, lim *delivery.Limiter) delivery.Stats {
		e := newITEnv(t, 2, &faultproxy.Options{Seed: 3}, func(p *faultproxy.Proxy) {
			if err := p.SetShardRateLimit(200); err != nil {
				t.Fatal(err)
			}
		}, true)
		s := delivery.New(e.api, e.tracker, delivery.Options{
			StreamName: itStream, Aggregate: false, Limiter: lim,
			RetryBudget: 20 * time.Second, BackoffBase: 20 * time.Millisecond, BackoffMax: 200 * time.Millisecond,
		})
		recs := itRecordsFor(t)[:800]
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		res := s.Deliver(ctx, recs)
		if res.Undelivered != 0 || res.Delivered.Count() != len(recs) {
			t.Fatalf("%d undelivered: %v", res.Undelivered, res.Err)
		}
		ids, _ := readIDs(t, e.admin, true)
		for i := range recs {
			if ids[i] != 1 {
				t.Fatalf("id %d read back %d times", i, ids[i])
			}
		}
		if len(ids) != len(recs) {
			t.Fatalf("%d ids read back, want %d", len(ids), len(recs))
		}
		return res.Stats
	}
	without := run(t, nil)
	with := run(t, delivery.NewLimiter(0.15, 1<<20)) // 150 records/s per shard
	t.Logf("without limiter: %d throttled of %d sent; with: %d throttled, %d paced", without.Throttles, without.EntriesSent, with.Throttles, with.Paced)
	if without.Throttles < 100 {
		t.Fatalf("the proxy should throttle an unpaced burst: %+v", without)
	}
	if with.Paced == 0 || with.Throttles > without.Throttles/10 {
		t.Fatalf("limiter did not prevent throttling: %+v", with)
	}
}

// One hot shard: the proxy throttles shard 0 at 40 records/s while the others take 300. Records
// without shard affinity (random partition keys) are steered away from it by the limiter's
// headroom, so throughput holds; routed by their random hash, a quarter of them queue behind the
// hot shard. Nothing is lost either way.
func TestIntegrationSteeringAroundHotShard(t *testing.T) {
	const n = 1200
	run := func(t *testing.T, steer bool) (time.Duration, map[string]int) {
		e := newITEnv(t, 4, &faultproxy.Options{Seed: 4}, func(p *faultproxy.Proxy) {
			if err := p.SetShardRateLimit(300); err != nil {
				t.Fatal(err)
			}
			if err := p.SetShardRateLimitFor("shardId-000000000000", 40); err != nil {
				t.Fatal(err)
			}
		}, true)
		s := delivery.New(e.api, e.tracker, delivery.Options{
			StreamName: itStream, Aggregate: false, Limiter: delivery.NewLimiter(0.25, 1<<20),
			RetryBudget: 40 * time.Second, BackoffBase: 20 * time.Millisecond, BackoffMax: 200 * time.Millisecond,
		})
		recs := itRecordsFor(t)[:n]
		for i := range recs {
			pk := fmt.Sprintf("%016x", uint64(i)*0x9E3779B97F4A7C15) // a random-looking key
			r, err := aggregation.NewUserRecord(pk, "", recs[i].Data, i)
			if err != nil {
				t.Fatal(err)
			}
			r.Steerable = steer
			recs[i] = r
		}
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		start := time.Now()
		res := s.Deliver(ctx, recs)
		took := time.Since(start)
		if res.Undelivered != 0 {
			t.Fatalf("%d undelivered: %v", res.Undelivered, res.Err)
		}
		ids, rep := readIDs(t, e.admin, true)
		if len(ids) != n {
			t.Fatalf("%d ids read back, want %d", len(ids), n)
		}
		perShard := map[string]int{}
		for _, d := range rep.Delivered {
			perShard[d.ShardID]++
		}
		t.Logf("steer=%v: %v, %d throttled, per shard %v", steer, took.Round(time.Millisecond), res.Stats.Throttles, perShard)
		return took, perShard
	}
	hashed, hashedShards := run(t, false)
	steered, steeredShards := run(t, true)
	if steeredShards["shardId-000000000000"] >= hashedShards["shardId-000000000000"] {
		t.Errorf("steering did not move records off the hot shard: %v vs %v", steeredShards, hashedShards)
	}
	if steered > hashed*2/3 {
		t.Errorf("steered delivery took %v, hashed %v: throughput did not hold", steered, hashed)
	}
}
