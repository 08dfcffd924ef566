// Package wasinn is the action side of wasi-nn: load a model, make an execution context, set its
// input, compute, read its output. One action source written against it builds three ways:
//
//   - GOOS=wasip1 (the default wasm build): the calls are the host functions of wasi-nn's
//     `wasi_ephemeral_nn` module (the witx ABI of wasmtime's crates/wasi-nn, as the Rust `wasi-nn`
//     crate 0.6 lowers it), so inference runs natively in the host, outside the guest's sandboxed
//     code, on graphs the host compiled once and shares (docs/wasm-abi.md);
//   - GOOS=wasip1 -tags nn_inguest: the same calls run the nn engine compiled into the guest (the
//     whole model runs as wasm code; no host API needed);
//   - native builds: the same calls run the nn engine in-process.
//
// Which one is in use is Backend. Graphs and execution contexts live as long as the instance (or
// process): wasi-nn has no call to free them, so an action loads its model once and keeps it
// across warm activations.
//
// A graph is not safe for concurrent use of one execution context; each goroutine needs its own
// context (contexts of one graph share its weights, not their buffers).
package wasinn

import (
	"context"
	"errors"
	"fmt"
	"unsafe"

	"github.com/wasmwhisk/wasmwhisk/runtime/wasinn/witx"
)

// The witx enums, from package witx (one definition for the host and this SDK, importing
// nothing of the host).
type (
	// Encoding is a graph encoding (graph_encoding); this implementation loads ONNX, and
	// Autodetect meaning ONNX.
	Encoding = witx.Encoding
	// Target is an execution target (execution_target).
	Target = witx.Target
	// TensorType is a tensor's element type (tensor_type); models take and give F32.
	TensorType = witx.TensorType
	// Errno is a wasi-nn error code (nn_errno). Every error this package returns wraps one, so
	// errors.Is(err, wasinn.NotFound) and errors.As(err, &errno) work.
	Errno = witx.Errno
)

// The graph encodings.
const (
	OpenVINO       = witx.OpenVINO
	ONNX           = witx.ONNX
	TensorFlow     = witx.TensorFlow
	PyTorch        = witx.PyTorch
	TensorFlowLite = witx.TensorFlowLite
	Autodetect     = witx.Autodetect
)

// The execution targets.
const (
	CPU = witx.CPU
	GPU = witx.GPU
	TPU = witx.TPU
)

// The tensor element types.
const (
	F16 = witx.F16
	F32 = witx.F32
	F64 = witx.F64
	U8  = witx.U8
	I32 = witx.I32
	I64 = witx.I64
)

// The error codes (0, success, is never returned as an error).
const (
	InvalidArgument      = witx.InvalidArgument
	InvalidEncoding      = witx.InvalidEncoding
	MissingMemory        = witx.MissingMemory
	Busy                 = witx.Busy
	RuntimeError         = witx.RuntimeError
	UnsupportedOperation = witx.UnsupportedOperation
	TooLarge             = witx.TooLarge
	NotFound             = witx.NotFound
)

// Tensor is an input for SetInput: its dimensions, element type and little-endian data.
type Tensor struct {
	Dims []uint32
	Type TensorType
	Data []byte
}

// TensorF32 returns a tensor of type F32 whose data is a view of data (no copy): data must not
// change until SetInput returns.
func TensorF32(dims []uint32, data []float32) Tensor {
	return Tensor{Dims: dims, Type: F32, Data: f32Bytes(data)}
}

// Graph is a loaded model.
type Graph struct{ g graph }

// ExecutionContext is one inference session of a graph: its own input, intermediate and output
// buffers over the graph's shared weights.
type ExecutionContext struct{ c execContext }

// Load loads a model from its bytes (for ONNX, one builder holding the whole file) for a target.
// The host compiles a given model once and shares it, so loading the same bytes again is cheap;
// an action should still load once and keep the Graph.
func Load(builders [][]byte, enc Encoding, target Target) (*Graph, error) {
	g, err := load(builders, enc, target)
	if err != nil {
		return nil, fmt.Errorf("wasinn: load: %w", err)
	}
	return &Graph{g}, nil
}

// LoadByName returns a model the platform has registered by name: with wasi-nn, every .onnx file
// of the action's archive (and of the operator's model directories) under its file name without
// the extension, e.g. "mobilenetv2-1.0-224"; in-process, <name>.onnx from the action's directory
// or $WASMWHISK_MODEL_DIR.
func LoadByName(name string) (*Graph, error) {
	g, err := loadByName(name)
	if err != nil {
		return nil, fmt.Errorf("wasinn: load_by_name %q: %w", name, err)
	}
	return &Graph{g}, nil
}

// NewExecutionContext makes an execution context for the graph (wasi-nn init_execution_context).
func (g *Graph) NewExecutionContext() (*ExecutionContext, error) {
	if g == nil {
		return nil, errors.New("wasinn: init_execution_context: nil graph")
	}
	c, err := g.g.newContext()
	if err != nil {
		return nil, fmt.Errorf("wasinn: init_execution_context: %w", err)
	}
	return &ExecutionContext{c}, nil
}

// SetInput copies t into the context as input index.
func (c *ExecutionContext) SetInput(index uint32, t Tensor) error {
	if err := c.c.setInput(index, t); err != nil {
		return fmt.Errorf("wasinn: set_input %d: %w", index, err)
	}
	return nil
}

// Compute runs the graph on the inputs set. The activation's deadline bounds it: with wasi-nn the
// host enforces the activation's time limit itself (between layers); in-process ctx's deadline
// does.
func (c *ExecutionContext) Compute(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("wasinn: compute: %w", err)
	}
	if err := c.c.compute(ctx); err != nil {
		return fmt.Errorf("wasinn: compute: %w", err)
	}
	return nil
}

// GetOutput copies output index of the last Compute into out and returns the number of bytes
// written. An out shorter than the output gives TooLarge and writes nothing.
func (c *ExecutionContext) GetOutput(index uint32, out []byte) (int, error) {
	n, err := c.c.getOutput(index, out)
	if err != nil {
		return 0, fmt.Errorf("wasinn: get_output %d: %w", index, err)
	}
	return n, nil
}

// GetOutputF32 is GetOutput for a float32 output: it returns the number of values written.
func (c *ExecutionContext) GetOutputF32(index uint32, out []float32) (int, error) {
	n, err := c.GetOutput(index, f32Bytes(out))
	return n / 4, err
}

// f32Bytes views float32s as their bytes. Every target this package builds for (wasm, amd64,
// arm64) is little-endian, the byte order wasi-nn tensors use.
func f32Bytes(f []float32) []byte {
	if len(f) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&f[0])), 4*len(f))
}
