package main

import (
	"flag"
	"fmt"
	"os"
	"strconv"
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
	compileOnly  bool
	nn           bool
	nnModels     string
}

func registerWasmFlags(fs *flag.FlagSet) *wasmOptions {
	o := &wasmOptions{}
	fs.Int64Var(&o.memoryMiB, "wasm-memory", 256, "wasm: linear memory cap per instance, MiB")
	fs.DurationVar(&o.maxDuration, "wasm-max-duration", 5*time.Minute, "wasm: longest guest call, on top of the activation deadline")
	fs.StringVar(&o.cacheDir, "wasm-cache", "", "wasm: directory of compiled modules (default under $TMPDIR)")
	fs.BoolVar(&o.noCache, "wasm-no-cache", false, "wasm: compile at every /init, never use the module cache")
	fs.BoolVar(&o.freshReactor, "wasm-fresh-reactor", false, "wasm: give reactor modules a fresh instance per activation (no state between runs)")
	compileOnly, _ := strconv.ParseBool(os.Getenv("WASMWHISK_COMPILE_ONLY"))
	fs.BoolVar(&o.compileOnly, "wasm-compile-only", compileOnly, "wasm: /init only compiles the module into the cache (and unpacks an archive there), runs nothing; the standalone starts such a container when an action is created or updated (env WASMWHISK_COMPILE_ONLY)")
	nnDefault := true
	if v, err := strconv.ParseBool(os.Getenv("WASMWHISK_WASM_NN")); err == nil {
		nnDefault = v
	}
	fs.BoolVar(&o.nn, "wasm-nn", nnDefault, "wasm: provide wasi-nn (import module wasi_ephemeral_nn); with -wasm-nn=false a module importing it is refused at /init (env WASMWHISK_WASM_NN)")
	fs.StringVar(&o.nnModels, "wasm-nn-models", os.Getenv("WASMWHISK_WASM_NN_MODELS"), "wasm: `DIR` of .onnx models every action may load by name with wasi-nn (file name without .onnx; env WASMWHISK_WASM_NN_MODELS)")
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
	if !o.nn && o.nnModels != "" {
		return nil, fmt.Errorf("-wasm-nn-models needs wasi-nn, but -wasm-nn=false")
	}
	engine, err := wasm.NewEngine(wasm.EngineConfig{CacheDir: o.cacheDir, DisableCache: o.noCache, DisableWasiNN: !o.nn, ModelDir: o.nnModels})
	if err != nil {
		return nil, fmt.Errorf("wasm engine: %w", err)
	}
	exec := engine.NewExecutor(wasm.Config{
		MemoryLimit:  o.memoryMiB << 20,
		MaxDuration:  o.maxDuration,
		FreshReactor: o.freshReactor,
		CompileOnly:  o.compileOnly,
	})
	return wasmExecutor{Executor: exec, engine: engine}, nil
}
