package nn

import (
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/wasmwhisk/wasmwhisk/nn/onnx"
)

// onnxNodeTests is where Debian's libonnx-testdata package installs ONNX's own operator tests.
const onnxNodeTests = "/usr/share/libonnx-testdata/data/node"

// unsupportedVariants are node tests of supported operators that use a feature the engine
// rejects at load on purpose; the test checks that they do fail at load, with a clean error.
var unsupportedVariants = map[string]string{
	"test_add_uint8":                                  "uint8 tensors",
	"test_mul_uint8":                                  "uint8 tensors",
	"test_maxpool_2d_uint8":                           "uint8 tensors",
	"test_clip_default_int8_inbounds":                 "int8 tensors",
	"test_clip_default_int8_max":                      "int8 tensors",
	"test_clip_default_int8_min":                      "int8 tensors",
	"test_batchnorm_epsilon_training_mode":            "training mode",
	"test_batchnorm_example_training_mode":            "training mode",
	"test_maxpool_with_argmax_2d_precomputed_pads":    "the Indices output",
	"test_maxpool_with_argmax_2d_precomputed_strides": "the Indices output",
	"test_identity_opt":                               "optional types",
	"test_identity_sequence":                          "sequence types",
	"test_reshape_allowzero_reordered":                "zero-size tensors (rejected at decode)",
}

// within reports whether got matches want to 1e-5 relative (plus 1e-6 absolute for values near 0).
func within(got, want float64) bool {
	if math.IsNaN(want) {
		return math.IsNaN(got)
	}
	if math.IsInf(want, 0) {
		return got == want
	}
	return math.Abs(got-want) <= 1e-5*math.Abs(want)+1e-6
}

func readTensorFile(t *testing.T, path string) *onnx.Tensor {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	tt, err := onnx.DecodeTensor(b)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return tt
}

// TestONNXNodeTests runs every ONNX node test whose graph uses only operators this engine
// supports, and compares with the expected outputs.
func TestONNXNodeTests(t *testing.T) {
	dirs, err := filepath.Glob(filepath.Join(onnxNodeTests, "test_*"))
	if err != nil || len(dirs) == 0 {
		if os.Getenv("CI") == "true" {
			t.Fatalf("ONNX node tests not found in %s (apt-get install libonnx-testdata)", onnxNodeTests)
		}
		t.Skipf("ONNX node tests not found in %s (apt-get install libonnx-testdata)", onnxNodeTests)
	}
	sort.Strings(dirs)
	ran := map[string]int{}
	for _, dir := range dirs {
		name := filepath.Base(dir)
		data, err := os.ReadFile(filepath.Join(dir, "model.onnx"))
		if err != nil {
			continue
		}
		g, err := onnx.Decode(data)
		if err != nil {
			if _, ok := unsupportedVariants[name]; ok {
				continue
			}
			// A test whose file we cannot even decode is only ours if its operator is ours.
			if builders[opFromTestName(name)] != nil {
				t.Errorf("%s: decode: %v", name, err)
			}
			continue
		}
		supported := len(g.Nodes) > 0
		for _, n := range g.Nodes {
			if builders[n.OpType] == nil {
				supported = false
			}
		}
		if !supported {
			continue
		}
		reason, expectFail := unsupportedVariants[name]
		t.Run(name, func(t *testing.T) {
			// The engine plans with static shapes: integer inputs (shapes, axes, indices) are
			// bound as constants from the test data, as a deployment would fix them.
			set0 := filepath.Join(dir, "test_data_set_0")
			bind := map[string]*onnx.Tensor{}
			for i, in := range g.Inputs {
				if in.DType == onnx.Int64 || in.DType == onnx.Int32 {
					bind[in.Name] = readTensorFile(t, filepath.Join(set0, "input_"+itoa(i)+".pb"))
				}
			}
			bound := BindInputs(g, bind)
			m, err := Compile(bound)
			if expectFail {
				if err == nil {
					t.Fatalf("compiled a model with %s; update unsupportedVariants", reason)
				}
				return
			}
			if err != nil {
				t.Fatalf("compile: %v", err)
			}
			sets, _ := filepath.Glob(filepath.Join(dir, "test_data_set_*"))
			if len(sets) == 0 {
				t.Fatal("no test data sets")
			}
			for _, set := range sets {
				var inputs []*value
				for i, in := range g.Inputs {
					if bind[in.Name] != nil {
						continue
					}
					tt := readTensorFile(t, filepath.Join(set, "input_"+itoa(i)+".pb"))
					inputs = append(inputs, &value{shape: tt.Shape, floats: tt.Float, ints: tt.Int, isInt: tt.Float == nil})
				}
				outs, err := m.run(inputs)
				if err != nil {
					t.Fatalf("%s: run: %v", filepath.Base(set), err)
				}
				for i, o := range outs {
					want := readTensorFile(t, filepath.Join(set, "output_"+itoa(i)+".pb"))
					if !sameShape(o.shape, want.Shape) {
						t.Fatalf("output %d: shape %v, want %v", i, o.shape, want.Shape)
					}
					for j := 0; j < want.Len(); j++ {
						var got, exp float64
						if want.Float != nil {
							got, exp = float64(o.floats[j]), float64(want.Float[j])
						} else {
							got, exp = float64(o.ints[j]), float64(want.Int[j])
						}
						if !within(got, exp) {
							t.Fatalf("output %d element %d: got %v, want %v", i, j, got, exp)
						}
					}
				}
			}
		})
		ran[g.Nodes[0].OpType]++
	}
	for op := range builders {
		if ran[op] == 0 && op != "Identity" {
			t.Errorf("no ONNX node test exercised %s", op)
		}
	}
	t.Logf("node tests per operator: %v", ran)
}

// opFromTestName guesses the operator of a node test from its directory name.
func opFromTestName(name string) string {
	s := strings.TrimPrefix(name, "test_")
	for op := range builders {
		if l := strings.ToLower(op); s == l || strings.HasPrefix(s, l+"_") {
			return op
		}
	}
	return ""
}

func itoa(i int) string {
	const digits = "0123456789"
	if i < 10 {
		return digits[i : i+1]
	}
	return itoa(i/10) + digits[i%10:i%10+1]
}
