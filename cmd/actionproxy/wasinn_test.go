package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wasmwhisk/wasmwhisk/internal/conformance"
	"github.com/wasmwhisk/wasmwhisk/internal/testbuild"
	"github.com/wasmwhisk/wasmwhisk/runtime"
	"github.com/wasmwhisk/wasmwhisk/runtime/wasinn/wasinntest"
	"github.com/wasmwhisk/wasmwhisk/runtime/wasm"
)

// TestWasiNNFlags runs the actionproxy binary with a model directory, a guest that loads its
// graphs by name, a compute past the deadline (OpenWhisk's time-limit error, then the proxy
// serves on), and with wasi-nn turned off.
func TestWasiNNFlags(t *testing.T) {
	proxy := testbuild.MustBuild(t, testbuild.Target{Pkg: "./cmd/actionproxy", CGO: true})
	guest, err := os.ReadFile(testbuild.MustBuild(t, testbuild.Target{Pkg: "./runtime/wasm/testdata/nnguest", WASM: true, Reactor: true}))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	add := wasinntest.AddModel{Bias: []float32{1, 2, 3, 4}}
	chain := wasinntest.ChainModel{Rows: 32, N: 512, Layers: 200}
	for name, b := range map[string][]byte{"add.onnx": add.Bytes(), "chain.onnx": chain.Bytes()} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	// Compile the guest into the proxy's module cache here, where no HTTP client times out: on a
	// loaded machine a Go module's compile can take longer than the harness waits for /init.
	cache := t.TempDir()
	eng, err := wasm.NewEngine(wasm.EngineConfig{CacheDir: cache})
	if err != nil {
		t.Fatal(err)
	}
	warm := eng.NewExecutor(wasm.Config{})
	if err := warm.Init(context.Background(), runtime.InitRequest{Code: guest}); err != nil {
		t.Fatal(err)
	}
	warm.Close()
	eng.Close()

	c := conformance.StartProcess(t, proxy, []string{"-executor", "wasm", "-wasm-cache", cache, "-wasm-nn-models", dir}, nil)
	cl := conformance.NewClient(t, c)
	if r := cl.Init(conformance.B64(guest), "main", nil); r.Status != http.StatusOK {
		t.Fatalf("init: %d %s", r.Status, r.Body)
	}
	runAdd := func() {
		t.Helper()
		r := cl.Run(map[string]any{"mode": "run", "name": "add", "input": []float32{1, 1, 1, 1}, "dims": []int{1, 4}, "out_bytes": 16}, nil)
		if r.Status != http.StatusOK || !strings.Contains(string(r.Body), `"Output":[2,3,4,5]`) {
			t.Fatalf("run: %d %s", r.Status, r.Body)
		}
	}
	runAdd()
	deadline := time.Now().Add(300 * time.Millisecond).UnixMilli()
	r := cl.Run(map[string]any{"mode": "run", "name": "chain", "input": make([]float32, 32*512), "dims": []int{32, 512}, "out_bytes": 4 * 32 * 512},
		map[string]any{"deadline": fmt.Sprint(deadline)})
	if r.Status != http.StatusBadGateway || !strings.Contains(string(r.Body), "The action exceeded its time limits of") {
		t.Fatalf("a compute past the deadline: %d %s", r.Status, r.Body)
	}
	runAdd()

	off := conformance.StartProcess(t, proxy, []string{"-executor", "wasm", "-wasm-cache", cache, "-wasm-nn=false"}, nil)
	r = conformance.NewClient(t, off).Init(conformance.B64(guest), "main", nil)
	if r.Status != http.StatusBadGateway || !strings.Contains(string(r.Body), "wasi-nn is turned off on this runtime") {
		t.Fatalf("init with -wasm-nn=false: %d %s", r.Status, r.Body)
	}
}
