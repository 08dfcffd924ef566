//go:build !wasip1 || nn_inguest

package wasinn

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"

	"github.com/wasmwhisk/wasmwhisk/nn"
	"github.com/wasmwhisk/wasmwhisk/nn/model"
)

// Backend names the implementation in use: the nn engine in this process (a native build, or a
// wasm build with -tags nn_inguest, where the engine runs as wasm code).
const Backend = "nn"

// The in-process backend keeps wasi-nn's semantics (the same checks, the same error codes as the
// host's wasi_ephemeral_nn), so that an action behaves the same on every build.

type graph struct {
	// mu serialises runs of the compiled model, whose buffers are its own.
	mu      *sync.Mutex
	m       *nn.Model
	inputs  []tensorSpec
	outputs []tensorSpec
}

// tensorSpec is a graph input's or output's static shape and element count.
type tensorSpec struct {
	name  string
	shape []int
	n     int
}

type execContext struct{ *contextState }

type contextState struct {
	g       graph
	inputs  [][]float32 // per input, nil until set
	outputs [][]float32 // per output, after a compute
}

func load(builders [][]byte, enc Encoding, target Target) (graph, error) {
	if enc != ONNX && enc != Autodetect {
		return graph{}, InvalidEncoding
	}
	if target != CPU {
		return graph{}, fmt.Errorf("%w: target %d (only cpu)", UnsupportedOperation, target)
	}
	if len(builders) != 1 {
		return graph{}, fmt.Errorf("%w: an ONNX graph is one builder, got %d", InvalidArgument, len(builders))
	}
	return compile(builders[0])
}

func compile(data []byte) (graph, error) {
	m, err := nn.Load(data)
	if err != nil {
		return graph{}, fmt.Errorf("%w: %v", InvalidArgument, err)
	}
	g := graph{mu: new(sync.Mutex), m: m}
	for _, in := range m.Inputs {
		g.inputs = append(g.inputs, spec(in.Name, in.Shape))
	}
	for _, out := range m.Outputs {
		g.outputs = append(g.outputs, spec(out.Name, out.Shape))
	}
	return g, nil
}

func spec(name string, shape []int) tensorSpec {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return tensorSpec{name: name, shape: shape, n: n}
}

// modelDirs are where loadByName looks for <name>.onnx, in order: the action's files (the
// directory the platform unpacked the archive into, /action in wasm, the executable's directory
// natively), then $WASMWHISK_MODEL_DIR.
func modelDirs() []string {
	var dirs []string
	if d := os.Getenv("__OW_ACTION_DIR"); d != "" {
		dirs = append(dirs, d)
	}
	if runtime.GOOS == "wasip1" {
		dirs = append(dirs, "/action")
	} else if exe, err := os.Executable(); err == nil {
		dirs = append(dirs, filepath.Dir(exe))
	}
	if d := os.Getenv(model.EnvDir); d != "" {
		dirs = append(dirs, d)
	}
	return dirs
}

func loadByName(name string) (graph, error) {
	// A name is a file name without its extension, never a path.
	if name == "" || strings.ContainsAny(name, `/\`) || name == "." || name == ".." {
		return graph{}, NotFound
	}
	for _, d := range modelDirs() {
		data, err := os.ReadFile(filepath.Join(d, name+".onnx"))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return graph{}, fmt.Errorf("%w: %v", RuntimeError, err)
		}
		return compile(data)
	}
	return graph{}, NotFound
}

func (g graph) newContext() (execContext, error) {
	if g.m == nil {
		return execContext{}, InvalidArgument
	}
	return execContext{&contextState{g: g, inputs: make([][]float32, len(g.inputs)), outputs: make([][]float32, len(g.outputs))}}, nil
}

func (c execContext) setInput(index uint32, t Tensor) error {
	if c.contextState == nil {
		return InvalidArgument
	}
	if int64(index) >= int64(len(c.g.inputs)) {
		return fmt.Errorf("%w: the graph has %d inputs", InvalidArgument, len(c.g.inputs))
	}
	want := c.g.inputs[index]
	if t.Type != F32 {
		return fmt.Errorf("%w: tensor type %d, the graph takes f32", InvalidArgument, t.Type)
	}
	if len(t.Dims) != len(want.shape) {
		return fmt.Errorf("%w: dims %v, input %q is %v", InvalidArgument, t.Dims, want.name, want.shape)
	}
	for i, d := range t.Dims {
		if int64(d) != int64(want.shape[i]) {
			return fmt.Errorf("%w: dims %v, input %q is %v", InvalidArgument, t.Dims, want.name, want.shape)
		}
	}
	if len(t.Data) != 4*want.n {
		return fmt.Errorf("%w: %d data bytes, input %q takes %d", InvalidArgument, len(t.Data), want.name, 4*want.n)
	}
	buf := c.inputs[index]
	if buf == nil {
		buf = make([]float32, want.n)
		c.inputs[index] = buf
	}
	copy(f32Bytes(buf), t.Data) // little-endian, as wasi-nn tensors are
	return nil
}

func (c execContext) compute(ctx context.Context) error {
	if c.contextState == nil {
		return InvalidArgument
	}
	ins := make([]*nn.Tensor, len(c.inputs))
	for i, x := range c.inputs {
		if x == nil {
			return fmt.Errorf("%w: input %d is not set", InvalidArgument, i)
		}
		ins[i] = &nn.Tensor{Shape: c.g.inputs[i].shape, Data: x}
	}
	c.g.mu.Lock()
	outs, err := c.g.m.Run(ins...)
	c.g.mu.Unlock()
	if err != nil {
		return fmt.Errorf("%w: %v", RuntimeError, err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%w: %v", RuntimeError, err)
	}
	for i, o := range outs {
		c.outputs[i] = o.Data
	}
	return nil
}

func (c execContext) getOutput(index uint32, out []byte) (int, error) {
	if c.contextState == nil {
		return 0, InvalidArgument
	}
	if int64(index) >= int64(len(c.outputs)) {
		return 0, fmt.Errorf("%w: the graph has %d outputs", InvalidArgument, len(c.outputs))
	}
	o := c.outputs[index]
	if o == nil {
		return 0, fmt.Errorf("%w: no compute yet", InvalidArgument)
	}
	if len(out) < 4*len(o) {
		return 0, fmt.Errorf("%w: output %d is %d bytes, the buffer %d", TooLarge, index, 4*len(o), len(out))
	}
	return copy(out, f32Bytes(o)), nil
}
