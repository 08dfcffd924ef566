package wasinn

import (
	"encoding/binary"
	"fmt"
	"math"
	"unsafe"
)

// Memory is a guest's linear memory as the host sees it during one host call.
type Memory interface {
	// Bytes is the whole linear memory. It stays valid until the guest runs again (the guest
	// alone can grow it, and cannot run during a host call).
	Bytes() []byte
}

// SliceMemory is a Memory over a byte slice (tests, fuzzing, tools).
type SliceMemory []byte

// Bytes returns the slice.
func (m SliceMemory) Bytes() []byte { return m }

// outOfBounds is the description of a range that does not fit in guest memory.
type outOfBounds struct {
	what     string
	ptr, n   uint64
	memBytes int
}

func (e *outOfBounds) Error() string {
	return fmt.Sprintf("%s at [%#x, %#x) is outside the guest's memory of %d bytes", e.what, e.ptr, e.ptr+e.n, e.memBytes)
}

// span returns guest memory [ptr, ptr+n), or an error when any of it is outside mem. The
// arithmetic is done in 64 bits: a 32-bit pointer plus a 32-bit length cannot wrap around.
func span(mem []byte, ptr, n uint64, what string) ([]byte, error) {
	if ptr > uint64(len(mem)) || n > uint64(len(mem))-ptr {
		return nil, &outOfBounds{what: what, ptr: ptr, n: n, memBytes: len(mem)}
	}
	return mem[ptr : ptr+n : ptr+n], nil
}

func u32(b []byte, off int) uint32 { return binary.LittleEndian.Uint32(b[off:]) }

func putU32(b []byte, v uint32) { binary.LittleEndian.PutUint32(b, v) }

// hostLittleEndian says whether float32 data can be copied to and from guest memory as is
// (wasm is little-endian).
var hostLittleEndian = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

// copyToFloats fills dst from little-endian float32 bytes (len(src) == 4*len(dst)).
func copyToFloats(dst []float32, src []byte) {
	if len(dst) == 0 {
		return
	}
	if hostLittleEndian {
		copy(unsafe.Slice((*byte)(unsafe.Pointer(&dst[0])), 4*len(dst)), src)
		return
	}
	for i := range dst {
		dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(src[4*i:]))
	}
}

// copyFromFloats writes src as little-endian float32 bytes into dst (len(dst) >= 4*len(src)).
func copyFromFloats(dst []byte, src []float32) {
	if len(src) == 0 {
		return
	}
	if hostLittleEndian {
		copy(dst, unsafe.Slice((*byte)(unsafe.Pointer(&src[0])), 4*len(src)))
		return
	}
	for i, f := range src {
		binary.LittleEndian.PutUint32(dst[4*i:], math.Float32bits(f))
	}
}
