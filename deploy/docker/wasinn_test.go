package dockerimages_test

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wasmwhisk/wasmwhisk/internal/conformance"
	"github.com/wasmwhisk/wasmwhisk/internal/testbuild"
	"github.com/wasmwhisk/wasmwhisk/internal/ziptest"
	"github.com/wasmwhisk/wasmwhisk/runtime/wasinn/wasinntest"
)

// TestWasmRuntimeImageWasiNN: the wasm runtime image provides wasi-nn, with graphs from the
// action's archive and from a model directory mounted at WASMWHISK_WASM_NN_MODELS.
func TestWasmRuntimeImageWasiNN(t *testing.T) {
	t.Parallel()
	image := requireImage(t, "wasm-runtime")
	guest, err := os.ReadFile(testbuild.MustBuild(t, testbuild.Target{Pkg: "./runtime/wasm/testdata/nnguest", WASM: true}))
	if err != nil {
		t.Fatal(err)
	}
	own := wasinntest.AddModel{Bias: []float32{1, 2, 3, 4}}
	shared := wasinntest.AddModel{Bias: []float32{5, 5, 5, 5}}
	zipped := ziptest.Build(t, ziptest.File{Name: "main.wasm", Body: guest}, ziptest.File{Name: "own.onnx", Body: own.Bytes()})
	models := t.TempDir()
	if err := os.WriteFile(filepath.Join(models, "shared.onnx"), shared.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(models, 0o755); err != nil { // the image's user is not root
		t.Fatal(err)
	}
	c := startFunc(image, "-v", models+":/models:ro")(t, conformance.Options{Env: map[string]string{"WASMWHISK_WASM_NN_MODELS": "/models"}})
	cl := conformance.NewClient(t, c)
	if r := cl.Init(conformance.B64(zipped), "main", nil); r.Status != http.StatusOK {
		t.Fatalf("init: %d %s", r.Status, r.Body)
	}
	for name, want := range map[string]string{"own": `"Output":[1,2,3,4]`, "shared": `"Output":[5,5,5,5]`} {
		r := cl.Run(map[string]any{"mode": "run", "name": name, "input": []float32{0, 0, 0, 0}, "dims": []int{1, 4}, "out_bytes": 16}, nil)
		if r.Status != http.StatusOK || !strings.Contains(string(r.Body), want) {
			t.Fatalf("graph %s: %d %s", name, r.Status, r.Body)
		}
	}
}
