//go:build purego || !amd64

package nn

// The portable kernels only: no packed-GEMM micro-kernel, and the pure-Go direct depthwise 3×3.
var (
	gemmAsm          *gemmKernel
	depthwise3x3Impl = depthwise3x3Go
)

// Accelerated reports whether assembly kernels are in use.
const Accelerated = false
