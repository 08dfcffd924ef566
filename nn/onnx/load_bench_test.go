//go:build !wasip1

package onnx_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	"github.com/wasmwhisk/wasmwhisk/internal/stats"
	"github.com/wasmwhisk/wasmwhisk/internal/testbuild"
	"github.com/wasmwhisk/wasmwhisk/internal/ziptest"
	"github.com/wasmwhisk/wasmwhisk/nn/model"
	"github.com/wasmwhisk/wasmwhisk/runtime"
	"github.com/wasmwhisk/wasmwhisk/runtime/wasm"
)

// loadTimes is the output of nn/onnx/internal/loadbench.
type loadTimes struct {
	DecodeMS []float64 `json:"decode_ms"`
	LoadMS   []float64 `json:"load_ms"`
}

// BenchmarkModelLoad times the load of the shared MobileNetV2 (onnx.Decode, then nn.Compile,
// from bytes in memory) natively and in wasm, with one program (internal/loadbench) built for
// both targets and run b.N times after a warm-up in each: natively as a process, in wasm as a
// command under runtime/wasm. It reports the medians (and the minimum load time, steadier on a
// loaded machine) and the wasm/native ratio of the median loads.
//
//	go test -run '^$' -bench ModelLoad -benchtime 10x ./nn/onnx
func BenchmarkModelLoad(b *testing.B) {
	dir, err := model.Resolve("")
	if err != nil {
		if os.Getenv("CI") == "true" {
			b.Fatalf("no model: %v", err)
		}
		b.Skipf("no model: %v", err)
	}
	modelFile := filepath.Join(dir, "mobilenetv2-1.0-224.onnx")
	exe := testbuild.MustBuild(b, testbuild.Target{Pkg: "./nn/onnx/internal/loadbench"})
	module := testbuild.MustBuild(b, testbuild.Target{Pkg: "./nn/onnx/internal/loadbench", WASM: true})

	native := runNative(b, exe, modelFile, b.N)
	inWasm := runWasm(b, module, modelFile, b.N)
	nl, wl := stats.Median(native.LoadMS), stats.Median(inWasm.LoadMS)
	b.ReportMetric(stats.Median(native.DecodeMS), "native-decode-ms")
	b.ReportMetric(nl, "native-load-ms")
	b.ReportMetric(slices.Min(native.LoadMS), "native-load-min-ms")
	b.ReportMetric(stats.Median(inWasm.DecodeMS), "wasm-decode-ms")
	b.ReportMetric(wl, "wasm-load-ms")
	b.ReportMetric(slices.Min(inWasm.LoadMS), "wasm-load-min-ms")
	b.ReportMetric(wl/nl, "wasm/native-load")
}

func request(tb testing.TB, modelFile string, n int) []byte {
	req, err := json.Marshal(map[string]any{"model": modelFile, "n": n})
	if err != nil {
		tb.Fatal(err)
	}
	return req
}

func runNative(b *testing.B, exe, modelFile string, n int) loadTimes {
	cmd := exec.Command(exe)
	cmd.Stdin = bytes.NewReader(request(b, modelFile, n))
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		b.Fatalf("native loadbench: %v", err)
	}
	var t loadTimes
	if err := json.Unmarshal(out, &t); err != nil || len(t.LoadMS) != n {
		b.Fatalf("native loadbench printed %q (%v)", out, err)
	}
	return t
}

// runWasm runs loadbench as a wasm:0.1 command action whose archive holds the model, which the
// guest reads from /action.
func runWasm(b *testing.B, module, modelFile string, n int) loadTimes {
	var files []ziptest.File
	for _, f := range [][2]string{{"main.wasm", module}, {"model.onnx", modelFile}} {
		data, err := os.ReadFile(f[1])
		if err != nil {
			b.Fatal(err)
		}
		files = append(files, ziptest.File{Name: f[0], Body: data, Store: true})
	}
	code := ziptest.Build(b, files...)
	eng, err := wasm.NewEngine(wasm.EngineConfig{}) // the per-user module cache: compiled once
	if err != nil {
		b.Fatal(err)
	}
	defer eng.Close()
	x := eng.NewExecutor(wasm.Config{MemoryLimit: 1 << 30, WorkDir: b.TempDir()})
	defer x.Close()
	ctx := context.Background()
	if err := x.Init(ctx, runtime.InitRequest{Name: "loadbench", Main: "main", Code: code}); err != nil {
		b.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	res, err := x.Run(ctx, runtime.RunRequest{Value: request(b, "/action/model.onnx", n),
		Context: map[string]string{}, Env: map[string]string{}, Stdout: &stdout, Stderr: &stderr})
	if err != nil {
		b.Fatalf("wasm loadbench: %v\n%s%s", err, stdout.Bytes(), stderr.Bytes())
	}
	var t loadTimes
	if err := json.Unmarshal(res, &t); err != nil || len(t.LoadMS) != n {
		b.Fatalf("wasm loadbench returned %q (%v)", res, err)
	}
	return t
}
