package kinesisapi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/kinesis-agg/kinesis_agg/internal/h1/h1test"
	"github.com/kinesis-agg/kinesis_agg/internal/racedetect"
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
	t.Cleanup(sdk.Options().HTTPClient.(*keepAliveClient).CloseIdleConnections)
	return sdk, NewPutRecordsClient(sdk)
}

// The ways PutRecordsClient sends: through internal/h1 (over a client from NewClient), and
// through the SDK client's net/http client (when a proxy applies, or over other clients).
const (
	viaH1      = "h1"
	viaNetHTTP = "net-http"
)

var transports = []string{viaH1, viaNetHTTP}

// bothClientsVia is bothClients with the PutRecordsClient sending via transport.
func bothClientsVia(t *testing.T, c Config, via string) (*kinesis.Client, *PutRecordsClient) {
	t.Helper()
	sdk, direct := bothClients(t, c)
	if direct.direct == nil {
		t.Fatal("no h1 clients over a client from NewClient")
	}
	if via == viaNetHTTP {
		direct.direct = nil
	}
	return sdk, direct
}

// sentVia says how direct sent to the endpoint of a stream name (after a first call).
func sentVia(t *testing.T, direct *PutRecordsClient) string {
	t.Helper()
	v, ok := direct.endpoints.Load("")
	if !ok {
		t.Fatal("no endpoint resolved")
	}
	if v.(*directEndpoint).h1 != nil {
		return viaH1
	}
	return viaNetHTTP
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
	for _, via := range transports {
		for _, tt := range tests {
			t.Run(via+"/"+tt.name, func(t *testing.T) {
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
				sdk, direct := bothClientsVia(t, Config{Region: "eu-west-1", Endpoint: srv.URL}, via)

				wantOut, wantErr := sdk.PutRecords(context.Background(), putInput())
				gotOut, gotErr := direct.PutRecords(context.Background(), putInput())
				if got := sentVia(t, direct); got != via {
					t.Fatalf("sent via %s, want %s", got, via)
				}
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
				// net/http asks for gzip; h1 sends only what is signed, Host and Content-Length.
				if got, want := reqs[1].Header.Get("Accept-Encoding"), map[string]string{viaH1: "", viaNetHTTP: "gzip"}[via]; got != want {
					t.Errorf("Accept-Encoding %q, want %q", got, want)
				}
			})
		}
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
	for _, via := range transports {
		t.Run(via, func(t *testing.T) { testTransportFailures(t, via) })
	}
}

func testTransportFailures(t *testing.T, via string) {
	isolateEnv(t, true)
	bothClients := func(t *testing.T, c Config) (*kinesis.Client, *PutRecordsClient) {
		t.Helper()
		return bothClientsVia(t, c, via)
	}
	t.Run("refused", func(t *testing.T) {
		addr := h1test.ClosedAddr(t)
		_, direct := bothClients(t, Config{Region: "us-east-1", Endpoint: "http://" + addr})
		_, err := direct.PutRecords(context.Background(), putInput())
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
	if racedetect.Enabled {
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
	for _, via := range transports {
		t.Run(via, func(t *testing.T) { sendConcurrently(t, srv.URL, via) })
	}
}

func sendConcurrently(t *testing.T, endpoint, via string) {
	_, direct := bothClientsVia(t, Config{Region: "us-east-1", Endpoint: endpoint}, via)
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

// TestPutRecordsClientTLS sends over TLS with the CA bundle the SDK loader configured, to a
// server that offers HTTP/1.1 only and one that offers HTTP/2 too (which net/http takes and h1
// declines): every call signed as the SDK signs, one connection for all of them.
func TestPutRecordsClientTLS(t *testing.T) {
	for _, tc := range []struct {
		via string
		h2  bool
	}{{viaH1, false}, {viaH1, true}, {viaNetHTTP, false}, {viaNetHTTP, true}} {
		via, h2 := tc.via, tc.h2
		t.Run(fmt.Sprintf("%s/http2=%v", via, h2), func(t *testing.T) {
			isolateEnv(t, true)
			rec := &recorder{status: 200, body: `{"FailedRecordCount":0,"Records":[{"SequenceNumber":"1","ShardId":"shardId-000000000000"}]}`}
			srv, conns := startTLSTrusted(t, rec, h2)
			_, direct := bothClientsVia(t, Config{Region: "us-east-1", Endpoint: srv.URL}, via)
			for i := range 20 {
				out, err := direct.PutRecords(context.Background(), putInput())
				if err != nil || aws.ToString(out.Records[0].ShardId) != "shardId-000000000000" {
					t.Fatalf("call %d: %v", i, err)
				}
			}
			if got := sentVia(t, direct); got != via {
				t.Fatalf("sent via %s, want %s", got, via)
			}
			if n := conns.Load(); n != 1 {
				t.Errorf("%d TLS connections for 20 sequential calls, want 1", n)
			}
			rec.mu.Lock()
			defer rec.mu.Unlock()
			if want := map[bool]int{false: 1, true: 2}[h2 && via == viaNetHTTP]; rec.reqs[0].ProtoMajor != want {
				t.Errorf("protocol %s, want HTTP/%d", rec.reqs[0].Proto, want)
			}
			checkSignature(t, rec.reqs[19], []byte(rec.bodies[19]), "us-east-1")
		})
	}
}

// TestPutRecordsClientUsesH1 checks who sends: h1 over a client from NewClient, net/http when
// a proxy applies or the SDK client's HTTP client is another one; and that h1's connections
// survive a server that closes idle ones and close with the SDK client's.
func TestPutRecordsClientUsesH1(t *testing.T) {
	isolateEnv(t, true)
	ok := `{"FailedRecordCount":0,"Records":[{"SequenceNumber":"1","ShardId":"shardId-000000000000"},{"SequenceNumber":"2","ShardId":"shardId-000000000000"}]}`
	var opened, closed atomic.Int32
	rec := &recorder{status: 200, body: ok}
	srv := httptest.NewUnstartedServer(rec)
	srv.Config.IdleTimeout = 300 * time.Millisecond // as kinesalite, which closes after 5 s
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		switch s {
		case http.StateNew:
			opened.Add(1)
		case http.StateClosed:
			closed.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	call := func(direct *PutRecordsClient) {
		t.Helper()
		out, err := direct.PutRecords(context.Background(), putInput())
		if err != nil || aws.ToString(out.Records[1].SequenceNumber) != "2" {
			t.Fatalf("PutRecords: %v", err)
		}
	}

	t.Run("from NewClient", func(t *testing.T) {
		opened.Store(0)
		closed.Store(0)
		sdk, direct := bothClients(t, Config{Region: "us-east-1", Endpoint: srv.URL})
		for range 5 {
			call(direct)
		}
		if got := sentVia(t, direct); got != viaH1 {
			t.Fatalf("sent via %s", got)
		}
		if n := opened.Load(); n != 1 {
			t.Errorf("%d connections for 5 calls, want 1", n)
		}
		// The server closes the idle connection: the next call takes a new one, without error.
		h1test.WaitFor(t, func() bool { return closed.Load() == 1 })
		call(direct)
		if n := opened.Load(); n != 2 {
			t.Errorf("%d connections, want 2", n)
		}
		sdk.Options().HTTPClient.(interface{ CloseIdleConnections() }).CloseIdleConnections()
		h1test.WaitFor(t, func() bool { return closed.Load() == 2 })
		rec.mu.Lock()
		defer rec.mu.Unlock()
		for _, r := range rec.reqs {
			if r.Header.Get("Accept-Encoding") != "" || !strings.HasPrefix(r.Header.Get("User-Agent"), "kinesis_agg ") {
				t.Fatalf("request headers %v: not sent by h1", r.Header)
			}
		}
	})

	t.Run("proxy", func(t *testing.T) {
		var proxied atomic.Int32
		proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			proxied.Add(1)
			if !r.URL.IsAbs() || r.URL.Host != strings.TrimPrefix(srv.URL, "http://") {
				http.Error(w, "not a proxy request: "+r.URL.String(), http.StatusBadRequest)
				return
			}
			rec.ServeHTTP(w, r)
		}))
		defer proxy.Close()
		sdk, err := NewClient(context.Background(), Config{Region: "us-east-1", Endpoint: srv.URL})
		if err != nil {
			t.Fatal(err)
		}
		proxyURL, _ := url.Parse(proxy.URL)
		sdk.Options().HTTPClient.(*keepAliveClient).c.(*http.Client).Transport.(*http.Transport).Proxy = http.ProxyURL(proxyURL)
		direct := NewPutRecordsClient(sdk)
		call(direct)
		if got := sentVia(t, direct); got != viaNetHTTP || proxied.Load() != 1 {
			t.Errorf("sent via %s, %d requests through the proxy; want net/http and 1", got, proxied.Load())
		}
		sdk.Options().HTTPClient.(interface{ CloseIdleConnections() }).CloseIdleConnections()
	})

	t.Run("other HTTP client", func(t *testing.T) {
		sdk, err := NewClient(context.Background(), Config{Region: "us-east-1", Endpoint: srv.URL})
		if err != nil {
			t.Fatal(err)
		}
		hc := KeepAlive(awshttp.NewBuildableClient())
		defer hc.(interface{ CloseIdleConnections() }).CloseIdleConnections()
		direct := NewPutRecordsClient(kinesis.New(sdk.Options(), func(o *kinesis.Options) { o.HTTPClient = hc }))
		call(direct)
		if got := sentVia(t, direct); got != viaNetHTTP {
			t.Errorf("sent via %s, want net/http", got)
		}
	})
}

// quietServer answers every request with answer and allocates nothing per request itself, so
// that testing.AllocsPerRun counts the client's allocations. It returns the server's URL.
func quietServer(t *testing.T, answer string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	out := fmt.Appendf(nil, "HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.1\r\nDate: %s\r\nContent-Length: %d\r\n\r\n%s",
		time.Now().UTC().Format(http.TimeFormat), len(answer), answer)
	done := make(chan struct{})
	go func() {
		defer close(done)
		h1test.ServeCanned(ln, out)
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
	})
	return "http://" + ln.Addr().String()
}

// TestPutRecordsClientH1Allocations: a 500-entry call through h1 allocates for its signature
// and its decoded answer, not for HTTP.
func TestPutRecordsClientH1Allocations(t *testing.T) {
	if racedetect.Enabled {
		t.Skip("allocation counts are not meaningful under the race detector")
	}
	isolateEnv(t, true)
	canned, in := cannedCall(t)
	_, direct := bothClients(t, Config{Region: "eu-west-1", Endpoint: quietServer(t, string(canned.Options().HTTPClient.(*cannedHTTP).body))})
	call := func() {
		out, err := direct.PutRecords(context.Background(), in)
		if err != nil || len(out.Records) != len(in.Records) || aws.ToString(out.Records[7].ShardId) != "shardId-000000000003" {
			t.Fatalf("PutRecords: %v", err)
		}
	}
	call()
	if got := sentVia(t, direct); got != viaH1 {
		t.Fatalf("sent via %s", got)
	}
	n := testing.AllocsPerRun(50, call)
	t.Logf("%.1f allocations per call", n)
	// The signature (3), the body hash's hex (1) and the decoded answer (about 7); none for HTTP.
	if n > 14 {
		t.Errorf("%.1f allocations per call of %d entries, want at most 14", n, len(in.Records))
	}
}

// TestPutRecordsClientClockSkew: when Kinesis's Date is minutes away from the local clock,
// requests are signed with Kinesis's time, and with the local one again once the clocks agree.
func TestPutRecordsClientClockSkew(t *testing.T) {
	isolateEnv(t, true)
	for _, via := range transports {
		t.Run(via, func(t *testing.T) {
			var ahead atomic.Int64
			var mu sync.Mutex
			var signedAt []time.Time
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				io.Copy(io.Discard, r.Body)
				at, _ := time.Parse(amzDateLayout, r.Header.Get("X-Amz-Date"))
				mu.Lock()
				signedAt = append(signedAt, at)
				mu.Unlock()
				w.Header().Set("Date", time.Now().Add(time.Duration(ahead.Load())).UTC().Format(http.TimeFormat))
				io.WriteString(w, `{"FailedRecordCount":0,"Records":[{"SequenceNumber":"1","ShardId":"shardId-000000000000"}]}`)
			}))
			defer srv.Close()
			_, direct := bothClientsVia(t, Config{Region: "us-east-1", Endpoint: srv.URL}, via)
			steps := []struct {
				ahead time.Duration // Kinesis's clock ahead of the local one
				want  time.Duration // signing time ahead of the local clock on the next call
			}{{10 * time.Minute, 10 * time.Minute}, {10 * time.Minute, 10 * time.Minute}, {time.Minute, 0}, {-20 * time.Minute, -20 * time.Minute}, {0, 0}}
			for i, s := range steps {
				ahead.Store(int64(s.ahead))
				for range 2 { // the second call signs with what the first learnt
					if _, err := direct.PutRecords(context.Background(), putInput()); err != nil {
						t.Fatal(err)
					}
				}
				mu.Lock()
				got := signedAt[len(signedAt)-1].Sub(time.Now())
				mu.Unlock()
				if d := got - s.want; d < -5*time.Second || d > 5*time.Second {
					t.Errorf("step %d: signed %v ahead, want %v", i, got.Round(time.Second), s.want)
				}
			}
		})
	}
}
