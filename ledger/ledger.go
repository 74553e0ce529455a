// Package ledger remembers, for chunks whose flush ended with undelivered events, which events
// were already delivered. Fluent Bit re-delivers a retried chunk byte for byte, so the chunk's
// hash identifies it; the plugin then sends only the events still missing, and its own retries
// create no duplicates.
//
// The ledger is bounded in entries and in age: an entry that is evicted or expires only costs
// duplicates (the whole chunk is sent again), never loss.
package ledger

import (
	"container/list"
	"crypto/sha256"
	"encoding/binary"
	"sync"
	"time"
)

// Key identifies a chunk: SHA-256 over the plugin instance, the tag and the chunk bytes.
type Key [32]byte

// ChunkKey returns the key of chunk as flushed by instance under tag. Each field is length-prefixed
// so that no two (instance, tag, chunk) triples share an encoding.
func ChunkKey(instance, tag string, chunk []byte) Key {
	h := sha256.New()
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(instance)))
	h.Write(n[:])
	h.Write([]byte(instance))
	binary.BigEndian.PutUint64(n[:], uint64(len(tag)))
	h.Write(n[:])
	h.Write([]byte(tag))
	binary.BigEndian.PutUint64(n[:], uint64(len(chunk)))
	h.Write(n[:])
	h.Write(chunk)
	var k Key
	h.Sum(k[:0])
	return k
}

// Ledger maps chunk keys to the set of their delivered events. Safe for concurrent use.
type Ledger struct {
	maxEntries int
	maxAge     time.Duration
	now        func() time.Time // injectable for tests

	mu      sync.Mutex
	entries map[Key]*list.Element // of *entry
	order   list.List             // oldest first (by last Remember)
}

type entry struct {
	key       Key
	delivered Set
	at        time.Time
}

// New returns a ledger holding at most maxEntries chunks, each for at most maxAge
// (maxAge <= 0: no age limit). maxEntries <= 0 disables the ledger: every call is a no-op and
// Lookup never finds anything.
func New(maxEntries int, maxAge time.Duration) *Ledger {
	return &Ledger{maxEntries: maxEntries, maxAge: maxAge, now: time.Now, entries: make(map[Key]*list.Element)}
}

// Lookup returns a copy of the delivered set remembered for k. Expired entries are not returned.
func (l *Ledger) Lookup(k Key) (Set, bool) {
	if l.maxEntries <= 0 {
		return Set{}, false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	el, ok := l.entries[k]
	if !ok {
		return Set{}, false
	}
	e := el.Value.(*entry)
	if l.expired(e, l.now()) {
		l.remove(el)
		return Set{}, false
	}
	return e.delivered.Clone(), true
}

// Remember records delivered as the set of k's delivered events, replacing any earlier entry and
// making k the newest entry. It keeps its own copy of delivered. The oldest entries beyond
// maxEntries, and expired ones, are evicted.
func (l *Ledger) Remember(k Key, delivered Set) {
	if l.maxEntries <= 0 {
		return
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if el, ok := l.entries[k]; ok {
		e := el.Value.(*entry)
		e.delivered, e.at = delivered.Clone(), now
		l.order.MoveToBack(el)
	} else {
		l.entries[k] = l.order.PushBack(&entry{key: k, delivered: delivered.Clone(), at: now})
	}
	for l.order.Len() > l.maxEntries {
		l.remove(l.order.Front())
	}
	l.evictExpired(now)
}

// evictExpired drops expired entries; entries are ordered by time, so they are at the front.
func (l *Ledger) evictExpired(now time.Time) {
	for el := l.order.Front(); el != nil && l.expired(el.Value.(*entry), now); el = l.order.Front() {
		l.remove(el)
	}
}

// Forget removes k (a chunk that has now been fully delivered or given up).
func (l *Ledger) Forget(k Key) {
	if l.maxEntries <= 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if el, ok := l.entries[k]; ok {
		l.remove(el)
	}
}

// Len returns the number of live entries. Callers skip hashing chunks when it is 0: there is
// nothing to look up.
func (l *Ledger) Len() int {
	if l.maxEntries <= 0 {
		return 0
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.evictExpired(now)
	return l.order.Len()
}

func (l *Ledger) expired(e *entry, now time.Time) bool {
	return l.maxAge > 0 && now.Sub(e.at) >= l.maxAge
}

func (l *Ledger) remove(el *list.Element) {
	delete(l.entries, el.Value.(*entry).key)
	l.order.Remove(el)
}
