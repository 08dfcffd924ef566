// Package wasmhost is the standalone's WOW-style backend: a "container" is an action proxy
// (package actionproxy) with its executor inside this process, so a cold start of a wasm:0.1
// action is a module load and instantiation, not a process or container start. The native kind
// runs the same way with the native (actionloop) executor, whose action is a child process.
package wasmhost

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/wasmwhisk/wasmwhisk/actionproxy"
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
	// WorkDir is where executors unpack actions (default os.TempDir()).
	WorkDir string
}

// Backend runs containers in this process.
type Backend struct {
	eng     *wasm.Engine
	ownsEng bool
	workDir string
	seq     atomic.Int64

	live standalone.LiveSet[*container]
}

// New returns a wasm host backend.
func New(cfg Config) (*Backend, error) {
	b := &Backend{eng: cfg.Engine, workDir: cfg.WorkDir}
	if b.eng == nil {
		eng, err := wasm.NewEngine(cfg.EngineConfig)
		if err != nil {
			return nil, fmt.Errorf("wasmhost: %w", err)
		}
		b.eng, b.ownsEng = eng, true
	}
	if b.workDir == "" {
		b.workDir = os.TempDir()
	}
	return b, nil
}

// Name implements standalone.Backend.
func (b *Backend) Name() string { return "wasmhost" }

// Create implements standalone.Backend: it makes an uninitialised proxy and executor.
func (b *Backend) Create(ctx context.Context, spec standalone.ContainerSpec) (standalone.Container, error) {
	logs := standalone.NewLogBuffer()
	stdout, stderr := logs.Writer("stdout"), logs.Writer("stderr")
	var exec runtime.Executor
	switch spec.Kind {
	case standalone.KindWasm:
		exec = b.eng.NewExecutor(wasm.Config{
			MemoryLimit: int64(spec.MemoryMB) << 20, WorkDir: b.workDir,
			InitStdout: stdout, InitStderr: stderr,
		})
	case standalone.KindNative:
		dir, err := os.MkdirTemp(b.workDir, "wasmhost-native-")
		if err != nil {
			return nil, fmt.Errorf("wasmhost: %w", err)
		}
		exec = native.New(native.Config{Dir: dir, Stdout: stdout, Stderr: stderr})
	default:
		return nil, &standalone.CreateError{Developer: true,
			Message: fmt.Sprintf("The wasmhost backend cannot run kind '%s'; use the docker backend.", spec.Kind)}
	}
	environ := make([]string, 0, len(spec.Env))
	for k, v := range spec.Env {
		environ = append(environ, k+"="+v)
	}
	proxy := actionproxy.New(actionproxy.Config{
		Executor: exec, Stdout: stdout, Stderr: stderr, Environ: environ,
		AllowConcurrent: spec.Concurrency > 1,
		Setenv:          func(string, string) error { return nil },
	})
	c := &container{id: spec.Name + "-" + strconv.FormatInt(b.seq.Add(1), 10), proxy: proxy, handler: proxy.Handler(), logs: logs, backend: b, exec: exec}
	b.live.Add(c)
	return c, nil
}

// Close destroys every live container and the engine it made.
func (b *Backend) Close() error {
	errs := []error{b.live.DestroyAll(context.Background())}
	if b.ownsEng {
		errs = append(errs, b.eng.Close())
	}
	return errors.Join(errs...)
}

type container struct {
	id      string
	proxy   *actionproxy.Proxy
	handler http.Handler
	logs    *standalone.LogBuffer
	backend *Backend
	exec    runtime.Executor // for its memory report (memory.go)

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
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, path, bytes.NewReader(body))
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
