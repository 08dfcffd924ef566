// Package witx holds the enums of wasi-nn's witx definition (wasmtime's
// crates/wasi-nn/witx/wasi-nn.witx): their values and names, once, for both sides of the ABI —
// the host (runtime/wasinn) and the guest SDK (actions/sdk/wasinn), which re-export them. It
// imports nothing but fmt, so a guest that uses it links nothing of the host.
package witx

import "fmt"

// Errno is nn_errno, the result of every wasi-nn call. It is an error, for the guest SDK's calls
// to return; String is its bare witx name, for the host's logs.
type Errno uint32

// The error codes, numbered as in the witx enum.
const (
	Success              Errno = 0
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

// String is the witx name, e.g. "not_found", or nn_errno(N) for a code the enum lacks.
func (e Errno) String() string { return enumName(e, errnoNames[:], "nn_errno") }

// Error is "wasi-nn error " and the witx name, or the number for a code the enum lacks.
func (e Errno) Error() string {
	if int(e) < len(errnoNames) {
		return "wasi-nn error " + errnoNames[e]
	}
	return fmt.Sprintf("wasi-nn error %d", uint32(e))
}

// TensorType is tensor_type, a tensor's element type.
type TensorType uint8

// The tensor types, numbered as in the witx enum.
const (
	F16 TensorType = 0
	F32 TensorType = 1
	F64 TensorType = 2
	U8  TensorType = 3
	I32 TensorType = 4
	I64 TensorType = 5
)

var tensorTypeNames = [...]string{"f16", "f32", "f64", "u8", "i32", "i64"}

// String is the witx name, e.g. "f32".
func (t TensorType) String() string { return enumName(t, tensorTypeNames[:], "tensor_type") }

// Encoding is graph_encoding, the format of a model's bytes.
type Encoding uint32

// The graph encodings, numbered as in the witx enum.
const (
	OpenVINO       Encoding = 0
	ONNX           Encoding = 1
	TensorFlow     Encoding = 2
	PyTorch        Encoding = 3
	TensorFlowLite Encoding = 4
	Autodetect     Encoding = 5
)

var encodingNames = [...]string{"openvino", "onnx", "tensorflow", "pytorch", "tensorflowlite", "autodetect"}

// String is the witx name, e.g. "onnx".
func (e Encoding) String() string { return enumName(e, encodingNames[:], "graph_encoding") }

// Target is execution_target, where a graph is to run.
type Target uint32

// The execution targets, numbered as in the witx enum.
const (
	CPU Target = 0
	GPU Target = 1
	TPU Target = 2
)

var targetNames = [...]string{"cpu", "gpu", "tpu"}

// String is the witx name, e.g. "cpu".
func (t Target) String() string { return enumName(t, targetNames[:], "execution_target") }

// enumName is the witx name of v, or kind(v) for a value the enum does not define.
func enumName[T ~uint8 | ~uint32](v T, names []string, kind string) string {
	if uint64(v) < uint64(len(names)) {
		return names[v]
	}
	return fmt.Sprintf("%s(%d)", kind, uint64(v))
}
