package wasm

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wasmwhisk/wasmwhisk/internal/testbuild"
	"github.com/wasmwhisk/wasmwhisk/internal/ziptest"
	"github.com/wasmwhisk/wasmwhisk/nn/model"
	"github.com/wasmwhisk/wasmwhisk/nn/model/nnengine"
	"github.com/wasmwhisk/wasmwhisk/runtime"
	"github.com/wasmwhisk/wasmwhisk/runtime/wasinn"
	"github.com/wasmwhisk/wasmwhisk/runtime/wasinn/wasinntest"
)

var testAdd = wasinntest.AddModel{Bias: []float32{1, 2, 3, 4}}

// nnGuest builds testdata/nnguest, a guest calling wasi_ephemeral_nn directly.
func nnGuest(t testing.TB, reactor bool) []byte {
	t.Helper()
	return buildModule(t, testbuild.Target{Pkg: "./runtime/wasm/testdata/nnguest", WASM: true, Reactor: reactor})
}

// nnResult is the nnguest's result.
type nnResult struct {
	Load, Init, Set, Compute, Get uint32
	Graph, Context, Written       uint32
	Output                        []float32
	NsPerRun, MinNs               int64
	List                          []uint32
	Codes                         map[string]uint32
	Error                         string `json:"error"`
}

func nnRun(t testing.TB, x *Executor, value any, ctx map[string]string) (nnResult, ran) {
	t.Helper()
	b, err := json.Marshal(value)
	if err != nil {
		t.Fatal(err)
	}
	r := run(t, x, activation{value: string(b), context: ctx})
	var res nnResult
	if r.err == nil {
		if err := json.Unmarshal([]byte(r.result), &res); err != nil {
			t.Fatalf("result %s: %v", r.result, err)
		}
		if res.Error != "" {
			t.Fatalf("guest error: %s (stderr %s)", res.Error, r.stderr)
		}
	}
	return res, r
}

func nnABIs() []bool { return []bool{false, true} }

func abiName(reactor bool) string {
	if reactor {
		return "reactor"
	}
	return "command"
}

// TestWasiNNEndToEnd runs the ABI through a real guest: a graph by name (the archive's add.onnx),
// the same graph from bytes, and the errors a guest sees.
func TestWasiNNEndToEnd(t *testing.T) {
	eng := sharedEngine(t)
	for _, reactor := range nnABIs() {
		t.Run(abiName(reactor), func(t *testing.T) {
			code := ziptest.Build(t, ziptest.File{Name: "main.wasm", Body: nnGuest(t, reactor)}, ziptest.File{Name: "models/add.onnx", Body: testAdd.Bytes()})
			x := newExecutor(t, eng, Config{}, code)
			if info, _ := x.Info(); !info.WasiNN || !slices.Equal(info.Graphs, []string{"add"}) {
				t.Fatalf("info %+v, want wasi-nn with the graph add", info)
			}
			x4 := []float32{10, 20, 30, 40}
			want := testAdd.Output(x4)
			for _, how := range []map[string]any{
				{"mode": "run", "name": "add"},
				{"mode": "run", "file": "models/add.onnx"},
				{"mode": "run", "file": "models/add.onnx", "encoding": uint32(wasinn.Autodetect), "target": uint32(wasinn.GPU)},
			} {
				how["input"], how["dims"], how["out_bytes"], how["repeat"] = x4, []uint32{1, 4}, 16, 3
				res, r := nnRun(t, x, how, nil)
				if r.err != nil {
					t.Fatalf("%v: %v", how, r.err)
				}
				if res.Load+res.Init+res.Set+res.Compute+res.Get != 0 || res.Written != 16 || !slices.Equal(res.Output, want) {
					t.Fatalf("%v: %+v, want output %v", how, res, want)
				}
				// The note comes with the graph's first load by the instance (a reactor's had
				// it loaded by the previous run).
				if !reactor && how["target"] == uint32(wasinn.GPU) != strings.Contains(r.stderr, "runs on the cpu") {
					t.Fatalf("%v: stderr %q", how, r.stderr)
				}
			}

			// Errors reach the guest as codes and the activation's log as one line each.
			for _, tc := range []struct {
				value map[string]any
				code  func(nnResult) uint32
				want  wasinn.Errno
				log   string
			}{
				{map[string]any{"name": "nope"}, func(r nnResult) uint32 { return r.Load }, wasinn.NotFound, `no graph is named "nope"; the graphs are "add"`},
				{map[string]any{"file": "models/add.onnx", "encoding": uint32(wasinn.TensorFlowLite)}, func(r nnResult) uint32 { return r.Load }, wasinn.InvalidEncoding, "encoding tensorflowlite"},
				{map[string]any{"file": "main.wasm"}, func(r nnResult) uint32 { return r.Load }, wasinn.RuntimeError, "wasi-nn: load: "},
				{map[string]any{"name": "add", "dims": []uint32{4}}, func(r nnResult) uint32 { return r.Set }, wasinn.InvalidArgument, "dimensions [4]"},
				{map[string]any{"name": "add", "type": 3}, func(r nnResult) uint32 { return r.Set }, wasinn.InvalidArgument, "tensor type u8"},
				{map[string]any{"name": "add", "out_bytes": 8}, func(r nnResult) uint32 { return r.Get }, wasinn.TooLarge, "is 16 bytes; the buffer holds 8"},
			} {
				v := map[string]any{"mode": "run", "input": x4, "dims": []uint32{1, 4}, "out_bytes": 16}
				for k, val := range tc.value {
					v[k] = val
				}
				res, r := nnRun(t, x, v, nil)
				if r.err != nil {
					t.Fatalf("%v: %v", tc.value, r.err)
				}
				if got := wasinn.Errno(tc.code(res)); got != tc.want {
					t.Fatalf("%v: %s, want %s (%+v)", tc.value, got, tc.want, res)
				}
				if strings.Count(r.stderr, "wasi-nn:") != 1 || !strings.Contains(r.stderr, tc.log) {
					t.Fatalf("%v: stderr %q, want one wasi-nn line with %q", tc.value, r.stderr, tc.log)
				}
			}

			// Pointers outside the guest's memory are invalid_argument; the guest and the host
			// live on.
			var res struct {
				Codes   map[string]uint32
				Output  []float32
				Written uint32
				Setup   *uint32
			}
			r := run(t, x, activation{value: `{"mode":"oob"}`})
			if r.err != nil {
				t.Fatal(r.err)
			}
			if err := json.Unmarshal([]byte(r.result), &res); err != nil || res.Setup != nil {
				t.Fatalf("oob: %s (%v)", r.result, err)
			}
			for name, c := range res.Codes {
				want := wasinn.InvalidArgument
				if name == "get_output.ok" {
					want = wasinn.Success
				}
				if wasinn.Errno(c) != want {
					t.Errorf("oob %s: %s, want %s", name, wasinn.Errno(c), want)
				}
			}
			if len(res.Codes) != 12 || !slices.Equal(res.Output, []float32{2, 4, 6, 8}) || res.Written != 16 {
				t.Fatalf("oob: %s", r.result)
			}
			if n := strings.Count(r.stderr, "outside the guest's memory"); n != 11 {
				t.Fatalf("oob: %d log lines about memory, want 11: %s", n, r.stderr)
			}
		})
	}
}

// TestWasiNNCaps: a guest loading models in a loop, or making contexts in a loop, gets too_large
// at the caps, the host memory it holds stays within the limits, and the action serves on.
func TestWasiNNCaps(t *testing.T) {
	eng := sharedEngine(t)
	for _, reactor := range nnABIs() {
		t.Run(abiName(reactor), func(t *testing.T) {
			code := ziptest.Build(t, ziptest.File{Name: "main.wasm", Body: nnGuest(t, reactor)}, ziptest.File{Name: "add.onnx", Body: testAdd.Bytes()})
			x := newExecutor(t, eng, Config{WasiNNLimits: wasinn.Limits{MaxGraphs: 8, MaxContexts: 5}}, code)
			res, r := nnRun(t, x, map[string]any{"mode": "ctxloop", "name": "add", "n": 7}, nil)
			if r.err != nil {
				t.Fatal(r.err)
			}
			if want := []uint32{0, 0, 0, 0, 0, 7, 7}; !slices.Equal(res.List, want) {
				t.Fatalf("context loop codes %v, want %v", res.List, want)
			}
			if strings.Count(r.stderr, "5 execution contexts, the most it may hold") != 2 {
				t.Fatalf("stderr %q", r.stderr)
			}
			res, r = nnRun(t, x, map[string]any{"mode": "loadloop", "file": "add.onnx", "n": 12}, nil)
			if r.err != nil {
				t.Fatal(r.err)
			}
			// A command's instance is new; a reactor's still holds the graph add from the
			// previous activation.
			loaded := 8
			if reactor {
				loaded = 7
			}
			want := slices.Repeat([]uint32{0}, loaded)
			want = append(want, slices.Repeat([]uint32{uint32(wasinn.TooLarge)}, 12-loaded)...)
			if !slices.Equal(res.List, want) {
				t.Fatalf("load loop codes %v, want %v", res.List, want)
			}
			if strings.Count(r.stderr, "8 graphs, the most it may hold") != 12-loaded {
				t.Fatalf("stderr %q", r.stderr)
			}
			// The action serves on: a command's next instance starts afresh; a reactor's is at
			// its caps, yet loads the graph it has and answers too_large for a sixth context.
			res, r = nnRun(t, x, map[string]any{"mode": "run", "name": "add", "input": []float32{0, 0, 0, 0}, "dims": []uint32{1, 4}, "out_bytes": 16}, nil)
			if r.err != nil {
				t.Fatal(r.err)
			}
			if reactor {
				if res.Load != 0 || wasinn.Errno(res.Init) != wasinn.TooLarge {
					t.Fatalf("reactor at its caps: %+v", res)
				}
			} else if !slices.Equal(res.Output, testAdd.Bias) {
				t.Fatalf("command after the loops: %+v", res)
			}
		})
	}

	// The memory limit: linear memory plus what the host holds for the instance.
	code := ziptest.Build(t, ziptest.File{Name: "main.wasm", Body: nnGuest(t, false)}, ziptest.File{Name: "big.onnx", Body: wasinntest.ChainModel{Rows: 1024, N: 1024, Layers: 2}.Bytes()})
	x := newExecutor(t, eng, Config{MemoryLimit: 64 << 20}, code)
	res, r := nnRun(t, x, map[string]any{"mode": "ctxloop", "name": "big", "n": 20}, nil)
	if r.err != nil {
		t.Fatal(r.err)
	}
	ok := slices.Index(res.List, uint32(wasinn.TooLarge))
	if ok < 1 || ok > 6 || !strings.Contains(r.stderr, "over the action's memory limit of 64 MiB") {
		t.Fatalf("contexts of 8 MiB each under a 64 MiB limit: %v, stderr %q", res.List, r.stderr)
	}
}

// TestWasiNNDeadline: a compute longer than the activation's deadline stops between operators;
// the proxy gets the timeout (not the executor giving up on a guest stuck in a host call), and the
// action serves the next activation.
func TestWasiNNDeadline(t *testing.T) {
	eng := sharedEngine(t)
	chain := wasinntest.ChainModel{Rows: 32, N: 512, Layers: 200} // seconds of compute, ~20 ms a step
	for _, reactor := range nnABIs() {
		t.Run(abiName(reactor), func(t *testing.T) {
			code := ziptest.Build(t, ziptest.File{Name: "main.wasm", Body: nnGuest(t, reactor)}, ziptest.File{Name: "chain.onnx", Body: chain.Bytes()}, ziptest.File{Name: "add.onnx", Body: testAdd.Bytes()})
			x := newExecutor(t, eng, Config{}, code)
			value := map[string]any{"mode": "run", "name": "chain", "input": make([]float32, 32*512), "dims": []uint32{32, 512}, "out_bytes": 4 * 32 * 512}
			_, r := nnRun(t, x, value, deadlineIn(300*time.Millisecond))
			var te *runtime.TimeoutError
			if !errors.As(r.err, &te) {
				t.Fatalf("a compute past the deadline: %v, want a timeout", r.err)
			}
			if strings.Contains(r.err.Error(), "did not stop at its deadline") {
				t.Fatalf("the compute did not stop at the deadline: %v", r.err)
			}
			if !strings.Contains(r.stderr, "wasi-nn: compute: stopped at the activation's deadline") {
				t.Fatalf("stderr %q", r.stderr)
			}
			res, r := nnRun(t, x, map[string]any{"mode": "run", "name": "add", "input": []float32{0, 0, 0, 0}, "dims": []uint32{1, 4}, "out_bytes": 16}, nil)
			if r.err != nil || !slices.Equal(res.Output, testAdd.Bias) {
				t.Fatalf("the run after the timeout: %+v %v", res, r.err)
			}
		})
	}
}

// TestWasiNNSharing: executors of one engine with the same model pay one compile, and what an
// instance loads from bytes is freed with the instance.
func TestWasiNNSharing(t *testing.T) {
	eng, err := NewEngine(EngineConfig{WasiNN: wasinn.RegistryConfig{MaxIdleBytes: -1}}) // the default module cache: the guest compiles once
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	model := wasinntest.AddModel{Bias: []float32{7, 7, 7, 7}, Doc: "TestWasiNNSharing"}
	byBytes := wasinntest.AddModel{Bias: []float32{7, 7, 7, 7}, Doc: "loaded from bytes"}
	var all []*Executor
	for _, reactor := range nnABIs() {
		code := ziptest.Build(t, ziptest.File{Name: "main.wasm", Body: nnGuest(t, reactor)}, ziptest.File{Name: "m.onnx", Body: model.Bytes()}, ziptest.File{Name: "b.onnx", Body: byBytes.Bytes()})
		before := eng.nn.reg.Compiles()
		x1 := newExecutor(t, eng, Config{}, code)
		x2 := newExecutor(t, eng, Config{}, code)
		all = append(all, x1, x2)
		// The second action of the same archive (and its second executor) compiled nothing;
		// the first, two graphs (the reactor's pair shares the command's: same content).
		if n := eng.nn.reg.Compiles() - before; (reactor && n != 0) || (!reactor && n != 2) {
			t.Fatalf("%s: %d compiles for two executors of one archive", abiName(reactor), n)
		}
		for _, x := range []*Executor{x1, x2} {
			res, r := nnRun(t, x, map[string]any{"mode": "run", "file": "b.onnx", "input": []float32{1, 1, 1, 1}, "dims": []uint32{1, 4}, "out_bytes": 16}, nil)
			if r.err != nil || !slices.Equal(res.Output, []float32{8, 8, 8, 8}) {
				t.Fatalf("%+v %v", res, r.err)
			}
		}
		graphs := eng.nn.reg.Stats().Graphs
		if !reactor && graphs != 2 {
			// Commands: the instance that loaded b.onnx's bytes is gone; the registry holds
			// the archive's two named graphs only.
			t.Fatalf("after command runs the registry holds %d graphs, want 2", graphs)
		}
		if reactor {
			// A reactor's instance holds what it loaded from bytes until it goes away.
			res, r := nnRun(t, x1, map[string]any{"mode": "loadloop", "file": "b.onnx", "n": 3}, nil)
			if r.err != nil || !slices.Equal(res.List, []uint32{0, 0, 0}) {
				t.Fatalf("%+v %v", res, r.err)
			}
			if n := eng.nn.reg.Stats().Graphs; n != 5 {
				t.Fatalf("with a reactor holding 3 graphs of its own the registry holds %d, want 5", n)
			}
			for _, x := range all {
				if err := x.Close(); err != nil {
					t.Fatal(err)
				}
			}
			if s := eng.nn.reg.Stats(); s.Graphs != 0 {
				t.Fatalf("after every executor closed the registry holds %+v", s)
			}
		}
	}
}

func TestWasiNNImportCheck(t *testing.T) {
	const importAs = `(module (import "wasi_ephemeral_nn" %q (func %s)) (memory (export "memory") 1) (func (export "_start")))`
	eng := sharedEngine(t)
	for _, tc := range []struct {
		name, sig, want string
	}{
		{"compute", "(param i32) (result i32)", ""},
		{"load", "(param i32 i32 i32 i32 i32) (result i32)", ""},
		{"compute", "(param i64) (result i32)", "wasi_ephemeral_nn.compute with the wrong type: it must be a function (i32) -> (i32)"},
		{"get_output", "(param i32 i32 i32 i32) (result i32)", "must be a function (i32, i32, i32, i32, i32) -> (i32)"},
		{"set_output", "(param i32) (result i32)", "which wasi-nn does not define (it has load, load_by_name"},
	} {
		err := initErr(t, eng, Config{}, wat(t, fmt.Sprintf(importAs, tc.name, tc.sig)))
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("import %s %s: %v, want %q", tc.name, tc.sig, err, tc.want)
		}
	}
	off, err := NewEngine(EngineConfig{CacheDir: t.TempDir(), DisableWasiNN: true})
	if err != nil {
		t.Fatal(err)
	}
	defer off.Close()
	err = initErr(t, off, Config{}, wat(t, fmt.Sprintf(importAs, "compute", "(param i32) (result i32)")))
	if err == nil || !strings.Contains(err.Error(), "imports wasi_ephemeral_nn.compute, which the wasm:0.1 runtime does not provide: wasi-nn is turned off") {
		t.Fatalf("wasi-nn off: %v", err)
	}
	if _, err := NewEngine(EngineConfig{DisableWasiNN: true, ModelDir: t.TempDir()}); err == nil {
		t.Fatal("a model directory with wasi-nn off was accepted")
	}
	if _, err := NewEngine(EngineConfig{ModelDir: filepath.Join(t.TempDir(), "missing")}); err == nil {
		t.Fatal("a missing model directory was accepted")
	}
}

func TestWasiNNModelDir(t *testing.T) {
	dir := t.TempDir()
	shared := wasinntest.AddModel{Bias: []float32{100, 100, 100, 100}}
	if err := os.WriteFile(filepath.Join(dir, "shared.onnx"), shared.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "add.onnx"), shared.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "broken.onnx"), []byte("junk"), 0o644); err != nil {
		t.Fatal(err)
	}
	eng, err := NewEngine(EngineConfig{ModelDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	// A bare module sees the directory's graphs; an archive's add.onnx shadows the directory's.
	var initLog strings.Builder
	bare := newExecutor(t, eng, Config{InitStderr: &initLog}, nnGuest(t, false))
	if info, _ := bare.Info(); !slices.Equal(info.Graphs, []string{"add", "broken", "shared"}) {
		t.Fatalf("graphs %v", info.Graphs)
	}
	if !strings.Contains(initLog.String(), `wasi-nn: model directory: graph "broken" (broken.onnx)`) {
		t.Fatalf("init log %q", initLog.String())
	}
	archive := newExecutor(t, eng, Config{}, ziptest.Build(t, ziptest.File{Name: "main.wasm", Body: nnGuest(t, false)}, ziptest.File{Name: "add.onnx", Body: testAdd.Bytes()}))
	in := map[string]any{"mode": "run", "input": []float32{0, 0, 0, 0}, "dims": []uint32{1, 4}, "out_bytes": 16}
	for _, tc := range []struct {
		x    *Executor
		name string
		want []float32
	}{
		{bare, "shared", shared.Bias}, {bare, "add", shared.Bias}, {archive, "add", testAdd.Bias}, {archive, "shared", shared.Bias},
	} {
		in["name"] = tc.name
		res, r := nnRun(t, tc.x, in, nil)
		if r.err != nil || !slices.Equal(res.Output, tc.want) {
			t.Fatalf("%s: %+v %v", tc.name, res, r.err)
		}
	}
	in["name"] = "broken"
	res, r := nnRun(t, bare, in, nil)
	if wasinn.Errno(res.Load) != wasinn.RuntimeError || !strings.Contains(r.stderr, `graph "broken" did not compile`) {
		t.Fatalf("broken: %+v %q", res, r.stderr)
	}
}

// sharedModels returns the shared MobileNet fixtures' directory, failing under CI=true when it is
// missing.
func sharedModels(t testing.TB) string {
	t.Helper()
	dir, err := model.Resolve("")
	if err == nil {
		_, err = os.Stat(filepath.Join(dir, "mobilenetv2-1.0-224.onnx"))
	}
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("model fixtures: %v", err)
		}
		t.Skipf("model fixtures: %v", err)
	}
	return dir
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestWasiNNMobileNet: MobileNetV2 through wasi-nn gives the same bits as nn natively, and
// onnxruntime's top-5 on the shared fixtures.
func TestWasiNNMobileNet(t *testing.T) {
	dir := sharedModels(t)
	eng := sharedEngine(t)
	c, err := nnengine.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	entries := []ziptest.File{{Name: "main.wasm", Body: nnGuest(t, true)}, {Name: "mobilenetv2-1.0-224.onnx", Body: readFile(t, filepath.Join(dir, "mobilenetv2-1.0-224.onnx"))}}
	images := []string{"parrot", "cat", "bird", "grace_hopper"}
	for _, img := range images {
		entries = append(entries, ziptest.File{Name: img + ".f32", Body: readFile(t, filepath.Join(dir, img+".input.f32"))})
	}
	x := newExecutor(t, eng, Config{}, ziptest.Build(t, entries...))
	for _, img := range images {
		res, r := nnRun(t, x, map[string]any{"mode": "keep", "name": "mobilenetv2-1.0-224", "input_file": img + ".f32", "dims": []uint32{1, 3, 224, 224}, "out_bytes": 4 * 1001}, nil)
		if r.err != nil {
			t.Fatal(r.err)
		}
		raw := readFile(t, filepath.Join(dir, img+".input.f32"))
		in := make([]float32, len(raw)/4)
		for i := range in {
			in[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
		}
		native, err := c.ClassifyTensor(context.Background(), in, 5)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(res.Output, native.Probs) {
			t.Fatalf("%s: wasi-nn output differs from nn's", img)
		}
		var expected struct {
			Top5 []struct{ Index int } `json:"top5"`
		}
		if err := json.Unmarshal(readFile(t, filepath.Join(dir, img+".expected.json")), &expected); err != nil {
			t.Fatal(err)
		}
		for i, p := range native.Top {
			if p.Index != expected.Top5[i].Index {
				t.Fatalf("%s: top-5 %v, onnxruntime's %v", img, native.Top, expected.Top5)
			}
		}
	}
}
