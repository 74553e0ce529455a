package kinesisapi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	smithyauth "github.com/aws/smithy-go/auth"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/kinesis-agg/kinesis_agg/internal/freelist"
	"github.com/kinesis-agg/kinesis_agg/internal/h1"
)

// PutRecordsClient sends PutRecords without the SDK's operation stack, which costs about 250
// allocations and 60µs per call (context values, request clones, header maps, endpoint rules,
// the signer's maps; BenchmarkPutRecordsCall): without aggregation that was most of the
// plugin's allocations. It uses what the SDK client was configured with (credentials, region, endpoint,
// HTTP client) and only the successful path is its own: a 2xx answer is decoded here, and
// anything else (an error status, a failed send, an answer it cannot decode, a credentials
// failure) is handed to the SDK client with the same answer replayed, so that errors keep
// exactly the SDK's types, wrapping and messages. Safe for concurrent use.
//
// Over a client from NewClient it sends through internal/h1 rather than net/http (see
// directConns), unless a proxy applies to the endpoint. PreparePutRecords splits a call in
// three (build and sign, send, wait for the answer) so that a caller can build its next
// request while Kinesis answers the last.
type PutRecordsClient struct {
	sdk       *kinesis.Client
	hc        aws.HTTPClient
	direct    *directConns            // nil: every request goes through hc
	creds     aws.CredentialsProvider // nil: anonymous, requests are not signed
	opts      kinesis.Options
	userAgent []string
	strs      *answerStrings
	calls     *freelist.List[putCall] // kept across GCs: a body is megabytes with aggregation

	endpoints sync.Map // stream ARN ("" for a stream name) -> *directEndpoint
	skewNanos atomic.Int64
	lastDate  atomic.Pointer[seenDate]
}

// maxIdleBodies bounds the request bodies kept between calls: one per concurrent call, and
// one more per caller that prepares its next request while the last is answered.
const maxIdleBodies = 16

// directEndpoint is a resolved endpoint and the signer for its signing region.
type directEndpoint struct {
	url     url.URL
	host    string // Host header and canonical host
	path    string // canonical URI
	headers http.Header
	signer  *sigV4

	h1         *h1.Client // nil: send through net/http
	requestURI string     // for h1
	fields     []h1.Field // headers, for h1
}

// NewPutRecordsClient returns a PutRecords sender over c's configuration.
func NewPutRecordsClient(c *kinesis.Client) *PutRecordsClient {
	o := c.Options()
	p := &PutRecordsClient{
		sdk:       c,
		hc:        o.HTTPClient,
		opts:      o,
		userAgent: []string{"kinesis_agg " + aws.SDKName + "/" + aws.SDKVersion + " lang/go#" + runtime.Version()},
		strs:      &answerStrings{values: make(map[string]*string)},
		calls:     freelist.New(maxIdleBodies, func() *putCall { return &putCall{putBody: putBody{h: sha256.New()}} }),
	}
	if k, ok := o.HTTPClient.(*keepAliveClient); ok {
		p.direct = k.direct
	}
	if o.Credentials != nil && !aws.IsCredentialsProvider(o.Credentials, aws.AnonymousCredentials{}) {
		p.creds = o.Credentials
	}
	return p
}

// PutRecords sends in. With optFns it is the SDK client's call.
func (p *PutRecordsClient) PutRecords(ctx context.Context, in *kinesis.PutRecordsInput, optFns ...func(*kinesis.Options)) (*kinesis.PutRecordsOutput, error) {
	if len(optFns) > 0 {
		return p.sdk.PutRecords(ctx, in, optFns...)
	}
	c := p.prepare(ctx, in)
	c.Start(ctx)
	return c.Wait(ctx)
}

// sendHTTP sends c through net/http and decodes the answer.
func (c *putCall) sendHTTP(ctx context.Context) (*kinesis.PutRecordsOutput, error) {
	p, ep := c.p, c.ep
	h := make(http.Header, 8+len(ep.headers))
	for k, v := range ep.headers {
		h[k] = v
	}
	h["Content-Type"] = contentTypeValue
	h["X-Amz-Target"] = targetValue
	h["User-Agent"] = p.userAgent
	if c.auth != "" {
		h["X-Amz-Date"] = []string{c.date}
		h["Authorization"] = []string{c.auth}
		if c.token != "" {
			h["X-Amz-Security-Token"] = []string{c.token}
		}
	}
	body := &guardedBody{r: bytes.NewReader(c.b[:c.n])}
	u := ep.url
	req := (&http.Request{
		Method: http.MethodPost, URL: &u, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: h, Body: body, ContentLength: int64(c.n), Host: ep.host,
	}).WithContext(ctx)

	resp, err := p.hc.Do(req)
	// Whatever net/http's writer still holds of the body, it reads no more of the buffer.
	body.Close()
	if err != nil {
		return p.replay(ctx, c.in, nil, nil, err)
	}
	p.noteDate([]byte(resp.Header.Get("Date")))
	buf, rerr := p.strs.readAnswer(resp.Body)
	defer p.strs.bodies.Put(buf)
	if rerr != nil {
		return p.replay(ctx, c.in, resp, nil, rerr)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return p.replay(ctx, c.in, resp, buf.Bytes(), nil)
	}
	out, derr := decodePutRecordsOutput(buf.Bytes(), p.strs)
	if derr != nil {
		return p.replay(ctx, c.in, resp, buf.Bytes(), nil)
	}
	return out, nil
}

var (
	contentTypeValue = []string{jsonContentType}
	targetValue      = []string{putRecordsTarget}
)

// replay has the SDK client make the call again with an HTTP client that answers what this
// call received (resp with body, or err), so that the SDK turns it into its usual error.
func (p *PutRecordsClient) replay(ctx context.Context, in *kinesis.PutRecordsInput, resp *http.Response, body []byte, err error) (*kinesis.PutRecordsOutput, error) {
	r := &replayClient{err: err}
	if resp != nil {
		cp := *resp
		if err != nil {
			// The body broke while being read: the SDK reads the same failure.
			cp.Body = io.NopCloser(&failingReader{r: bytes.NewReader(body), err: err})
		} else {
			cp.Body = io.NopCloser(bytes.NewReader(bytes.Clone(body)))
		}
		r.resp, r.err = &cp, nil
	}
	return p.sdk.PutRecords(ctx, in, func(o *kinesis.Options) { o.HTTPClient = r })
}

// replayClient answers one request with a recorded response or error.
type replayClient struct {
	resp *http.Response
	err  error
}

func (r *replayClient) Do(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		io.Copy(io.Discard, req.Body)
		req.Body.Close()
	}
	if r.resp != nil {
		cp := *r.resp
		cp.Request = req
		return &cp, nil
	}
	return nil, r.err
}

type failingReader struct {
	r   *bytes.Reader
	err error
}

func (f *failingReader) Read(b []byte) (int, error) {
	if n, _ := f.r.Read(b); n > 0 {
		return n, nil
	}
	return 0, f.err
}

// endpoint resolves (once per stream ARN) where PutRecords for in goes and how it is signed.
func (p *PutRecordsClient) endpoint(ctx context.Context, in *kinesis.PutRecordsInput) (*directEndpoint, error) {
	key := aws.ToString(in.StreamARN)
	if v, ok := p.endpoints.Load(key); ok {
		return v.(*directEndpoint), nil
	}
	o := &p.opts
	if o.EndpointResolverV2 == nil {
		return nil, fmt.Errorf("kinesisapi: no endpoint resolver")
	}
	params := kinesis.EndpointParameters{
		Region:        aws.String(o.Region),
		UseDualStack:  aws.Bool(o.EndpointOptions.UseDualStackEndpoint == aws.DualStackEndpointStateEnabled),
		UseFIPS:       aws.Bool(o.EndpointOptions.UseFIPSEndpoint == aws.FIPSEndpointStateEnabled),
		Endpoint:      o.BaseEndpoint,
		StreamARN:     in.StreamARN,
		OperationType: aws.String("data"),
	}
	if in.StreamId != nil {
		params.StreamId = in.StreamId
	}
	resolved, err := o.EndpointResolverV2.ResolveEndpoint(ctx, params)
	if err != nil {
		return nil, fmt.Errorf("kinesisapi: resolving the PutRecords endpoint: %w", err)
	}
	name, region := "kinesis", o.Region
	if opts, ok := smithyauth.GetAuthOptions(&resolved.Properties); ok {
		for _, opt := range opts {
			if opt.SchemeID != smithyauth.SchemeIDSigV4 {
				continue
			}
			if v, ok := smithyhttp.GetSigV4SigningName(&opt.SignerProperties); ok && v != "" {
				name = v
			}
			if v, ok := smithyhttp.GetSigV4SigningRegion(&opt.SignerProperties); ok && v != "" {
				region = v
			}
		}
	}
	ep := &directEndpoint{url: resolved.URI, headers: resolved.Headers, signer: &sigV4{service: name, region: region}}
	if ep.url.Path == "" && ep.url.RawPath == "" {
		ep.url.Path = "/"
	}
	ep.host = hostForHeader(&ep.url)
	ep.path = canonicalPath(ep.url.EscapedPath())
	p.setH1(ep)
	v, _ := p.endpoints.LoadOrStore(key, ep)
	return v.(*directEndpoint), nil
}

// hostForHeader is the URL's host without the scheme's default port, as the SDK sends it.
func hostForHeader(u *url.URL) string {
	host, port := u.Hostname(), u.Port()
	if port == "" || (u.Scheme == "https" && port == "443") || (u.Scheme == "http" && port == "80") {
		if strings.IndexByte(host, ':') >= 0 {
			return "[" + host + "]" // IPv6 literal
		}
		return host
	}
	return u.Host
}

// maxSkew is how far the local clock may drift from Kinesis's before signing follows Kinesis's
// clock (SigV4 signatures are refused beyond five minutes).
const maxSkew = 4 * time.Minute

// seenDate is a Date header value and the time it says.
type seenDate struct {
	raw string
	t   time.Time
}

// noteDate compares an answer's Date with the local clock. Answers within a second carry the
// same Date: it is parsed once.
func (p *PutRecordsClient) noteDate(date []byte) {
	if len(date) == 0 {
		return
	}
	d := p.lastDate.Load()
	if d == nil || d.raw != string(date) {
		t, err := http.ParseTime(string(date))
		if err != nil {
			return
		}
		d = &seenDate{raw: string(date), t: t}
		p.lastDate.Store(d)
	}
	p.noteSkewOf(time.Until(d.t))
}

// noteSkewOf records how far Kinesis's clock is ahead of the local one, when that is too far.
func (p *PutRecordsClient) noteSkewOf(skew time.Duration) {
	if skew > -maxSkew && skew < maxSkew {
		if p.skewNanos.Load() != 0 {
			p.skewNanos.Store(0)
		}
		return
	}
	p.skewNanos.Store(int64(skew))
}
