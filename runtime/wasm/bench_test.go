package wasm

import (
	"context"
	"encoding/json"
	"io"
	"testing"

	"github.com/wasmwhisk/wasmwhisk/internal/testbuild"
	"github.com/wasmwhisk/wasmwhisk/runtime"
)

func helloModule(b testing.TB, reactor bool) []byte {
	return buildModule(b, testbuild.Target{Pkg: "./actions/hello", WASM: true, Reactor: reactor})
}

// BenchmarkInit measures /init of the hello action: compiling the module, loading it from the
// module cache (the cold start of code seen before), and loading a precompiled module.
func BenchmarkInit(b *testing.B) {
	module := helloModule(b, false)
	initOnce := func(b *testing.B, eng *Engine, code []byte, want ModuleSource) {
		x := eng.NewExecutor(Config{})
		if err := x.Init(context.Background(), runtime.InitRequest{Name: "hello", Code: code}); err != nil {
			b.Fatal(err)
		}
		if info, _ := x.Info(); info.Source != want {
			b.Fatalf("source = %s, want %s", info.Source, want)
		}
		if err := x.Close(); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("compile", func(b *testing.B) {
		eng, err := NewEngine(EngineConfig{DisableCache: true})
		if err != nil {
			b.Fatal(err)
		}
		defer eng.Close()
		for b.Loop() {
			initOnce(b, eng, module, SourceCompiled)
		}
	})
	b.Run("cache", func(b *testing.B) {
		eng, err := NewEngine(EngineConfig{CacheDir: b.TempDir()})
		if err != nil {
			b.Fatal(err)
		}
		defer eng.Close()
		initOnce(b, eng, module, SourceCompiled) // fills the cache
		for b.Loop() {
			initOnce(b, eng, module, SourceCache)
		}
	})
	b.Run("shared", func(b *testing.B) {
		// Another executor of the engine holds the module (many containers of one action).
		eng, err := NewEngine(EngineConfig{CacheDir: b.TempDir()})
		if err != nil {
			b.Fatal(err)
		}
		defer eng.Close()
		holder := eng.NewExecutor(Config{})
		defer holder.Close()
		if err := holder.Init(context.Background(), runtime.InitRequest{Code: module}); err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			initOnce(b, eng, module, SourceShared)
		}
	})
	b.Run("precompiled", func(b *testing.B) {
		eng := sharedEngine(b)
		code := mustPrecompile(b, eng, module)
		b.SetBytes(int64(len(code)))
		for b.Loop() {
			initOnce(b, eng, code, SourcePrecompiled)
		}
	})
	b.Run("reactor-cache", func(b *testing.B) {
		// A reactor's Init also instantiates it and runs _initialize (Go's runtime start-up).
		eng, err := NewEngine(EngineConfig{CacheDir: b.TempDir()})
		if err != nil {
			b.Fatal(err)
		}
		defer eng.Close()
		reactor := helloModule(b, true)
		initOnce(b, eng, reactor, SourceCompiled)
		for b.Loop() {
			initOnce(b, eng, reactor, SourceCache)
		}
	})
}

// BenchmarkRun measures one warm activation of hello, without HTTP: a fresh instance per run
// (command ABI), the one warm instance (reactor ABI), and a fresh reactor instance per run.
func BenchmarkRun(b *testing.B) {
	value := json.RawMessage(`{"name":"bench"}`)
	ctx := map[string]string{"activation_id": "0123456789abcdef0123456789abcdef", "namespace": "guest", "action_name": "/guest/hello"}
	line, _ := json.Marshal(map[string]any{"value": value, "activation_id": ctx["activation_id"], "namespace": "guest", "action_name": "/guest/hello"})
	env := map[string]string{"__OW_ACTIVATION_ID": ctx["activation_id"], "__OW_NAMESPACE": "guest", "__OW_ACTION_NAME": "/guest/hello"}
	req := runtime.RunRequest{Value: value, Context: ctx, Env: env, Line: line, Stdout: io.Discard, Stderr: io.Discard}
	for _, c := range []struct {
		name    string
		reactor bool
		cfg     Config
	}{
		{"command", false, Config{}},
		{"reactor", true, Config{}},
		{"reactor-fresh", true, Config{FreshReactor: true}},
	} {
		b.Run(c.name, func(b *testing.B) {
			x := newExecutor(b, sharedEngine(b), c.cfg, helloModule(b, c.reactor))
			for b.Loop() {
				if _, err := x.Run(context.Background(), req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("command-parallel", func(b *testing.B) {
		x := newExecutor(b, sharedEngine(b), Config{}, helloModule(b, false))
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := x.Run(context.Background(), req); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}
