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
)

// Encoding is a graph encoding (wasi-nn graph_encoding).
type Encoding uint32

// The graph encodings of wasi-nn; this implementation loads ONNX (and Autodetect, meaning ONNX).
const (
	OpenVINO       Encoding = 0
	ONNX           Encoding = 1
	TensorFlow     Encoding = 2
	PyTorch        Encoding = 3
	TensorFlowLite Encoding = 4
	Autodetect     Encoding = 5
)

// Target is an execution target (wasi-nn execution_target).
type Target uint32

// The execution targets of wasi-nn.
const (
	CPU Target = 0
	GPU Target = 1
	TPU Target = 2
)

// TensorType is a tensor's element type (wasi-nn tensor_type).
type TensorType uint8

// The tensor element types of wasi-nn; models take and give F32.
const (
	F16 TensorType = 0
	F32 TensorType = 1
	F64 TensorType = 2
	U8  TensorType = 3
	I32 TensorType = 4
	I64 TensorType = 5
)

// Errno is a wasi-nn error code (nn_errno). Every error this package returns wraps one, so
// errors.Is(err, wasinn.NotFound) and errors.As(err, &errno) work.
type Errno uint32

// The error codes of wasi-nn (0 is success and is never returned as an error).
const (
	InvalidArgument      Errno = 1
	InvalidEncoding      Errno = 2
	MissingMemory        Errno = 3
	Busy                 Errno = 4
	RuntimeError         Errno = 5
	UnsupportedOperation Errno = 6
	TooLarge             Errno = 7
	NotFound             Errno = 8
)

var errnoNames = [...]string{"success", "invalid_argument", "invalid_encoding", "missing_memory", "busy",
	"runtime_error", "unsupported_operation", "too_large", "not_found"}

// Error returns the code's wasi-nn name, e.g. "wasi-nn error not_found".
func (e Errno) Error() string {
	if int(e) < len(errnoNames) {
		return "wasi-nn error " + errnoNames[e]
	}
	return fmt.Sprintf("wasi-nn error %d", uint32(e))
}

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
