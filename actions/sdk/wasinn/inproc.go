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

	"github.com/wasmwhisk/wasmwhisk/nn"
	"github.com/wasmwhisk/wasmwhisk/nn/model"
)

// Backend names the implementation in use: the nn engine in this process (a native build, or a
// wasm build with -tags nn_inguest, where the engine runs as wasm code).
const Backend = "nn"

// The in-process backend keeps wasi-nn's semantics (the same checks, the same error codes as the
// host's wasi_ephemeral_nn in runtime/wasinn), so that an action behaves the same on every build.
// A graph is a compiled nn.Model (weights shared); an execution context is an nn.Session (its
// buffers its own).

type graph struct{ m *nn.Model }

type execContext struct{ *contextState }

type contextState struct {
	s        *nn.Session
	set      []bool // per input, whether set_input gave it
	computed bool
}

func load(builders [][]byte, enc Encoding, target Target) (graph, error) {
	if enc != ONNX && enc != Autodetect {
		return graph{}, fmt.Errorf("%w: only ONNX graphs (encoding onnx or autodetect)", InvalidEncoding)
	}
	if target > TPU {
		return graph{}, fmt.Errorf("%w: %d is not an execution target", InvalidArgument, target)
	}
	// gpu and tpu run on the cpu, as the host does.
	if len(builders) != 1 {
		return graph{}, fmt.Errorf("%w: an ONNX graph is one builder, got %d", InvalidArgument, len(builders))
	}
	return compile(builders[0])
}

func compile(data []byte) (graph, error) {
	m, err := nn.Load(data)
	if err != nil {
		return graph{}, fmt.Errorf("%w: %v", RuntimeError, err)
	}
	return graph{m}, nil
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
	return execContext{&contextState{s: g.m.NewSession(), set: make([]bool, len(g.m.Inputs))}}, nil
}

func (c execContext) setInput(index uint32, t Tensor) error {
	if c.contextState == nil {
		return InvalidArgument
	}
	m := c.s.Model()
	if uint64(index) >= uint64(len(m.Inputs)) {
		return fmt.Errorf("%w: the graph has %d inputs", InvalidArgument, len(m.Inputs))
	}
	if t.Type != F32 {
		return fmt.Errorf("%w: tensor type %d, the graph takes f32", InvalidArgument, t.Type)
	}
	want := m.InputShape(int(index))
	dst := c.s.Input(int(index))
	if dst == nil {
		return fmt.Errorf("%w: input %d is not a float32 tensor", InvalidArgument, index)
	}
	same := len(t.Dims) == len(want)
	for i := 0; same && i < len(want); i++ {
		same = uint64(t.Dims[i]) == uint64(want[i])
	}
	if !same {
		return fmt.Errorf("%w: dims %v, input %d is %v", InvalidArgument, t.Dims, index, want)
	}
	if len(t.Data) != 4*len(dst) {
		return fmt.Errorf("%w: %d data bytes, input %d takes %d", InvalidArgument, len(t.Data), index, 4*len(dst))
	}
	copy(f32Bytes(dst), t.Data) // little-endian, as wasi-nn tensors are
	c.set[index] = true
	return nil
}

func (c execContext) compute(ctx context.Context) error {
	if c.contextState == nil {
		return InvalidArgument
	}
	for i, ok := range c.set {
		if !ok {
			return fmt.Errorf("%w: input %d was never set", RuntimeError, i)
		}
	}
	c.computed = false
	if err := c.s.Run(ctx); err != nil {
		return fmt.Errorf("%w: %w", RuntimeError, err)
	}
	c.computed = true
	return nil
}

func (c execContext) getOutput(index uint32, out []byte) (int, error) {
	if c.contextState == nil {
		return 0, InvalidArgument
	}
	m := c.s.Model()
	if uint64(index) >= uint64(len(m.Outputs)) {
		return 0, fmt.Errorf("%w: the graph has %d outputs", InvalidArgument, len(m.Outputs))
	}
	if !c.computed {
		return 0, fmt.Errorf("%w: no compute has succeeded yet", RuntimeError)
	}
	o := c.s.Output(int(index))
	if o == nil {
		return 0, fmt.Errorf("%w: output %d is not a float32 tensor", InvalidArgument, index)
	}
	if len(out) < 4*len(o) {
		return 0, fmt.Errorf("%w: output %d is %d bytes, the buffer %d", TooLarge, index, 4*len(o), len(out))
	}
	return copy(out, f32Bytes(o)), nil
}
