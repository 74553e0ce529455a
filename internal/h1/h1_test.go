package h1

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/kinesis-agg/kinesis_agg/internal/h1/h1test"
	"github.com/kinesis-agg/kinesis_agg/internal/racedetect"
)

// rawServer accepts connections and answers each request read from them with whatever answer
// returns, byte for byte.
type rawServer struct {
	ln     net.Listener
	conns  atomic.Int32 // accepted
	answer func(req *http.Request, body []byte) (raw string, hangUp bool)

	mu   sync.Mutex
	reqs []recorded
	wg   sync.WaitGroup
}

type recorded struct {
	conn int32
	req  *http.Request
	body []byte
}

func newRawServer(t *testing.T, answer func(req *http.Request, body []byte) (string, bool)) *rawServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &rawServer{ln: ln, answer: answer}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			n := s.conns.Add(1)
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					body, _ := io.ReadAll(req.Body)
					s.mu.Lock()
					s.reqs = append(s.reqs, recorded{conn: n, req: req, body: body})
					s.mu.Unlock()
					raw, hangUp := s.answer(req, body)
					io.WriteString(c, raw)
					if hangUp {
						return
					}
				}
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		s.wg.Wait()
	})
	return s
}

func (s *rawServer) client(t *testing.T, c Config) *Client {
	t.Helper()
	c.Scheme, c.Host = "http", s.ln.Addr().String()
	cl, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.CloseIdleConnections)
	return cl
}

func post(body string) *Request {
	return &Request{Method: "POST", Path: "/", Header: []Field{{"Content-Type", "text/plain"}}, Body: []byte(body)}
}

// TestAnswers reads every way an answer can be framed, and answers that are wrong, from a
// server that writes them byte for byte; a second request shows whether the connection was
// kept.
func TestAnswers(t *testing.T) {
	big := strings.Repeat("x", 100)
	tests := []struct {
		name   string
		answer string
		hangUp bool // server closes after answering
		method string
		max    int
		status int
		body   string
		reused bool // the next request goes over the same connection
		err    error
	}{
		{name: "content-length", answer: "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", status: 200, body: "hello", reused: true},
		{name: "empty", answer: "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", status: 200, reused: true},
		{name: "lf only", answer: "HTTP/1.1 201 Created\nContent-Length: 2\n\nhi", status: 201, body: "hi", reused: true},
		{name: "no reason", answer: "HTTP/1.1 400\r\nContent-Length: 2\r\n\r\nno", status: 400, body: "no", reused: true},
		{name: "chunked", answer: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n1;ext=1\r\n \r\n6\r\nworld!\r\n0\r\n\r\n", status: 200, body: "hello world!", reused: true},
		{name: "chunked trailers", answer: "HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\nContent-Length: 99\r\n\r\na\r\n0123456789\r\n0\r\nX-Sum: 1\r\nX-More: 2\r\n\r\n", status: 200, body: "0123456789", reused: true},
		{name: "to eof", answer: "HTTP/1.1 200 OK\r\n\r\n" + big, hangUp: true, status: 200, body: big},
		{name: "interim", answer: "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", status: 200, body: "ok", reused: true},
		{name: "connection close", answer: "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok", status: 200, body: "ok"},
		{name: "connection list close", answer: "HTTP/1.1 200 OK\r\nConnection: x-y, Close\r\nContent-Length: 2\r\n\r\nok", status: 200, body: "ok"},
		{name: "1.0", answer: "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", status: 200, body: "ok"},
		{name: "1.0 keep-alive", answer: "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok", status: 200, body: "ok", reused: true},
		{name: "1.0 ignores chunked", answer: "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n", hangUp: true, status: 200, body: "2\r\nok\r\n0\r\n\r\n"},
		{name: "204", answer: "HTTP/1.1 204 No Content\r\nContent-Length: 7\r\n\r\n", status: 204, reused: true},
		{name: "304", answer: "HTTP/1.1 304 Not Modified\r\n\r\n", status: 304, reused: true},
		{name: "head", method: "HEAD", answer: "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n", status: 200, reused: true},
		{name: "folded header", answer: "HTTP/1.1 200 OK\r\nX-A: a\r\n  b\r\nContent-Length: 1\r\n\r\n!", status: 200, body: "!", reused: true},
		{name: "duplicate equal content-length", answer: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok", status: 200, body: "ok", reused: true},
		{name: "extra bytes after the answer", answer: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\n", status: 200, body: "ok"},

		{name: "closed before answering", answer: "", hangUp: true, err: io.EOF},
		{name: "truncated head", answer: "HTTP/1.1 200 OK\r\nContent-Le", hangUp: true, err: io.ErrUnexpectedEOF},
		{name: "truncated body", answer: "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello", hangUp: true, err: io.ErrUnexpectedEOF},
		{name: "truncated chunk", answer: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel", hangUp: true, err: io.ErrUnexpectedEOF},
		{name: "no last chunk", answer: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n", hangUp: true, err: io.ErrUnexpectedEOF},
		{name: "no status code", answer: "HTTP/1.1 OK\r\n\r\n", err: ErrMalformed},
		{name: "status code 2 digits", answer: "HTTP/1.1 20 OK\r\n\r\n", err: ErrMalformed},
		{name: "http/2 status line", answer: "HTTP/2.0 200 OK\r\n\r\n", err: ErrMalformed},
		{name: "not http", answer: "SSH-2.0-OpenSSH\r\n\r\n", err: ErrMalformed},
		{name: "header without colon", answer: "HTTP/1.1 200 OK\r\nContent-Length 2\r\n\r\nok", err: ErrMalformed},
		{name: "control character in value", answer: "HTTP/1.1 200 OK\r\nX: a\x00b\r\nContent-Length: 2\r\n\r\nok", err: ErrMalformed},
		{name: "leading continuation", answer: "HTTP/1.1 200 OK\r\n X: a\r\n\r\n", err: ErrMalformed},
		{name: "bad content-length", answer: "HTTP/1.1 200 OK\r\nContent-Length: 2x\r\n\r\nok", err: ErrMalformed},
		{name: "negative content-length", answer: "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\nok", err: ErrMalformed},
		{name: "different content-lengths", answer: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok", err: ErrMalformed},
		{name: "gzip transfer-encoding", answer: "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", err: ErrMalformed},
		{name: "two transfer-encodings", answer: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", err: ErrMalformed},
		{name: "bad chunk size", answer: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", err: ErrMalformed},
		{name: "chunk without crlf", answer: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nokX\r\n0\r\n\r\n", err: ErrMalformed},
		{name: "chunk-size bare lf", answer: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\nok\r\n0\r\n\r\n", err: ErrMalformed},
		{name: "switching protocols", answer: "HTTP/1.1 101 Switching Protocols\r\n\r\n", err: ErrMalformed},
		{name: "too many interim", answer: strings.Repeat("HTTP/1.1 100 Continue\r\n\r\n", 6) + "HTTP/1.1 200 OK\r\n\r\n", err: ErrMalformed},
		{name: "content-length over limit", max: 4, answer: "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", err: ErrTooLarge},
		{name: "chunked over limit", max: 4, answer: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nhel\r\n2\r\nlo\r\n0\r\n\r\n", err: ErrTooLarge},
		{name: "to eof over limit", max: 4, answer: "HTTP/1.1 200 OK\r\n\r\nhello", hangUp: true, err: ErrTooLarge},
		{name: "header over limit", answer: "HTTP/1.1 200 OK\r\nX: " + strings.Repeat("a", maxHeaderBytes) + "\r\n\r\n", err: ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var n atomic.Int32
			srv := newRawServer(t, func(*http.Request, []byte) (string, bool) {
				if n.Add(1) == 1 {
					return tt.answer, tt.hangUp
				}
				return "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n2nd", false
			})
			c := srv.client(t, Config{MaxResponseBytes: tt.max})
			req := post("ping")
			if tt.method != "" {
				req.Method = tt.method
			}
			var resp Response
			err := c.Do(context.Background(), req, &resp)
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("err = %v, want %v", err, tt.err)
				}
				var ue *url.Error
				if !errors.As(err, &ue) || ue.Op != "Post" && ue.Op != "Head" || !strings.HasPrefix(ue.URL, "http://127.0.0.1:") {
					t.Errorf("err = %#v, want a *url.Error naming the request", err)
				}
			} else {
				if err != nil {
					t.Fatal(err)
				}
				if resp.StatusCode != tt.status || string(resp.Body) != tt.body {
					t.Errorf("got %d %q, want %d %q", resp.StatusCode, resp.Body, tt.status, tt.body)
				}
			}
			// The connection is kept only after a whole, well-framed answer that allows it.
			if err := c.Do(context.Background(), post("again"), &resp); err != nil || string(resp.Body) != "2nd" {
				t.Fatalf("second request: %v %q", err, resp.Body)
			}
			if got, want := srv.conns.Load(), map[bool]int32{true: 1, false: 2}[tt.reused]; got != want {
				t.Errorf("%d connections for two requests, want %d", got, want)
			}
		})
	}
}

// TestWireBytes holds the request to its exact bytes.
func TestWireBytes(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	host := ln.Addr().String()
	tests := []struct {
		name string
		req  Request
		want string
	}{
		{"post", Request{Method: "POST", Path: "/a/b?c=d", Header: []Field{{"X-Amz-Target", "K.Put"}, {"Authorization", "AWS4 x=y, z"}}, Body: []byte("hello")},
			"POST /a/b?c=d HTTP/1.1\r\nHost: " + host + "\r\nX-Amz-Target: K.Put\r\nAuthorization: AWS4 x=y, z\r\nContent-Length: 5\r\n\r\nhello"},
		{"post without body", Request{Method: "POST", Path: "/"}, "POST / HTTP/1.1\r\nHost: " + host + "\r\nContent-Length: 0\r\n\r\n"},
		{"get defaults", Request{}, "GET / HTTP/1.1\r\nHost: " + host + "\r\n\r\n"},
	}
	c, err := New(Config{Scheme: "http", Host: host})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseIdleConnections()
	got := make(chan string, 1)
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		for _, tt := range tests {
			b := make([]byte, len(tt.want))
			if _, err := io.ReadFull(conn, b); err != nil {
				got <- err.Error()
				return
			}
			got <- string(b)
			io.WriteString(conn, "HTTP/1.1 204 No Content\r\n\r\n")
		}
	}()
	for _, tt := range tests {
		var resp Response
		if err := c.Do(context.Background(), &tt.req, &resp); err != nil || resp.StatusCode != 204 {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if g := <-got; g != tt.want {
			t.Errorf("%s: wire\n got %q\nwant %q", tt.name, g, tt.want)
		}
	}
}

func TestHostHeader(t *testing.T) {
	for _, tt := range []struct{ scheme, host, header, addr string }{
		{"http", "example.com", "example.com", "example.com:80"},
		{"http", "example.com:80", "example.com", "example.com:80"},
		{"https", "example.com:443", "example.com", "example.com:443"},
		{"https", "example.com:80", "example.com:80", "example.com:80"},
		{"http", "[::1]:8080", "[::1]:8080", "[::1]:8080"},
		{"https", "[::1]", "[::1]", "[::1]:443"},
	} {
		c, err := New(Config{Scheme: tt.scheme, Host: tt.host})
		if err != nil {
			t.Fatal(err)
		}
		if c.HostHeader() != tt.header || c.addr != tt.addr {
			t.Errorf("%s://%s: Host %q, dials %q; want %q, %q", tt.scheme, tt.host, c.HostHeader(), c.addr, tt.header, tt.addr)
		}
	}
	for _, bad := range []Config{{Scheme: "ftp", Host: "x"}, {Scheme: "http"}, {Scheme: "http", Host: "a/b"}, {Scheme: "http", Host: "a:b:c"}, {Scheme: "http", Host: "x", RequestTimeout: -1}} {
		if _, err := New(bad); err == nil {
			t.Errorf("New(%+v) succeeded", bad)
		}
	}
}

// TestBadRequests are refused before anything is sent.
func TestBadRequests(t *testing.T) {
	srv := newRawServer(t, func(*http.Request, []byte) (string, bool) { return "HTTP/1.1 204 No Content\r\n\r\n", false })
	c := srv.client(t, Config{})
	for _, req := range []Request{
		{Method: "PO ST"},
		{Path: "a"},
		{Path: "/a b"},
		{Path: "/a\r\nX: y"},
		{Header: []Field{{"", "v"}}},
		{Header: []Field{{"X Y", "v"}}},
		{Header: []Field{{"X", "a\r\nInjected: 1"}}},
		{Header: []Field{{"host", "other"}}},
		{Header: []Field{{"Content-Length", "1"}}},
		{Header: []Field{{"Transfer-Encoding", "chunked"}}},
	} {
		var resp Response
		if err := c.Do(context.Background(), &req, &resp); err == nil {
			t.Errorf("%+v was sent", req)
		}
	}
	if n := srv.conns.Load(); n != 0 {
		t.Errorf("%d connections for refused requests", n)
	}
}

// countingServer is an httptest server that counts connections it accepted and closed.
func countingServer(t *testing.T, h http.Handler, useTLS bool, configure func(*httptest.Server)) (*httptest.Server, *atomic.Int32, *atomic.Int32) {
	t.Helper()
	var opened, closed atomic.Int32
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		switch s {
		case http.StateNew:
			opened.Add(1)
		case http.StateClosed, http.StateHijacked:
			closed.Add(1)
		}
	}
	if configure != nil {
		configure(srv)
	}
	if useTLS {
		srv.StartTLS()
	} else {
		srv.Start()
	}
	t.Cleanup(srv.Close)
	return srv, &opened, &closed
}

// clientFor returns a Client for srv, trusting its certificate.
func clientFor(t testing.TB, srv *httptest.Server, c Config) *Client {
	t.Helper()
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	c.Scheme, c.Host = u.Scheme, u.Host
	if u.Scheme == "https" {
		c.TLS = srv.Client().Transport.(*http.Transport).TLSClientConfig
	}
	cl, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.CloseIdleConnections)
	return cl
}

// echo answers with the request's method, path, chosen header fields and body, and with a body
// of ?n= bytes when asked, written in ?chunks= writes (net/http then sends it chunked).
var echo = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	w.Header().Set("X-Method", r.Method)
	w.Header().Set("X-Path", r.URL.RequestURI())
	w.Header().Set("X-Proto", r.Proto)
	w.Header().Set("X-Accept-Encoding", r.Header.Get("Accept-Encoding"))
	sum := sha256.Sum256(b)
	w.Header().Set("X-Sum", hex.EncodeToString(sum[:]))
	var n, chunks int
	fmt.Sscan(r.URL.Query().Get("n"), &n)
	fmt.Sscan(r.URL.Query().Get("chunks"), &chunks)
	if n == 0 {
		w.Write(b)
		return
	}
	answer := bytes.Repeat([]byte("0123456789"), n/10+1)[:n]
	if chunks == 0 {
		w.Header().Set("Content-Length", fmt.Sprint(n))
		w.Write(answer)
		return
	}
	for i := range chunks {
		w.Write(answer[i*n/chunks : (i+1)*n/chunks])
		w.(http.Flusher).Flush()
	}
})

// TestHTTPTestServers sends to net/http's server over plain TCP and TLS (with HTTP/2 on
// offer, which this client declines): bodies both ways, chunked answers, one connection.
func TestHTTPTestServers(t *testing.T) {
	for _, mode := range []string{"http", "https", "https+h2"} {
		t.Run(mode, func(t *testing.T) {
			srv, opened, _ := countingServer(t, echo, mode != "http", func(s *httptest.Server) { s.EnableHTTP2 = mode == "https+h2" })
			c := clientFor(t, srv, Config{})
			big := bytes.Repeat([]byte("abcdefgh"), 40000)
			tests := []struct {
				path     string
				body     []byte
				wantBody []byte
			}{
				{"/echo", []byte("hello"), []byte("hello")},
				{"/big", big, big},
				{"/answer?n=50000", []byte("x"), bytes.Repeat([]byte("0123456789"), 5000)},
				{"/chunked?n=70001&chunks=7", nil, bytes.Repeat([]byte("0123456789"), 7001)[:70001]},
				{"/empty", nil, nil},
			}
			var resp Response
			for round := range 3 {
				for _, tt := range tests {
					req := &Request{Method: "POST", Path: tt.path, Body: tt.body}
					if err := c.Do(context.Background(), req, &resp); err != nil {
						t.Fatalf("%s: %v", tt.path, err)
					}
					sum := sha256.Sum256(tt.body)
					if resp.StatusCode != 200 || !bytes.Equal(resp.Body, tt.wantBody) || string(resp.Get("x-sum")) != hex.EncodeToString(sum[:]) {
						t.Fatalf("round %d %s: %d, %d bytes, sum %s", round, tt.path, resp.StatusCode, len(resp.Body), resp.Get("X-Sum"))
					}
					if string(resp.Get("X-Path")) != tt.path || string(resp.Get("X-Proto")) != "HTTP/1.1" || len(resp.Get("X-Accept-Encoding")) != 0 {
						t.Errorf("%s: server saw path %s, %s, Accept-Encoding %q", tt.path, resp.Get("X-Path"), resp.Get("X-Proto"), resp.Get("X-Accept-Encoding"))
					}
				}
			}
			if n := opened.Load(); n != 1 {
				t.Errorf("%d connections for %d sequential requests, want 1", n, 3*len(tests))
			}
		})
	}
}

// TestServerClosesIdle: a server that closes idle connections (kinesalite after 5 s) must
// cost a new connection, never a failed request.
func TestServerClosesIdle(t *testing.T) {
	for _, useTLS := range []bool{false, true} {
		t.Run(fmt.Sprintf("tls=%v", useTLS), func(t *testing.T) {
			srv, opened, closed := countingServer(t, echo, useTLS, func(s *httptest.Server) { s.Config.IdleTimeout = 30 * time.Millisecond })
			c := clientFor(t, srv, Config{MaxIdle: 4})
			var resp Response
			for i := range 4 {
				if err := c.Do(context.Background(), post("x"), &resp); err != nil || string(resp.Body) != "x" {
					t.Fatalf("request %d: %v", i, err)
				}
				// Wait until the server has closed the idle connection.
				for deadline := time.Now().Add(2 * time.Second); closed.Load() <= int32(i) && time.Now().Before(deadline); {
					time.Sleep(5 * time.Millisecond)
				}
			}
			if o, cl := opened.Load(), closed.Load(); o != 4 || cl != 4 {
				t.Errorf("%d connections opened, %d closed by the server; want 4 and 4", o, cl)
			}
		})
	}
}

// TestIdleTimeout: connections idle longer than IdleTimeout are not reused.
func TestIdleTimeout(t *testing.T) {
	srv, opened, _ := countingServer(t, echo, false, nil)
	c := clientFor(t, srv, Config{IdleTimeout: 20 * time.Millisecond})
	var resp Response
	for range 2 {
		if err := c.Do(context.Background(), post("x"), &resp); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(50 * time.Millisecond)
	if err := c.Do(context.Background(), post("x"), &resp); err != nil {
		t.Fatal(err)
	}
	if n := opened.Load(); n != 2 {
		t.Errorf("%d connections, want 2", n)
	}
}

// slow answers after a second unless the request goes away first.
var slow = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	io.Copy(io.Discard, r.Body)
	select {
	case <-time.After(5 * time.Second):
	case <-r.Context().Done():
	}
})

func TestTimeouts(t *testing.T) {
	srv, opened, _ := countingServer(t, slow, false, nil)
	tests := []struct {
		name    string
		cfg     Config
		ctx     func() (context.Context, context.CancelFunc)
		is      error
		timeout bool
	}{
		{"request timeout", Config{RequestTimeout: 100 * time.Millisecond}, func() (context.Context, context.CancelFunc) { return context.Background(), func() {} }, nil, true},
		{"context deadline", Config{RequestTimeout: time.Minute}, func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 100*time.Millisecond)
		}, context.DeadlineExceeded, true},
		{"context canceled", Config{}, func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(100*time.Millisecond, cancel)
			return ctx, cancel
		}, context.Canceled, false},
		{"canceled before", Config{}, func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			return ctx, cancel
		}, context.Canceled, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := clientFor(t, srv, tt.cfg)
			ctx, cancel := tt.ctx()
			defer cancel()
			start := time.Now()
			var resp Response
			err := c.Do(ctx, post("x"), &resp)
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("returned after %v", d)
			}
			if err == nil {
				t.Fatal("no error")
			}
			var ne net.Error
			if !errors.As(err, &ne) || ne.Timeout() != tt.timeout {
				t.Errorf("err %v: Timeout() = %v, want %v", err, ne != nil && ne.Timeout(), tt.timeout)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("err %v is not %v", err, tt.is)
			}
			if n := idleCount(c); n != 0 {
				t.Errorf("%d idle connections after a failed request", n)
			}
		})
	}
	h1test.WaitFor(t, func() bool { return opened.Load() >= 3 }) // the server counts in its own goroutine
	if n := opened.Load(); n != 3 {
		t.Errorf("%d connections, want 3 (none for the request canceled before it started)", n)
	}
}

func TestDialErrors(t *testing.T) {
	addr := h1test.ClosedAddr(t)
	c, err := New(Config{Scheme: "http", Host: addr})
	if err != nil {
		t.Fatal(err)
	}
	var resp Response
	err = c.Do(context.Background(), post("x"), &resp)
	var op *net.OpError
	if !errors.As(err, &op) || op.Op != "dial" {
		t.Errorf("err = %v, want a dial *net.OpError", err)
	}
	if want := `Post "http://` + addr + `/": dial tcp ` + addr + `: connect: connection refused`; err.Error() != want {
		t.Errorf("err = %q, want %q", err, want)
	}
}

func TestTLSErrors(t *testing.T) {
	srv := httptest.NewTLSServer(echo)
	defer srv.Close()
	u, _ := url.Parse(srv.URL)
	c, err := New(Config{Scheme: "https", Host: u.Host, TLS: &tls.Config{}}) // system roots
	if err != nil {
		t.Fatal(err)
	}
	var resp Response
	var cve *tls.CertificateVerificationError
	if err := c.Do(context.Background(), post("x"), &resp); !errors.As(err, &cve) {
		t.Errorf("err = %v, want a certificate verification error", err)
	}
}

// TestCloseIdleConnections closes idle connections at once and those in use when they end.
func TestCloseIdleConnections(t *testing.T) {
	release := make(chan struct{})
	srv, opened, closed := countingServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/wait" {
			<-release
		}
		io.WriteString(w, "ok")
	}), false, nil)
	c := clientFor(t, srv, Config{MaxIdle: 4})
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			var resp Response
			if err := c.Do(context.Background(), post("x"), &resp); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	busy := make(chan error)
	go func() {
		var resp Response
		busy <- c.Do(context.Background(), &Request{Method: "POST", Path: "/wait"}, &resp)
	}()
	for opened.Load() < 2 { // the waiting request has a connection (an idle one, or a new one)
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond)
	idle := idleCount(c)
	c.CloseIdleConnections()
	h1test.WaitFor(t, func() bool { return closed.Load() == int32(idle) })
	close(release)
	if err := <-busy; err != nil {
		t.Fatal(err)
	}
	h1test.WaitFor(t, func() bool { return closed.Load() == opened.Load() })
	if n := idleCount(c); n != 0 {
		t.Errorf("%d idle connections after CloseIdleConnections", n)
	}
	// The client goes on working.
	var resp Response
	if err := c.Do(context.Background(), post("x"), &resp); err != nil || string(resp.Body) != "ok" {
		t.Fatalf("after CloseIdleConnections: %v", err)
	}
}

// TestMaxIdle keeps at most MaxIdle connections, the most recently used.
func TestMaxIdle(t *testing.T) {
	var release atomic.Pointer[chan struct{}]
	var started sync.WaitGroup
	srv, opened, closed := countingServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/wait" {
			started.Done()
			<-*release.Load()
		}
	}), false, nil)
	for _, tt := range []struct{ maxIdle, keep int }{{2, 2}, {-1, 0}} {
		c := clientFor(t, srv, Config{MaxIdle: tt.maxIdle})
		before := opened.Load()
		ch := make(chan struct{})
		release.Store(&ch)
		var wg sync.WaitGroup
		started.Add(5)
		for range 5 {
			wg.Go(func() {
				var resp Response
				if err := c.Do(context.Background(), &Request{Method: "POST", Path: "/wait"}, &resp); err != nil {
					t.Error(err)
				}
			})
		}
		started.Wait()
		close(ch)
		wg.Wait()
		if n := idleCount(c); n != tt.keep || opened.Load()-before != 5 {
			t.Errorf("MaxIdle %d: %d idle of %d connections, want %d", tt.maxIdle, n, opened.Load()-before, tt.keep)
		}
		h1test.WaitFor(t, func() bool { return opened.Load()-closed.Load() == int32(tt.keep) })
		c.CloseIdleConnections()
	}
}

// TestConcurrent sends from 8 goroutines through one client: answers must not mix (run with
// -race).
func TestConcurrent(t *testing.T) {
	for _, useTLS := range []bool{false, true} {
		t.Run(fmt.Sprintf("tls=%v", useTLS), func(t *testing.T) {
			srv, opened, _ := countingServer(t, echo, useTLS, nil)
			c := clientFor(t, srv, Config{MaxIdle: 8})
			var wg sync.WaitGroup
			for g := range 8 {
				wg.Go(func() {
					var resp Response
					for i := range 20 {
						body := bytes.Repeat([]byte{byte('a' + g), byte('0' + i%10)}, 1000*(g+1)+i)
						if err := c.Do(context.Background(), &Request{Method: "PUT", Path: fmt.Sprintf("/%d/%d", g, i), Body: body}, &resp); err != nil {
							t.Errorf("goroutine %d request %d: %v", g, i, err)
							return
						}
						if !bytes.Equal(resp.Body, body) || string(resp.Get("X-Path")) != fmt.Sprintf("/%d/%d", g, i) {
							t.Errorf("goroutine %d request %d: answer to another request", g, i)
							return
						}
					}
				})
			}
			wg.Wait()
			if n := opened.Load(); n > 8 {
				t.Errorf("%d connections for 8 goroutines", n)
			}
		})
	}
}

// quietServer starts serveQuietly in a child process, so that testing.AllocsPerRun counts
// the client's allocations alone (crypto/tls allocates for every record a server reads). It
// returns the server's address and, for TLS, a config that trusts it.
func quietServer(t testing.TB, useTLS bool, answerBytes int) (host string, tlsConfig *tls.Config) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestQuietServerProcess$")
	cmd.Env = append(os.Environ(), fmt.Sprintf("H1_QUIET_SERVER=%v,%d", useTLS, answerBytes))
	stdin, err := cmd.StdinPipe() // the child stops when it closes
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close()
		cmd.Wait()
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("quiet server: %v", err)
	}
	if useTLS {
		// httptest's servers all present the same built-in certificate.
		srv := httptest.NewTLSServer(nil)
		tlsConfig = srv.Client().Transport.(*http.Transport).TLSClientConfig
		srv.Close()
	}
	return strings.TrimSpace(line), tlsConfig
}

// TestQuietServerProcess is the child process of quietServer: it answers every request with
// a fixed answer, and stops when its standard input closes.
func TestQuietServerProcess(t *testing.T) {
	var useTLS bool
	var size int
	if _, err := fmt.Sscanf(os.Getenv("H1_QUIET_SERVER"), "%t,%d", &useTLS, &size); err != nil {
		t.Skip("run by quietServer only")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if useTLS {
		srv := httptest.NewUnstartedServer(nil)
		srv.StartTLS()
		srv.Close()
		ln = tls.NewListener(ln, srv.TLS)
	}
	out := fmt.Appendf(nil, "HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.1\r\nContent-Length: %d\r\n\r\n", size)
	out = append(out, bytes.Repeat([]byte("r"), size)...)
	go func() {
		io.Copy(io.Discard, os.Stdin)
		ln.Close()
	}()
	fmt.Println(ln.Addr())
	h1test.ServeCanned(ln, out)
}

// TestAllocations: a request over a kept connection allocates (next to) nothing.
func TestAllocations(t *testing.T) {
	if racedetect.Enabled {
		t.Skip("allocation counts are not meaningful under the race detector")
	}
	for _, useTLS := range []bool{false, true} {
		t.Run(fmt.Sprintf("tls=%v", useTLS), func(t *testing.T) {
			host, tlsConfig := quietServer(t, useTLS, 50000)
			c, err := New(Config{Scheme: map[bool]string{false: "http", true: "https"}[useTLS], Host: host, TLS: tlsConfig, RequestTimeout: time.Minute})
			if err != nil {
				t.Fatal(err)
			}
			defer c.CloseIdleConnections()
			req := &Request{Method: "POST", Path: "/", Header: []Field{{"Content-Type", "application/x-amz-json-1.1"}, {"X-Amz-Date", "20260101T000000Z"}},
				Body: bytes.Repeat([]byte("b"), 300000)}
			var resp Response
			do := func() {
				if err := c.Do(context.Background(), req, &resp); err != nil || len(resp.Body) != 50000 {
					t.Fatal(err)
				}
			}
			do()
			// crypto/tls allocates for some records it reads.
			n := testing.AllocsPerRun(50, do)
			t.Logf("%.1f allocations per request", n)
			if limit := map[bool]float64{false: 0, true: 3}[useTLS]; n > limit {
				t.Errorf("%.1f allocations per request, want at most %.0f", n, limit)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			withCtx := func() {
				if err := c.Do(ctx, req, &resp); err != nil {
					t.Fatal(err)
				}
			}
			// context.AfterFunc's registration, to interrupt the request when ctx ends.
			n = testing.AllocsPerRun(50, withCtx)
			t.Logf("%.1f allocations per request with a cancelable context", n)
			if limit := map[bool]float64{false: 2, true: 5}[useTLS]; n > limit {
				t.Errorf("%.1f allocations per request with a cancelable context, want at most %.0f", n, limit)
			}
		})
	}
}

// BenchmarkPost compares this client with net/http's posting 300 KB and reading 50 KB over
// loopback from a server in a child process, so that allocs/op and cpu-ns/op (this process's
// CPU time) are the client's alone.
func BenchmarkPost(b *testing.B) {
	for _, useTLS := range []bool{false, true} {
		host, tlsConfig := quietServer(b, useTLS, 50000)
		scheme := map[bool]string{false: "http", true: "https"}[useTLS]
		body := bytes.Repeat([]byte("b"), 300000)
		b.Run(scheme+"/h1", func(b *testing.B) {
			c, err := New(Config{Scheme: scheme, Host: host, TLS: tlsConfig, RequestTimeout: time.Minute})
			if err != nil {
				b.Fatal(err)
			}
			defer c.CloseIdleConnections()
			req := &Request{Method: "POST", Path: "/", Header: []Field{{"Content-Type", "application/x-amz-json-1.1"}}, Body: body}
			var resp Response
			cpu := startCPU(b)
			for b.Loop() {
				if err := c.Do(context.Background(), req, &resp); err != nil || len(resp.Body) != 50000 {
					b.Fatal(err)
				}
			}
			cpu.stop()
		})
		b.Run(scheme+"/net-http", func(b *testing.B) {
			hc := &http.Client{Timeout: time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: 4, TLSClientConfig: tlsConfig}}
			defer hc.CloseIdleConnections()
			var buf bytes.Buffer
			cpu := startCPU(b)
			for b.Loop() {
				req, _ := http.NewRequest("POST", scheme+"://"+host+"/", bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/x-amz-json-1.1")
				resp, err := hc.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				buf.Reset()
				buf.ReadFrom(resp.Body)
				resp.Body.Close()
				if buf.Len() != 50000 {
					b.Fatal(buf.Len())
				}
			}
			cpu.stop()
		})
	}
}

type cpuMeter struct {
	b     *testing.B
	start time.Duration
}

func startCPU(b *testing.B) *cpuMeter {
	b.ReportAllocs()
	b.SetBytes(350000)
	return &cpuMeter{b: b, start: cpuTime()}
}

func (m *cpuMeter) stop() {
	m.b.ReportMetric(float64((cpuTime()-m.start).Nanoseconds())/float64(m.b.N), "cpu-ns/op")
}

// cpuTime is the process's user and system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// idleCount is how many idle connections c keeps.
func idleCount(c *Client) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.idle)
}
