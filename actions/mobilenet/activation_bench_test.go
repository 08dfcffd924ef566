//go:build !wasip1

package main

import (
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

// BenchmarkActivation measures warm activations of the MobileNet action, whole (as the executor
// sees them: the /run line in, the result out) and the model's own inference_ms, for the three
// builds of the one source: native (actionloop executable, nn with its assembly kernels), wasm
// with inference by the host (wasi-nn) and wasm with inference in the guest (-tags nn_inguest),
// both reactors under the project's wasmtime runtime. Rounds interleave the builds, so that all
// see the same machine; it prints medians and minimums (the least disturbed run, the steadier
// figure on a shared machine) and their ratios to native, all measured in this run.
//
//	go test -run '^$' -bench Activation -benchtime 1x ./actions/mobilenet
//
// ACTIVATION_ROUNDS and ACTIVATION_PER_ROUND (default 5 and 4) set n = rounds × per round.
func BenchmarkActivation(b *testing.B) {
	dir, err := model.Resolve("")
	if err != nil {
		b.Skipf("no model: %v", err)
	}
	files := map[string]string{
		"mobilenetv2-1.0-224.onnx": filepath.Join(dir, "mobilenetv2-1.0-224.onnx"),
		"imagenet_labels.txt":      filepath.Join(dir, "imagenet_labels.txt"),
	}
	rounds, perRound := envInt("ACTIVATION_ROUNDS", 5), envInt("ACTIVATION_PER_ROUND", 4)
	type variant struct {
		name string
		run  func(value []byte) (json.RawMessage, error)
	}
	exe := readFile(b, testbuild.MustBuild(b, testbuild.Target{Pkg: "./actions/mobilenet"}))
	variants := []variant{{"native", nativeActivation(b, zipOf(b, "exec", exe, files))}}
	eng, err := wasm.NewEngine(wasm.EngineConfig{CacheDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { eng.Close() })
	for _, v := range []struct {
		name string
		tags []string
	}{{"wasm wasi-nn", nil}, {"wasm in-guest", []string{"nn_inguest"}}} {
		mod := readFile(b, testbuild.MustBuild(b, testbuild.Target{Pkg: "./actions/mobilenet", WASM: true, Reactor: true, Tags: v.tags}))
		run, err := wasmActivation(b, eng, zipOf(b, "main.wasm", mod, files))
		if err != nil {
			fmt.Printf("%s: skipped: %v\n", v.name, err)
			continue
		}
		variants = append(variants, variant{v.name, run})
	}
	inputs := []struct{ name, value string }{{"sample.png (no image parameter)", `{"top":5}`}}
	for _, f := range []string{"grace_hopper.bmp", "parrot.jpg"} {
		data := readFile(b, filepath.Join(dir, f))
		inputs = append(inputs, struct{ name, value string }{f, fmt.Sprintf(`{"image":%q,"top":5}`, base64.StdEncoding.EncodeToString(data))})
	}
	type figures struct{ whole, inference, preprocess []float64 }
	// load_ms: the action's own model load when it loaded (at /init), as each build reports it.
	for _, v := range variants {
		res, err := v.run([]byte(`{"top":1}`))
		if err != nil {
			b.Fatalf("%s: %v", v.name, err)
		}
		var out struct {
			LoadMS  float64 `json:"load_ms"`
			Backend string  `json:"backend"`
		}
		json.Unmarshal(res, &out)
		fmt.Printf("%s: model loaded by the action in %.2f ms (backend %s)\n", v.name, out.LoadMS, out.Backend)
	}
	for i := 0; i < b.N; i++ {
		for _, in := range inputs {
			got := make([]figures, len(variants))
			for vi, v := range variants { // warm-up: the first activations fault pages in
				for k := 0; k < 2; k++ {
					if _, err := v.run([]byte(in.value)); err != nil {
						b.Fatalf("%s: %v", variants[vi].name, err)
					}
				}
			}
			for r := 0; r < rounds; r++ {
				for vi, v := range variants {
					for k := 0; k < perRound; k++ {
						start := time.Now()
						res, err := v.run([]byte(in.value))
						whole := float64(time.Since(start).Microseconds()) / 1000
						if err != nil {
							b.Fatalf("%s: %v", v.name, err)
						}
						var out struct {
							InferenceMS  float64 `json:"inference_ms"`
							PreprocessMS float64 `json:"preprocess_ms"`
							Label        string  `json:"label"`
							Error        string  `json:"error"`
						}
						if err := json.Unmarshal(res, &out); err != nil || out.Error != "" || out.Label == "" {
							b.Fatalf("%s: result %.300s (%v)", v.name, res, err)
						}
						f := &got[vi]
						f.whole = append(f.whole, whole)
						f.inference = append(f.inference, out.InferenceMS)
						f.preprocess = append(f.preprocess, out.PreprocessMS)
					}
				}
			}
			fmt.Printf("%s: n=%d warm activations per build (%d interleaved rounds of %d), median (minimum) ms\n", in.name, rounds*perRound, rounds, perRound)
			fmt.Printf("  %-14s %17s %15s %17s %15s %15s\n", "build", "whole", "ratio", "inference", "ratio", "preprocess")
			base := got[0]
			for vi, v := range variants {
				f := got[vi]
				fmt.Printf("  %-14s %8.2f (%6.2f) %6.2fx (%5.2fx) %8.2f (%6.2f) %6.2fx (%5.2fx) %6.2f (%6.2f)\n", v.name,
					stats.Median(f.whole), least(f.whole), stats.Median(f.whole)/stats.Median(base.whole), least(f.whole)/least(base.whole),
					stats.Median(f.inference), least(f.inference), stats.Median(f.inference)/stats.Median(base.inference), least(f.inference)/least(base.inference),
					stats.Median(f.preprocess), least(f.preprocess))
			}
		}
	}
}

func envInt(name string, def int) int {
	var n int
	if _, err := fmt.Sscan(os.Getenv(name), &n); err == nil && n > 0 {
		return n
	}
	return def
}

func least(v []float64) float64 { return slices.Min(v) }

func activationRequest(value []byte) runtime.RunRequest {
	line, _ := json.Marshal(map[string]json.RawMessage{"value": value})
	return runtime.RunRequest{Value: value, Context: map[string]string{}, Env: map[string]string{},
		Line: line, Stdout: io.Discard, Stderr: io.Discard}
}

func nativeActivation(b *testing.B, code []byte) func([]byte) (json.RawMessage, error) {
	x := native.New(native.Config{Dir: b.TempDir(), Stdout: io.Discard, Stderr: io.Discard, Environ: []string{}})
	b.Cleanup(func() { x.Close() })
	if err := x.Init(context.Background(), runtime.InitRequest{Name: "mobilenet", Code: code}); err != nil {
		b.Fatal(err)
	}
	return func(value []byte) (json.RawMessage, error) {
		return x.Run(context.Background(), activationRequest(value))
	}
}

func wasmActivation(b *testing.B, eng *wasm.Engine, code []byte) (func([]byte) (json.RawMessage, error), error) {
	var initErr strings.Builder
	x := eng.NewExecutor(wasm.Config{MemoryLimit: 512 << 20, InitStdout: io.Discard, InitStderr: &initErr})
	b.Cleanup(func() { x.Close() })
	if err := x.Init(context.Background(), runtime.InitRequest{Name: "mobilenet", Main: "main", Code: code}); err != nil {
		return nil, fmt.Errorf("%w %s", err, strings.TrimSpace(initErr.String()))
	}
	return func(value []byte) (json.RawMessage, error) {
		var stderr strings.Builder
		req := activationRequest(value)
		req.Stderr = &stderr
		res, err := x.Run(context.Background(), req)
		if err != nil {
			return nil, fmt.Errorf("%w (stderr %s)", err, strings.TrimSpace(stderr.String()))
		}
		return res, nil
	}, nil
}
