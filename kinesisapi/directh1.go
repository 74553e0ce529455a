package kinesisapi

import (
	"context"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sync"

	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/kinesis-agg/kinesis_agg/internal/h1"
)

// directConns are the HTTP/1.1 clients (internal/h1) that PutRecordsClient sends PutRecords
// through, one per endpoint, set up as NewClient set up net/http's transport: its TLS
// configuration (AWS_CA_BUNDLE lands there), timeout, dialer, idle connection count and idle
// timeout. net/http costs about 60 allocations, three goroutine hand-offs and a buffered copy
// of the body per request; h1 writes a request with one writev and reads the answer into a
// reused buffer.
type directConns struct {
	transport *http.Transport
	cfg       h1.Config // Scheme and Host per endpoint

	mu      sync.Mutex
	clients map[string]*h1.Client // by scheme://host
}

// maxDirectAnswer bounds a PutRecords answer read through h1 (500 entries take about 100 KB).
const maxDirectAnswer = 4 << 20

// newDirectConns returns the h1 clients' settings from what NewClient gave net/http.
func newDirectConns(hc *http.Client, t *http.Transport, d *net.Dialer) *directConns {
	maxIdle := t.MaxIdleConnsPerHost
	switch {
	case t.DisableKeepAlives:
		maxIdle = -1
	case maxIdle == 0:
		maxIdle = http.DefaultMaxIdleConnsPerHost
	}
	return &directConns{
		transport: t,
		cfg: h1.Config{
			TLS:              t.TLSClientConfig,
			DialTimeout:      d.Timeout,
			KeepAlive:        d.KeepAlive,
			HandshakeTimeout: t.TLSHandshakeTimeout,
			RequestTimeout:   hc.Timeout,
			MaxIdle:          maxIdle,
			IdleTimeout:      t.IdleConnTimeout,
			MaxResponseBytes: maxDirectAnswer,
		},
		clients: make(map[string]*h1.Client),
	}
}

// client returns the h1 client for u, or nil when net/http must send: a scheme other than
// http and https, user info or a query in the URL, or a proxy for u (net/http speaks to
// proxies, h1 does not).
func (d *directConns) client(u *url.URL) *h1.Client {
	if u.Scheme != "http" && u.Scheme != "https" || u.User != nil || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return nil
	}
	if d.transport.Proxy != nil {
		if proxy, err := d.transport.Proxy(&http.Request{Method: http.MethodPost, URL: u, Header: http.Header{}}); err != nil || proxy != nil {
			return nil
		}
	}
	key := u.Scheme + "://" + u.Host
	d.mu.Lock()
	defer d.mu.Unlock()
	if c := d.clients[key]; c != nil {
		return c
	}
	cfg := d.cfg
	cfg.Scheme, cfg.Host = u.Scheme, u.Host
	c, err := h1.New(cfg)
	if err != nil {
		return nil
	}
	d.clients[key] = c
	return c
}

// closeIdle closes every h1 client's idle connections.
func (d *directConns) closeIdle() {
	d.mu.Lock()
	clients := make([]*h1.Client, 0, len(d.clients))
	for _, c := range d.clients {
		clients = append(clients, c)
	}
	d.mu.Unlock()
	for _, c := range clients {
		c.CloseIdleConnections()
	}
}

// setH1 prepares ep for sending through h1, unless its URL or headers need net/http.
func (p *PutRecordsClient) setH1(ep *directEndpoint) {
	if p.direct == nil {
		return
	}
	c := p.direct.client(&ep.url)
	if c == nil || c.HostHeader() != ep.host {
		return
	}
	keys := make([]string, 0, len(ep.headers))
	for k := range ep.headers {
		switch http.CanonicalHeaderKey(k) {
		case "Host", "Content-Length", "Transfer-Encoding", "Content-Type", "X-Amz-Target", "User-Agent",
			"X-Amz-Date", "Authorization", "X-Amz-Security-Token":
			return // written by h1 or by PutRecords itself
		}
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		for _, v := range ep.headers[k] {
			ep.fields = append(ep.fields, h1.Field{Name: k, Value: v})
		}
	}
	ep.requestURI = ep.url.EscapedPath()
	ep.h1 = c
}

// startH1 writes c's request through ep's h1 client.
func (c *putCall) startH1(ctx context.Context) {
	f := append(c.fields[:0], c.ep.fields...)
	f = append(f,
		h1.Field{Name: "Content-Type", Value: jsonContentType},
		h1.Field{Name: "X-Amz-Target", Value: putRecordsTarget},
		h1.Field{Name: "User-Agent", Value: c.p.userAgent[0]})
	if c.auth != "" {
		f = append(f, h1.Field{Name: "X-Amz-Date", Value: c.date}, h1.Field{Name: "Authorization", Value: c.auth})
		if c.token != "" {
			f = append(f, h1.Field{Name: "X-Amz-Security-Token", Value: c.token})
		}
	}
	c.fields = f
	c.req = h1.Request{Method: http.MethodPost, Path: c.ep.requestURI, Header: f, Body: c.b[:c.n]}
	c.ep.h1.Send(ctx, &c.req, &c.x)
	clear(c.fields) // no credentials kept in the idle list
	c.req = h1.Request{}
}

// waitH1 reads the answer to the request startH1 wrote.
func (c *putCall) waitH1(ctx context.Context) (*kinesis.PutRecordsOutput, error) {
	p, resp := c.p, &c.resp
	defer func() {
		c.x = h1.Exchange{}
		if cap(resp.Body) > maxKeptAnswer {
			resp.Body = nil
		}
	}()
	if err := c.x.Receive(resp); err != nil {
		return p.replay(ctx, c.in, nil, nil, err)
	}
	p.noteDate(resp.Get("Date"))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return p.replay(ctx, c.in, resp.HTTP(), resp.Body, nil)
	}
	out, err := decodePutRecordsOutput(resp.Body, p.strs)
	if err != nil {
		return p.replay(ctx, c.in, resp.HTTP(), resp.Body, nil)
	}
	return out, nil
}
