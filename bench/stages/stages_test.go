//go:build !wasip1

package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wasmwhisk/wasmwhisk/internal/stats"
	"github.com/wasmwhisk/wasmwhisk/internal/testbuild"
	"github.com/wasmwhisk/wasmwhisk/nn/model"
	"github.com/wasmwhisk/wasmwhisk/runtime"
	"github.com/wasmwhisk/wasmwhisk/runtime/native"
	"github.com/wasmwhisk/wasmwhisk/runtime/wasm"
)

// BenchmarkStages prints, for each test image, every preprocessing stage's median and minimum time
// natively and in wasm (the reactor under the project's wasmtime runtime) and their ratio, all measured in
// this run. "json" is measured from outside: an activation carrying the image that returns at
// once, less one without it (the SDK's decoding of the /run line and the parameters, and moving
// the line into the action).
//
//	go test -run '^$' -bench Stages -benchtime 1x ./bench/stages
func BenchmarkStages(b *testing.B) {
	dir, err := model.Resolve("")
	if err != nil {
		b.Skipf("no model directory: %v", err)
	}
	root, err := testbuild.Root()
	if err != nil {
		b.Fatal(err)
	}
	images := []string{filepath.Join(root, "actions", "mobilenet", "sample.png"),
		filepath.Join(dir, "parrot.jpg"), filepath.Join(dir, "grace_hopper.bmp")}
	exe := testbuild.MustBuild(b, testbuild.Target{Pkg: "./bench/stages"})
	mod := testbuild.MustBuild(b, testbuild.Target{Pkg: "./bench/stages", WASM: true, Reactor: true})
	runs := 15
	for i := 0; i < b.N; i++ {
		nat := nativeRun(b, exe)
		wsm := wasmRun(b, mod)
		for _, img := range images {
			data, err := os.ReadFile(img)
			if err != nil {
				b.Fatal(err)
			}
			b64 := base64.StdEncoding.EncodeToString(data)
			n, w := stageTimes(b, nat, b64, runs), stageTimes(b, wsm, b64, runs)
			fmt.Printf("%s (%d bytes), n=%d, median (minimum) ms:\n", filepath.Base(img), len(data), runs)
			fmt.Printf("  %-11s %17s %17s %15s\n", "stage", "native", "wasm", "ratio")
			for _, k := range []string{"json", "base64", "decode", "rgb", "resize", "normalise", "resize+norm", "preprocess"} {
				if _, ok := n.median[k]; !ok {
					continue
				}
				fmt.Printf("  %-11s %8.2f (%6.2f) %8.2f (%6.2f) %5.1fx (%5.1fx)\n", k, n.median[k], n.min[k], w.median[k], w.min[k],
					w.median[k]/n.median[k], w.min[k]/n.min[k])
			}
		}
	}
}

type runFunc func(value []byte) (json.RawMessage, error)

type stageFigures struct{ median, min map[string]float64 }

func stageTimes(b *testing.B, run runFunc, b64 string, runs int) stageFigures {
	withImage, _ := json.Marshal(map[string]any{"image": b64, "runs": 0})
	without := []byte(`{"runs":0}`)
	var with, bare []float64
	for i := 0; i < runs+2; i++ {
		for _, v := range []struct {
			value []byte
			into  *[]float64
		}{{withImage, &with}, {without, &bare}} {
			start := time.Now()
			if _, err := run(v.value); err != nil {
				b.Fatal(err)
			}
			if i >= 2 {
				*v.into = append(*v.into, float64(time.Since(start).Nanoseconds())/1e6)
			}
		}
	}
	value, _ := json.Marshal(map[string]any{"image": b64, "runs": runs})
	res, err := run(value)
	if err != nil {
		b.Fatal(err)
	}
	var out struct {
		Median map[string]float64 `json:"median_ms"`
		Min    map[string]float64 `json:"min_ms"`
		Error  string             `json:"error"`
	}
	if err := json.Unmarshal(res, &out); err != nil || out.Error != "" {
		b.Fatalf("stages result %s: %v", res, err)
	}
	out.Median["json"] = stats.Median(with) - stats.Median(bare)
	out.Min["json"] = slices.Min(with) - slices.Min(bare)
	return stageFigures{out.Median, out.Min}
}

func runRequest(value []byte) runtime.RunRequest {
	line, _ := json.Marshal(map[string]json.RawMessage{"value": value})
	return runtime.RunRequest{Value: value, Context: map[string]string{}, Env: map[string]string{},
		Line: line, Stdout: io.Discard, Stderr: io.Discard}
}

func nativeRun(b *testing.B, exe string) runFunc {
	code, err := os.ReadFile(exe)
	if err != nil {
		b.Fatal(err)
	}
	x := native.New(native.Config{Dir: b.TempDir(), Stdout: io.Discard, Stderr: io.Discard, Environ: []string{}})
	b.Cleanup(func() { x.Close() })
	if err := x.Init(context.Background(), runtime.InitRequest{Name: "stages", Code: code}); err != nil {
		b.Fatal(err)
	}
	return func(value []byte) (json.RawMessage, error) { return x.Run(context.Background(), runRequest(value)) }
}

func wasmRun(b *testing.B, mod string) runFunc {
	code, err := os.ReadFile(mod)
	if err != nil {
		b.Fatal(err)
	}
	eng, err := wasm.NewEngine(wasm.EngineConfig{CacheDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	x := eng.NewExecutor(wasm.Config{MemoryLimit: 1 << 30, InitStdout: io.Discard, InitStderr: io.Discard})
	b.Cleanup(func() { x.Close(); eng.Close() })
	if err := x.Init(context.Background(), runtime.InitRequest{Name: "stages", Main: "main", Code: code}); err != nil {
		b.Fatal(err)
	}
	return func(value []byte) (json.RawMessage, error) {
		var stderr bytes.Buffer
		req := runRequest(value)
		req.Stderr = &stderr
		res, err := x.Run(context.Background(), req)
		if err != nil {
			return nil, fmt.Errorf("%w (stderr %s)", err, strings.TrimSpace(stderr.String()))
		}
		return res, nil
	}
}
