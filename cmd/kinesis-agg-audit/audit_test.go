package main

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/kinesis-agg/kinesis_agg/aggregation"
	"github.com/kinesis-agg/kinesis_agg/hashkey"
	"github.com/kinesis-agg/kinesis_agg/internal/faultproxy"
	"github.com/kinesis-agg/kinesis_agg/internal/kclreader"
	"github.com/kinesis-agg/kinesis_agg/internal/kinesalite"
	"github.com/kinesis-agg/kinesis_agg/kinesisapi"
)

const (
	shard0 = "shardId-000000000000"
	shard1 = "shardId-000000000001"
	shard2 = "shardId-000000000002"

	half  = "170141183460469231731687303715884105728" // 2^127: shard 2 of a split starts here
	below = "170141183460469231731687303715884105727" // 2^127-1: shard 1 ends here
	top   = "340282366920938463463374607431768211455" // 2^128-1
)

var lowHalf = hashkey.Range{End: hashkey.Key{Hi: 1<<63 - 1, Lo: ^uint64(0)}}

// pkIn returns the n-th partition key "prefix-i" whose MD5 lies in r (or outside it with !in).
func pkIn(prefix string, r hashkey.Range, in bool, n int) string {
	for i := 0; ; i++ {
		pk := fmt.Sprintf("%s-%d", prefix, i)
		if r.Contains(hashkey.FromPartitionKey(pk)) == in {
			if n == 0 {
				return pk
			}
			n--
		}
	}
}

// aggregate packs user records (partition key, data) with the product's Aggregator.
func aggregate(t *testing.T, pkData ...string) []byte {
	t.Helper()
	a := aggregation.NewAggregator(1<<20, 0)
	for i := 0; i+1 < len(pkData); i += 2 {
		r, err := aggregation.NewUserRecord(pkData[i], "", []byte(pkData[i+1]), i/2)
		if err != nil {
			t.Fatal(err)
		}
		if !a.Add(&r) {
			t.Fatalf("aggregate: record %d does not fit", i/2)
		}
	}
	return a.AppendBlob(nil)
}

// handBlob builds a KPL aggregate the Aggregator refuses to: members given as (pk index, ehk
// index or -1, data), with whatever tables the caller wants.
func handBlob(pks, ehks []string, members ...any) []byte {
	var msg []byte
	for _, pk := range pks {
		msg = protowire.AppendTag(msg, 1, protowire.BytesType)
		msg = protowire.AppendString(msg, pk)
	}
	for _, e := range ehks {
		msg = protowire.AppendTag(msg, 2, protowire.BytesType)
		msg = protowire.AppendString(msg, e)
	}
	for i := 0; i+2 < len(members); i += 3 {
		var rb []byte
		rb = protowire.AppendTag(rb, 1, protowire.VarintType)
		rb = protowire.AppendVarint(rb, uint64(members[i].(int)))
		if ehk := members[i+1].(int); ehk >= 0 {
			rb = protowire.AppendTag(rb, 2, protowire.VarintType)
			rb = protowire.AppendVarint(rb, uint64(ehk))
		}
		rb = protowire.AppendTag(rb, 3, protowire.BytesType)
		rb = protowire.AppendString(rb, members[i+2].(string))
		msg = protowire.AppendTag(msg, 3, protowire.BytesType)
		msg = protowire.AppendBytes(msg, rb)
	}
	sum := md5.Sum(msg)
	out := append([]byte(nil), aggregation.Magic[:]...)
	return append(append(out, msg...), sum[:]...)
}

type env struct {
	ctx  context.Context
	kl   *kinesalite.Server
	c    *kinesis.Client
	seqs map[string]string // put name -> sequence number
}

// fill replaces {name} with the sequence number of the record put as name.
func (e *env) fill(s string) string {
	for name, seq := range e.seqs {
		s = strings.ReplaceAll(s, "{"+name+"}", seq)
	}
	return s
}

func (e *env) put(t *testing.T, stream, name, pk, ehk string, data []byte, wantShard string) {
	t.Helper()
	in := &kinesis.PutRecordInput{StreamName: aws.String(stream), PartitionKey: aws.String(pk), Data: data}
	if ehk != "" {
		in.ExplicitHashKey = aws.String(ehk)
	}
	out, err := e.c.PutRecord(e.ctx, in)
	if err != nil {
		t.Fatalf("put %s: %v", name, err)
	}
	if got := aws.ToString(out.ShardId); got != wantShard {
		t.Fatalf("put %s landed on %s, want %s", name, got, wantShard)
	}
	e.seqs[name] = aws.ToString(out.SequenceNumber)
}

// newEnv starts kinesalite and writes two streams.
//
// "lossy", one shard split evenly after three records:
//
//	shard 0 (closed, whole range): plain; malformed aggregate (member 1 of 3 has explicit hash
//	        key "12x": 1 delivered, 2 lost); corrupt aggregate (bad MD5: delivered raw)
//	shard 1 (lower half): good aggregate of 3; aggregate of 3 straddling the boundary, routed
//	        here by its explicit hash key (1 out of range, 2 collateral)
//	shard 2 (upper half): 2 plain; empty but valid aggregate
//
// "clean", two shards: an aggregate of 2 and a plain record in each, and an empty aggregate.
func newEnv(t *testing.T) *env {
	t.Helper()
	kl := kinesalite.StartT(t)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	t.Cleanup(cancel)
	e := &env{ctx: ctx, kl: kl, c: kinesalite.NewClient(kl.Endpoint), seqs: map[string]string{}}
	if err := kinesalite.CreateStream(ctx, e.c, "lossy", 1); err != nil {
		t.Fatal(err)
	}
	lo := func(n int) string { return pkIn("lo", lowHalf, true, n) }
	hi := func(n int) string { return pkIn("hi", lowHalf, false, n) }

	e.put(t, "lossy", "plain0", "a", "", []byte("plain-0"), shard0)
	e.put(t, "lossy", "malformed", "a", "",
		handBlob([]string{lo(0)}, []string{"12x"}, 0, -1, "m0", 0, 0, "m1", 0, -1, "m2"), shard0)
	corrupt := aggregate(t, lo(0), "c0", lo(1), "c1")
	corrupt[len(corrupt)-1] ^= 0xff
	e.put(t, "lossy", "corrupt", "a", "", corrupt, shard0)

	if err := kinesalite.SplitShardEvenly(ctx, e.c, "lossy", shard0); err != nil {
		t.Fatal(err)
	}
	e.put(t, "lossy", "good", "a", hashkey.FromPartitionKey(lo(0)).String(),
		aggregate(t, lo(0), "g0", lo(1), "g1", lo(2), "g2"), shard1)
	// What a producer with a stale shard map sends: members of both children, routed by the
	// first member's hash key to the lower one.
	e.put(t, "lossy", "straddle", "a", hashkey.FromPartitionKey(lo(3)).String(),
		aggregate(t, lo(3), "s0", hi(0), "s1", lo(4), "s2"), shard1)
	e.put(t, "lossy", "plain1", hi(1), "", []byte("plain-1"), shard2)
	e.put(t, "lossy", "plain2", hi(2), "", []byte("plain-2"), shard2)
	e.put(t, "lossy", "empty", "a", top, handBlob([]string{"x"}, nil), shard2)

	if err := kinesalite.CreateStream(ctx, e.c, "clean", 2); err != nil {
		t.Fatal(err)
	}
	e.put(t, "clean", "c0", "a", "0", aggregate(t, lo(0), "a", lo(1), "b"), shard0)
	e.put(t, "clean", "c1", hi(0), "", []byte("p"), shard1)
	e.put(t, "clean", "c2", "a", top, aggregate(t, hi(0), "c", hi(1), "d"), shard1)
	e.put(t, "clean", "c3", lo(0), "", []byte("q"), shard0)
	e.put(t, "clean", "c4", "a", "0", handBlob([]string{"x"}, nil), shard0)
	return e
}

// factory returns a clientFactory for kinesalite that records the Config it was given.
func factory(got *kinesisapi.Config) clientFactory {
	return func(_ context.Context, c kinesisapi.Config) (*kinesis.Client, error) {
		*got = c
		return kinesalite.NewClient(c.Endpoint), nil
	}
}

// runArgs runs the command and returns its exit status, stdout and stderr.
func runArgs(ctx context.Context, f clientFactory, args ...string) (int, string, string) {
	var out, errOut bytes.Buffer
	code := run(ctx, args, &out, &errOut, f)
	return code, out.String(), errOut.String()
}

// lossyJSON is the expected --json report of stream "lossy"; {malformed}.. are sequence numbers of
// "malformed" and "straddle".
const lossyJSON = `{
  "version": 1, "stream": "lossy", "from": "TRIM_HORIZON",
  "shards": [
    {"shard_id": "shardId-000000000000", "closed": true,
     "starting_hash_key": "0", "ending_hash_key": "` + top + `",
     "kinesis_records": 3, "plain_records": 2, "aggregates": 1, "empty_aggregates": 0, "corrupt_aggregates": 1,
     "user_records": 5, "delivered": 3, "lost": 2, "dropped_aggregates": 0, "dropped_out_of_range": 0,
     "dropped_collateral": 0, "malformed_aggregates": 1, "malformed_lost": 2},
    {"shard_id": "shardId-000000000001", "parent_shard_id": "shardId-000000000000", "closed": false,
     "starting_hash_key": "0", "ending_hash_key": "` + below + `",
     "kinesis_records": 2, "plain_records": 0, "aggregates": 2, "empty_aggregates": 0, "corrupt_aggregates": 0,
     "user_records": 6, "delivered": 3, "lost": 3, "dropped_aggregates": 1, "dropped_out_of_range": 1,
     "dropped_collateral": 2, "malformed_aggregates": 0, "malformed_lost": 0},
    {"shard_id": "shardId-000000000002", "parent_shard_id": "shardId-000000000000", "closed": false,
     "starting_hash_key": "` + half + `", "ending_hash_key": "` + top + `",
     "kinesis_records": 3, "plain_records": 2, "aggregates": 1, "empty_aggregates": 1, "corrupt_aggregates": 0,
     "user_records": 2, "delivered": 2, "lost": 0, "dropped_aggregates": 0, "dropped_out_of_range": 0,
     "dropped_collateral": 0, "malformed_aggregates": 0, "malformed_lost": 0}
  ],
  "total": {"kinesis_records": 8, "plain_records": 4, "aggregates": 4, "empty_aggregates": 1, "corrupt_aggregates": 1,
     "user_records": 13, "delivered": 8, "lost": 5, "dropped_aggregates": 1, "dropped_out_of_range": 1,
     "dropped_collateral": 2, "malformed_aggregates": 1, "malformed_lost": 2},
  "data_loss": true,
  "loss_percent": 38.46153846153846,
  "verdict": "KCL consumers silently lose 5 of 13 user records (38.5%)",
  "losses_total": 2,
  "losses": [
    {"shard_id": "shardId-000000000000", "sequence_number": "{malformed}", "outcome": "decode-failed",
     "members": 3, "delivered": 1, "out_of_range": 0, "lost": 2,
     "error": "aggregation: user record 1: explicit hash key \"12x\" is not a number"},
    {"shard_id": "shardId-000000000001", "sequence_number": "{straddle}", "outcome": "dropped-out-of-range",
     "members": 3, "delivered": 0, "out_of_range": 1, "lost": 3}
  ]
}`

// lossyTable is the expected table for stream "lossy", runs of spaces collapsed to one.
const lossyTable = `Stream lossy from TRIM_HORIZON: 3 shards (1 closed)

SHARD STATE RANGE RECORDS AGGREGATES DELIVERED OUT-OF-RANGE COLLATERAL MALFORMED
shardId-000000000000 closed 0-100% 3 1 3 0 0 2 (1 agg)
shardId-000000000001 open 0-50% 2 2 3 1 2 0
shardId-000000000002 open 50-100% 3 1 2 0 0 0
TOTAL 8 4 8 1 2 2 (1 agg)

Also: 1 empty aggregate (no user records, nothing lost); 1 corrupt aggregate (KPL magic but bad MD5 or protobuf: delivered as raw bytes, not as user records).
Verdict: KCL consumers silently lose 5 of 13 user records (38.5%).

First 2 of 2 Kinesis records that lost user records:
SHARD SEQUENCE NUMBER OUTCOME MEMBERS
shardId-000000000000 {malformed} decode-failed 3 members: 1 delivered, 2 lost after: aggregation: user record 1: explicit hash key "12x" is not a number
shardId-000000000001 {straddle} dropped-out-of-range 3 members: 1 out of range, 2 in range dropped with them
`

var spaces = regexp.MustCompile(` +`)

func collapse(s string) string { return spaces.ReplaceAllString(s, " ") }

// sameJSON compares two JSON documents by value, so that the expectation can be laid out freely
// while every field name and value is still checked.
func sameJSON(t *testing.T, got, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal([]byte(got), &g); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, got)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("expectation is not JSON: %v\n%s", err, want)
	}
	if !reflect.DeepEqual(g, w) {
		t.Fatalf("report:\n%s\nwant:\n%s", got, want)
	}
}

func TestAudit(t *testing.T) {
	e := newEnv(t)
	ep := e.kl.Endpoint
	var cfg kinesisapi.Config
	f := factory(&cfg)
	lossyWant := e.fill(lossyJSON)

	t.Run("json", func(t *testing.T) {
		code, out, errOut := runArgs(e.ctx, f, "--stream", "lossy", "--endpoint", ep, "--region", "eu-west-1",
			"--profile", "p", "--role-arn", "arn:aws:iam::1:role/r", "--external-id", "x", "--interval", "0", "--json")
		if code != exitLoss || errOut != "" {
			t.Fatalf("exit %d, stderr %q", code, errOut)
		}
		sameJSON(t, out, lossyWant)
		want := kinesisapi.Config{Region: "eu-west-1", Endpoint: ep, Profile: "p", RoleARN: "arn:aws:iam::1:role/r", ExternalID: "x"}
		if cfg != want {
			t.Fatalf("client config %+v, want %+v", cfg, want)
		}
	})

	t.Run("table", func(t *testing.T) {
		code, out, errOut := runArgs(e.ctx, f, "--stream", "lossy", "--endpoint", ep, "--interval", "0", "--limit", "2")
		if code != exitLoss || errOut != "" {
			t.Fatalf("exit %d, stderr %q", code, errOut)
		}
		t.Logf("table output:\n%s", out)
		if want := e.fill(lossyTable); collapse(out) != want {
			t.Fatalf("table:\n%s\nwant (spaces collapsed):\n%s", out, want)
		}
		// The shard table's last column is right-aligned: all its lines are equally long.
		lines := strings.Split(out, "\n")[2:7]
		for _, l := range lines {
			if len(l) != len(lines[0]) {
				t.Fatalf("shard table not aligned:\n%s", strings.Join(lines, "\n"))
			}
		}
	})

	t.Run("losses limited", func(t *testing.T) {
		code, out, _ := runArgs(e.ctx, f, "--stream", "lossy", "--endpoint", ep, "--interval", "0", "--losses", "1")
		if code != exitLoss || !strings.Contains(out, "First 1 of 2 Kinesis records") || strings.Contains(out, e.seqs["straddle"]) {
			t.Fatalf("exit %d:\n%s", code, out)
		}
		code, out, _ = runArgs(e.ctx, f, "--stream", "lossy", "--endpoint", ep, "--interval", "0", "--losses", "0", "--json")
		var rep auditReport
		if err := json.Unmarshal([]byte(out), &rep); err != nil || code != exitLoss || rep.LossesTotal != 2 || len(rep.Losses) != 0 {
			t.Fatalf("exit %d, %v: %+v", code, err, rep)
		}
		if !strings.Contains(out, `"losses": []`) {
			t.Fatalf("losses should be an empty list, not null:\n%s", out)
		}
	})

	t.Run("clean", func(t *testing.T) {
		code, out, errOut := runArgs(e.ctx, f, "--stream", "clean", "--endpoint", ep, "--interval", "0")
		if code != exitOK || errOut != "" {
			t.Fatalf("exit %d, stderr %q\n%s", code, errOut, out)
		}
		want := "Stream clean from TRIM_HORIZON: 2 shards (0 closed)\n\n" +
			"SHARD STATE RANGE RECORDS AGGREGATES DELIVERED OUT-OF-RANGE COLLATERAL MALFORMED\n" +
			"shardId-000000000000 open 0-50% 3 2 3 0 0 0\n" +
			"shardId-000000000001 open 50-100% 2 1 3 0 0 0\n" +
			"TOTAL 5 3 6 0 0 0\n\n" +
			"Also: 1 empty aggregate (no user records, nothing lost).\n" +
			"Verdict: no data loss for KCL consumers (6 user records in 5 Kinesis records).\n"
		if collapse(out) != want {
			t.Fatalf("table:\n%s\nwant (spaces collapsed):\n%s", out, want)
		}
		code, out, _ = runArgs(e.ctx, f, "--stream", "clean", "--endpoint", ep, "--interval", "0", "--json")
		var rep auditReport
		if err := json.Unmarshal([]byte(out), &rep); err != nil || code != exitOK || rep.DataLoss || rep.LossPercent != 0 ||
			rep.Total.UserRecords != 6 || rep.Total.EmptyAggregates != 1 ||
			rep.Verdict != "no data loss for KCL consumers (6 user records in 5 Kinesis records)" {
			t.Fatalf("exit %d, %v: %+v", code, err, rep)
		}
	})

	t.Run("stream ARN through a proxy", func(t *testing.T) {
		// kinesalite rejects StreamARN; faultproxy translates it and pages ListShards one shard
		// at a time. The region comes from the ARN.
		p, err := faultproxy.New(ep, faultproxy.Options{ListShardsPageSize: 1})
		if err != nil {
			t.Fatal(err)
		}
		pep, err := p.Start()
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		arn := "arn:aws:kinesis:ap-south-1:000000000000:stream/lossy"
		code, out, errOut := runArgs(e.ctx, f, "--stream-arn", arn, "--endpoint", pep, "--interval", "0", "--json")
		if code != exitLoss || errOut != "" {
			t.Fatalf("exit %d, stderr %q", code, errOut)
		}
		sameJSON(t, out, strings.Replace(lossyWant, `"stream": "lossy"`, `"stream": "`+arn+`"`, 1))
		if cfg.Region != "ap-south-1" {
			t.Fatalf("region %q, want the ARN's", cfg.Region)
		}
		if st := p.Stats(); st.StreamARNRewrite == 0 || st.ListShardsPages != 3 {
			t.Fatalf("proxy stats %+v", st)
		}
	})

	t.Run("LATEST", func(t *testing.T) {
		code, out, _ := runArgs(e.ctx, f, "--stream", "lossy", "--endpoint", ep, "--interval", "0", "--from", "latest", "--json")
		var rep auditReport
		if err := json.Unmarshal([]byte(out), &rep); err != nil || code != exitOK || rep.From != "LATEST" ||
			len(rep.Shards) != 3 || rep.Total.KinesisRecords != 0 {
			t.Fatalf("exit %d, %v: %+v", code, err, rep)
		}
	})

	t.Run("AWS errors", func(t *testing.T) {
		code, out, errOut := runArgs(e.ctx, f, "--stream", "missing", "--endpoint", ep, "--interval", "0")
		if code != exitError || out != "" || !strings.Contains(errOut, "stream missing") ||
			!strings.Contains(errOut, "ResourceNotFoundException") {
			t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
		}
		failing := func(context.Context, kinesisapi.Config) (*kinesis.Client, error) {
			return nil, fmt.Errorf("kinesisapi: no AWS region: set region or AWS_REGION")
		}
		code, out, errOut = runArgs(e.ctx, failing, "--stream", "lossy")
		if code != exitError || out != "" || errOut != "kinesis-agg-audit: stream lossy: kinesisapi: no AWS region: set region or AWS_REGION\n" {
			t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
		}
	})

	t.Run("retries a server error", func(t *testing.T) {
		var failed atomic.Int32
		flaky := func(_ context.Context, c kinesisapi.Config) (*kinesis.Client, error) {
			return kinesalite.NewClient(c.Endpoint, func(o *kinesis.Options) {
				o.HTTPClient = &failFirst{next: http.DefaultClient, op: "GetRecords", n: 2, status: 500,
					code: "InternalFailure", failed: &failed}
			}), nil
		}
		code, out, errOut := runArgs(e.ctx, flaky, "--stream", "lossy", "--endpoint", ep, "--interval", "0", "--json")
		if code != exitLoss || errOut != "" {
			t.Fatalf("exit %d, stderr %q", code, errOut)
		}
		sameJSON(t, out, lossyWant)
		if failed.Load() != 2 {
			t.Fatalf("%d GetRecords calls failed, want 2", failed.Load())
		}
	})
}

// failFirst answers the first n requests for op with an error, without sending them, and counts
// them in failed.
type failFirst struct {
	next   aws.HTTPClient
	op     string
	n      int32
	status int
	code   string
	failed *atomic.Int32
	seen   atomic.Int32
}

func (f *failFirst) Do(r *http.Request) (*http.Response, error) {
	if strings.HasSuffix(r.Header.Get("X-Amz-Target"), "."+f.op) && f.seen.Add(1) <= f.n {
		f.failed.Add(1)
		if r.Body != nil {
			r.Body.Close()
		}
		body := fmt.Sprintf(`{"__type":%q,"message":"injected"}`, f.code)
		return &http.Response{StatusCode: f.status, Status: http.StatusText(f.status), Request: r,
			Header: http.Header{"Content-Type": {"application/x-amz-json-1.1"}},
			Body:   io.NopCloser(strings.NewReader(body)), ContentLength: int64(len(body))}, nil
	}
	return f.next.Do(r)
}

func TestWithRetries(t *testing.T) {
	kl := kinesalite.StartT(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c := kinesalite.NewClient(kl.Endpoint)
	if err := kinesalite.CreateStream(ctx, c, "s", 1); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String("s"), PartitionKey: aws.String("k"), Data: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	fast := retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return time.Millisecond, nil })
	tests := []struct {
		name      string
		failures  int32
		attempts  int
		wantCalls int32
		wantErr   string
	}{
		{"throttled twice", 2, 3, 2, ""},
		{"throttled past the attempts", 100, 3, 3, "ProvisionedThroughputExceededException"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var failed atomic.Int32
			base := kinesalite.NewClient(kl.Endpoint, func(o *kinesis.Options) {
				o.HTTPClient = &failFirst{next: http.DefaultClient, op: "GetRecords", n: tc.failures, status: 400,
					code: "ProvisionedThroughputExceededException", failed: &failed}
			})
			rep, err := kclreader.Read(ctx, withRetries(base, tc.attempts, fast), kclreader.ReadOptions{Stream: "s"})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one naming %s", err, tc.wantErr)
				}
			} else if err != nil || rep.UserRecordsDelivered != 1 {
				t.Fatalf("error %v, report %+v", err, rep)
			}
			if failed.Load() != tc.wantCalls {
				t.Fatalf("%d failed GetRecords calls, want %d", failed.Load(), tc.wantCalls)
			}
		})
	}
	if got := withRetries(c, maxAttempts, nil).Options().Retryer.MaxAttempts(); got != maxAttempts {
		t.Fatalf("retryer allows %d attempts, want %d", got, maxAttempts)
	}
}

func TestAtTimestamp(t *testing.T) {
	kl := kinesalite.StartT(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c := kinesalite.NewClient(kl.Endpoint)
	if err := kinesalite.CreateStream(ctx, c, "s", 2); err != nil {
		t.Fatal(err)
	}
	put := func(ehk string, data []byte) {
		t.Helper()
		if _, err := c.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String("s"), PartitionKey: aws.String("k"),
			ExplicitHashKey: aws.String(ehk), Data: data}); err != nil {
			t.Fatal(err)
		}
	}
	hiPK := pkIn("hi", lowHalf, false, 0)
	loPK := pkIn("lo", lowHalf, true, 0)
	put("0", []byte("old"))
	put(top, aggregate(t, hiPK, "old-a", loPK, "old-b")) // misrouted aggregate, before the mark
	time.Sleep(30 * time.Millisecond)
	mark := time.Now().UTC()
	time.Sleep(30 * time.Millisecond)
	put(top, []byte("new")) // shard 0 gets nothing after the mark
	put(half, aggregate(t, hiPK, "new-a", hiPK, "new-b"))

	var cfg kinesisapi.Config
	f := factory(&cfg)
	ts := mark.Format(time.RFC3339Nano)
	for _, args := range [][]string{
		{"--from", "AT_TIMESTAMP", "--timestamp", ts},
		{"--timestamp", ts}, // implies AT_TIMESTAMP
		{"--timestamp", ts, "--client-side-timestamp"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			code, out, errOut := runArgs(ctx, f, append([]string{"--stream", "s", "--endpoint", kl.Endpoint, "--interval", "0", "--json"}, args...)...)
			var rep auditReport
			if err := json.Unmarshal([]byte(out), &rep); err != nil || code != exitOK || errOut != "" {
				t.Fatalf("exit %d, %v, stderr %q\n%s", code, err, errOut, out)
			}
			if rep.From != "AT_TIMESTAMP" || rep.Timestamp != ts || rep.Total.KinesisRecords != 2 || rep.Total.Delivered != 3 ||
				rep.Shards[0].KinesisRecords != 0 || rep.Shards[1].Aggregates != 1 {
				t.Fatalf("report %s", out)
			}
		})
	}
	t.Run("before the misrouted aggregate", func(t *testing.T) {
		code, out, _ := runArgs(ctx, f, "--stream", "s", "--endpoint", kl.Endpoint, "--interval", "0",
			"--timestamp", mark.Add(-time.Hour).Format(time.RFC3339))
		if code != exitLoss || !strings.Contains(out, "lose 2 of 6 user records (33.3%)") {
			t.Fatalf("exit %d\n%s", code, out)
		}
	})
	// Server side, kinesalite never answers GetShardIterator for shard 0, which has no record
	// after the mark: --timeout ends the wait.
	t.Run("server side times out on kinesalite", func(t *testing.T) {
		start := time.Now()
		code, out, errOut := runArgs(ctx, f, "--stream", "s", "--endpoint", kl.Endpoint, "--interval", "0",
			"--timestamp", ts, "--client-side-timestamp=false", "--timeout", "300ms")
		if code != exitError || out != "" || !strings.Contains(errOut, "did not finish within --timeout 300ms") ||
			!strings.Contains(errOut, shard0) {
			t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("took %v", d)
		}
	})
}

// TestProductClient runs the command with the product's client factory, credentials and region
// from a shared-config profile.
func TestProductClient(t *testing.T) {
	kl := kinesalite.StartT(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c := kinesalite.NewClient(kl.Endpoint)
	if err := kinesalite.CreateStream(ctx, c, "s", 1); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String("s"), PartitionKey: aws.String("k"),
		Data: aggregate(t, "a", "1", "b", "2")}); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	t.Setenv("AWS_CONFIG_FILE", write("config", "[profile audit]\nregion = us-west-2\n"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", write("credentials", "[audit]\naws_access_key_id = AKIDAUDIT\naws_secret_access_key = secret\n"))
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"} {
		t.Setenv(k, "")
	}
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")

	code, out, errOut := runArgs(ctx, kinesisapi.NewClient, "--stream", "s", "--endpoint", kl.Endpoint, "--profile", "audit", "--interval", "0")
	if code != exitOK || errOut != "" || !strings.Contains(out, "no data loss for KCL consumers (2 user records in 1 Kinesis records)") {
		t.Fatalf("exit %d, stderr %q\n%s", code, errOut, out)
	}
	// Without the profile there is no region: an error, exit 2.
	code, out, errOut = runArgs(ctx, kinesisapi.NewClient, "--stream", "s", "--endpoint", kl.Endpoint)
	if code != exitError || out != "" || !strings.Contains(errOut, "no AWS region") {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}
