// Package kinesisapi builds the AWS Kinesis client the plugin uses and adapts the few Kinesis
// calls it needs (ListShards, DescribeStreamSummary) to the project's own types. It also says
// what an AWS error means for the records of a request: retry now, retry later, or stop.
//
// The client never retries on its own: the delivery layer owns retries (it re-routes records
// through a fresh shard map between attempts), so SDK retries would only multiply attempts.
package kinesisapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// Defaults applied by NewClient to zero Config fields.
const (
	DefaultHTTPTimeout = 30 * time.Second
	DefaultMaxConns    = 64
	roleSessionName    = "fluent-bit-kinesis-agg"
)

// Config says how to reach Kinesis and with which identity.
type Config struct {
	// Region is the AWS region; "" falls back to the environment / shared config.
	Region string
	// Endpoint overrides the Kinesis endpoint URL (e.g. "http://127.0.0.1:4567" for kinesalite).
	Endpoint string
	// STSEndpoint overrides the STS endpoint used to assume RoleARN.
	STSEndpoint string
	// RoleARN, when set, is assumed with STS on top of the default credential chain.
	RoleARN string
	// ExternalID is passed to AssumeRole when set.
	ExternalID string
	// Profile selects a shared config / credentials profile.
	Profile string
	// HTTPTimeout bounds one HTTP request, response body included (0 = DefaultHTTPTimeout).
	HTTPTimeout time.Duration
	// MaxConns is the number of idle keep-alive connections kept to the endpoint
	// (0 = DefaultMaxConns).
	MaxConns int
}

// NewClient returns a Kinesis client that speaks the JSON 1.1 protocol, makes exactly one attempt
// per call, and signs with the default credential chain (environment, shared config and profile,
// web identity / IRSA, ECS, IMDS), optionally assuming c.RoleARN through STS.
func NewClient(ctx context.Context, c Config) (*kinesis.Client, error) {
	if c.HTTPTimeout < 0 {
		return nil, fmt.Errorf("kinesisapi: http timeout %v: must not be negative", c.HTTPTimeout)
	}
	if c.MaxConns < 0 {
		return nil, fmt.Errorf("kinesisapi: max connections %d: must not be negative", c.MaxConns)
	}
	if c.HTTPTimeout == 0 {
		c.HTTPTimeout = DefaultHTTPTimeout
	}
	if c.MaxConns == 0 {
		c.MaxConns = DefaultMaxConns
	}

	opts := []func(*config.LoadOptions) error{
		config.WithHTTPClient(newHTTPClient(c)),
	}
	if c.Region != "" {
		opts = append(opts, config.WithRegion(c.Region))
	}
	if c.Profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(c.Profile))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("kinesisapi: loading AWS config (profile %q): %w", c.Profile, err)
	}
	if cfg.Region == "" {
		return nil, errors.New("kinesisapi: no AWS region: set region or AWS_REGION")
	}
	// Wrapped after loading: the loader customizes the buildable client (AWS_CA_BUNDLE).
	k := &keepAliveClient{c: cfg.HTTPClient}
	if b, ok := cfg.HTTPClient.(*awshttp.BuildableClient); ok {
		// Our own *http.Client over the transport the loader configured, so that the instance
		// can close its idle connections (and their goroutines) when it stops. Redirects are
		// returned, not followed, as the SDK's own client does.
		t := b.GetTransport()
		hc := &http.Client{
			Transport:     t,
			Timeout:       b.GetTimeout(),
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
		k.c = hc
		// PutRecordsClient's own HTTP/1.1 clients, set up the same way.
		k.direct = newDirectConns(hc, t, b.GetDialer())
	}
	cfg.HTTPClient = k

	if c.RoleARN != "" {
		stsClient := sts.NewFromConfig(cfg, func(o *sts.Options) {
			if c.STSEndpoint != "" {
				o.BaseEndpoint = aws.String(c.STSEndpoint)
			}
		})
		provider := stscreds.NewAssumeRoleProvider(stsClient, c.RoleARN, func(o *stscreds.AssumeRoleOptions) {
			o.RoleSessionName = roleSessionName
			if c.ExternalID != "" {
				o.ExternalID = aws.String(c.ExternalID)
			}
		})
		cfg.Credentials = aws.NewCredentialsCache(provider)
	}
	if cfg.Credentials != nil {
		cfg.Credentials = credentialsProvider{cfg.Credentials}
	}

	// The SDK speaks JSON 1.1 to Kinesis (kinesalite understands nothing else); the client is
	// left on that protocol, and a test asserts the content type so that an SDK upgrade that
	// switched to CBOR would fail loudly.
	client := kinesis.NewFromConfig(cfg, func(o *kinesis.Options) {
		if c.Endpoint != "" {
			o.BaseEndpoint = aws.String(c.Endpoint)
		}
		// One attempt per call: delivery retries with re-routing and its own budget.
		// RetryMaxAttempts must stay 0, or the SDK wraps the retryer again (AWS_MAX_ATTEMPTS).
		o.Retryer = aws.NopRetryer{}
		o.RetryMaxAttempts = 0
	}, WithFastPutRecords())
	return client, nil
}

// newHTTPClient returns a transport tuned for many requests to one endpoint.
func newHTTPClient(c Config) *awshttp.BuildableClient {
	return awshttp.NewBuildableClient().
		WithTimeout(c.HTTPTimeout).
		WithDialerOptions(func(d *net.Dialer) {
			d.KeepAlive = 30 * time.Second
		}).
		WithTransportOptions(func(t *http.Transport) {
			t.DisableKeepAlives = false
			t.MaxIdleConns = c.MaxConns
			t.MaxIdleConnsPerHost = c.MaxConns
			t.IdleConnTimeout = 90 * time.Second
		})
}

// keepAliveClient keeps connections alive that smithy-go would otherwise make net/http drop.
//
// smithy-go closes the request body as soon as the response arrives. When that happens before
// net/http's writer has made its final read of the body (a fast endpoint answers while the writer
// goroutine is still finishing), the body's WriteTo returns io.EOF, net/http treats the write as
// failed and discards the connection: on loopback about one request in three paid for a new
// connection, against Kinesis a new TLS handshake. Hiding WriteTo turns that late read into a
// plain end of stream.
type keepAliveClient struct {
	c      aws.HTTPClient
	direct *directConns // set by NewClient: PutRecordsClient's HTTP/1.1 clients
}

// Do sends r with its body reduced to Read and Close.
func (k *keepAliveClient) Do(r *http.Request) (*http.Response, error) {
	if r.Body != nil && r.Body != http.NoBody {
		r.Body = readCloser{r.Body}
	}
	return k.c.Do(r)
}

// readCloser exposes only Read and Close of a request body.
type readCloser struct{ rc io.ReadCloser }

func (b readCloser) Read(p []byte) (int, error) { return b.rc.Read(p) }
func (b readCloser) Close() error               { return b.rc.Close() }

// CredentialsError reports that no credentials could be obtained for a request; nothing was
// sent to Kinesis. It is permanent: retrying within a flush does not help.
type CredentialsError struct{ Err error }

// Error says that credentials could not be obtained, and why.
func (e *CredentialsError) Error() string { return "kinesisapi: credentials: " + e.Err.Error() }

// Unwrap returns the provider's error.
func (e *CredentialsError) Unwrap() error { return e.Err }

// credentialsProvider marks credential failures with a type, so that Classify can tell them
// from network errors of the Kinesis request itself (an IMDS timeout is not a lost PutRecords).
type credentialsProvider struct{ p aws.CredentialsProvider }

func (c credentialsProvider) Retrieve(ctx context.Context) (aws.Credentials, error) {
	creds, err := c.p.Retrieve(ctx)
	if err != nil {
		return creds, &CredentialsError{Err: err}
	}
	return creds, nil
}

// IsCredentialsProvider lets the SDK see through the wrapper (it checks for anonymous credentials).
func (c credentialsProvider) IsCredentialsProvider(target aws.CredentialsProvider) bool {
	return aws.IsCredentialsProvider(c.p, target)
}

// ProviderSources passes the wrapped provider's sources on to the SDK's user-agent metrics.
func (c credentialsProvider) ProviderSources() []aws.CredentialSource {
	if s, ok := c.p.(aws.CredentialProviderSource); ok {
		return s.ProviderSources()
	}
	return nil
}

// KeepAlive wraps an SDK HTTP client so that the connections it uses stay alive (see
// keepAliveClient); test clients of other packages use it too.
func KeepAlive(c aws.HTTPClient) aws.HTTPClient { return &keepAliveClient{c: c} }

// CloseIdleConnections closes the keep-alive connections, whose reader and writer goroutines
// would otherwise outlive the plugin instance that made them, and those of PutRecordsClient's
// HTTP/1.1 clients.
func (k *keepAliveClient) CloseIdleConnections() {
	if c, ok := k.c.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
	if k.direct != nil {
		k.direct.closeIdle()
	}
}
