//go:build !wasip1

package wasinn

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/wasmwhisk/wasmwhisk/nn/model"
)

// modelDir returns the shared fixtures' directory; under CI=true their absence fails the test.
func modelDir(t *testing.T) string {
	t.Helper()
	dir, err := model.Resolve("")
	if err == nil {
		_, err = os.Stat(filepath.Join(dir, "parrot.input.f32"))
	}
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("model fixtures: %v", err)
		}
		t.Skipf("model fixtures: %v", err)
	}
	return dir
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var inputDims = []uint32{1, 3, 224, 224}

// TestInProcess runs the shared model through the in-process backend: onnxruntime's probabilities
// for two images through two contexts of one graph, interleaved, and every error code the
// backend gives.
func TestInProcess(t *testing.T) {
	dir := modelDir(t)
	t.Setenv(model.EnvDir, dir)
	g, err := LoadByName("mobilenetv2-1.0-224")
	if err != nil {
		t.Fatal(err)
	}
	a, err := g.NewExecutionContext()
	if err != nil {
		t.Fatal(err)
	}
	b, err := g.NewExecutionContext()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		ec   *ExecutionContext
		name string
	}{{a, "parrot"}, {b, "cat"}} {
		if err := c.ec.SetInput(0, Tensor{Dims: inputDims, Type: F32, Data: readFile(t, filepath.Join(dir, c.name+".input.f32"))}); err != nil {
			t.Fatal(err)
		}
	}
	// Compute b first: a's input must be a's own.
	for _, c := range []struct {
		ec   *ExecutionContext
		name string
	}{{b, "cat"}, {a, "parrot"}} {
		if err := c.ec.Compute(context.Background()); err != nil {
			t.Fatal(err)
		}
		out := make([]float32, 1001)
		n, err := c.ec.GetOutputF32(0, out)
		if err != nil || n != 1001 {
			t.Fatalf("%s: get_output %d values, %v", c.name, n, err)
		}
		var want struct {
			Probs []float32 `json:"onnxruntime_probs"`
		}
		if err := json.Unmarshal(readFile(t, filepath.Join(dir, c.name+".expected.json")), &want); err != nil {
			t.Fatal(err)
		}
		for i, p := range want.Probs {
			if math.Abs(float64(out[i]-p)) > 1e-4 {
				t.Fatalf("%s: p[%d] = %v, onnxruntime %v", c.name, i, out[i], p)
			}
		}
	}

	// The same model from its bytes, and the byte-level GetOutput.
	g2, err := Load([][]byte{readFile(t, filepath.Join(dir, "mobilenetv2-1.0-224.onnx"))}, Autodetect, CPU)
	if err != nil {
		t.Fatal(err)
	}
	c2, err := g2.NewExecutionContext()
	if err != nil {
		t.Fatal(err)
	}
	x := make([]float32, 3*224*224)
	if err := c2.SetInput(0, TensorF32(inputDims, x)); err != nil {
		t.Fatal(err)
	}
	if err := c2.Compute(context.Background()); err != nil {
		t.Fatal(err)
	}
	raw := make([]byte, 4*1001+3)
	if n, err := c2.GetOutput(0, raw); err != nil || n != 4*1001 {
		t.Fatalf("get_output: %d bytes, %v", n, err)
	}
	var sum float64
	for i := 0; i < 1001; i++ {
		sum += float64(math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:])))
	}
	if math.Abs(sum-1) > 1e-3 {
		t.Fatalf("the probabilities sum to %v", sum)
	}

	errs := []struct {
		name string
		err  error
		want Errno
	}{
		{"unknown name", second(LoadByName("no-such-model")), NotFound},
		{"a path as name", second(LoadByName("../models/mobilenetv2-1.0-224")), NotFound},
		{"empty name", second(LoadByName("")), NotFound},
		{"tensorflow", second(Load([][]byte{{1}}, TensorFlow, CPU)), InvalidEncoding},
		{"openvino", second(Load([][]byte{{1}, {2}}, OpenVINO, CPU)), InvalidEncoding},
		{"not a target", second(Load([][]byte{{1}}, ONNX, TPU+1)), InvalidArgument},
		{"no builder", second(Load(nil, ONNX, CPU)), InvalidArgument},
		{"not a model", second(Load([][]byte{[]byte("hello")}, ONNX, CPU)), RuntimeError},
		{"input index", a.SetInput(1, TensorF32(inputDims, x)), InvalidArgument},
		{"input type", a.SetInput(0, Tensor{Dims: inputDims, Type: U8, Data: make([]byte, 3*224*224)}), InvalidArgument},
		{"input dims", a.SetInput(0, TensorF32([]uint32{1, 3, 224, 225}, x)), InvalidArgument},
		{"input rank", a.SetInput(0, TensorF32([]uint32{3, 224, 224}, x)), InvalidArgument},
		{"input length", a.SetInput(0, TensorF32(inputDims, x[1:])), InvalidArgument},
		{"output index", second(a.GetOutput(1, raw)), InvalidArgument},
		{"output buffer too small", second(a.GetOutput(0, raw[:4*1000])), TooLarge},
	}
	for _, e := range errs {
		var got Errno
		if !errors.As(e.err, &got) || got != e.want {
			t.Errorf("%s: %v, want %v", e.name, e.err, e.want)
		}
	}
	// A failed get_output writes nothing.
	for i := range raw {
		raw[i] = 0xee
	}
	a.GetOutput(0, raw[:8])
	if raw[0] != 0xee || raw[7] != 0xee {
		t.Error("a too-small get_output wrote into the buffer")
	}
	// A context with no input yet cannot compute; a cancelled one does not start.
	fresh, _ := g.NewExecutionContext()
	if err := fresh.Compute(context.Background()); !errors.Is(err, RuntimeError) {
		t.Errorf("compute without input: %v", err)
	}
	if _, err := fresh.GetOutput(0, raw); !errors.Is(err, RuntimeError) {
		t.Errorf("get_output before compute: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := a.Compute(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("compute with a cancelled context: %v", err)
	}
}

func second[T any](_ T, err error) error { return err }

func TestErrnoNames(t *testing.T) {
	for e, want := range map[Errno]string{InvalidArgument: "invalid_argument", NotFound: "not_found", TooLarge: "too_large", 99: "99"} {
		if got := e.Error(); got != "wasi-nn error "+want {
			t.Errorf("%d: %q", e, got)
		}
	}
}
