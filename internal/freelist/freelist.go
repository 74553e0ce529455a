// Package freelist keeps a bounded number of reusable objects for the plugin's per-flush state.
//
// sync.Pool drops what it holds at garbage collection. The plugin's per-flush state (converted
// records, per-shard aggregates) is megabytes of buffers grown to fit a flush, and rebuilding it
// after every collection made each collection the cause of the next: a few megabytes of
// regrown buffers per worker, and a higher peak RSS. A List keeps up to its limit of idle
// objects, one per concurrent flush in practice, for as long as the instance lives.
package freelist

import "sync"

// List is a bounded stack of idle objects. Its zero value is not usable; see New.
type List[T any] struct {
	mu    sync.Mutex
	idle  []*T
	limit int
	make  func() *T
}

// New returns a List that keeps at most limit idle objects and makes new ones with mk.
func New[T any](limit int, mk func() *T) *List[T] {
	return &List[T]{idle: make([]*T, 0, limit), limit: limit, make: mk}
}

// Get returns the most recently put idle object, or a new one.
func (l *List[T]) Get() *T {
	l.mu.Lock()
	if n := len(l.idle); n > 0 {
		x := l.idle[n-1]
		l.idle[n-1] = nil
		l.idle = l.idle[:n-1]
		l.mu.Unlock()
		return x
	}
	l.mu.Unlock()
	return l.make()
}

// Put keeps x for a later Get, or lets it go when limit objects are already idle.
func (l *List[T]) Put(x *T) {
	l.mu.Lock()
	if len(l.idle) < l.limit {
		l.idle = append(l.idle, x)
	}
	l.mu.Unlock()
}

// Idle returns the number of idle objects.
func (l *List[T]) Idle() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.idle)
}
