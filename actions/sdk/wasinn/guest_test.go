//go:build !wasip1

package wasinn_test

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/wasmwhisk/wasmwhisk/internal/testbuild"
	"github.com/wasmwhisk/wasmwhisk/nn/model"
	"github.com/wasmwhisk/wasmwhisk/runtime"
	"github.com/wasmwhisk/wasmwhisk/runtime/native"
	"github.com/wasmwhisk/wasmwhisk/runtime/wasm"
)

// wantCodes is what every build must answer to each check of the guest (internal/guest): the
// codes of the host's wasi_ephemeral_nn, which the in-process backend keeps.
var wantCodes = map[string]string{
	"load_by_name":                               "ok",
	"load_by_name again":                         "ok",
	"load onnx bytes":                            "ok",
	"load autodetect on gpu":                     "ok", // gpu and tpu run on the cpu
	"load_by_name unknown":                       "not_found",
	"load_by_name empty":                         "not_found",
	"load tensorflow":                            "invalid_encoding",
	"load openvino":                              "invalid_encoding",
	"load bad target":                            "invalid_argument",
	"load no builder":                            "invalid_argument",
	"load two builders":                          "invalid_argument",
	"load garbage":                               "runtime_error",
	"load truncated":                             "runtime_error",
	"init_execution_context":                     "ok",
	"init_execution_context of the same graph":   "ok",
	"init_execution_context of the bytes' graph": "ok",
	"compute before set_input":                   "runtime_error",
	"get_output before compute":                  "runtime_error",
	"set_input index 1":                          "invalid_argument",
	"set_input u8":                               "invalid_argument",
	"set_input f64":                              "invalid_argument",
	"set_input wrong dims":                       "invalid_argument",
	"set_input wrong rank":                       "invalid_argument",
	"set_input no dims":                          "invalid_argument",
	"set_input short data":                       "invalid_argument",
	"set_input no data":                          "invalid_argument",
	"set_input zeros":                            "ok",
	"compute zeros":                              "ok",
	"get_output index 1":                         "invalid_argument",
	"get_output buffer too small":                "too_large",
	"get_output buffer too small wrote nothing":  "true",
	"get_output no buffer":                       "too_large",
	"get_output":                                 "ok",
	"get_output values":                          "1001",
}

var fixtures = []string{"parrot", "cat", "bird", "grace_hopper"}

const modelName = "mobilenetv2-1.0-224"

func modelDir(t *testing.T) string {
	t.Helper()
	dir, err := model.Resolve("")
	if err == nil {
		_, err = os.Stat(filepath.Join(dir, "parrot.expected.json"))
	}
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("model fixtures: %v", err)
		}
		t.Skipf("model fixtures: %v", err)
	}
	return dir
}

// archive zips the guest (as entry) with the model and the fixture inputs.
func archive(t *testing.T, entry, guest, dir string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	add := func(name, path string, mode os.FileMode) {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		h := &zip.FileHeader{Name: name, Method: zip.Store}
		h.SetMode(mode)
		w, err := zw.CreateHeader(h)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(data)
	}
	add(entry, guest, 0o755)
	add(modelName+".onnx", filepath.Join(dir, modelName+".onnx"), 0o644)
	for _, f := range fixtures {
		add(f+".input.f32", filepath.Join(dir, f+".input.f32"), 0o644)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

type guestResult struct {
	Backend string               `json:"backend"`
	Codes   map[string]string    `json:"codes"`
	Outputs map[string][]float32 `json:"outputs"`
	Error   string               `json:"error"`
}

func runGuest(t *testing.T, x runtime.Executor, code []byte) guestResult {
	t.Helper()
	ctx := context.Background()
	if err := x.Init(ctx, runtime.InitRequest{Name: "guest", Main: "main", Code: code}); err != nil {
		t.Fatal(err)
	}
	value, _ := json.Marshal(map[string]any{"model": modelName, "inputs": fixtures})
	line, _ := json.Marshal(map[string]json.RawMessage{"value": value})
	var stderr bytes.Buffer
	res, err := x.Run(ctx, runtime.RunRequest{Value: value, Context: map[string]string{}, Env: map[string]string{},
		Line: line, Stdout: io.Discard, Stderr: &stderr})
	if err != nil {
		t.Fatalf("run: %v (stderr %s)", err, stderr.String())
	}
	var r guestResult
	if err := json.Unmarshal(res, &r); err != nil || r.Error != "" {
		t.Fatalf("result %.500s: %v", res, err)
	}
	if log := stderr.String(); r.Backend == "wasi-nn" && !strings.Contains(log, "not_found") {
		t.Errorf("the activation's log has no line for the failed calls:\n%s", log)
	}
	return r
}

// TestGuestThreeBuilds runs one guest source built natively, as wasm with wasi-nn (the host runs
// the model) and as wasm with -tags nn_inguest (the guest does), each through its executor as an
// action: every call's answer must be the table's, and the four fixtures must give onnxruntime's
// top-5 and probabilities (within 1e-4).
func TestGuestThreeBuilds(t *testing.T) {
	dir := modelDir(t)
	eng, err := wasm.NewEngine(wasm.EngineConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	builds := []struct {
		name, backend string
		target        testbuild.Target
		executor      func() runtime.Executor
		entry         string
	}{
		{"native", "nn", testbuild.Target{Pkg: "./actions/sdk/wasinn/internal/guest"},
			func() runtime.Executor {
				return native.New(native.Config{Dir: t.TempDir(), Stdout: io.Discard, Stderr: io.Discard, Environ: []string{}})
			}, "exec"},
		{"wasm wasi-nn", "wasi-nn", testbuild.Target{Pkg: "./actions/sdk/wasinn/internal/guest", WASM: true, Reactor: true},
			func() runtime.Executor { return eng.NewExecutor(wasm.Config{}) }, "main.wasm"},
		{"wasm command wasi-nn", "wasi-nn", testbuild.Target{Pkg: "./actions/sdk/wasinn/internal/guest", WASM: true},
			func() runtime.Executor { return eng.NewExecutor(wasm.Config{}) }, "main.wasm"},
		{"wasm in-guest", "nn", testbuild.Target{Pkg: "./actions/sdk/wasinn/internal/guest", WASM: true, Reactor: true, Tags: []string{"nn_inguest"}},
			func() runtime.Executor { return eng.NewExecutor(wasm.Config{MemoryLimit: 1 << 30}) }, "main.wasm"},
	}
	for _, b := range builds {
		t.Run(b.name, func(t *testing.T) {
			x := b.executor()
			defer x.Close()
			r := runGuest(t, x, archive(t, b.entry, testbuild.MustBuild(t, b.target), dir))
			if r.Backend != b.backend {
				t.Errorf("backend %q, want %q", r.Backend, b.backend)
			}
			for k, want := range wantCodes {
				if got := r.Codes[k]; got != want {
					t.Errorf("%s: %s, want %s", k, got, want)
				}
			}
			for k := range r.Codes {
				if _, ok := wantCodes[k]; !ok {
					t.Errorf("unexpected check %q", k)
				}
			}
			for _, f := range fixtures {
				checkFixture(t, dir, f, r.Outputs[f])
			}
		})
	}
}

func checkFixture(t *testing.T, dir, name string, probs []float32) {
	t.Helper()
	var want struct {
		Top5 []struct {
			Index int `json:"index"`
		} `json:"top5"`
		Probs []float32 `json:"onnxruntime_probs"`
	}
	b, err := os.ReadFile(filepath.Join(dir, name+".expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatal(err)
	}
	if len(probs) != len(want.Probs) {
		t.Fatalf("%s: %d probabilities, want %d", name, len(probs), len(want.Probs))
	}
	idx := make([]int, len(probs))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return probs[idx[a]] > probs[idx[b]] })
	for i, w := range want.Top5 {
		if idx[i] != w.Index {
			t.Errorf("%s: top[%d] = %d, onnxruntime %d", name, i, idx[i], w.Index)
		}
	}
	worst := 0.0
	for i, p := range want.Probs {
		worst = math.Max(worst, math.Abs(float64(probs[i]-p)))
	}
	if worst > 1e-4 {
		t.Errorf("%s: max |p - onnxruntime| = %g", name, worst)
	}
}
