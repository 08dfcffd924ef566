//go:build wasip1 && !nn_inguest

package wasinn

import (
	"context"
	"runtime"
	"structs"
	"unsafe"
)

// Backend names the implementation in use: the host's wasi_ephemeral_nn functions.
const Backend = "wasi-nn"

// The imports, exactly as wasi-nn's witx lowers them for wasm32: every argument an i32, every
// result an nn_errno. Pointers are addresses in this module's linear memory; Go's garbage
// collector does not move objects, so a pointer into Go memory stays valid for the call (the
// callers keep what the host reads reachable with runtime.KeepAlive).

//go:wasmimport wasi_ephemeral_nn load
func nnLoad(builders unsafe.Pointer, buildersLen uint32, encoding uint32, target uint32, graphOut unsafe.Pointer) uint32

//go:wasmimport wasi_ephemeral_nn load_by_name
func nnLoadByName(name unsafe.Pointer, nameLen uint32, graphOut unsafe.Pointer) uint32

//go:wasmimport wasi_ephemeral_nn init_execution_context
func nnInitExecutionContext(graph uint32, ctxOut unsafe.Pointer) uint32

//go:wasmimport wasi_ephemeral_nn set_input
func nnSetInput(ctx uint32, index uint32, tensor unsafe.Pointer) uint32

//go:wasmimport wasi_ephemeral_nn compute
func nnCompute(ctx uint32) uint32

//go:wasmimport wasi_ephemeral_nn get_output
func nnGetOutput(ctx uint32, index uint32, out unsafe.Pointer, outMaxLen uint32, bytesWritten unsafe.Pointer) uint32

// span is the wasm32 layout of a (pointer, length) pair: a graph builder, tensor dims or data.
type span struct {
	_   structs.HostLayout
	ptr uint32
	len uint32
}

// tensorABI is the wasm32 layout of a wasi-nn tensor: dims at 0, type at 8, data at 12; 20 bytes.
type tensorABI struct {
	_    structs.HostLayout
	dims span
	typ  uint8
	_    [3]uint8
	data span
}

// Checked at compile time: a wrong layout fails the build instead of confusing the host.
var (
	_ [20 - unsafe.Sizeof(tensorABI{})]struct{}
	_ [unsafe.Sizeof(tensorABI{}) - 20]struct{}
	_ [12 - unsafe.Offsetof(tensorABI{}.data)]struct{}
	_ [unsafe.Offsetof(tensorABI{}.data) - 12]struct{}
	_ [8 - unsafe.Offsetof(tensorABI{}.typ)]struct{}
	_ [unsafe.Offsetof(tensorABI{}.typ) - 8]struct{}
	_ [8 - unsafe.Sizeof(span{})]struct{}
)

// addr is the linear-memory address of p (wasm addresses are 32-bit).
func addr(p unsafe.Pointer) uint32 { return uint32(uintptr(p)) }

// spanOf describes b; an empty slice is (0, 0).
func spanOf(b []byte) span {
	if len(b) == 0 {
		return span{}
	}
	return span{ptr: addr(unsafe.Pointer(unsafe.SliceData(b))), len: uint32(len(b))}
}

func errno(rc uint32) error {
	if rc == 0 {
		return nil
	}
	return Errno(rc)
}

type graph struct{ handle uint32 }

type execContext struct{ handle uint32 }

func load(builders [][]byte, enc Encoding, target Target) (graph, error) {
	spans := make([]span, len(builders))
	for i, b := range builders {
		spans[i] = spanOf(b)
	}
	var h uint32
	var p unsafe.Pointer
	if len(spans) > 0 {
		p = unsafe.Pointer(&spans[0])
	}
	rc := nnLoad(p, uint32(len(spans)), uint32(enc), uint32(target), unsafe.Pointer(&h))
	runtime.KeepAlive(builders)
	runtime.KeepAlive(spans)
	return graph{h}, errno(rc)
}

func loadByName(name string) (graph, error) {
	var h uint32
	rc := nnLoadByName(unsafe.Pointer(unsafe.StringData(name)), uint32(len(name)), unsafe.Pointer(&h))
	runtime.KeepAlive(name)
	return graph{h}, errno(rc)
}

func (g graph) newContext() (execContext, error) {
	var h uint32
	rc := nnInitExecutionContext(g.handle, unsafe.Pointer(&h))
	return execContext{h}, errno(rc)
}

func (c execContext) setInput(index uint32, t Tensor) error {
	var dims span
	if len(t.Dims) > 0 {
		dims = span{ptr: addr(unsafe.Pointer(&t.Dims[0])), len: uint32(len(t.Dims))}
	}
	abi := tensorABI{dims: dims, typ: uint8(t.Type), data: spanOf(t.Data)}
	rc := nnSetInput(c.handle, index, unsafe.Pointer(&abi))
	runtime.KeepAlive(t.Dims)
	runtime.KeepAlive(t.Data)
	return errno(rc)
}

// compute runs on the host; the host enforces the activation's deadline (ctx cannot cross).
func (c execContext) compute(context.Context) error { return errno(nnCompute(c.handle)) }

func (c execContext) getOutput(index uint32, out []byte) (int, error) {
	var written uint32
	rc := nnGetOutput(c.handle, index, unsafe.Pointer(unsafe.SliceData(out)), uint32(len(out)), unsafe.Pointer(&written))
	runtime.KeepAlive(out)
	if rc != 0 {
		return 0, Errno(rc)
	}
	return int(written), nil
}
