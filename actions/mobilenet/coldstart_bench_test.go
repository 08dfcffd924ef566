//go:build !wasip1

package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/wasmwhisk/wasmwhisk/internal/stats"
	"github.com/wasmwhisk/wasmwhisk/internal/testbuild"
	"github.com/wasmwhisk/wasmwhisk/internal/ziptest"
	"github.com/wasmwhisk/wasmwhisk/nn/model"
	"github.com/wasmwhisk/wasmwhisk/runtime"
	"github.com/wasmwhisk/wasmwhisk/runtime/native"
	"github.com/wasmwhisk/wasmwhisk/runtime/wasm"
)

// BenchmarkColdInit measures /init of the MobileNet action as a new container would do it, with
// the model shipped in the action zip (unpacked at /init) or embedded in the executable/module:
// the native actionloop executable (process start + model load) and the wasm reactors (module
// loaded from the compiled-module cache, instance made, model loaded): in-guest (the guest
// compiles the model), wasi-nn with a new engine per /init (a new runtime process: the host
// compiles the graph, as for the first container of a new model) and wasi-nn on one engine (the
// wasm host backend's many containers: the graph compiled once is shared, load_by_name is a
// lookup). It reports the median.
//
//	go test -run '^$' -bench ColdInit -benchtime 10x ./actions/mobilenet
func BenchmarkColdInit(b *testing.B) {
	dir, err := model.Resolve("")
	if err != nil {
		b.Skipf("no model: %v", err)
	}
	files := map[string]string{
		"mobilenetv2-1.0-224.onnx": filepath.Join(dir, "mobilenetv2-1.0-224.onnx"),
		"imagenet_labels.txt":      filepath.Join(dir, "imagenet_labels.txt"),
	}
	prepareEmbedded(b, files)

	reactor := readFile(b, testbuild.MustBuild(b, testbuild.Target{Pkg: "./actions/mobilenet", WASM: true, Reactor: true, Tags: []string{"nn_inguest"}}))
	reactorNN := readFile(b, testbuild.MustBuild(b, testbuild.Target{Pkg: "./actions/mobilenet", WASM: true, Reactor: true}))
	reactorEmbedded := readFile(b, testbuild.MustBuild(b, testbuild.Target{Pkg: "./actions/mobilenet", WASM: true, Reactor: true, Tags: []string{"nn_inguest", "embedmodel"}}))
	exe := readFile(b, testbuild.MustBuild(b, testbuild.Target{Pkg: "./actions/mobilenet"}))
	exeEmbedded := readFile(b, testbuild.MustBuild(b, testbuild.Target{Pkg: "./actions/mobilenet", Tags: []string{"embedmodel"}}))

	b.Run("native/zip", func(b *testing.B) { benchNativeInit(b, zipOf(b, "exec", exe, files)) })
	b.Run("native/embedded", func(b *testing.B) { benchNativeInit(b, exeEmbedded) })
	b.Run("wasm-reactor-inguest/zip", func(b *testing.B) { benchWasmInit(b, zipOf(b, "main.wasm", reactor, files), false) })
	b.Run("wasm-reactor-inguest/embedded", func(b *testing.B) { benchWasmInit(b, reactorEmbedded, false) })
	b.Run("wasm-reactor-wasinn/zip-new-engine", func(b *testing.B) { benchWasmInit(b, zipOf(b, "main.wasm", reactorNN, files), false) })
	b.Run("wasm-reactor-wasinn/zip-shared-engine", func(b *testing.B) { benchWasmInit(b, zipOf(b, "main.wasm", reactorNN, files), true) })
}

func readFile(tb testing.TB, path string) []byte {
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// prepareEmbedded copies the model into the package's model/ directory (gitignored), which the
// embedmodel build embeds.
func prepareEmbedded(tb testing.TB, files map[string]string) string {
	root, err := testbuild.Root()
	if err != nil {
		tb.Fatal(err)
	}
	dst := filepath.Join(root, "actions", "mobilenet", "model")
	if err := os.MkdirAll(dst, 0o755); err != nil {
		tb.Fatal(err)
	}
	for name, src := range files {
		if err := os.WriteFile(filepath.Join(dst, name), readFile(tb, src), 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	return dst
}

func zipOf(tb testing.TB, entry string, main []byte, files map[string]string) []byte {
	entries := []ziptest.File{{Name: entry, Body: main, Mode: 0o755}}
	for name, src := range files {
		entries = append(entries, ziptest.File{Name: name, Body: readFile(tb, src)})
	}
	return ziptest.Build(tb, entries...)
}

func reportMedian(b *testing.B, d []time.Duration) {
	b.ReportMetric(stats.Median(stats.Milliseconds(d)), "median-ms")
}

func benchNativeInit(b *testing.B, code []byte) {
	var d []time.Duration
	for i := 0; i < b.N; i++ {
		x := native.New(native.Config{Dir: b.TempDir(), Stdout: io.Discard, Stderr: io.Discard, Environ: []string{}})
		start := time.Now()
		if err := x.Init(context.Background(), runtime.InitRequest{Name: "mobilenet", Code: code}); err != nil {
			b.Fatal(err)
		}
		d = append(d, time.Since(start))
		x.Close()
	}
	reportMedian(b, d)
}

// benchWasmInit times /init of code on a wasm engine whose module cache the first /init filled:
// a new engine per /init (a new runtime process), or one engine for all (shared).
func benchWasmInit(b *testing.B, code []byte, shared bool) {
	cache := b.TempDir()
	// The first /init compiles and fills the cache, as the first cold start on a host does.
	first, err := wasm.NewEngine(wasm.EngineConfig{CacheDir: cache})
	if err != nil {
		b.Fatal(err)
	}
	defer first.Close()
	x := first.NewExecutor(wasm.Config{MemoryLimit: 512 << 20, InitStdout: io.Discard, InitStderr: io.Discard})
	if err := x.Init(context.Background(), runtime.InitRequest{Name: "mobilenet", Code: code}); err != nil {
		b.Fatal(err)
	}
	x.Close()
	var d []time.Duration
	for i := 0; i < b.N; i++ {
		eng := first
		if !shared {
			if eng, err = wasm.NewEngine(wasm.EngineConfig{CacheDir: cache}); err != nil {
				b.Fatal(err)
			}
		}
		x := eng.NewExecutor(wasm.Config{MemoryLimit: 512 << 20, InitStdout: io.Discard, InitStderr: io.Discard})
		start := time.Now()
		if err := x.Init(context.Background(), runtime.InitRequest{Name: "mobilenet", Code: code}); err != nil {
			b.Fatal(err)
		}
		d = append(d, time.Since(start))
		x.Close()
		if !shared {
			eng.Close()
		}
	}
	reportMedian(b, d)
}
