// Package wasm is the wasm:0.1 executor: it hosts an OpenWhisk action that is a WebAssembly module
// (WASI preview 1) under wasmtime, through the command or the reactor ABI of docs/wasm-abi.md.
//
// It is the only package of the project that imports wasmtime-go. One Engine per process holds the
// compiler, the epoch ticker that enforces deadlines, the on-disk cache of compiled modules and
// the wasi-nn host functions with their graph registry (wasinn.go, over package runtime/wasinn);
// every Executor (one per action container) is made from it:
//
//	eng, err := wasm.NewEngine(wasm.EngineConfig{})
//	...
//	defer eng.Close()
//	exec := eng.NewExecutor(wasm.Config{})
//	defer exec.Close()
package wasm

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bytecodealliance/wasmtime-go/v44"

	"github.com/wasmwhisk/wasmwhisk/runtime/wasinn"
)

// wasmtimeModule is the Go module path of the embedded engine; its version is part of the cache key.
const wasmtimeModule = "github.com/bytecodealliance/wasmtime-go/v44"

// EngineConfig configures the process-wide Engine. The zero value is ready to use.
type EngineConfig struct {
	// CacheDir holds serialized compiled modules. Empty means wasmwhisk-modcache-<uid> under
	// os.TempDir(). The directory is created with mode 0700; an existing one must be owned by this
	// user and not writable by others, because its files are loaded as native code.
	CacheDir string
	// DisableCache turns the on-disk module cache off: every Init compiles.
	DisableCache bool
	// EpochInterval is the period of the epoch ticker, the granularity of deadline enforcement.
	// Zero means 1 ms. The ticker only runs while some guest code may be running.
	EpochInterval time.Duration
	// DisableWasiNN turns the wasi-nn host API (import module wasi_ephemeral_nn, see
	// docs/wasm-abi.md) off: a module importing it is then refused at Init like any import the
	// runtime does not provide.
	DisableWasiNN bool
	// ModelDir is a directory of ONNX models (the .onnx files directly inside) that every action
	// may load by name with wasi-nn: the name is the file name without ".onnx". An action
	// archive's own models shadow them. They are compiled at the first Init of a module that
	// imports wasi-nn. Empty means none.
	ModelDir string
	// WasiNN configures the engine's graph registry, which compiles each model once per content
	// and shares it with every executor: the size cap of a model and how many bytes of graphs
	// nobody holds it keeps for the next load.
	WasiNN wasinn.RegistryConfig
}

// Engine is the wasmtime engine shared by all executors of a process: compiled code, the WASI
// linker, the epoch ticker and the module cache. It is safe for concurrent use.
type Engine struct {
	engine      *wasmtime.Engine
	linker      *wasmtime.Linker
	cacheDir    string // empty when the cache is off
	interval    time.Duration
	fingerprint string

	active   atomic.Int64  // guest calls that need the epoch to advance
	workers  atomic.Int64  // run goroutines alive, including abandoned ones
	watched  watchers      // guest output files to keep small (watch.go)
	modules  moduleTable   // compiled modules shared by executors (shared.go)
	archives archiveTable  // action archives unpacked into the cache, shared by executors (shared.go)
	nn       *nnEngine     // wasi-nn: graph registry, model directory (wasinn.go); nil when off
	wake     chan struct{} // nudges the ticker out of idle
	stop     chan struct{}
	done     chan struct{}
	once     sync.Once
}

// NewEngine starts an engine. Close it after every executor made from it is closed.
func NewEngine(cfg EngineConfig) (*Engine, error) {
	e := &Engine{
		interval: cfg.EpochInterval,
		wake:     make(chan struct{}, 1),
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
	}
	if e.interval <= 0 {
		e.interval = time.Millisecond
	}
	if !cfg.DisableCache {
		dir := cfg.CacheDir
		if dir == "" {
			dir = filepath.Join(os.TempDir(), fmt.Sprintf("wasmwhisk-modcache-%d", os.Getuid()))
		}
		if err := privateDir(dir); err != nil {
			return nil, fmt.Errorf("wasm: module cache: %w", err)
		}
		e.cacheDir = dir
	}
	e.engine = wasmtime.NewEngineWithConfig(newWasmtimeConfig())
	e.fingerprint = "wasmtime-go " + WasmtimeVersion() + "; " + engineSettings
	e.linker = wasmtime.NewLinker(e.engine)
	if err := e.linker.DefineWasi(); err != nil {
		e.linker.Close()
		e.engine.Close()
		return nil, fmt.Errorf("wasm: define WASI: %w", err)
	}
	if !cfg.DisableWasiNN {
		var err error
		if e.nn, err = newNNEngine(e.linker, cfg); err != nil {
			e.linker.Close()
			e.engine.Close()
			return nil, err
		}
	} else if cfg.ModelDir != "" {
		e.linker.Close()
		e.engine.Close()
		return nil, errors.New("wasm: a wasi-nn model directory is set but wasi-nn is disabled")
	}
	go e.tick()
	return e, nil
}

// engineSettings names every setting of newWasmtimeConfig that changes compiled code: compiled
// modules are only interchangeable between engines with the same settings and wasmtime version.
const engineSettings = "epoch-interruption; cranelift opt=speed; host target"

// newWasmtimeConfig is the one engine configuration of the project: the runtime, the cache and
// wasmwhisk-compile all use it, so precompiled modules deserialize.
func newWasmtimeConfig() *wasmtime.Config {
	cfg := wasmtime.NewConfig()
	cfg.SetEpochInterruption(true)
	cfg.SetCraneliftOptLevel(wasmtime.OptLevelSpeed)
	return cfg
}

// WasmtimeVersion is the version of wasmtime-go linked into this binary (v44.0.0, say).
func WasmtimeVersion() string {
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, dep := range info.Deps {
			if dep.Path == wasmtimeModule {
				if dep.Replace != nil {
					return dep.Replace.Version
				}
				return dep.Version
			}
		}
	}
	return "v44 (unknown patch)"
}

// Fingerprint identifies the engine's wasmtime version and code-generation settings; two engines
// with the same fingerprint can load each other's compiled modules.
func (e *Engine) Fingerprint() string { return e.fingerprint }

// CacheDir is the directory of the module cache, or "" when the cache is off.
func (e *Engine) CacheDir() string { return e.cacheDir }

// Close stops the epoch ticker and releases the engine. Executors made from it must be closed
// first. When a guest abandoned at its deadline (blocked in a host call) is still running, the
// engine is left to the garbage collector instead, so that the guest can finish safely.
func (e *Engine) Close() error {
	e.once.Do(func() {
		close(e.stop)
		<-e.done
		if e.nn != nil {
			e.nn.close()
		}
		if e.workers.Load() == 0 {
			e.linker.Close()
			e.engine.Close()
		}
	})
	return nil
}

// enter marks the start of a guest call that needs deadline enforcement; leave ends it.
func (e *Engine) enter() {
	if e.active.Add(1) == 1 {
		select {
		case e.wake <- struct{}{}:
		default:
		}
	}
}

func (e *Engine) leave() { e.active.Add(-1) }

// deadlineTicks converts a duration into a relative epoch deadline, rounding up and adding one
// tick because the current tick may be about to end.
func (e *Engine) deadlineTicks(d time.Duration) uint64 {
	if d <= 0 {
		return 1
	}
	return uint64((d+e.interval-1)/e.interval) + 1
}

// tick advances the epoch while any guest call is active, and sleeps otherwise. The epoch follows
// the wall clock (one increment per interval elapsed since the ticker woke), not the number of
// ticks delivered, so a busy machine that delays ticks does not stretch deadlines.
func (e *Engine) tick() {
	defer close(e.done)
	t := time.NewTicker(e.interval)
	defer t.Stop()
	var base time.Time // when the ticker last woke
	var advanced int64 // increments since base
	var trimmed time.Time
	idle := true
	t.Stop()
	for {
		if idle {
			select {
			case <-e.wake:
				base, advanced, idle = time.Now(), 0, false
				t.Reset(e.interval)
			case <-e.stop:
				return
			}
			continue
		}
		select {
		case now := <-t.C:
			for due := int64(now.Sub(base) / e.interval); advanced < due; advanced++ {
				e.engine.IncrementEpoch()
			}
			if now.Sub(trimmed) >= trimEvery {
				e.trimWatched()
				trimmed = now
			}
			if e.active.Load() == 0 {
				t.Stop()
				idle = true
			}
		case <-e.wake:
		case <-e.stop:
			return
		}
	}
}

// privateDir creates dir (mode 0700) or checks that an existing one is a directory owned by this
// user that nobody else can write.
func privateDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s is not a directory", dir)
	}
	if fi.Mode().Perm()&0o022 != 0 {
		return fmt.Errorf("%s is writable by other users (mode %v)", dir, fi.Mode().Perm())
	}
	if uid, ok := fileOwner(fi); ok && uid != os.Getuid() {
		return fmt.Errorf("%s is owned by uid %d, not by this user (uid %d)", dir, uid, os.Getuid())
	}
	return nil
}

// errClosed is returned by an executor used after Close.
var errClosed = errors.New("wasm: executor is closed")
