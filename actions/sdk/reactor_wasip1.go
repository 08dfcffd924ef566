//go:build wasip1

package sdk

import "unsafe"

// The reactor ABI (docs/wasm-abi.md): the host calls wasmwhisk_alloc for a buffer, writes one /run
// line into it, and calls wasmwhisk_run on it. The exports are compiled into every wasip1 build of
// an action; in a command build (default build mode) they are present but unused, because the
// host prefers _start and the runtime has exited by the time _start returns.

// reactorIn is the buffer handed out by the last wasmwhisk_alloc; reactorOut holds the last
// result. Both stay reachable (so the garbage collector keeps them in place) until the next call
// replaces them.
var reactorIn, reactorOut []byte

// wasmwhiskAlloc returns the address of a buffer of size bytes in linear memory, valid until the
// next call of wasmwhisk_alloc or wasmwhisk_run. Each call makes a new buffer and the guest never
// writes into an old one, so the activation's parameters may be views of the line.
//
//go:wasmexport wasmwhisk_alloc
//lint:ignore U1000 exported to the host by go:wasmexport, which staticcheck does not know
func wasmwhiskAlloc(size int32) unsafe.Pointer {
	if size < 0 {
		return nil
	}
	reactorIn = make([]byte, size+1) // never empty, so &reactorIn[0] is a real address
	return unsafe.Pointer(&reactorIn[0])
}

// wasmwhiskRun runs the handler on the /run line at [ptr, ptr+length) and returns the address of
// the result JSON in the high 32 bits and its length in the low 32 bits. The result stays valid
// until the next call of wasmwhisk_alloc or wasmwhisk_run.
//
//go:wasmexport wasmwhisk_run
//lint:ignore U1000 exported to the host by go:wasmexport, which staticcheck does not know
func wasmwhiskRun(ptr unsafe.Pointer, length int32) int64 {
	if ptr == nil || length < 0 {
		return 0
	}
	// The line's buffer is never written again (wasmwhisk_alloc makes a new one each time), so
	// the parameters runLine decodes may be views of it (decodeJSON's long strings are).
	reactorOut = runLine(unsafe.Slice((*byte)(ptr), length))
	if len(reactorOut) == 0 {
		reactorOut = []byte("{}")
	}
	addr := uint64(uintptr(unsafe.Pointer(&reactorOut[0])))
	return int64(addr<<32 | uint64(uint32(len(reactorOut))))
}
