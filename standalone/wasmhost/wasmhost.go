// Package wasmhost is the standalone's WOW-style backend: a "container" is an action proxy
// (package actionproxy) with its executor inside this process, so a cold start of a wasm:0.1
// action is a module load and instantiation, not a process or container start. The native kind
// runs the same way with the native (actionloop) executor, whose action is a child process in a
// cgroup named after the instance (runtime/native), so that its whole tree dies with the
// container.
//
// Everything a container writes lives in the instance's working directory, which New empties;
// with Config.StateDir every native container is entered in a standalone.Ledger, and New also
// kills and removes the native process trees and cgroups a crashed run left.
package wasmhost

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wasmwhisk/wasmwhisk/actionproxy"
	"github.com/wasmwhisk/wasmwhisk/internal/cgroup"
	"github.com/wasmwhisk/wasmwhisk/runtime"
	"github.com/wasmwhisk/wasmwhisk/runtime/native"
	"github.com/wasmwhisk/wasmwhisk/runtime/wasm"
	"github.com/wasmwhisk/wasmwhisk/standalone"
)

// Config configures the backend. The zero value is usable.
type Config struct {
	// Engine is the wasmtime engine to share; nil makes one from EngineConfig (closed with the
	// backend).
	Engine *wasm.Engine
	// EngineConfig configures the engine made when Engine is nil (wasi-nn, its model directory).
	EngineConfig wasm.EngineConfig
	// WorkDir is where the instance's working directory, wasmwhisk-<Instance>-wasmhost, is made
	// (default os.TempDir()); executors unpack actions there.
	WorkDir string
	// Instance names this server's directory and cgroups among others on the machine
	// (standalone.Instance.ID); "" means a random name: nothing of an earlier run is found again.
	Instance string
	// StateDir is the private directory of the backend's ledger (standalone.Instance.StateDir);
	// "" keeps none, so only the cgroup and directory names of Instance find what a crash left.
	StateDir string
	// CodeCacheBytes caps the decoded /init code the containers' proxies keep for the next cold
	// start of the same code (actionproxy.CodeCache). Zero means DefaultCodeCacheBytes; negative
	// keeps none.
	CodeCacheBytes int64
}

// DefaultCodeCacheBytes is the default of Config.CodeCacheBytes: the code of about ten MobileNet
// actions (14 MB of base64 and 10 MB decoded each).
const DefaultCodeCacheBytes = 256 << 20

// Backend runs containers in this process.
type Backend struct {
	eng      *wasm.Engine
	ownsEng  bool
	instance string
	workDir  string // the instance's own directory
	ledger   *standalone.Ledger
	cgroups  string                 // cgroup v2 directory native children's groups are made in; "" without
	codes    *actionproxy.CodeCache // nil when off
	seq      atomic.Int64

	live standalone.LiveSet[*container]
}

// entry is what the ledger keeps of a native container.
type entry struct {
	Dir    string `json:"dir"`
	Cgroup string `json:"cgroup,omitempty"`
}

// New removes what a crashed run of the same instance left and returns a wasm host backend.
func New(cfg Config) (*Backend, error) {
	if cfg.Instance == "" {
		var r [6]byte
		_, _ = rand.Read(r[:])
		cfg.Instance = hex.EncodeToString(r[:])
	}
	if cfg.WorkDir == "" {
		cfg.WorkDir = os.TempDir()
	}
	b := &Backend{
		eng: cfg.Engine, instance: cfg.Instance, cgroups: cgroup.Probe().Unified,
		workDir: filepath.Join(cfg.WorkDir, "wasmwhisk-"+cfg.Instance+"-wasmhost"),
	}
	switch {
	case cfg.CodeCacheBytes == 0:
		b.codes = actionproxy.NewCodeCache(DefaultCodeCacheBytes)
	case cfg.CodeCacheBytes > 0:
		b.codes = actionproxy.NewCodeCache(cfg.CodeCacheBytes)
	}
	if cfg.StateDir != "" {
		l, err := standalone.OpenLedger(cfg.StateDir)
		if err != nil {
			return nil, fmt.Errorf("wasmhost: %w", err)
		}
		b.ledger = l
	}
	if err := b.recover(); err != nil {
		return nil, err
	}
	if err := os.Mkdir(b.workDir, 0o700); err != nil {
		return nil, fmt.Errorf("wasmhost: work directory: %w", err)
	}
	if b.eng == nil {
		eng, err := wasm.NewEngine(cfg.EngineConfig)
		if err != nil {
			os.RemoveAll(b.workDir)
			return nil, fmt.Errorf("wasmhost: %w", err)
		}
		b.eng, b.ownsEng = eng, true
	}
	return b, nil
}

// groupPrefix starts the cgroup name of every native container of this instance.
func (b *Backend) groupPrefix() string { return "wasmwhisk-" + b.instance + "-wasmhost-" }

// recover kills and removes the native process trees, cgroups and files an earlier run of this
// instance left.
func (b *Backend) recover() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var errs []error
	entries, err := b.ledger.Entries()
	if err != nil {
		errs = append(errs, err)
	}
	for name, data := range entries {
		var e entry
		if err := json.Unmarshal(data, &e); err != nil {
			errs = append(errs, fmt.Errorf("ledger entry %s: %w", name, err))
			continue
		}
		if e.Cgroup != "" {
			if err := cgroup.Open([]string{e.Cgroup}).Destroy(ctx); err != nil {
				errs = append(errs, fmt.Errorf("container %s: %w", name, err))
			}
		}
		if e.Dir != "" {
			_ = os.RemoveAll(e.Dir)
		}
		if err := b.ledger.Delete(name); err != nil {
			errs = append(errs, err)
		}
	}
	if _, err := (cgroup.Roots{Unified: b.cgroups}).RemoveStale(ctx, b.groupPrefix()); err != nil {
		errs = append(errs, err)
	}
	if err := os.RemoveAll(b.workDir); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("wasmhost: remove what an earlier run left: %w", err)
	}
	return nil
}

// Name implements standalone.Backend.
func (b *Backend) Name() string { return "wasmhost" }

// Create implements standalone.Backend: it makes an uninitialised proxy and executor.
func (b *Backend) Create(ctx context.Context, spec standalone.ContainerSpec) (standalone.Container, error) {
	logs := standalone.NewLogBuffer()
	stdout, stderr := logs.Writer("stdout"), logs.Writer("stderr")
	environ := make([]string, 0, len(spec.Env))
	for k, v := range spec.Env {
		environ = append(environ, k+"="+v)
	}
	seq := strconv.FormatInt(b.seq.Add(1), 10)
	c := &container{id: spec.Name + "-" + seq, logs: logs, backend: b}
	switch spec.Kind {
	case standalone.KindWasm:
		c.exec = b.eng.NewExecutor(wasm.Config{
			MemoryLimit: int64(spec.MemoryMB) << 20, WorkDir: b.workDir,
			InitStdout: stdout, InitStderr: stderr, Environ: environ,
			CompileOnly: spec.Env[standalone.EnvCompileOnly] == "1",
		})
	case standalone.KindNative:
		dir, err := os.MkdirTemp(b.workDir, "native-")
		if err != nil {
			return nil, fmt.Errorf("wasmhost: %w", err)
		}
		c.dir, c.ledgerName = dir, "native-"+seq
		group := b.groupPrefix() + seq
		e := entry{Dir: dir}
		if b.cgroups != "" {
			e.Cgroup = filepath.Join(b.cgroups, group)
		}
		if err := b.ledger.Put(c.ledgerName, e); err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("wasmhost: %w", err)
		}
		c.exec = native.New(native.Config{Dir: dir, Stdout: stdout, Stderr: stderr, Environ: environ, CgroupName: group})
	default:
		return nil, runtime.Errorf(http.StatusBadGateway,
			fmt.Sprintf("The wasmhost backend cannot run kind '%s'; use the docker backend.", spec.Kind), nil)
	}
	c.proxy = actionproxy.New(actionproxy.Config{
		Executor: deadlineWatch{c.exec}, Stdout: stdout, Stderr: stderr, Environ: environ,
		AllowConcurrent: spec.Concurrency > 1,
		Setenv:          func(string, string) error { return nil },
		CodeCache:       b.codes,
	})
	c.handler = c.proxy.Handler()
	b.live.Add(c)
	return c, nil
}

// Close destroys every live container and the engine it made, and removes the working
// directory.
func (b *Backend) Close() error {
	errs := []error{b.live.DestroyAll(context.Background())}
	if b.ownsEng {
		errs = append(errs, b.eng.Close())
	}
	errs = append(errs, os.RemoveAll(b.workDir))
	return errors.Join(errs...)
}

type container struct {
	id      string
	proxy   *actionproxy.Proxy
	handler http.Handler
	logs    *standalone.LogBuffer
	backend *Backend
	exec    runtime.Executor // for its memory report (memory.go)
	// dir and ledgerName are a native container's directory and ledger entry ("" for wasm).
	dir, ledgerName string

	once      sync.Once
	destroyed atomic.Bool
}

func (c *container) ID() string { return c.id }

func (c *container) Init(ctx context.Context, body []byte) (int, []byte, error) {
	return c.call(ctx, "/init", body)
}

func (c *container) Run(ctx context.Context, body []byte) (int, []byte, error) {
	return c.call(ctx, "/run", body)
}

// call serves one request with the proxy's handler, in this goroutine.
func (c *container) call(ctx context.Context, path string, body []byte) (int, []byte, error) {
	if c.destroyed.Load() {
		return 0, nil, fmt.Errorf("wasmhost %s: %w: container destroyed", path, standalone.ErrNoResponse)
	}
	var deadlineHit atomic.Bool
	req, err := http.NewRequestWithContext(context.WithValue(ctx, deadlineHitKey{}, &deadlineHit), http.MethodPost, path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	w := &recorder{header: http.Header{}}
	c.handler.ServeHTTP(w, req)
	if c.destroyed.Load() {
		return 0, nil, fmt.Errorf("wasmhost %s: %w: container destroyed during the call", path, standalone.ErrNoResponse)
	}
	if err := ctx.Err(); err != nil {
		return 0, nil, fmt.Errorf("wasmhost %s: %w", path, err)
	}
	if deadlineHit.Load() {
		return w.status, w.body.Bytes(), fmt.Errorf("wasmhost %s: the executor stopped the action at its deadline: %w", path, context.DeadlineExceeded)
	}
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if w.header.Get("Content-Length") == "" {
		return w.status, w.body.Bytes(), fmt.Errorf("wasmhost %s: %w: response without Content-Length", path, standalone.ErrNoResponse)
	}
	return w.status, w.body.Bytes(), nil
}

func (c *container) Logs(ctx context.Context, waitForSentinels bool) ([]standalone.LogLine, error) {
	return c.logs.Collect(ctx, waitForSentinels)
}

// Pause is a no-op: an idle in-process executor holds memory but uses no CPU.
func (c *container) Pause(context.Context) error { return nil }

// Resume is a no-op, see Pause.
func (c *container) Resume(context.Context) error { return nil }

func (c *container) Destroy(context.Context) error {
	var err error
	c.once.Do(func() {
		c.destroyed.Store(true)
		err = c.proxy.Close()
		c.logs.CloseInput()
		if c.dir != "" {
			err = errors.Join(err, os.RemoveAll(c.dir), c.backend.ledger.Delete(c.ledgerName))
		}
		c.backend.live.Remove(c)
	})
	return err
}

// recorder is the minimal http.ResponseWriter the in-process call needs.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
}

func (r *recorder) Write(p []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(p)
}
