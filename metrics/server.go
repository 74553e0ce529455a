package metrics

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Path is the URL path the metrics are served at.
const Path = "/metrics"

// shutdownTimeout bounds how long the last Release waits for scrapes in progress.
const shutdownTimeout = 2 * time.Second

// table is the process's set of running servers, keyed by listen address. It is the package's
// one piece of process-wide state, and deliberately so: Fluent Bit loads the plugin once per
// process and starts every [OUTPUT] instance separately, so instances that name the same
// metrics_listen can only find each other's server here.
type table struct {
	mu      sync.Mutex
	servers map[string]*shared
}

var process = &table{servers: map[string]*shared{}}

// shared is one HTTP server and the sources registered on it.
type shared struct {
	keys []string // its keys in table.servers
	refs int      // guarded by table.mu
	addr string   // bound address
	srv  *http.Server
	done chan struct{} // closed when srv.Serve has returned

	mu      sync.Mutex
	sources map[string]Source
}

// Server is one user's handle on a shared metrics server; each Serve call returns its own.
type Server struct {
	s        *shared
	t        *table
	released atomic.Bool
}

// Serve returns a handle on the metrics server listening on listen ("host:port"; host may be
// empty for every interface), starting it if this process has none there yet. Port 0 picks a
// free port and always starts a new server; call Addr for the port, and pass Addr to later Serve
// calls to share that server. Call Release when done.
func Serve(listen string) (*Server, error) { return process.serve(listen) }

func (t *table) serve(listen string) (*Server, error) {
	_, port, err := net.SplitHostPort(listen)
	if err != nil {
		return nil, fmt.Errorf("metrics: listen %q: want host:port: %w", listen, err)
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return nil, fmt.Errorf("metrics: listen %q: port %q is not a number from 0 to 65535", listen, port)
	}
	key := listen
	if p == 0 {
		key = "" // never shared by its written form: every :0 is a new server
	}

	t.mu.Lock()
	defer t.mu.Unlock()
	if s, ok := t.servers[key]; ok && key != "" {
		s.refs++
		return &Server{s: s, t: t}, nil
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, fmt.Errorf("metrics: listen %q: %w", listen, err)
	}
	s := newShared(ln)
	s.refs = 1
	s.keys = []string{s.addr}
	if key != "" && key != s.addr {
		s.keys = append(s.keys, key)
	}
	for _, k := range s.keys {
		t.servers[k] = s
	}
	return &Server{s: s, t: t}, nil
}

func newShared(ln net.Listener) *shared {
	s := &shared{addr: ln.Addr().String(), sources: map[string]Source{}, done: make(chan struct{})}
	reg := prometheus.NewPedanticRegistry()
	// Registration of fresh collectors into a fresh registry cannot fail.
	_ = reg.Register(&collector{s: s, d: newDescs()})
	_ = reg.Register(collectors.NewGoCollector())
	mux := http.NewServeMux()
	mux.Handle(Path, promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		// A failing instance must not hide the others' series.
		ErrorHandling:       promhttp.ContinueOnError,
		MaxRequestsInFlight: 4,
		Timeout:             10 * time.Second,
	}))
	s.srv = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      20 * time.Second,
		IdleTimeout:       60 * time.Second,
	}
	go func() {
		defer close(s.done)
		_ = s.srv.Serve(ln) // returns http.ErrServerClosed after Shutdown
	}()
	return s
}

// Addr returns the address the server is bound to, e.g. "127.0.0.1:39417".
func (h *Server) Addr() string { return h.s.addr }

// URL returns the metrics URL, e.g. "http://127.0.0.1:39417/metrics".
func (h *Server) URL() string { return "http://" + h.s.addr + Path }

// Register adds an instance's counters to the server under the label name=instance. It fails if
// the name is empty or already registered on this server. The returned function removes them; it
// may be called more than once.
func (h *Server) Register(instance string, src Source) (unregister func(), err error) {
	if instance == "" {
		return nil, errors.New("metrics: empty instance name")
	}
	if src == nil {
		return nil, fmt.Errorf("metrics: instance %q: nil source", instance)
	}
	if h.released.Load() {
		return nil, fmt.Errorf("metrics: instance %q: server %s already released", instance, h.s.addr)
	}
	s := h.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, dup := s.sources[instance]; dup {
		return nil, fmt.Errorf("metrics: instance %q already registered on %s", instance, s.addr)
	}
	s.sources[instance] = src
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			delete(s.sources, instance)
			s.mu.Unlock()
		})
	}, nil
}

// Release gives the handle back; the last handle's Release stops the server and waits (at most
// a few seconds) for scrapes in progress. Calling it again does nothing.
func (h *Server) Release() {
	if !h.released.CompareAndSwap(false, true) {
		return
	}
	t, s := h.t, h.s
	t.mu.Lock()
	s.refs--
	last := s.refs == 0
	if last {
		for _, k := range s.keys {
			if t.servers[k] == s {
				delete(t.servers, k)
			}
		}
	}
	t.mu.Unlock()
	if !last {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := s.srv.Shutdown(ctx); err != nil {
		_ = s.srv.Close()
	}
	<-s.done
}

// snapshotSources returns the registered sources sorted by name.
func (s *shared) snapshotSources() []namedSource {
	s.mu.Lock()
	out := make([]namedSource, 0, len(s.sources))
	for n, src := range s.sources {
		out = append(out, namedSource{n, src})
	}
	s.mu.Unlock()
	sortNamed(out)
	return out
}
