package kinesalite

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/kinesis-agg/kinesis_agg/hashkey"
)

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestStartStop(t *testing.T) {
	s, err := Start(context.Background(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(s.Endpoint, "http://127.0.0.1:") || s.Port <= 0 {
		t.Fatalf("Endpoint %q Port %d", s.Endpoint, s.Port)
	}
	c := NewClient(s.Endpoint)
	out, err := c.ListStreams(ctxT(t), &kinesis.ListStreamsInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.StreamNames) != 0 {
		t.Fatalf("fresh server has streams %v", out.StreamNames)
	}
	if err := s.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if err := s.Stop(); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
	select {
	case <-s.Done():
	default:
		t.Fatal("Done not closed after Stop")
	}
	if _, err := c.ListStreams(ctxT(t), &kinesis.ListStreamsInput{}); err == nil {
		t.Fatal("request to a stopped server succeeded")
	}
	if !strings.Contains(s.Output(), "kinesalite listening on port") {
		t.Fatalf("output not captured: %q", s.Output())
	}
}

func TestStartNotInstalled(t *testing.T) {
	_, err := Start(context.Background(), Options{TestEnv: t.TempDir()})
	if !errors.Is(err, ErrNotInstalled) {
		t.Fatalf("err = %v, want ErrNotInstalled", err)
	}
	if !strings.Contains(err.Error(), "npm ci --prefix testenv") {
		t.Fatalf("error does not say how to install: %v", err)
	}
}

func TestStartBadNode(t *testing.T) {
	_, err := Start(context.Background(), Options{Node: filepath.Join(t.TempDir(), "no-node")})
	if err == nil || !strings.Contains(err.Error(), "no-node") {
		t.Fatalf("err = %v, want one naming the missing executable", err)
	}
}

func TestRepoRoot(t *testing.T) {
	dir := t.TempDir()
	deep := filepath.Join(dir, "a", "b")
	if err := os.MkdirAll(deep, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := RepoRoot(deep); err == nil {
		t.Fatal("RepoRoot found a go.mod in an empty tree")
	}
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := RepoRoot(deep)
	if err != nil || got != dir {
		t.Fatalf("RepoRoot = %q, %v; want %q", got, err, dir)
	}
}

// TestClientProtocol checks that NewClient speaks AWS JSON 1.1 (kinesalite also accepts CBOR,
// which would hide a protocol mismatch) and does not retry.
func TestClientProtocol(t *testing.T) {
	var mu sync.Mutex
	var calls int
	var contentType, target string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls++
		contentType, target = r.Header.Get("Content-Type"), r.Header.Get("X-Amz-Target")
		mu.Unlock()
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write([]byte(`{"__type":"InternalFailure","message":"boom"}`))
	}))
	defer srv.Close()
	_, err := NewClient(srv.URL).ListStreams(ctxT(t), &kinesis.ListStreamsInput{})
	if err == nil {
		t.Fatal("500 answer did not fail the call")
	}
	mu.Lock()
	defer mu.Unlock()
	if contentType != "application/x-amz-json-1.1" || target != "Kinesis_20131202.ListStreams" {
		t.Fatalf("Content-Type %q, X-Amz-Target %q", contentType, target)
	}
	if calls != 1 {
		t.Fatalf("%d attempts, want 1 (no retries)", calls)
	}
}

func shardSummary(t *testing.T, shards []types.Shard) []string {
	t.Helper()
	var out []string
	for _, s := range shards {
		r, err := ShardRange(s)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, aws.ToString(s.ShardId)+" "+r.String())
	}
	return out
}

func TestAdminResharding(t *testing.T) {
	s := StartT(t)
	c := NewClient(s.Endpoint)
	ctx := ctxT(t)
	const stream = "admin"
	if err := CreateStream(ctx, c, stream, 2); err != nil {
		t.Fatal(err)
	}
	half := hashkey.Key{Hi: 1 << 63}
	halfMinus1, _ := half.Sub1()
	quarter := hashkey.Key{Hi: 1 << 62}
	quarterMinus1, _ := quarter.Sub1()
	k := func(k hashkey.Key) string { return k.String() }

	open, err := OpenShards(ctx, c, stream)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"shardId-000000000000 0.." + k(halfMinus1),
		"shardId-000000000001 " + k(half) + ".." + k(hashkey.Max),
	}
	if got := shardSummary(t, open); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("open shards after create:\n got %q\nwant %q", got, want)
	}

	if err := SplitShardEvenly(ctx, c, stream, "shardId-000000000000"); err != nil {
		t.Fatal(err)
	}
	open, err = OpenShards(ctx, c, stream)
	if err != nil {
		t.Fatal(err)
	}
	want = []string{
		"shardId-000000000001 " + k(half) + ".." + k(hashkey.Max),
		"shardId-000000000002 0.." + k(quarterMinus1),
		"shardId-000000000003 " + k(quarter) + ".." + k(halfMinus1),
	}
	if got := shardSummary(t, open); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("open shards after split:\n got %q\nwant %q", got, want)
	}
	all, err := AllShards(ctx, c, stream)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 4 || all[0].SequenceNumberRange.EndingSequenceNumber == nil {
		t.Fatalf("AllShards after split: %d shards, parent closed=%v", len(all),
			len(all) > 0 && all[0].SequenceNumberRange.EndingSequenceNumber != nil)
	}
	if p := aws.ToString(all[2].ParentShardId); p != "shardId-000000000000" {
		t.Fatalf("child parent = %q", p)
	}

	if err := MergeShards(ctx, c, stream, "shardId-000000000003", "shardId-000000000001"); err != nil {
		t.Fatal(err)
	}
	open, err = OpenShards(ctx, c, stream)
	if err != nil {
		t.Fatal(err)
	}
	want = []string{
		"shardId-000000000002 0.." + k(quarterMinus1),
		"shardId-000000000004 " + k(quarter) + ".." + k(hashkey.Max),
	}
	if got := shardSummary(t, open); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("open shards after merge:\n got %q\nwant %q", got, want)
	}

	err = MergeShards(ctx, c, stream, "shardId-000000000002", "shardId-000000000001")
	if err == nil || !strings.Contains(err.Error(), "shardId-000000000001") {
		t.Fatalf("merging a closed shard: err = %v", err)
	}
	if err := SplitShardEvenly(ctx, c, stream, "shardId-000000000099"); err == nil {
		t.Fatal("splitting a missing shard succeeded")
	}
	if err := CreateStream(ctx, c, "zero", 0); err == nil {
		t.Fatal("CreateStream with 0 shards succeeded")
	}
	if err := DeleteStream(ctx, c, stream); err != nil {
		t.Fatal(err)
	}
}

// TestDescribeStreamSummary pins what kinesalite reports, since the plugin reads the maximum
// record size from it at start-up.
func TestDescribeStreamSummary(t *testing.T) {
	s := StartT(t)
	c := NewClient(s.Endpoint)
	ctx := ctxT(t)
	if err := CreateStream(ctx, c, "summary", 3); err != nil {
		t.Fatal(err)
	}
	out, err := c.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String("summary")})
	if err != nil {
		t.Fatal(err)
	}
	d := out.StreamDescriptionSummary
	if aws.ToInt32(d.OpenShardCount) != 3 || d.StreamStatus != types.StreamStatusActive ||
		aws.ToString(d.StreamName) != "summary" || aws.ToInt32(d.RetentionPeriodHours) != 24 {
		t.Fatalf("summary = %+v", d)
	}
	if want := "arn:aws:kinesis:us-east-1:000000000000:stream/summary"; aws.ToString(d.StreamARN) != want {
		t.Fatalf("StreamARN = %q, want %q", aws.ToString(d.StreamARN), want)
	}
	if d.MaxRecordSizeInKiB != nil {
		t.Fatalf("kinesalite now reports MaxRecordSizeInKiB = %d; update the package comment", *d.MaxRecordSizeInKiB)
	}
}

// TestNextTokenOnlyListShardsCrashes documents the kinesalite gap that faultproxy works around,
// and checks that Stop reports a process that died on its own.
func TestNextTokenOnlyListShardsCrashes(t *testing.T) {
	s, err := Start(context.Background(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	c := NewClient(s.Endpoint)
	_, err = c.ListShards(ctxT(t), &kinesis.ListShardsInput{NextToken: aws.String("token")})
	if err == nil {
		t.Fatal("NextToken-only ListShards succeeded")
	}
	select {
	case <-s.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("kinesalite survived a NextToken-only ListShards; update the package comment")
	}
	if err := s.Stop(); err == nil || !strings.Contains(err.Error(), "exited before Stop") {
		t.Fatalf("Stop after a crash: %v", err)
	}
}
