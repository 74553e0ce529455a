package delivery

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/kinesis-agg/kinesis_agg/aggregation"
	"github.com/kinesis-agg/kinesis_agg/hashkey"
	"github.com/kinesis-agg/kinesis_agg/topology"
)

// fakeShard is one shard of the fake stream, open or closed.
type fakeShard struct {
	id     string
	rng    hashkey.Range
	closed bool
}

// storedRecord is a Kinesis record the fake accepted.
type storedRecord struct {
	shard string
	pk    string
	ehk   string
	data  []byte
}

// callInfo is what one PutRecords call carried.
type callInfo struct {
	entries int
	bytes   int // sum of len(Data)+len(PartitionKey)
	plain   int // entries without the KPL magic
}

// fakeKinesis is an in-memory Kinesis stream: it routes each entry by ExplicitHashKey or
// MD5(PartitionKey) to its open shard, stores it, and can fail entries and requests, lose acks
// and reshard between calls.
type fakeKinesis struct {
	mu     sync.Mutex
	shards []*fakeShard
	nextID int
	stored []storedRecord
	calls  []callInfo

	// Prepared calls (pipeline_test.go): every one, what happened to them in order, and misuses.
	prepared int
	open     []*fakeCall
	events   []string
	problems []string
	serial   bool // one Deliver at a time: no two calls may be in flight together

	// Hooks, each optional; call is the 1-based call number.
	beforeCall  func(call int)                                      // e.g. reshard
	failRequest func(call int) error                                // whole request fails, nothing stored
	loseAck     func(call int) bool                                 // store everything, then fail
	failEntry   func(call, idx int, shard string, pk string) string // error code, "" = accept
}

// newFakeKinesis returns a stream of n shards splitting the hash key space evenly.
func newFakeKinesis(n int) *fakeKinesis {
	f := &fakeKinesis{}
	start := hashkey.Key{}
	for i := 0; i < n; i++ {
		end := hashkey.Max
		if i < n-1 {
			// (i+1)/n of the space, minus one: Hi part is enough for test layouts.
			end = hashkey.Key{Hi: uint64((float64(i+1) / float64(n)) * float64(^uint64(0))), Lo: ^uint64(0)}
		}
		f.shards = append(f.shards, &fakeShard{id: f.newID(), rng: hashkey.Range{Start: start, End: end}})
		start, _ = end.Add1()
	}
	return f
}

func (f *fakeKinesis) newID() string {
	id := fmt.Sprintf("shardId-%012d", f.nextID)
	f.nextID++
	return id
}

// split closes shard id and opens two children that halve its range. Callers hold no lock.
func (f *fakeKinesis) split(id string) (lo, hi string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p := f.find(id)
	mid := hashkey.Mid(p.rng.Start, p.rng.End)
	p.closed = true
	a := &fakeShard{id: f.newID(), rng: hashkey.Range{Start: p.rng.Start, End: mid}}
	next, _ := mid.Add1()
	b := &fakeShard{id: f.newID(), rng: hashkey.Range{Start: next, End: p.rng.End}}
	f.shards = append(f.shards, a, b)
	return a.id, b.id
}

// merge closes adjacent shards a and b and opens one covering both.
func (f *fakeKinesis) merge(a, b string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	sa, sb := f.find(a), f.find(b)
	if sb.rng.Start.Less(sa.rng.Start) {
		sa, sb = sb, sa
	}
	sa.closed, sb.closed = true, true
	m := &fakeShard{id: f.newID(), rng: hashkey.Range{Start: sa.rng.Start, End: sb.rng.End}}
	f.shards = append(f.shards, m)
	return m.id
}

func (f *fakeKinesis) find(id string) *fakeShard {
	for _, s := range f.shards {
		if s.id == id {
			return s
		}
	}
	panic("fake: no shard " + id)
}

func (f *fakeKinesis) route(h hashkey.Key) *fakeShard {
	for _, s := range f.shards {
		if !s.closed && s.rng.Contains(h) {
			return s
		}
	}
	panic("fake: open shards do not tile the space")
}

// shardMap returns the current listing as a topology map (closed shards included for RangeOf).
func (f *fakeKinesis) shardMap() *topology.ShardMap {
	f.mu.Lock()
	defer f.mu.Unlock()
	var listed []topology.ListedShard
	for _, s := range f.shards {
		ls := topology.ListedShard{ShardID: s.id, StartingHashKey: s.rng.Start.String(), EndingHashKey: s.rng.End.String()}
		if s.closed {
			ls.EndingSequenceNumber = "99"
		}
		listed = append(listed, ls)
	}
	m, err := topology.FromListed(listed)
	if err != nil {
		panic(err)
	}
	return m
}

func (f *fakeKinesis) PutRecords(ctx context.Context, in *kinesis.PutRecordsInput, _ ...func(*kinesis.Options)) (*kinesis.PutRecordsOutput, error) {
	f.mu.Lock()
	call := len(f.calls) + 1
	ci := callInfo{entries: len(in.Records)}
	for _, e := range in.Records {
		ci.bytes += len(e.Data) + len(aws.ToString(e.PartitionKey))
		if !strings.HasPrefix(string(e.Data), string(aggregation.Magic[:])) {
			ci.plain++
		}
	}
	f.calls = append(f.calls, ci)
	hook := f.beforeCall
	f.mu.Unlock()
	if hook != nil {
		hook(call)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if aws.ToString(in.StreamName) == "" && aws.ToString(in.StreamARN) == "" {
		return nil, fmt.Errorf("fake: no stream")
	}
	if len(in.Records) > 500 {
		return nil, fmt.Errorf("fake: %d entries", len(in.Records))
	}
	if f.failRequest != nil {
		if err := f.failRequest(call); err != nil {
			return nil, err
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	out := &kinesis.PutRecordsOutput{}
	failed := int32(0)
	for i, e := range in.Records {
		pk := aws.ToString(e.PartitionKey)
		var h hashkey.Key
		if ehk := aws.ToString(e.ExplicitHashKey); ehk != "" {
			k, err := hashkey.ParseDecimal(ehk)
			if err != nil {
				return nil, fmt.Errorf("fake: bad EHK %q", ehk)
			}
			h = k
		} else {
			h = hashkey.FromPartitionKey(pk)
		}
		s := f.route(h)
		if f.failEntry != nil {
			if code := f.failEntry(call, i, s.id, pk); code != "" {
				failed++
				out.Records = append(out.Records, types.PutRecordsResultEntry{ErrorCode: aws.String(code), ErrorMessage: aws.String("fake " + code)})
				continue
			}
		}
		f.stored = append(f.stored, storedRecord{shard: s.id, pk: pk, ehk: aws.ToString(e.ExplicitHashKey), data: append([]byte(nil), e.Data...)})
		out.Records = append(out.Records, types.PutRecordsResultEntry{ShardId: aws.String(s.id), SequenceNumber: aws.String(strconv.Itoa(len(f.stored)))})
	}
	out.FailedRecordCount = aws.Int32(failed)
	if f.loseAck != nil && f.loseAck(call) {
		return nil, &smithyhttp.RequestSendError{Err: io.ErrUnexpectedEOF}
	}
	return out, nil
}

func (f *fakeKinesis) callCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.calls)
}

// fakeTopology hands out a map the test controls; Invalidate reloads it from the fake stream.
type fakeTopology struct {
	mu          sync.Mutex
	cur         *topology.ShardMap
	stream      *fakeKinesis
	invalidErr  error // Invalidate fails with this (and returns the current map)
	invalidates int
	routed      int
}

func (t *fakeTopology) Current() *topology.ShardMap {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.cur
}

func (t *fakeTopology) Invalidate(_ context.Context, seen *topology.ShardMap) (*topology.ShardMap, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.invalidates++
	if t.invalidErr != nil {
		return t.cur, t.invalidErr
	}
	if t.cur != seen && t.cur != nil {
		return t.cur, nil
	}
	t.cur = t.stream.shardMap()
	return t.cur, nil
}

func (t *fakeTopology) Routed(n int) {
	t.mu.Lock()
	t.routed += n
	t.mu.Unlock()
}

func (t *fakeTopology) set(m *topology.ShardMap) {
	t.mu.Lock()
	t.cur = m
	t.mu.Unlock()
}

// makeRecords returns n records with ids "id-NNNNNN" in their data, spread over pks partition keys.
func makeRecords(t testing.TB, n, pks, size int) []aggregation.UserRecord {
	t.Helper()
	recs := make([]aggregation.UserRecord, n)
	pad := strings.Repeat("x", max(0, size-10))
	for i := range recs {
		r, err := aggregation.NewUserRecord(fmt.Sprintf("pk-%d", i%pks), "", []byte(fmt.Sprintf("id-%06d|%s", i, pad)), 0)
		if err != nil {
			t.Fatal(err)
		}
		recs[i] = r
	}
	return recs
}

func idOf(data []byte) int {
	s := string(data)
	if !strings.HasPrefix(s, "id-") || len(s) < 9 {
		return -1
	}
	n, err := strconv.Atoi(s[3:9])
	if err != nil {
		return -1
	}
	return n
}

// kclView deaggregates everything the fake stored, as KCL does on the storing shard (filter=true)
// or as a non-filtering consumer does, and counts each id.
func kclView(t testing.TB, f *fakeKinesis, filter bool) map[int]int {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	got := map[int]int{}
	for _, s := range f.stored {
		var rng *hashkey.Range
		if filter {
			r := f.find(s.shard).rng
			rng = &r
		}
		res := aggregation.Deaggregate(s.pk, s.data, rng)
		if res.Outcome == aggregation.DecodeFailed {
			t.Fatalf("stored record on %s does not decode: %v", s.shard, res.Err)
		}
		for _, r := range res.Records {
			got[idOf(r.Data)]++
		}
	}
	return got
}

// checkResult asserts the result partition (each index exactly one of delivered, rejected,
// undelivered) and that the Delivered set equals what KCL received. With strict, KCL received no
// record the sender did not report delivered (no lost acks in the test) and nothing twice.
func checkResult(t *testing.T, f *fakeKinesis, n int, res Result, strict bool) map[int]int {
	t.Helper()
	rejected := map[int]bool{}
	for _, r := range res.Rejected {
		if rejected[r.Index] {
			t.Errorf("index %d rejected twice", r.Index)
		}
		rejected[r.Index] = true
		if res.Delivered.Has(r.Index) {
			t.Errorf("index %d both rejected and delivered", r.Index)
		}
	}
	if got := n - res.Delivered.Count() - len(res.Rejected); got != res.Undelivered {
		t.Errorf("Undelivered = %d, want %d (n %d delivered %d rejected %d)", res.Undelivered, got, n, res.Delivered.Count(), len(res.Rejected))
	}
	if res.Undelivered > 0 && res.Err == nil {
		t.Errorf("undelivered records without Err")
	}
	if res.Undelivered == 0 && res.Err != nil {
		t.Errorf("Err %v with everything delivered", res.Err)
	}
	for _, p := range f.callProblems() {
		t.Errorf("prepared PutRecords call misused: %s", p)
	}
	kcl := kclView(t, f, true)
	for i := 0; i < n; i++ {
		if res.Delivered.Has(i) && kcl[i] == 0 {
			t.Errorf("record %d reported delivered, but KCL does not receive it", i)
		}
		if strict && !res.Delivered.Has(i) && kcl[i] > 0 {
			t.Errorf("record %d not reported delivered, but KCL receives it", i)
		}
		if strict && kcl[i] > 1 {
			t.Errorf("KCL receives record %d %d times", i, kcl[i])
		}
	}
	return kcl
}

// duplicates counts extra copies a non-filtering consumer receives.
func duplicates(t testing.TB, f *fakeKinesis) int {
	d := 0
	for _, c := range kclView(t, f, false) {
		d += c - 1
	}
	return d
}

// clock is a fake clock whose sleeps advance it.
type clock struct {
	mu     sync.Mutex
	t      time.Time
	sleeps []time.Duration
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) sleep(ctx context.Context, d time.Duration) bool {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.sleeps = append(c.sleeps, d)
	c.mu.Unlock()
	return ctx.Err() == nil
}

// newTestSender builds a sender on a fake clock with jitter fixed at 0.5.
func newTestSender(api PutRecordsAPI, topo Topology, o Options) (*Sender, *clock) {
	if o.StreamName == "" {
		o.StreamName = "logs"
	}
	if o.Rand == nil {
		o.Rand = func() float64 { return 0.5 }
	}
	s := New(api, topo, o)
	c := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	s.now, s.sleep = c.now, c.sleep
	return s, c
}

func sortedKeys(m map[string]int) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
