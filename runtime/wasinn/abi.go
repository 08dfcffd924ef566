// Package wasinn is the host side of wasi-nn, the WebAssembly System Interface for neural-network
// inference, in the witx ABI that wasmtime's crates/wasi-nn/witx/wasi-nn.witx defines and the Rust
// wasi-nn crate 0.6 lowers (import module wasi_ephemeral_nn): a guest hands a graph to the host
// (by name, or as ONNX bytes), sets input tensors, calls compute and copies outputs back, and the
// host runs the graph natively with package nn. A guest written for wasmtime's wasi-nn runs
// unchanged. docs/wasm-abi.md documents the ABI for guest authors.
//
// Who knows what: this package knows the ABI (the six functions, their pointer arguments, the
// layouts and error codes), compiled graphs and their sharing, and what a guest instance holds;
// it knows nothing of wasmtime. Package runtime/wasm links the six functions into its wasmtime
// linker and calls an Instance with the guest's linear memory behind the Memory interface. nn
// knows nothing of guests: it compiles and runs graphs.
//
// Sharing: a Registry (one per process, held by the wasm engine) compiles a graph once per
// content hash and shares it read-only with every instance of every executor; a Catalog names
// graphs for load_by_name (the action archive's .onnx files, an operator's model directory).
// Everything a run writes lives in an execution context (an nn.Session) that belongs to one
// instance, so instances never share mutable state.
//
// Threat model: guests are untrusted, and so is everything they pass. Every pointer and length is
// checked against the guest's memory before it is read or written (out of bounds is
// invalid_argument, never a host fault nor an access outside the guest's memory); a failing call
// changes nothing. The host parses guest-supplied models: bytes given to load are copied out of
// guest memory, go through nn/onnx's pre-scan, size caps and panic recovery (fuzzed), and are
// compiled under a recover as well. What an instance makes the host hold (graphs it loaded from
// bytes, execution contexts) is capped in count and counted against the action's memory limit
// together with the guest's linear memory, so a guest loading models in a loop gets too_large and
// the host serves on. compute honours the activation's deadline between operators.
package wasinn

import (
	"github.com/wasmwhisk/wasmwhisk/runtime/wasinn/witx"
)

// ImportModule is the wasm import module of the wasi-nn functions.
const ImportModule = "wasi_ephemeral_nn"

// The names of the six functions of ImportModule. Every parameter is an i32 and every function
// returns an Errno as an i32.
const (
	FuncLoad                 = "load"                   // (builders_ptr, builders_len, encoding, target, graph_out_ptr)
	FuncLoadByName           = "load_by_name"           // (name_ptr, name_len, graph_out_ptr)
	FuncInitExecutionContext = "init_execution_context" // (graph, ctx_out_ptr)
	FuncSetInput             = "set_input"              // (ctx, index, tensor_ptr)
	FuncCompute              = "compute"                // (ctx)
	FuncGetOutput            = "get_output"             // (ctx, index, out_ptr, out_max_len, bytes_written_out_ptr)
)

// Funcs lists the functions with their parameter counts, in the witx file's order.
var Funcs = []struct {
	Name   string
	Params int
}{
	{FuncLoad, 5}, {FuncLoadByName, 3}, {FuncInitExecutionContext, 2},
	{FuncSetInput, 3}, {FuncGetOutput, 5}, {FuncCompute, 1},
}

// Layouts in guest memory (wasm32, little-endian).
const (
	// A graph builder is a list of bytes: {ptr u32, len u32}.
	builderSize = 8
	// A tensor: dimensions {ptr u32, len u32} at 0, type u8 at 8, data {ptr u32, len u32} at 12.
	tensorSize       = 20
	tensorDimsOff    = 0
	tensorTypeOff    = 8
	tensorDataOff    = 12
	handleSize       = 4 // graph, context and buffer_size results are u32
	dimensionSize    = 4 // a dimension is a u32
	float32Size      = 4
	maxNameBytes     = 4096 // longer names are not_found without being looked up
	maxLoggedNameLen = 80
)

// The witx enums, from package witx (their one definition, shared with the guest SDK).
type (
	// Errno is nn_errno, the result of every call.
	Errno = witx.Errno
	// TensorType is tensor_type. This host computes in F32 only.
	TensorType = witx.TensorType
	// Encoding is graph_encoding. This host loads ONNX, and takes autodetect to mean ONNX.
	Encoding = witx.Encoding
	// Target is execution_target. This host has only the CPU: a graph loaded for gpu or tpu runs
	// on the CPU (as wasmtime's ONNX backend does without an accelerator), and the activation's
	// log says so.
	Target = witx.Target
)

// The enum values, as witx numbers them.
const (
	Success              = witx.Success
	InvalidArgument      = witx.InvalidArgument
	InvalidEncoding      = witx.InvalidEncoding
	MissingMemory        = witx.MissingMemory
	Busy                 = witx.Busy
	RuntimeError         = witx.RuntimeError
	UnsupportedOperation = witx.UnsupportedOperation
	TooLarge             = witx.TooLarge
	NotFound             = witx.NotFound

	F16 = witx.F16
	F32 = witx.F32
	F64 = witx.F64
	U8  = witx.U8
	I32 = witx.I32
	I64 = witx.I64

	OpenVINO       = witx.OpenVINO
	ONNX           = witx.ONNX
	TensorFlow     = witx.TensorFlow
	PyTorch        = witx.PyTorch
	TensorFlowLite = witx.TensorFlowLite
	Autodetect     = witx.Autodetect

	CPU = witx.CPU
	GPU = witx.GPU
	TPU = witx.TPU
)
