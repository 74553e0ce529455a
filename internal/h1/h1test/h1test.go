// Package h1test serves canned HTTP/1.1 answers for tests and benchmarks of HTTP clients.
package h1test

import (
	"bufio"
	"bytes"
	"net"
	"sync"
	"testing"
	"time"
)

// ServeCanned answers every request on every connection ln accepts with answer, a whole HTTP
// response, written as it is. It reads each request's header and Content-Length body and
// allocates nothing per request itself, so that allocation counts are the client's. It
// returns once ln is closed and the connections it served have ended.
func ServeCanned(ln net.Listener, answer []byte) {
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		wg.Go(func() {
			defer c.Close()
			serveConn(c, answer)
		})
	}
}

func serveConn(c net.Conn, answer []byte) {
	br := bufio.NewReaderSize(c, 64<<10)
	for {
		length := 0
		for {
			line, err := br.ReadSlice('\n')
			if err != nil {
				return
			}
			if len(line) <= 2 {
				break
			}
			if v, ok := bytes.CutPrefix(line, []byte("Content-Length: ")); ok {
				for _, d := range bytes.TrimSpace(v) {
					length = length*10 + int(d-'0')
				}
			}
		}
		if _, err := br.Discard(length); err != nil {
			return
		}
		if _, err := c.Write(answer); err != nil {
			return
		}
	}
}

// WaitFor polls cond until it holds, failing t after five seconds: connections close and
// goroutines end asynchronously.
func WaitFor(t testing.TB, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(2 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 5s")
		}
	}
}

// ClosedAddr returns a loopback host:port that nothing listens on (it was listened on and
// closed), for connection-refused cases.
func ClosedAddr(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}
