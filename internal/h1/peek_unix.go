//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package h1

import "syscall"

// peek looks at an idle socket without blocking and without consuming anything (raw.Read
// calls it). The connection is usable when there is nothing to read yet: zero bytes is the
// server's FIN, bytes are an answer to nothing (or, under TLS, an alert or a post-handshake
// message), and an error such as ECONNRESET is a dead connection.
func (cn *conn) peek(fd uintptr) bool {
	_, _, err := syscall.Recvfrom(int(fd), cn.peekBuf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
	cn.usable = err == syscall.EAGAIN || err == syscall.EWOULDBLOCK
	return true // never wait for the socket to become readable
}
