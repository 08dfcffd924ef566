package wasm

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	"github.com/wasmwhisk/wasmwhisk/internal/ziptest"
	"github.com/wasmwhisk/wasmwhisk/runtime/wasinn"
)

// cToolchain is how .ci/run installs what TestCGuest needs.
const cToolchain = "apt-get install clang-19 lld-19 wasi-libc libclang-rt-19-dev-wasm32 (as .ci/run does)"

// buildCGuest compiles testdata/cguest/nn.c with clang for wasm32-wasi. Without the toolchain the
// test is skipped, except under CI=true, where it fails: the test must not silently not run.
func buildCGuest(t *testing.T) []byte {
	t.Helper()
	missing := func(format string, args ...any) {
		t.Helper()
		if os.Getenv("CI") == "true" {
			t.Fatalf(format, args...)
		}
		t.Skipf(format, args...)
	}
	var clang string
	for _, name := range []string{"clang-19", "clang"} {
		if p, err := exec.LookPath(name); err == nil {
			clang = p
			break
		}
	}
	if clang == "" {
		missing("C guest: no clang on PATH; %s", cToolchain)
	}
	out := filepath.Join(t.TempDir(), "nn.wasm")
	cmd := exec.Command(clang, "--target=wasm32-wasi", "-O2", "-Wall", "-Werror", "-o", out, filepath.Join("testdata", "cguest", "nn.c"))
	if b, err := cmd.CombinedOutput(); err != nil {
		missing("C guest: %s cannot build for wasm32-wasi (%v): %s; %s", clang, err, b, cToolchain)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestCGuest runs a C program that calls wasi-nn's ABI with no bindings: by name, from bytes, and
// the error codes.
func TestCGuest(t *testing.T) {
	module := buildCGuest(t)
	x := newExecutor(t, sharedEngine(t), Config{}, ziptest.Build(t, ziptest.File{Name: "main.wasm", Body: module}, ziptest.File{Name: "add.onnx", Body: testAdd.Bytes()}))
	r := run(t, x, activation{})
	if r.err != nil {
		t.Fatalf("run: %v (stderr %s)", r.err, r.stderr)
	}
	type inference struct {
		Codes   []int32
		Written uint32
		Output  []float32
	}
	var res struct {
		LoadByName int32 `json:"load_by_name"`
		Graph      uint32
		ByName     inference `json:"by_name"`
		Load       int32
		BytesGraph uint32    `json:"bytes_graph"`
		ByBytes    inference `json:"by_bytes"`
		Errors     map[string]int32
		Error      string
	}
	if err := json.Unmarshal([]byte(r.result), &res); err != nil || res.Error != "" {
		t.Fatalf("result %s: %v", r.result, err)
	}
	want := testAdd.Output([]float32{10, 20, 30, 40})
	for _, inf := range []struct {
		how  string
		load int32
		got  inference
	}{{"by name", res.LoadByName, res.ByName}, {"from bytes", res.Load, res.ByBytes}} {
		if inf.load != 0 || !slices.Equal(inf.got.Codes, []int32{0, 0, 0, 0}) || inf.got.Written != 16 || !slices.Equal(inf.got.Output, want) {
			t.Errorf("%s: load %d, %+v; want output %v", inf.how, inf.load, inf.got, want)
		}
	}
	if res.Graph != 0 || res.BytesGraph != 1 {
		t.Errorf("graph handles %d and %d, want 0 and 1", res.Graph, res.BytesGraph)
	}
	for name, code := range map[string]wasinn.Errno{
		"not_found": wasinn.NotFound, "encoding": wasinn.InvalidEncoding, "bad_model": wasinn.RuntimeError,
		"no_builder": wasinn.InvalidArgument, "outside": wasinn.InvalidArgument, "bad_graph": wasinn.InvalidArgument,
		"bad_context": wasinn.InvalidArgument, "not_computed": wasinn.RuntimeError, "bad_type": wasinn.InvalidArgument,
		"bad_dims": wasinn.InvalidArgument, "too_small": wasinn.TooLarge, "bad_index": wasinn.InvalidArgument,
	} {
		got, ok := res.Errors[name]
		if !ok || wasinn.Errno(got) != code {
			t.Errorf("%s: %v, want %s (%d)", name, got, code, code)
		}
	}
}
