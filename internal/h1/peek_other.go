//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package h1

// peek cannot look at the socket where a non-blocking MSG_PEEK is not available: idle
// connections are taken as alive, and one the server closed fails its next request.
func (cn *conn) peek(uintptr) bool {
	cn.usable = true
	return true
}
