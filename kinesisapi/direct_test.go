package kinesisapi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// sdkAuthorization signs r as the SDK's signer does and returns its X-Amz-Date and
// Authorization.
func sdkAuthorization(t *testing.T, r *http.Request, payloadHash string, creds aws.Credentials, region string, at time.Time) (string, string) {
	t.Helper()
	r = r.Clone(context.Background())
	r.Header.Del("Authorization")
	r.Header.Del("X-Amz-Date")
	r.Header.Del("X-Amz-Security-Token")
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, r, payloadHash, "kinesis", region, at); err != nil {
		t.Error(err) // not Fatal: test servers call this from their own goroutines
		return "", ""
	}
	return r.Header.Get("X-Amz-Date"), r.Header.Get("Authorization")
}

func TestSigV4MatchesSDK(t *testing.T) {
	day1 := time.Date(2026, 11, 25, 23, 59, 58, 0, time.UTC)
	tests := []struct {
		name   string
		url    string
		creds  aws.Credentials
		at     time.Time
		length int
	}{
		{"loopback port", "http://127.0.0.1:4567/", aws.Credentials{AccessKeyID: "AKID", SecretAccessKey: "secret"}, day1, 1234},
		{"aws https default port", "https://kinesis.eu-west-1.amazonaws.com:443/", aws.Credentials{AccessKeyID: "AKID", SecretAccessKey: "secret"}, day1, 5 << 20},
		{"session token", "https://kinesis.eu-west-1.amazonaws.com/", aws.Credentials{AccessKeyID: "ASIA", SecretAccessKey: "s2", SessionToken: "tok/en+=="}, day1, 17},
		{"next day same secret", "https://kinesis.eu-west-1.amazonaws.com/", aws.Credentials{AccessKeyID: "AKID", SecretAccessKey: "secret"}, day1.Add(3 * time.Second), 17},
		{"rotated secret", "https://kinesis.eu-west-1.amazonaws.com/", aws.Credentials{AccessKeyID: "AKID2", SecretAccessKey: "other"}, day1.Add(3 * time.Second), 17},
		{"proxy path", "http://localhost:8080/kinesis/a%20b~c", aws.Credentials{AccessKeyID: "AKID", SecretAccessKey: "secret"}, day1, 1},
		{"ipv6", "http://[::1]:8080/", aws.Credentials{AccessKeyID: "AKID", SecretAccessKey: "secret"}, day1, 1},
		{"ipv6 default port", "https://[::1]/", aws.Credentials{AccessKeyID: "AKID", SecretAccessKey: "secret"}, day1, 1},
	}
	s := &sigV4{service: "kinesis", region: "eu-west-1"} // shared: the key cache must follow day and secret
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := url.Parse(tt.url)
			if err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256([]byte(tt.name))
			payload := hex.EncodeToString(sum[:])
			host := hostForHeader(u)
			date, auth := s.sign(tt.creds, signedRequest{host: host, path: canonicalPath(u.EscapedPath()), contentLength: tt.length, payloadHash: payload}, tt.at)

			r := &http.Request{Method: http.MethodPost, URL: u, Host: host, ContentLength: int64(tt.length), Header: http.Header{
				"Content-Type": {jsonContentType}, "X-Amz-Target": {putRecordsTarget}, "User-Agent": {"x"},
			}}
			wantDate, wantAuth := sdkAuthorization(t, r, payload, tt.creds, "eu-west-1", tt.at)
			if date != wantDate || auth != wantAuth {
				t.Errorf("signature differs from the SDK's:\n got %s %s\nwant %s %s", date, auth, wantDate, wantAuth)
			}
		})
	}
}

// bothClients returns the SDK client NewClient builds and the PutRecordsClient over it.
func bothClients(t *testing.T, c Config) (*kinesis.Client, *PutRecordsClient) {
	t.Helper()
	sdk, err := NewClient(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	return sdk, NewPutRecordsClient(sdk)
}

func putInput() *kinesis.PutRecordsInput {
	return &kinesis.PutRecordsInput{
		StreamName: aws.String("logs"),
		Records: []types.PutRecordsRequestEntry{
			{Data: []byte("first"), PartitionKey: aws.String("pk")},
			{Data: bytes.Repeat([]byte{0xfe}, 70000), PartitionKey: aws.String("k\"2"), ExplicitHashKey: aws.String("42")},
		},
	}
}

// TestPutRecordsClientMatchesSDK sends the same call with the SDK client and with
// PutRecordsClient to servers that answer in every way that matters, and requires the same
// result, error text, error kind and a request Kinesis would accept: same body, one attempt,
// a signature the SDK's signer agrees with.
func TestPutRecordsClientMatchesSDK(t *testing.T) {
	const okAnswer = `{"FailedRecordCount":1,"Records":[{"SequenceNumber":"4959","ShardId":"shardId-000000000001"},` +
		`{"ErrorCode":"ProvisionedThroughputExceededException","ErrorMessage":"Rate exceeded"}],"EncryptionType":"KMS"}`
	tests := []struct {
		name    string
		status  int
		header  map[string]string
		body    string
		hangup  bool // close the connection without answering
		wantErr bool
		kind    Kind
	}{
		{name: "ok", status: 200, body: okAnswer},
		{name: "not found", status: 400, body: `{"__type":"ResourceNotFoundException","message":"Stream logs not found."}`, wantErr: true, kind: Permanent},
		{name: "throttled", status: 400, body: `{"__type":"com.amazonaws#ProvisionedThroughputExceededException:x","message":"slow"}`, wantErr: true, kind: Throttled},
		{name: "header code", status: 400, header: map[string]string{"X-Amzn-ErrorType": "LimitExceededException:http://x"}, body: `{}`, wantErr: true, kind: Throttled},
		{name: "unknown 4xx", status: 400, body: `{"__type":"SomethingNewException","message":"?"}`, wantErr: true, kind: Permanent},
		{name: "429 no body", status: 429, wantErr: true, kind: Throttled},
		{name: "500", status: 500, body: `{"__type":"InternalFailure","message":"boom"}`, wantErr: true, kind: UnknownOutcome},
		{name: "503 html", status: 503, body: `<html>busy</html>`, wantErr: true, kind: UnknownOutcome},
		{name: "200 garbage", status: 200, body: `{"Records":[{"ShardId":`, wantErr: true, kind: UnknownOutcome},
		{name: "200 not json", status: 200, body: `<xml/>`, wantErr: true, kind: UnknownOutcome},
		{name: "hang up", hangup: true, wantErr: true, kind: UnknownOutcome},
	}
	isolateEnv(t, true)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var (
				mu     sync.Mutex
				reqs   []*http.Request
				bodies [][]byte
			)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				b, _ := io.ReadAll(r.Body)
				mu.Lock()
				reqs, bodies = append(reqs, r.Clone(context.Background())), append(bodies, b)
				mu.Unlock()
				if tt.hangup {
					c, _, _ := w.(http.Hijacker).Hijack()
					c.Close()
					return
				}
				w.Header().Set("X-Amzn-Requestid", "req-1")
				for k, v := range tt.header {
					w.Header().Set(k, v)
				}
				w.WriteHeader(tt.status)
				io.WriteString(w, tt.body)
			}))
			defer srv.Close()
			sdk, direct := bothClients(t, Config{Region: "eu-west-1", Endpoint: srv.URL})

			wantOut, wantErr := sdk.PutRecords(context.Background(), putInput())
			gotOut, gotErr := direct.PutRecords(context.Background(), putInput())
			if (gotErr != nil) != tt.wantErr || (wantErr != nil) != tt.wantErr {
				t.Fatalf("errors: direct %v, sdk %v; want error %v", gotErr, wantErr, tt.wantErr)
			}
			if tt.wantErr {
				if gotErr.Error() != wantErr.Error() {
					t.Errorf("error text differs:\n got %v\nwant %v", gotErr, wantErr)
				}
				if g, w := Classify(gotErr), Classify(wantErr); g != w || g != tt.kind {
					t.Errorf("Classify: direct %v, sdk %v, want %v", g, w, tt.kind)
				}
				if g, w := ErrorCode(gotErr), ErrorCode(wantErr); g != w {
					t.Errorf("ErrorCode: direct %q, sdk %q", g, w)
				}
			} else if g, w := dump(gotOut), dump(wantOut); g != w {
				t.Errorf("result differs:\n got %s\nwant %s", g, w)
			}
			// Failed answers are replayed to the SDK, not sent again.
			mu.Lock()
			defer mu.Unlock()
			if len(reqs) != 2 {
				t.Fatalf("server saw %d requests, want one per client", len(reqs))
			}
			if !bytes.Equal(bodies[0], bodies[1]) {
				t.Errorf("bodies differ:\n sdk %.200q\n got %.200q", bodies[0], bodies[1])
			}
			checkSignature(t, reqs[1], bodies[1], "eu-west-1")
		})
	}
}

// checkSignature requires r's Authorization to be what the SDK's signer computes for r.
func checkSignature(t *testing.T, r *http.Request, body []byte, region string) {
	t.Helper()
	at, err := time.Parse(amzDateLayout, r.Header.Get("X-Amz-Date"))
	if err != nil {
		t.Fatalf("X-Amz-Date: %v", err)
	}
	sum := sha256.Sum256(body)
	sent := r.Clone(context.Background())
	sent.URL.Scheme, sent.URL.Host = "http", r.Host
	creds := aws.Credentials{AccessKeyID: "AKIDSTATICTEST", SecretAccessKey: "secret", SessionToken: r.Header.Get("X-Amz-Security-Token")}
	for _, h := range []string{"Accept-Encoding", "Content-Length"} { // added by net/http, not signed
		sent.Header.Del(h)
	}
	_, want := sdkAuthorization(t, sent, hex.EncodeToString(sum[:]), creds, region, at)
	if got := r.Header.Get("Authorization"); got != want {
		t.Errorf("Authorization:\n got %s\nwant %s", got, want)
	}
	if r.Header.Get("Content-Type") != jsonContentType || r.Header.Get("X-Amz-Target") != putRecordsTarget {
		t.Errorf("headers %v", r.Header)
	}
}

func TestPutRecordsClientTransportFailures(t *testing.T) {
	isolateEnv(t, true)
	t.Run("refused", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		_, direct := bothClients(t, Config{Region: "us-east-1", Endpoint: "http://" + addr})
		_, err = direct.PutRecords(context.Background(), putInput())
		if got := Classify(err); got != Transient {
			t.Errorf("Classify(refused) = %v, want %v (err %v)", got, Transient, err)
		}
	})
	t.Run("timeout and cancel", func(t *testing.T) {
		rec := &recorder{status: 200, body: `{}`, delay: 2 * time.Second}
		srv := httptest.NewServer(rec)
		defer srv.Close()
		_, direct := bothClients(t, Config{Region: "us-east-1", Endpoint: srv.URL, HTTPTimeout: 100 * time.Millisecond})
		_, err := direct.PutRecords(context.Background(), putInput())
		if got := Classify(err); got != UnknownOutcome {
			t.Errorf("Classify(timeout) = %v, want %v (err %v)", got, UnknownOutcome, err)
		}
		_, direct = bothClients(t, Config{Region: "us-east-1", Endpoint: srv.URL})
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		_, err = direct.PutRecords(ctx, putInput())
		if !Classify(err).MaybeStored() {
			t.Errorf("Classify(canceled) = %v, want maybe stored (err %v)", Classify(err), err)
		}
		if n := rec.handled.Load(); n != 2 {
			t.Errorf("server saw %d requests, want 2 (no retries, no replays on the wire)", n)
		}
	})
	t.Run("no credentials", func(t *testing.T) {
		isolateEnv(t, false)
		rec := &recorder{status: 200, body: `{}`}
		srv := httptest.NewServer(rec)
		defer srv.Close()
		_, direct := bothClients(t, Config{Region: "us-east-1", Endpoint: srv.URL})
		_, err := direct.PutRecords(context.Background(), putInput())
		var ce *CredentialsError
		if !errors.As(err, &ce) || Classify(err) != Permanent {
			t.Fatalf("err = %v (%v), want a permanent CredentialsError", err, Classify(err))
		}
		if n := rec.handled.Load(); n != 0 {
			t.Errorf("server saw %d requests without credentials", n)
		}
	})
}

func TestPutRecordsClientStreamARNEndpoint(t *testing.T) {
	isolateEnv(t, true)
	// Without an endpoint override, a stream ARN selects the account's data endpoint.
	sdk, err := NewClient(context.Background(), Config{Region: "eu-west-1"})
	if err != nil {
		t.Fatal(err)
	}
	direct := NewPutRecordsClient(sdk)
	in := putInput()
	in.StreamName = nil
	in.StreamARN = aws.String("arn:aws:kinesis:eu-west-1:123456789012:stream/logs")
	ep, err := direct.endpoint(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := ep.url.String(), "https://123456789012.data-kinesis.eu-west-1.amazonaws.com/"; got != want {
		t.Errorf("endpoint %s, want %s", got, want)
	}
	if ep.host != "123456789012.data-kinesis.eu-west-1.amazonaws.com" || ep.signer.region != "eu-west-1" || ep.signer.service != "kinesis" {
		t.Errorf("host %q, signing %s/%s", ep.host, ep.signer.region, ep.signer.service)
	}
	plain, err := direct.endpoint(context.Background(), putInput())
	if err != nil {
		t.Fatal(err)
	}
	if got := plain.url.String(); got != "https://kinesis.eu-west-1.amazonaws.com/" {
		t.Errorf("endpoint by stream name %s", got)
	}
}

// cannedHTTP answers every request with the same 2xx body, without a network.
type cannedHTTP struct {
	body []byte
	rd   bytes.Reader
	resp http.Response
}

func (c *cannedHTTP) Do(r *http.Request) (*http.Response, error) {
	io.Copy(io.Discard, r.Body)
	r.Body.Close()
	c.rd.Reset(c.body)
	c.resp = http.Response{StatusCode: 200, Header: http.Header{}, Body: io.NopCloser(&c.rd), ContentLength: int64(len(c.body))}
	return &c.resp, nil
}

// raceEnabled is set by race_test.go when built with -race.
var raceEnabled bool

// cannedCall builds a 500-entry PutRecords input of 300-byte records and an SDK client whose
// HTTP client answers it without a network.
func cannedCall(tb testing.TB) (*kinesis.Client, *kinesis.PutRecordsInput) {
	tb.Helper()
	const entries = 500
	var answer strings.Builder
	answer.WriteString(`{"FailedRecordCount":0,"Records":[`)
	in := &kinesis.PutRecordsInput{StreamName: aws.String("logs")}
	for i := range entries {
		if i > 0 {
			answer.WriteByte(',')
		}
		fmt.Fprintf(&answer, `{"SequenceNumber":"49590338271490256608559692538361571095921575989136588898%04d","ShardId":"shardId-00000000000%d"}`, i, i%4)
		in.Records = append(in.Records, types.PutRecordsRequestEntry{Data: bytes.Repeat([]byte{'x'}, 300), PartitionKey: aws.String(fmt.Sprint(i))})
	}
	answer.WriteString(`]}`)
	sdk, err := NewClient(context.Background(), Config{Region: "eu-west-1", Endpoint: "http://127.0.0.1:1"})
	if err != nil {
		tb.Fatal(err)
	}
	return kinesis.New(sdk.Options(), func(o *kinesis.Options) { o.HTTPClient = &cannedHTTP{body: []byte(answer.String())} }), in
}

func TestPutRecordsClientAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under the race detector")
	}
	isolateEnv(t, true)
	const entries = 500
	sdk, in := cannedCall(t)
	direct := NewPutRecordsClient(sdk)
	call := func() {
		out, err := direct.PutRecords(context.Background(), in)
		if err != nil || len(out.Records) != entries || aws.ToString(out.Records[7].ShardId) != "shardId-000000000003" {
			t.Fatalf("PutRecords: %v", err)
		}
	}
	call()
	// The request, its headers and signature, and the decoded answer: a few dozen per call,
	// whatever the number of entries (the SDK's stack makes about 300).
	n := testing.AllocsPerRun(20, call)
	t.Logf("%.0f allocations per call", n)
	if n > 25 {
		t.Errorf("%.0f allocations per call of %d entries, want at most 25", n, entries)
	}
}

// TestPutRecordsClientConcurrent sends from several goroutines through one client: bodies,
// signatures and answers must not mix (run with -race).
func TestPutRecordsClientConcurrent(t *testing.T) {
	isolateEnv(t, true)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		sum := sha256.Sum256(b)
		// Answer with the body's hash as the sequence number, so the caller can check that the
		// answer is to its own body, and check the signature covers this body.
		at, err := time.Parse(amzDateLayout, r.Header.Get("X-Amz-Date"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		sent := r.Clone(context.Background())
		sent.URL.Scheme, sent.URL.Host = "http", r.Host
		sent.Header.Del("Accept-Encoding")
		creds := aws.Credentials{AccessKeyID: "AKIDSTATICTEST", SecretAccessKey: "secret"}
		_, want := sdkAuthorization(t, sent, hex.EncodeToString(sum[:]), creds, "us-east-1", at)
		if r.Header.Get("Authorization") != want {
			http.Error(w, `{"__type":"InvalidSignatureException","message":"bad signature"}`, http.StatusBadRequest)
			return
		}
		fmt.Fprintf(w, `{"FailedRecordCount":0,"Records":[{"SequenceNumber":"%x","ShardId":"shardId-000000000000"}]}`, sum)
	}))
	defer srv.Close()
	_, direct := bothClients(t, Config{Region: "us-east-1", Endpoint: srv.URL})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 20 {
				data := bytes.Repeat([]byte{byte(g), byte(i)}, 1000*(g+1))
				in := &kinesis.PutRecordsInput{StreamName: aws.String("logs"),
					Records: []types.PutRecordsRequestEntry{{Data: data, PartitionKey: aws.String(fmt.Sprint(g, i))}}}
				out, err := direct.PutRecords(context.Background(), in)
				if err != nil {
					t.Errorf("goroutine %d call %d: %v", g, i, err)
					return
				}
				var body []byte
				body = appendPutRecordsBody(body, sha256.New(), in)
				sum := sha256.Sum256(body[:len(body)-sha256.Size])
				if got := aws.ToString(out.Records[0].SequenceNumber); got != hex.EncodeToString(sum[:]) {
					t.Errorf("goroutine %d call %d: answer to another body", g, i)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// BenchmarkPutRecordsCall compares one 500-entry PutRecords call through the SDK's operation
// stack (with this package's body writer and answer decoder installed) and through
// PutRecordsClient, without a network: what the direct client saves per call.
func BenchmarkPutRecordsCall(b *testing.B) {
	b.Setenv("AWS_ACCESS_KEY_ID", "AKIDSTATICTEST")
	b.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	b.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	sdk, in := cannedCall(b)
	for _, c := range []struct {
		name string
		api  interface {
			PutRecords(context.Context, *kinesis.PutRecordsInput, ...func(*kinesis.Options)) (*kinesis.PutRecordsOutput, error)
		}
	}{{"sdk", sdk}, {"direct", NewPutRecordsClient(sdk)}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.api.PutRecords(context.Background(), in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestPutRecordsClientTLS sends over TLS with the CA bundle the SDK loader configured, on
// HTTP/1.1 and HTTP/2: every call signed as the SDK signs, one connection for all of them.
func TestPutRecordsClientTLS(t *testing.T) {
	for _, h2 := range []bool{false, true} {
		t.Run(fmt.Sprintf("http2=%v", h2), func(t *testing.T) {
			isolateEnv(t, true)
			var conns atomic.Int32
			rec := &recorder{status: 200, body: `{"FailedRecordCount":0,"Records":[{"SequenceNumber":"1","ShardId":"shardId-000000000000"}]}`}
			srv := httptest.NewUnstartedServer(rec)
			srv.EnableHTTP2 = h2
			srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
				if s == http.StateNew {
					conns.Add(1)
				}
			}
			srv.StartTLS()
			defer srv.Close()
			bundle := filepath.Join(t.TempDir(), "ca.pem")
			if err := os.WriteFile(bundle, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
				t.Fatal(err)
			}
			t.Setenv("AWS_CA_BUNDLE", bundle)
			_, direct := bothClients(t, Config{Region: "us-east-1", Endpoint: srv.URL})
			for i := range 20 {
				out, err := direct.PutRecords(context.Background(), putInput())
				if err != nil || aws.ToString(out.Records[0].ShardId) != "shardId-000000000000" {
					t.Fatalf("call %d: %v", i, err)
				}
			}
			if n := conns.Load(); n != 1 {
				t.Errorf("%d TLS connections for 20 sequential calls, want 1", n)
			}
			rec.mu.Lock()
			defer rec.mu.Unlock()
			if want := map[bool]int{false: 1, true: 2}[h2]; rec.reqs[0].ProtoMajor != want {
				t.Errorf("protocol %s, want HTTP/%d", rec.reqs[0].Proto, want)
			}
			checkSignature(t, rec.reqs[19], []byte(rec.bodies[19]), "us-east-1")
		})
	}
}
