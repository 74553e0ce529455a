package h1

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kinesis-agg/kinesis_agg/internal/h1/h1test"
)

// TestSendThenReceive checks that Send has put the whole request on the wire before it
// returns (the server records it before Receive is called), that the connection is reused by
// the next exchange, and that an Exchange can be reused.
func TestSendThenReceive(t *testing.T) {
	release := make(chan struct{})
	srv := newRawServer(t, func(req *http.Request, body []byte) (string, bool) {
		<-release // answer only once the test has seen the request arrive
		return "HTTP/1.1 200 OK\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + string(body), false
	})
	c := srv.client(t, Config{})
	var x Exchange
	for i, body := range []string{"first request", strings.Repeat("b", 300_000)} {
		c.Send(context.Background(), post(body), &x)
		h1test.WaitFor(t, func() bool { // the request arrives before Receive is called
			srv.mu.Lock()
			defer srv.mu.Unlock()
			return len(srv.reqs) == i+1 && string(srv.reqs[i].body) == body
		})
		release <- struct{}{}
		var resp Response
		if err := x.Receive(&resp); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		if resp.StatusCode != 200 || string(resp.Body) != body {
			t.Errorf("request %d: answer %d with %d bytes, want 200 echoing %d", i, resp.StatusCode, len(resp.Body), len(body))
		}
	}
	if n := srv.conns.Load(); n != 1 {
		t.Errorf("%d connections for two exchanges, want 1", n)
	}
	var resp Response
	if err := x.Receive(&resp); err == nil || !strings.Contains(err.Error(), "Receive called twice") {
		t.Errorf("second Receive: %v, want an error saying so", err)
	}
	var fresh Exchange
	if err := fresh.Receive(&resp); err == nil || !strings.Contains(err.Error(), "without Send") {
		t.Errorf("Receive without Send: %v, want an error saying so", err)
	}
}

// TestCanceledBetweenSendAndReceive: ctx ending while the caller works between Send and
// Receive interrupts the read, and the connection is not kept.
func TestCanceledBetweenSendAndReceive(t *testing.T) {
	srv, opened, closed := countingServer(t, slow, false, nil)
	c := clientFor(t, srv, Config{})
	ctx, cancel := context.WithCancel(context.Background())
	var x Exchange
	c.Send(ctx, post("x"), &x)
	cancel()
	start := time.Now()
	var resp Response
	err := x.Receive(&resp)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Receive returned after %v", d)
	}
	if want := `Post "` + srv.URL + `/": context canceled`; err != nil && err.Error() != want {
		t.Errorf("err = %q, want %q", err, want)
	}
	if n := idleCount(c); n != 0 {
		t.Errorf("%d idle connections after an interrupted exchange", n)
	}
	// The server counts a connection in its own goroutine, possibly after Receive returned:
	// wait until it has seen the interrupted connection closed, then count.
	h1test.WaitFor(t, func() bool { return closed.Load() >= 1 })
	if o, cl := opened.Load(), closed.Load(); o != 1 || cl != 1 {
		t.Errorf("%d connections opened, %d closed, want 1 and 1", o, cl)
	}
}

// TestSendFailures: what stops Send (a bad request, a dead endpoint) is reported by Receive,
// as Do reports it.
func TestSendFailures(t *testing.T) {
	c, err := New(Config{Scheme: "http", Host: h1test.ClosedAddr(t)})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		req  *Request
		want string
	}{
		{"bad header", &Request{Method: "POST", Header: []Field{{"Host", "x"}}}, "header field Host is the client's to write"},
		{"refused", post("x"), "connection refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var x Exchange
			c.Send(context.Background(), tt.req, &x)
			var resp Response
			err := x.Receive(&resp)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Receive: %v, want %q", err, tt.want)
			}
			if derr := c.Do(context.Background(), tt.req, &resp); derr == nil || derr.Error() != err.Error() {
				t.Errorf("Do: %v, want the same error as Send+Receive: %v", derr, err)
			}
		})
	}
}
