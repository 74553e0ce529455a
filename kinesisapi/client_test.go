package kinesisapi

import (
	"context"
	"encoding/pem"
	"errors"
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
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/kinesis-agg/kinesis_agg/internal/h1/h1test"
)

// isolateEnv points the SDK's credential chain at static env credentials only: no shared files,
// no IMDS, no SDK-level retry settings from the host.
func isolateEnv(t *testing.T, withKeys bool) {
	t.Helper()
	dir := t.TempDir()
	for k, v := range map[string]string{
		"AWS_CONFIG_FILE":                        filepath.Join(dir, "config"),
		"AWS_SHARED_CREDENTIALS_FILE":            filepath.Join(dir, "credentials"),
		"AWS_EC2_METADATA_DISABLED":              "true",
		"AWS_PROFILE":                            "",
		"AWS_DEFAULT_PROFILE":                    "",
		"AWS_REGION":                             "",
		"AWS_DEFAULT_REGION":                     "",
		"AWS_SESSION_TOKEN":                      "",
		"AWS_ROLE_ARN":                           "",
		"AWS_WEB_IDENTITY_TOKEN_FILE":            "",
		"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "",
		"AWS_CONTAINER_CREDENTIALS_FULL_URI":     "",
		"AWS_MAX_ATTEMPTS":                       "5", // must not bring SDK retries back
		"AWS_RETRY_MODE":                         "standard",
		"AWS_ACCESS_KEY_ID":                      "",
		"AWS_CA_BUNDLE":                          "",
		"AWS_SECRET_ACCESS_KEY":                  "",
	} {
		t.Setenv(k, v)
	}
	if withKeys {
		t.Setenv("AWS_ACCESS_KEY_ID", "AKIDSTATICTEST")
		t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	}
}

// recorder is an httptest handler that records requests and answers with a canned response.
type recorder struct {
	mu      sync.Mutex
	reqs    []*http.Request
	bodies  []string
	status  int
	body    string
	delay   time.Duration
	handled atomic.Int32
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	b, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	r.reqs = append(r.reqs, req)
	r.bodies = append(r.bodies, string(b))
	r.mu.Unlock()
	r.handled.Add(1)
	if r.delay > 0 {
		select {
		case <-time.After(r.delay):
		case <-req.Context().Done():
			return
		}
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.WriteHeader(r.status)
	io.WriteString(w, r.body)
}

func putOne(ctx context.Context, c *kinesis.Client) (*kinesis.PutRecordsOutput, error) {
	return c.PutRecords(ctx, &kinesis.PutRecordsInput{
		StreamName: aws.String("logs"),
		Records:    []types.PutRecordsRequestEntry{{Data: []byte("x"), PartitionKey: aws.String("pk")}},
	})
}

func TestClientProtocolAndSingleAttempt(t *testing.T) {
	isolateEnv(t, true)
	rec := &recorder{status: 500, body: `{"__type":"InternalFailure","message":"boom"}`}
	srv := httptest.NewServer(rec)
	defer srv.Close()

	c, err := NewClient(context.Background(), Config{Region: "eu-west-1", Endpoint: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	_, err = putOne(context.Background(), c)
	if err == nil {
		t.Fatal("PutRecords succeeded against a 500")
	}
	if n := rec.handled.Load(); n != 1 {
		t.Fatalf("server saw %d attempts, want exactly 1", n)
	}
	req := rec.reqs[0]
	if got := req.Header.Get("X-Amz-Target"); got != "Kinesis_20131202.PutRecords" {
		t.Errorf("X-Amz-Target = %q", got)
	}
	if got := req.Header.Get("Content-Type"); got != "application/x-amz-json-1.1" {
		t.Errorf("Content-Type = %q, want JSON 1.1 (kinesalite speaks no CBOR)", got)
	}
	if got := req.Header.Get("Authorization"); !strings.Contains(got, "Credential=AKIDSTATICTEST/") ||
		!strings.Contains(got, "/eu-west-1/kinesis/aws4_request") {
		t.Errorf("Authorization = %q, want static env key, region and service", got)
	}
	if !strings.HasPrefix(rec.bodies[0], "{") || !strings.Contains(rec.bodies[0], `"StreamName":"logs"`) {
		t.Errorf("body = %q, want JSON", rec.bodies[0])
	}
	if got := ErrorCode(err); got != "InternalFailure" {
		t.Errorf("ErrorCode = %q", got)
	}
	if got := Classify(err); got != UnknownOutcome {
		t.Errorf("Classify(500) = %v, want %v", got, UnknownOutcome)
	}
}

func TestClientThrottleAndPermanentErrors(t *testing.T) {
	tests := []struct {
		status int
		body   string
		code   string
		kind   Kind
	}{
		{400, `{"__type":"LimitExceededException","message":"slow"}`, "LimitExceededException", Throttled},
		{400, `{"__type":"ProvisionedThroughputExceededException","message":"slow"}`, "ProvisionedThroughputExceededException", Throttled},
		{400, `{"__type":"ResourceNotFoundException","message":"Stream logs under account 000000000000 not found."}`, "ResourceNotFoundException", Permanent},
		{400, `{"__type":"AccessDeniedException","message":"no"}`, "AccessDeniedException", Permanent},
		{400, `{"__type":"KMSDisabledException","message":"disabled"}`, "KMSDisabledException", Permanent},
		{400, `{"__type":"SomethingNewException","message":"?"}`, "SomethingNewException", Permanent},
		{503, `{"__type":"ServiceUnavailable","message":"later"}`, "ServiceUnavailable", UnknownOutcome},
	}
	isolateEnv(t, true)
	for _, tt := range tests {
		t.Run(tt.code, func(t *testing.T) {
			rec := &recorder{status: tt.status, body: tt.body}
			srv := httptest.NewServer(rec)
			defer srv.Close()
			c, err := NewClient(context.Background(), Config{Region: "us-east-1", Endpoint: srv.URL})
			if err != nil {
				t.Fatal(err)
			}
			_, err = putOne(context.Background(), c)
			if got := ErrorCode(err); got != tt.code {
				t.Errorf("ErrorCode = %q, want %q (err %v)", got, tt.code, err)
			}
			if got := Classify(err); got != tt.kind {
				t.Errorf("Classify = %v, want %v", got, tt.kind)
			}
			if n := rec.handled.Load(); n != 1 {
				t.Errorf("%d attempts, want 1", n)
			}
		})
	}
}

func TestClientTimeoutIsOneUnknownOutcomeAttempt(t *testing.T) {
	isolateEnv(t, true)
	rec := &recorder{status: 200, body: `{}`, delay: 10 * time.Second}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	c, err := NewClient(context.Background(), Config{Region: "us-east-1", Endpoint: srv.URL, HTTPTimeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = putOne(context.Background(), c)
	if err == nil {
		t.Fatal("no timeout")
	}
	if d := time.Since(start); d > 5*time.Second { // the server answers after 10s
		t.Errorf("took %v; HTTPTimeout not applied", d)
	}
	if got := Classify(err); got != UnknownOutcome {
		t.Errorf("Classify(timeout) = %v, want %v (err %v)", got, UnknownOutcome, err)
	}
	if n := rec.handled.Load(); n != 1 {
		t.Errorf("%d attempts, want 1", n)
	}
}

func TestClientConnectionRefusedIsTransient(t *testing.T) {
	isolateEnv(t, true)
	addr := h1test.ClosedAddr(t)
	c, err := NewClient(context.Background(), Config{Region: "us-east-1", Endpoint: "http://" + addr})
	if err != nil {
		t.Fatal(err)
	}
	_, err = putOne(context.Background(), c)
	if got := Classify(err); got != Transient {
		t.Errorf("Classify(refused) = %v, want %v (err %v)", got, Transient, err)
	}
}

func TestClientCanceledContext(t *testing.T) {
	isolateEnv(t, true)
	rec := &recorder{status: 200, body: `{}`, delay: 2 * time.Second}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	c, err := NewClient(context.Background(), Config{Region: "us-east-1", Endpoint: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err = putOne(ctx, c)
	if got := Classify(err); got != Canceled && got != UnknownOutcome {
		t.Errorf("Classify(canceled) = %v (err %v)", got, err)
	}
	if !Classify(err).MaybeStored() {
		t.Errorf("a canceled in-flight request must count as maybe stored")
	}
}

func TestClientMissingCredentialsIsPermanent(t *testing.T) {
	isolateEnv(t, false)
	rec := &recorder{status: 200, body: `{}`}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	c, err := NewClient(context.Background(), Config{Region: "us-east-1", Endpoint: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	_, err = putOne(context.Background(), c)
	var ce *CredentialsError
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v, want a CredentialsError", err)
	}
	if got := Classify(err); got != Permanent {
		t.Errorf("Classify = %v, want permanent", got)
	}
	if n := rec.handled.Load(); n != 0 {
		t.Errorf("server saw %d requests without credentials", n)
	}
}

func TestClientNoRegion(t *testing.T) {
	isolateEnv(t, true)
	_, err := NewClient(context.Background(), Config{Endpoint: "http://127.0.0.1:1"})
	if err == nil || !strings.Contains(err.Error(), "region") {
		t.Fatalf("err = %v, want a region error", err)
	}
}

func TestClientBadConfig(t *testing.T) {
	isolateEnv(t, true)
	for _, c := range []Config{{Region: "r", HTTPTimeout: -1}, {Region: "r", MaxConns: -1}} {
		if _, err := NewClient(context.Background(), c); err == nil {
			t.Errorf("NewClient(%+v) accepted", c)
		}
	}
}

const assumeRoleResponse = `<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleResult>
    <Credentials>
      <AccessKeyId>ASIAASSUMEDROLE</AccessKeyId>
      <SecretAccessKey>assumed-secret</SecretAccessKey>
      <SessionToken>assumed-token</SessionToken>
      <Expiration>2099-01-01T00:00:00Z</Expiration>
    </Credentials>
    <AssumedRoleUser>
      <Arn>arn:aws:sts::123456789012:assumed-role/writer/fluent-bit-kinesis-agg</Arn>
      <AssumedRoleId>AROATEST:fluent-bit-kinesis-agg</AssumedRoleId>
    </AssumedRoleUser>
  </AssumeRoleResult>
  <ResponseMetadata><RequestId>req-1</RequestId></ResponseMetadata>
</AssumeRoleResponse>`

func TestClientAssumeRole(t *testing.T) {
	isolateEnv(t, true)
	var stsCalls atomic.Int32
	var stsForm url.Values
	var stsAuth string
	stsSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		stsCalls.Add(1)
		r.ParseForm()
		stsForm, stsAuth = r.PostForm, r.Header.Get("Authorization")
		w.Header().Set("Content-Type", "text/xml")
		io.WriteString(w, assumeRoleResponse)
	}))
	defer stsSrv.Close()
	rec := &recorder{status: 200, body: `{"FailedRecordCount":0,"Records":[{"SequenceNumber":"1","ShardId":"shardId-000000000000"}]}`}
	srv := httptest.NewServer(rec)
	defer srv.Close()

	c, err := NewClient(context.Background(), Config{
		Region: "eu-central-1", Endpoint: srv.URL, STSEndpoint: stsSrv.URL,
		RoleARN: "arn:aws:iam::123456789012:role/writer", ExternalID: "ext-42",
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		out, err := putOne(context.Background(), c)
		if err != nil {
			t.Fatal(err)
		}
		if got := aws.ToString(out.Records[0].ShardId); got != "shardId-000000000000" {
			t.Fatalf("ShardId = %q", got)
		}
	}
	if n := stsCalls.Load(); n != 1 {
		t.Errorf("AssumeRole called %d times, want 1 (credentials cached)", n)
	}
	if stsForm.Get("Action") != "AssumeRole" || stsForm.Get("RoleArn") != "arn:aws:iam::123456789012:role/writer" ||
		stsForm.Get("ExternalId") != "ext-42" || stsForm.Get("RoleSessionName") == "" {
		t.Errorf("AssumeRole form = %v", stsForm)
	}
	if !strings.Contains(stsAuth, "Credential=AKIDSTATICTEST/") {
		t.Errorf("STS request not signed with the base credentials: %q", stsAuth)
	}
	for _, req := range rec.reqs {
		if got := req.Header.Get("Authorization"); !strings.Contains(got, "Credential=ASIAASSUMEDROLE/") {
			t.Errorf("Kinesis request signed with %q, want the assumed role's key", got)
		}
		if got := req.Header.Get("X-Amz-Security-Token"); got != "assumed-token" {
			t.Errorf("X-Amz-Security-Token = %q", got)
		}
	}
}

func TestClientKeepAlive(t *testing.T) {
	isolateEnv(t, true)
	var conns atomic.Int32
	rec := &recorder{status: 200, body: `{"FailedRecordCount":0,"Records":[{"SequenceNumber":"1","ShardId":"shardId-000000000000"}]}`}
	srv := httptest.NewUnstartedServer(rec)
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	c, err := NewClient(context.Background(), Config{Region: "us-east-1", Endpoint: srv.URL, HTTPTimeout: 7 * time.Second, MaxConns: 100})
	if err != nil {
		t.Fatal(err)
	}
	kc, ok := c.Options().HTTPClient.(*keepAliveClient)
	if !ok {
		t.Fatalf("HTTPClient is %T", c.Options().HTTPClient)
	}
	hc, ok := kc.c.(*http.Client)
	if !ok {
		t.Fatalf("wrapped HTTPClient is %T", kc.c)
	}
	tr, ok := hc.Transport.(*http.Transport)
	if !ok || hc.CheckRedirect == nil {
		t.Fatalf("transport is %T", hc.Transport)
	}
	if tr.DisableKeepAlives || tr.MaxIdleConnsPerHost < 100 || tr.MaxIdleConns < 100 || hc.Timeout != 7*time.Second {
		t.Errorf("transport: keep-alives disabled %v, idle per host %d, idle %d, timeout %v",
			tr.DisableKeepAlives, tr.MaxIdleConnsPerHost, tr.MaxIdleConns, hc.Timeout)
	}
	for i := 0; i < 50; i++ {
		if _, err := putOne(context.Background(), c); err != nil {
			t.Fatal(err)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("%d connections for 50 sequential calls, want 1 (keep-alive)", n)
	}
}

// TestClientCABundleTLS: AWS_CA_BUNDLE still reaches the transport (the loader customizes the
// client before NewClient wraps it), and TLS connections are kept alive.
func TestClientCABundleTLS(t *testing.T) {
	isolateEnv(t, true)
	rec := &recorder{status: 200, body: `{"FailedRecordCount":0,"Records":[{"SequenceNumber":"1","ShardId":"shardId-000000000000"}]}`}
	srv, conns := startTLSTrusted(t, rec, false)

	c, err := NewClient(context.Background(), Config{Region: "us-east-1", Endpoint: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 20; i++ {
		if _, err := putOne(context.Background(), c); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("%d TLS connections for 20 sequential calls, want 1", n)
	}
}

// startTLSTrusted starts an HTTPS server for h (offering HTTP/2 too with h2), makes its
// certificate the CA bundle the SDK loader reads (AWS_CA_BUNDLE), and counts the connections
// it accepts. It is closed when the test ends.
func startTLSTrusted(t *testing.T, h http.Handler, h2 bool) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	conns := new(atomic.Int32)
	srv := httptest.NewUnstartedServer(h)
	srv.EnableHTTP2 = h2
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	bundle := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(bundle, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_CA_BUNDLE", bundle)
	return srv, conns
}
