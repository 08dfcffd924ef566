// Package standalone is an embedded single-machine OpenWhisk: the controller's REST API subset
// (../shared/openwhisk/SPEC.md §4), an invoker with OpenWhisk's container pool (§5.3) and
// activation records with OpenWhisk's timing semantics (§3.4), stored in bbolt. Containers come
// from a Backend: Docker (package standalone/docker), child actionproxy processes, or wasm
// executors inside this process.
package standalone

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"
)

// GuestKey is the well-known API key of OpenWhisk's standalone guest namespace.
const GuestKey = "23bc46b1-71f6-4ed5-8c54-816aa4f8c502:123zO3xZCLrMN6v2BKK1dXYFpXlPkccOFqm12CdAsMgRU4VrNZ9lyGVCGuMDGIwP"

// Identity is an API key and the namespace and subject it authenticates as.
type Identity struct {
	// Key is "uuid:key".
	Key string
	// Namespace is the caller's namespace (default "guest").
	Namespace string
	// Subject is the caller's subject (default Namespace).
	Subject string
}

// LimitsConfig bounds action limits (SPEC §5.4 defaults).
type LimitsConfig struct {
	// MaxConcurrency is the largest limits.concurrency accepted (default 1, as OpenWhisk).
	MaxConcurrency int
}

// Config configures a Server. Only DataDir and Backend are required.
type Config struct {
	// Listen is the address to serve on (default "127.0.0.1:3233"; use "127.0.0.1:0" in tests).
	Listen string
	// DataDir holds the store (made private to the user: mode 0700).
	DataDir string
	// NoSync skips fsync on database commits (records survive a crash of this process, not of
	// the machine).
	NoSync bool
	// Backend creates containers; the server closes it.
	Backend Backend
	// Identities are the accepted API keys (default: the guest key for namespace guest).
	Identities []Identity
	// APIHost is __OW_API_HOST for containers (default "http://" + the listen address).
	APIHost string
	// Runtimes are the managed kinds (default DefaultRuntimes()).
	Runtimes []Runtime
	// SentinelledImages are blackbox image prefixes whose proxies write log sentinels (OpenWhisk's
	// manifest "blackboxes"; default "wasmwhisk/").
	SentinelledImages []string
	// Retention bounds the activation records kept (zero fields: the defaults).
	Retention Retention
	// Pool sizes the container pool.
	Pool PoolConfig
	// Limits bounds action limits.
	Limits LimitsConfig
	// BlockingTimeout is the longest a blocking invoke waits (default 60 s).
	BlockingTimeout time.Duration
	// LogIdleTimeout bounds waiting for log sentinels (default 2 s).
	LogIdleTimeout time.Duration
	// Logger receives operational logs (default slog.Default()).
	Logger *slog.Logger
	// NoPrecompile turns off compiling wasm:0.1 code when an action is created or updated (and
	// again after an /init that timed out; precompile.go): a cold start then compiles at /init
	// unless the runtime's cache has the module, as on a stock OpenWhisk.
	NoPrecompile bool
}

// Server is a running standalone OpenWhisk.
type Server struct {
	cfg        Config
	store      *Store
	inv        *invoker
	pool       *Pool
	identities map[string]Identity
	runtimes   map[string]Runtime
	log        *slog.Logger

	ctx    context.Context // lives until Close; activations run under it
	cancel context.CancelFunc
	acts   sync.WaitGroup

	mu       sync.Mutex
	listener net.Listener
	http     *http.Server
	serveErr chan error
	closed   bool
}

// New opens the store and builds the server; Start serves it.
func New(cfg Config) (*Server, error) {
	if cfg.Backend == nil {
		return nil, errors.New("standalone: Config.Backend is required")
	}
	if cfg.DataDir == "" {
		return nil, errors.New("standalone: Config.DataDir is required")
	}
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:3233"
	}
	if len(cfg.Identities) == 0 {
		cfg.Identities = []Identity{{Key: GuestKey, Namespace: "guest"}}
	}
	if cfg.Runtimes == nil {
		cfg.Runtimes = DefaultRuntimes()
	}
	if cfg.SentinelledImages == nil {
		cfg.SentinelledImages = []string{"wasmwhisk/"}
	}
	if cfg.BlockingTimeout <= 0 {
		cfg.BlockingTimeout = 60 * time.Second
	}
	if cfg.LogIdleTimeout <= 0 {
		cfg.LogIdleTimeout = 2 * time.Second
	}
	if cfg.Limits.MaxConcurrency <= 0 {
		cfg.Limits.MaxConcurrency = 1
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := &Server{cfg: cfg, identities: map[string]Identity{}, runtimes: map[string]Runtime{}, log: cfg.Logger}
	for _, id := range cfg.Identities {
		if id.Namespace == "" {
			id.Namespace = "guest"
		}
		if id.Subject == "" {
			id.Subject = id.Namespace
		}
		s.identities[id.Key] = id
	}
	for _, rt := range cfg.Runtimes {
		s.runtimes[rt.Kind] = rt
	}
	store, err := OpenStore(cfg.DataDir, StoreOptions{NoSync: cfg.NoSync, Retention: cfg.Retention, Logger: cfg.Logger})
	if err != nil {
		return nil, err
	}
	s.store = store
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.inv = &invoker{
		backend: cfg.Backend, runtimes: s.runtimes, sentinelled: cfg.SentinelledImages,
		apiHost: cfg.APIHost, logIdle: cfg.LogIdleTimeout, log: cfg.Logger,
	}
	return s, nil
}

// Start listens and serves until Close; it returns once the listener is bound.
func (s *Server) Start(ctx context.Context) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("standalone: listen %s: %w", s.cfg.Listen, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.listener = ln
	if s.inv.apiHost == "" {
		s.inv.apiHost = "http://" + ln.Addr().String()
	}
	s.pool = NewPool(s.ctx, s.cfg.Backend, s.cfg.Pool, s.inv.stemSpec, s.log)
	s.inv.pool = s.pool
	if _, ok := s.runtimes[KindWasm]; ok && !s.cfg.NoPrecompile {
		s.inv.precompile = newPrecompiler(s.ctx, s.inv, s.log)
	}
	s.http = &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 30 * time.Second}
	s.serveErr = make(chan error, 1)
	go func() { s.serveErr <- s.http.Serve(ln) }()
	return nil
}

// URL is the server's base URL, e.g. "http://127.0.0.1:3233".
func (s *Server) URL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.listener == nil {
		return ""
	}
	return "http://" + s.listener.Addr().String()
}

// PoolStats returns a snapshot of the container pool.
func (s *Server) PoolStats() Stats { return s.pool.Stats() }

// Close stops serving, lets running activations finish or fail, destroys all containers and
// closes the store and the backend.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	httpSrv, serveErr := s.http, s.serveErr
	s.mu.Unlock()
	var errs []error
	if httpSrv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := httpSrv.Shutdown(ctx); err != nil {
			errs = append(errs, err)
		}
		cancel()
		if err := <-serveErr; err != nil && !errors.Is(err, http.ErrServerClosed) {
			errs = append(errs, err)
		}
	}
	s.cancel()
	s.acts.Wait()
	s.inv.precompile.close()
	if s.pool != nil {
		s.pool.Close()
	}
	if err := s.cfg.Backend.Close(); err != nil {
		errs = append(errs, fmt.Errorf("backend: %w", err))
	}
	if err := s.store.Close(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// newID returns 32 lowercase hex characters.
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
