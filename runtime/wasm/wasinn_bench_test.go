//go:build linux

package wasm

import (
	"context"
	"encoding/binary"
	"math"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/wasmwhisk/wasmwhisk/internal/stats"
	"github.com/wasmwhisk/wasmwhisk/internal/ziptest"
	"github.com/wasmwhisk/wasmwhisk/nn"
	"github.com/wasmwhisk/wasmwhisk/runtime"
)

// BenchmarkWasiNNMobileNet compares one MobileNetV2 inference through wasi-nn from a real wasm
// guest (set_input, compute, get_output) with the same three steps on nn natively (copy the input
// in, Session.Run, copy the output out), in interleaved rounds of the same run: b.N rounds of 10
// inferences each. The figure is CPU time (the process's, per inference; for the guest it covers
// its whole activation of 10 inferences, JSON and reading its input file included), steady on a
// loaded machine where wall time mostly measures the wait for a core: native-cpu-ms and
// wasinn-cpu-ms are the medians of the rounds, cpu-ratio is wasinn over native. min-ratio is the
// ratio of the fastest single inference in wall time (timed inside the guest). Run it with
//
//	go test -run '^$' -bench WasiNNMobileNet -benchtime 5x ./runtime/wasm
func BenchmarkWasiNNMobileNet(b *testing.B) {
	const perRound = 10
	dir := sharedModels(b)
	modelFile := filepath.Join(dir, "mobilenetv2-1.0-224.onnx")
	inputBytes := readFile(b, filepath.Join(dir, "parrot.input.f32"))
	x := newExecutor(b, sharedEngine(b), Config{}, ziptest.Build(b,
		ziptest.File{Name: "main.wasm", Body: nnGuest(b, true)},
		ziptest.File{Name: "mobilenetv2-1.0-224.onnx", Body: readFile(b, modelFile)},
		ziptest.File{Name: "parrot.f32", Body: inputBytes}))
	guest := func(repeat int) nnResult {
		res, r := nnRun(b, x, map[string]any{"mode": "keep", "name": "mobilenetv2-1.0-224", "input_file": "parrot.f32",
			"dims": []uint32{1, 3, 224, 224}, "out_bytes": 4 * 1001, "repeat": repeat, "timed": true}, nil)
		if r.err != nil || res.Compute != 0 || res.Written != 4*1001 {
			b.Fatalf("guest: %+v %v", res, r.err)
		}
		return res
	}

	m, err := nn.LoadFile(modelFile)
	if err != nil {
		b.Fatal(err)
	}
	s := m.NewSession()
	out := make([]byte, 4*1001)
	var nativeMin time.Duration
	native := func(repeat int) time.Duration {
		start := time.Now()
		for i := 0; i < repeat; i++ {
			t0 := time.Now()
			in := s.Input(0)
			for j := range in {
				in[j] = math.Float32frombits(binary.LittleEndian.Uint32(inputBytes[4*j:]))
			}
			if err := s.Run(context.Background()); err != nil {
				b.Fatal(err)
			}
			for j, f := range s.Output(0) {
				binary.LittleEndian.PutUint32(out[4*j:], math.Float32bits(f))
			}
			if d := time.Since(t0); nativeMin == 0 || d < nativeMin {
				nativeMin = d
			}
		}
		return time.Since(start) / time.Duration(repeat)
	}
	guest(3) // warm-up: the instance, its context, caches
	native(3)

	var nat, wnn []float64
	var guestMin int64
	nativeMin = 0
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c0 := processCPU()
		native(perRound)
		c1 := processCPU()
		res := guest(perRound)
		c2 := processCPU()
		nat = append(nat, float64(c1-c0)/1e6/perRound)
		wnn = append(wnn, float64(c2-c1)/1e6/perRound)
		if guestMin == 0 || res.MinNs < guestMin {
			guestMin = res.MinNs
		}
	}
	b.StopTimer()
	mn, mw := stats.Median(nat), stats.Median(wnn)
	b.ReportMetric(mn, "native-cpu-ms")
	b.ReportMetric(mw, "wasinn-cpu-ms")
	b.ReportMetric(mw/mn, "cpu-ratio")
	b.ReportMetric(float64(guestMin)/float64(nativeMin), "min-ratio")
}

// BenchmarkWasiNNInit measures the /init of a MobileNet action archive (the 14 MB model and the
// wasi-nn guest) when the engine has seen it before: module, archive and graph all shared, so the
// cold start of a second container pays no compile. It reports the median (init-ms).
func BenchmarkWasiNNInit(b *testing.B) {
	dir := sharedModels(b)
	eng := sharedEngine(b)
	code := ziptest.Build(b, ziptest.File{Name: "main.wasm", Body: nnGuest(b, false)},
		ziptest.File{Name: "mobilenetv2-1.0-224.onnx", Body: readFile(b, filepath.Join(dir, "mobilenetv2-1.0-224.onnx"))})
	first := newExecutor(b, eng, Config{}, code) // compiles the graph; holds it like a live container
	_ = first
	var times []float64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		x := eng.NewExecutor(Config{})
		if err := x.Init(context.Background(), runtime.InitRequest{Name: "mobilenet", Code: code}); err != nil {
			b.Fatal(err)
		}
		times = append(times, float64(time.Since(start))/1e6)
		b.StopTimer()
		if info, _ := x.Info(); len(info.Graphs) != 1 {
			b.Fatalf("graphs %v", info.Graphs)
		}
		if err := x.Close(); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.ReportMetric(stats.Median(times), "init-ms")
}

// processCPU is the CPU time (user and system) the process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
