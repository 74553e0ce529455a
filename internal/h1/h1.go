// Package h1 is an HTTP/1.1 client for many requests to one endpoint, made for the plugin's
// PutRecords calls: a request is written with one writev from a reused buffer, the answer is
// read whole into a reused Response, and keep-alive connections are reused without the
// per-request goroutine hand-offs, contexts and header maps of net/http. It does nothing
// else: no proxies, redirects, compression, HTTP/2 or retries.
package h1

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults applied by New to zero Config fields.
const (
	DefaultMaxIdle          = 2
	DefaultMaxResponseBytes = 16 << 20
)

// Config says where a Client connects and how long it waits.
type Config struct {
	// Scheme is "http" or "https".
	Scheme string
	// Host is host[:port] as in a URL; the port defaults to the scheme's. The Host header is
	// Host without a default port.
	Host string
	// TLS configures https connections (nil: system roots). It is cloned; ServerName defaults
	// to Host's host name and NextProtos is set to HTTP/1.1 only.
	TLS *tls.Config
	// DialTimeout bounds connecting (0: only the request's deadline does).
	DialTimeout time.Duration
	// HandshakeTimeout bounds the TLS handshake (0: only the request's deadline does).
	HandshakeTimeout time.Duration
	// KeepAlive is the TCP keep-alive period (0: net.Dialer's default, negative: off).
	KeepAlive time.Duration
	// RequestTimeout bounds one request from its start to the end of its answer's body, like
	// http.Client.Timeout (0: none besides the context's deadline).
	RequestTimeout time.Duration
	// MaxIdle is how many idle keep-alive connections are kept (0: DefaultMaxIdle, negative:
	// none, every connection is closed after its request).
	MaxIdle int
	// IdleTimeout: idle connections older than this are closed rather than reused (0: no limit;
	// those the server closed are found out before use anyway).
	IdleTimeout time.Duration
	// MaxResponseBytes bounds an answer's body (0: DefaultMaxResponseBytes).
	MaxResponseBytes int
}

// Field is one request header field. Value must not contain CR, LF or other control
// characters but tab.
type Field struct {
	Name, Value string
}

// Request is what Do sends: Method (default GET) to Path (the request target, "/" when
// empty) with the header fields in order, then Host and Content-Length, which Client writes
// itself, and Body.
type Request struct {
	Method string
	Path   string
	Header []Field
	Body   []byte
}

// Client sends requests to one endpoint over a pool of keep-alive connections. It starts no
// goroutines of its own and is safe for concurrent use.
type Client struct {
	cfg    Config
	addr   string // dial address, host:port
	host   string // Host header
	origin string // scheme://host, for error messages
	tls    *tls.Config

	gen  atomic.Uint64 // bumped by CloseIdleConnections
	mu   sync.Mutex
	idle []*conn // most recently used last
}

// New checks c and returns a Client for it.
func New(c Config) (*Client, error) {
	if c.Scheme != "http" && c.Scheme != "https" {
		return nil, fmt.Errorf("h1: scheme %q: want http or https", c.Scheme)
	}
	if c.Host == "" {
		return nil, errors.New("h1: no host")
	}
	u, err := url.Parse(c.Scheme + "://" + c.Host)
	if err != nil || u.Host != c.Host || u.Hostname() == "" {
		return nil, fmt.Errorf("h1: host %q: not a host[:port]", c.Host)
	}
	if c.DialTimeout < 0 || c.HandshakeTimeout < 0 || c.RequestTimeout < 0 || c.IdleTimeout < 0 || c.MaxResponseBytes < 0 {
		return nil, errors.New("h1: negative timeout or limit")
	}
	if c.MaxIdle == 0 {
		c.MaxIdle = DefaultMaxIdle
	}
	if c.MaxResponseBytes == 0 {
		c.MaxResponseBytes = DefaultMaxResponseBytes
	}
	defaultPort := map[string]string{"http": "80", "https": "443"}[c.Scheme]
	port := u.Port()
	if port == "" {
		port = defaultPort
	}
	cl := &Client{
		cfg:    c,
		addr:   net.JoinHostPort(u.Hostname(), port),
		host:   c.Host,
		origin: c.Scheme + "://" + c.Host,
		idle:   make([]*conn, 0, min(max(c.MaxIdle, 0), 64)),
	}
	if u.Port() == defaultPort {
		cl.host = strings.TrimSuffix(c.Host, ":"+port)
	}
	if c.Scheme == "https" {
		if c.TLS != nil {
			cl.tls = c.TLS.Clone()
		} else {
			cl.tls = &tls.Config{}
		}
		if cl.tls.ServerName == "" {
			cl.tls.ServerName = u.Hostname()
		}
		cl.tls.NextProtos = []string{"http/1.1"}
	}
	return cl, nil
}

// HostHeader returns the Host header the client sends.
func (c *Client) HostHeader() string { return c.host }

// Do sends req and reads the answer into resp, whatever its status. A failure is a
// *url.Error naming the method and URL, as net/http's are: ctx's end satisfies errors.Is
// with context.Canceled or context.DeadlineExceeded, RequestTimeout is a net.Error whose
// Timeout is true, an unusable answer wraps ErrMalformed or ErrTooLarge. Do never retries:
// a connection that fails is closed, and the error says how far the request got only through
// its wrapped error (a *net.OpError with Op "dial" was never sent).
//
// Do is Send followed by Receive.
func (c *Client) Do(ctx context.Context, req *Request, resp *Response) error {
	var x Exchange
	c.Send(ctx, req, &x)
	return x.Receive(resp)
}

// Exchange is one request on its way: Send writes it, Receive reads its answer. Between the
// two the caller is free to do other work (the plugin builds its next request there) while
// the server answers. The zero value is ready for Send, and an Exchange can be reused once
// Receive has returned.
type Exchange struct {
	c           *Client
	ctx         context.Context
	method      string
	path        string
	head        bool
	cn          *conn
	stop        func() bool // stops the AfterFunc that interrupts cn when ctx ends
	started     time.Time
	ctxDeadline bool  // the deadline is ctx's, not RequestTimeout's
	err         error // why the request could not be written
	writeErr    error // the write failed: the server may still have answered
}

// Send writes req on a connection of its own, from an idle one or a new one, and returns
// without waiting for the answer. Whatever fails is reported by x.Receive, which must follow
// every Send: until then the connection (and ctx's deadline) belongs to x. req and its body
// may be reused as soon as Send returns.
func (c *Client) Send(ctx context.Context, req *Request, x *Exchange) {
	method, path := req.target()
	*x = Exchange{c: c, ctx: ctx, method: method, path: path, head: method == "HEAD"}
	if err := checkRequest(req); err != nil {
		x.err = err
		return
	}
	if err := ctx.Err(); err != nil {
		x.err = err
		return
	}
	now := time.Now()
	x.started = now
	deadline, ctxDeadline := ctx.Deadline()
	if t := c.cfg.RequestTimeout; t > 0 && (!ctxDeadline || now.Add(t).Before(deadline)) {
		deadline, ctxDeadline = now.Add(t), false
	}
	x.ctxDeadline = ctxDeadline
	cn, err := c.get(ctx, now, deadline)
	if err != nil {
		x.err = c.classify(ctx, err, ctxDeadline)
		return
	}
	x.cn = cn
	if ctx.Done() != nil {
		x.stop = context.AfterFunc(ctx, cn.interrupt)
	}
	x.writeErr = cn.writeRequest(req, c.host)
}

// Receive reads the answer to the request x sent into resp, whatever its status, and ends the
// exchange: the connection goes back to the pool or is closed. Its errors are Do's.
func (x *Exchange) Receive(resp *Response) error {
	c, cn := x.c, x.cn
	if c == nil {
		return errors.New("h1: Receive without Send")
	}
	x.cn = nil
	if cn == nil {
		err := x.err
		if err == nil {
			err = errors.New("h1: Receive called twice")
		}
		return x.urlError(err)
	}
	var (
		keepAlive bool
		err       error
	)
	if x.writeErr != nil {
		// The server may have answered and closed before reading everything (an early error
		// status): that answer is the outcome. Otherwise the write error is.
		if _, rerr := readResponse(cn.br, resp, x.head, c.cfg.MaxResponseBytes); rerr != nil {
			err = x.writeErr
		}
	} else {
		keepAlive, err = readResponse(cn.br, resp, x.head, c.cfg.MaxResponseBytes)
	}
	if x.stop != nil && !x.stop() {
		keepAlive = false // interrupted, perhaps after the answer: the deadline is spoilt
	}
	x.stop = nil
	if err != nil {
		cn.close()
		return x.urlError(c.classify(x.ctx, err, x.ctxDeadline))
	}
	if keepAlive {
		c.put(cn, x.started)
	} else {
		cn.close()
	}
	return nil
}

// CloseIdleConnections closes the idle connections; those in use are closed when their
// requests end instead of becoming idle. Later requests connect anew.
func (c *Client) CloseIdleConnections() {
	c.mu.Lock()
	c.gen.Add(1)
	idle := make([]*conn, len(c.idle))
	copy(idle, c.idle)
	clear(c.idle)
	c.idle = c.idle[:0]
	c.mu.Unlock()
	for _, cn := range idle {
		cn.close()
	}
}

// get returns an idle connection that is still open, or a new one, with deadline set.
func (c *Client) get(ctx context.Context, now, deadline time.Time) (*conn, error) {
	for {
		c.mu.Lock()
		n := len(c.idle)
		if n == 0 {
			c.mu.Unlock()
			break
		}
		cn := c.idle[n-1]
		c.idle[n-1] = nil
		c.idle = c.idle[:n-1]
		c.mu.Unlock()
		if t := c.cfg.IdleTimeout; t > 0 && now.Sub(cn.idleSince) > t {
			cn.close()
			continue
		}
		if cn.setDeadline(deadline) != nil || !cn.alive() {
			cn.close()
			continue
		}
		return cn, nil
	}
	return c.dial(ctx, now, deadline)
}

// put keeps cn for reuse, closing the oldest idle connection beyond MaxIdle and one that has
// been idle too long.
func (c *Client) put(cn *conn, now time.Time) {
	var drop, expired *conn
	c.mu.Lock()
	switch {
	case cn.gen != c.gen.Load() || c.cfg.MaxIdle < 0:
		drop = cn
	default:
		if len(c.idle) >= c.cfg.MaxIdle {
			drop = c.idle[0]
			copy(c.idle, c.idle[1:])
			c.idle[len(c.idle)-1] = nil
			c.idle = c.idle[:len(c.idle)-1]
		}
		if t := c.cfg.IdleTimeout; t > 0 && len(c.idle) > 0 && now.Sub(c.idle[0].idleSince) > t {
			expired = c.idle[0]
			copy(c.idle, c.idle[1:])
			c.idle[len(c.idle)-1] = nil
			c.idle = c.idle[:len(c.idle)-1]
		}
		cn.idleSince = now
		c.idle = append(c.idle, cn)
	}
	c.mu.Unlock()
	if drop != nil {
		drop.close()
	}
	if expired != nil {
		expired.close()
	}
}

// classify turns what went wrong into the error Do wraps: ctx's own error once ctx has
// ended, a deadline that was ctx's as context.DeadlineExceeded, RequestTimeout's as a
// timeoutError.
func (c *Client) classify(ctx context.Context, err error, ctxDeadline bool) error {
	if cerr := ctx.Err(); cerr != nil {
		return cerr
	}
	if isTimeout(err) {
		if ctxDeadline {
			return context.DeadlineExceeded // ctx's own timer may not have fired yet
		}
		return &timeoutError{limit: c.cfg.RequestTimeout, err: err}
	}
	return err
}

func (x *Exchange) urlError(err error) error {
	// The operation is spelled as net/http spells it ("Post").
	return &url.Error{Op: x.method[:1] + strings.ToLower(x.method[1:]), URL: x.c.origin + x.path, Err: err}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()
}

// timeoutError reports that Config.RequestTimeout ran out.
type timeoutError struct {
	limit time.Duration
	err   error
}

func (e *timeoutError) Error() string {
	return "h1: request timeout of " + e.limit.String() + " exceeded: " + e.err.Error()
}
func (e *timeoutError) Timeout() bool   { return true }
func (e *timeoutError) Temporary() bool { return true }
func (e *timeoutError) Unwrap() error   { return e.err }

// checkRequest rejects what would corrupt the request head.
func checkRequest(req *Request) error {
	for i := 0; i < len(req.Method); i++ {
		if !isTokenByte(req.Method[i]) {
			return fmt.Errorf("h1: invalid method %q", req.Method)
		}
	}
	if req.Path != "" && req.Path[0] != '/' {
		return fmt.Errorf("h1: path %q does not start with /", req.Path)
	}
	for i := 0; i < len(req.Path); i++ {
		if c := req.Path[i]; c <= ' ' || c == 0x7f {
			return fmt.Errorf("h1: invalid byte %#x in path %q", c, req.Path)
		}
	}
	for _, f := range req.Header {
		if f.Name == "" {
			return errors.New("h1: empty header field name")
		}
		for i := 0; i < len(f.Name); i++ {
			if !isTokenByte(f.Name[i]) {
				return fmt.Errorf("h1: invalid header field name %q", f.Name)
			}
		}
		if equalFoldString(f.Name, "Host") || equalFoldString(f.Name, "Content-Length") || equalFoldString(f.Name, "Transfer-Encoding") {
			return fmt.Errorf("h1: header field %s is the client's to write", f.Name)
		}
		for i := 0; i < len(f.Value); i++ {
			if c := f.Value[i]; c < ' ' && c != '\t' || c == 0x7f {
				return fmt.Errorf("h1: control character %#x in header field %s", c, f.Name)
			}
		}
	}
	return nil
}

func equalFoldString(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if lower(a[i]) != lower(b[i]) {
			return false
		}
	}
	return true
}

// target returns req's method and path with their defaults, GET and /.
func (req *Request) target() (method, path string) {
	method, path = req.Method, req.Path
	if method == "" {
		method = "GET"
	}
	if path == "" {
		path = "/"
	}
	return method, path
}

// appendHead appends the request line and header of req.
func appendHead(b []byte, req *Request, host string) []byte {
	method, path := req.target()
	b = append(b, method...)
	b = append(b, ' ')
	b = append(b, path...)
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, host...)
	b = append(b, "\r\n"...)
	for _, f := range req.Header {
		b = append(b, f.Name...)
		b = append(b, ": "...)
		b = append(b, f.Value...)
		b = append(b, "\r\n"...)
	}
	if len(req.Body) > 0 || (method != "GET" && method != "HEAD") {
		b = append(b, "Content-Length: "...)
		b = strconv.AppendInt(b, int64(len(req.Body)), 10)
		b = append(b, "\r\n"...)
	}
	return append(b, "\r\n"...)
}
