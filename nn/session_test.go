package nn

import (
	"context"
	"errors"
	"math/rand"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/wasmwhisk/wasmwhisk/nn/onnx"
)

// convGraph is x [1,2,9,9] -> Conv 3×3 pad 1 (4 filters, im2col: a kernel with scratch) -> Relu
// -> Conv 1×1 -> GlobalAveragePool -> y [1,4,1,1].
func convGraph(t *testing.T) *Model {
	t.Helper()
	rng := rand.New(rand.NewSource(1))
	weights := func(n int) []float32 {
		w := make([]float32, n)
		for i := range w {
			w[i] = rng.Float32() - 0.5
		}
		return w
	}
	g := &onnx.Graph{
		Opset:   13,
		Inputs:  []onnx.ValueInfo{{Name: "x", DType: onnx.Float32, Shape: []int{1, 2, 9, 9}}},
		Outputs: []onnx.ValueInfo{{Name: "y", DType: onnx.Float32, Shape: []int{1, 4, 1, 1}}},
		Initializers: map[string]*onnx.Tensor{
			"w1": {Name: "w1", DType: onnx.Float32, Shape: []int{4, 2, 3, 3}, Float: weights(72)},
			"w2": {Name: "w2", DType: onnx.Float32, Shape: []int{4, 4, 1, 1}, Float: weights(16)},
		},
		Nodes: []onnx.Node{
			{Name: "c1", OpType: "Conv", Inputs: []string{"x", "w1"}, Outputs: []string{"a"}, Attrs: map[string]any{"pads": []int64{1, 1, 1, 1}, "kernel_shape": []int64{3, 3}}},
			{Name: "r", OpType: "Relu", Inputs: []string{"a"}, Outputs: []string{"b"}, Attrs: map[string]any{}},
			{Name: "c2", OpType: "Conv", Inputs: []string{"b", "w2"}, Outputs: []string{"c"}, Attrs: map[string]any{}},
			{Name: "p", OpType: "GlobalAveragePool", Inputs: []string{"c"}, Outputs: []string{"y"}, Attrs: map[string]any{}},
		},
	}
	m, err := Compile(g)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestSessionsAreIndependent(t *testing.T) {
	m := convGraph(t)
	inputs := make([][]float32, 6)
	want := make([][]float32, len(inputs))
	for i := range inputs {
		inputs[i] = make([]float32, 2*9*9)
		for j := range inputs[i] {
			inputs[i][j] = float32((i*7+j)%13) - 6
		}
		outs, err := m.Run(&Tensor{Shape: []int{1, 2, 9, 9}, Data: inputs[i]})
		if err != nil {
			t.Fatal(err)
		}
		want[i] = outs[0].Data
	}
	if slices.Equal(want[0], want[1]) {
		t.Fatal("the test inputs give equal outputs")
	}
	// Sessions on goroutines of their own, each computing every input many times (run with
	// -race: no session writes anything another reads).
	var wg sync.WaitGroup
	for i := range inputs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := m.NewSession()
			for k := 0; k < 20; k++ {
				copy(s.Input(0), inputs[i])
				if err := s.Run(context.Background()); err != nil {
					t.Error(err)
					return
				}
				if !slices.Equal(s.Output(0), want[i]) {
					t.Errorf("session %d: %v, want %v", i, s.Output(0), want[i])
					return
				}
			}
		}()
	}
	wg.Wait()
}

func TestSessionAccessors(t *testing.T) {
	m := convGraph(t)
	s := m.NewSession()
	if s.Model() != m || s.Bytes() != m.SessionBytes() || s.Bytes() <= 0 {
		t.Fatalf("Bytes %d, SessionBytes %d", s.Bytes(), m.SessionBytes())
	}
	if m.Bytes() < 4*(72+16) {
		t.Fatalf("model holds %d bytes, less than its weights", m.Bytes())
	}
	if len(s.Input(0)) != 2*9*9 || s.Input(1) != nil || s.Input(-1) != nil || len(s.Output(0)) != 4 || s.Output(1) != nil {
		t.Fatal("bad input or output buffers")
	}
	if !slices.Equal(m.InputShape(0), []int{1, 2, 9, 9}) || !slices.Equal(m.OutputShape(0), []int{1, 4, 1, 1}) {
		t.Fatal("bad shapes")
	}
}

func TestSessionStopsAtDeadline(t *testing.T) {
	m := convGraph(t)
	s := m.NewSession()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := s.Run(ctx)
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "stopped before Conv node \"c1\" (step 1 of") {
		t.Fatalf("run with a done context: %v", err)
	}
	if err := s.Run(context.Background()); err != nil {
		t.Fatalf("the session after a stopped run: %v", err)
	}
}

func TestSessionRunDoesNotAllocate(t *testing.T) {
	s := convGraph(t).NewSession()
	ctx := context.Background()
	if err := s.Run(ctx); err != nil { // scratch that grows on first use
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(50, func() {
		if err := s.Run(ctx); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Fatalf("%v allocations per run", n)
	}
}

func TestCompileLimits(t *testing.T) {
	big := &onnx.Graph{
		Opset:   13,
		Inputs:  []onnx.ValueInfo{{Name: "x", DType: onnx.Float32, Shape: []int{1, 1}}},
		Outputs: []onnx.ValueInfo{{Name: "y", DType: onnx.Float32, Shape: []int{4096, 4096}}},
		Initializers: map[string]*onnx.Tensor{
			"a": {Name: "a", DType: onnx.Float32, Shape: []int{4096, 1}, Float: make([]float32, 4096)},
			"b": {Name: "b", DType: onnx.Float32, Shape: []int{1, 4096}, Float: make([]float32, 4096)},
		},
		Nodes: []onnx.Node{
			{Name: "fold", OpType: "Add", Inputs: []string{"a", "b"}, Outputs: []string{"c"}, Attrs: map[string]any{}},
			{Name: "add", OpType: "Add", Inputs: []string{"x", "c"}, Outputs: []string{"y"}, Attrs: map[string]any{}},
		},
	}
	if _, err := CompileWith(big, CompileOptions{MaxBytes: 1 << 20}); err == nil || !strings.Contains(err.Error(), "would hold more than 1048576 bytes") {
		t.Fatalf("a graph folding 64 MiB under a 1 MiB cap: %v", err)
	}
	huge := *big
	huge.Initializers = map[string]*onnx.Tensor{
		"a": {Name: "a", DType: onnx.Float32, Shape: []int{1 << 16, 1}, Float: make([]float32, 1<<16)},
		"b": {Name: "b", DType: onnx.Float32, Shape: []int{1, 1 << 16}, Float: make([]float32, 1<<16)},
	}
	if _, err := Compile(&huge); err == nil || !strings.Contains(err.Error(), "too large") {
		t.Fatalf("a graph planning a 2^32-element value: %v", err)
	}
}
