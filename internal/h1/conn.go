package h1

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"syscall"
	"time"
)

// readBufferSize is each connection's read buffer; larger bodies are read straight into
// Response.Body.
const readBufferSize = 16 << 10

// aLongTimeAgo is a deadline in the past: it makes blocked reads and writes return at once.
var aLongTimeAgo = time.Unix(1, 0)

// conn is one connection and what is reused with it.
type conn struct {
	nc        net.Conn        // *net.TCPConn, or *tls.Conn over it
	raw       syscall.RawConn // the TCP socket, for the liveness check
	br        *bufio.Reader
	head      []byte
	bufs      [2][]byte
	out       net.Buffers
	deadline  time.Time // as set on nc
	idleSince time.Time
	gen       uint64

	interrupt func()             // cancels I/O in progress; bound once, for context.AfterFunc
	peekFn    func(uintptr) bool // bound once, for raw.Read
	peekBuf   [1]byte
	usable    bool // peek's verdict
}

// dial connects (and for https shakes hands) within deadline.
func (c *Client) dial(ctx context.Context, now, deadline time.Time) (*conn, error) {
	gen := c.gen.Load()
	d := net.Dialer{Timeout: c.cfg.DialTimeout, Deadline: deadline, KeepAlive: c.cfg.KeepAlive}
	nc, err := d.DialContext(ctx, "tcp", c.addr)
	if err != nil {
		return nil, err
	}
	tcp, ok := nc.(*net.TCPConn)
	if !ok {
		nc.Close()
		return nil, fmt.Errorf("h1: dialing %s gave a %T, not a TCP connection", c.addr, nc)
	}
	raw, err := tcp.SyscallConn()
	if err != nil {
		nc.Close()
		return nil, err
	}
	cn := &conn{nc: nc, raw: raw, gen: gen}
	if c.tls != nil {
		hd := deadline
		if t := c.cfg.HandshakeTimeout; t > 0 && (hd.IsZero() || now.Add(t).Before(hd)) {
			hd = now.Add(t)
		}
		tc := tls.Client(nc, c.tls)
		if err := tc.SetDeadline(hd); err != nil {
			nc.Close()
			return nil, err
		}
		if err := tc.HandshakeContext(ctx); err != nil {
			nc.Close()
			return nil, err
		}
		cn.nc = tc
		cn.deadline = hd
	}
	if err := cn.setDeadline(deadline); err != nil {
		cn.nc.Close()
		return nil, err
	}
	cn.br = bufio.NewReaderSize(cn.nc, readBufferSize)
	cn.interrupt = cn.cancelIO
	cn.peekFn = cn.peek
	return cn, nil
}

// setDeadline sets t as the read and write deadline, unless it already is.
func (cn *conn) setDeadline(t time.Time) error {
	if t.Equal(cn.deadline) {
		return nil
	}
	cn.deadline = t
	return cn.nc.SetDeadline(t)
}

func (cn *conn) cancelIO() { cn.nc.SetDeadline(aLongTimeAgo) }

func (cn *conn) close() { cn.nc.Close() }

// writeRequest writes req's head and body with one writev.
func (cn *conn) writeRequest(req *Request, host string) error {
	cn.head = appendHead(cn.head[:0], req, host)
	cn.bufs = [2][]byte{cn.head, req.Body}
	cn.out = cn.bufs[:]
	if len(req.Body) == 0 {
		cn.out = cn.bufs[:1]
	}
	_, err := cn.out.WriteTo(cn.nc)
	cn.bufs = [2][]byte{}
	return err
}

// alive reports whether an idle connection can carry a request: nothing unread in its
// buffer, and its socket neither closed by the server nor holding bytes nobody asked for.
func (cn *conn) alive() bool {
	if cn.br.Buffered() > 0 {
		return false
	}
	if err := cn.raw.Read(cn.peekFn); err != nil {
		return false
	}
	return cn.usable
}
