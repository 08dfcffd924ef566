package main

import (
	"flag"
	"fmt"
	"time"

	"github.com/wasmwhisk/wasmwhisk/runtime"
	"github.com/wasmwhisk/wasmwhisk/runtime/wasm"
)

// wasmOptions are the wasm:0.1 executor's flags.
type wasmOptions struct {
	memoryMiB    int64
	maxDuration  time.Duration
	cacheDir     string
	noCache      bool
	freshReactor bool
}

func registerWasmFlags(fs *flag.FlagSet) *wasmOptions {
	o := &wasmOptions{}
	fs.Int64Var(&o.memoryMiB, "wasm-memory", 256, "wasm: linear memory cap per instance, MiB")
	fs.DurationVar(&o.maxDuration, "wasm-max-duration", 5*time.Minute, "wasm: longest guest call, on top of the activation deadline")
	fs.StringVar(&o.cacheDir, "wasm-cache", "", "wasm: directory of compiled modules (default under $TMPDIR)")
	fs.BoolVar(&o.noCache, "wasm-no-cache", false, "wasm: compile at every /init, never use the module cache")
	fs.BoolVar(&o.freshReactor, "wasm-fresh-reactor", false, "wasm: give reactor modules a fresh instance per activation (no state between runs)")
	return o
}

// wasmExecutor closes the process-wide engine with the executor: the proxy hosts one action.
type wasmExecutor struct {
	*wasm.Executor
	engine *wasm.Engine
}

func (w wasmExecutor) Close() error {
	err := w.Executor.Close()
	if cerr := w.engine.Close(); err == nil {
		err = cerr
	}
	return err
}

func newWasmExecutor(o *wasmOptions) (runtime.Executor, error) {
	if o.memoryMiB <= 0 {
		return nil, fmt.Errorf("-wasm-memory must be positive, got %d", o.memoryMiB)
	}
	engine, err := wasm.NewEngine(wasm.EngineConfig{CacheDir: o.cacheDir, DisableCache: o.noCache})
	if err != nil {
		return nil, fmt.Errorf("wasm engine: %w", err)
	}
	exec := engine.NewExecutor(wasm.Config{
		MemoryLimit:  o.memoryMiB << 20,
		MaxDuration:  o.maxDuration,
		FreshReactor: o.freshReactor,
	})
	return wasmExecutor{Executor: exec, engine: engine}, nil
}
