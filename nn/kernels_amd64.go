//go:build amd64 && !purego

package nn

var (
	gemmAsm          *gemmKernel
	depthwise3x3Impl = depthwise3x3Go
)

// Accelerated reports whether assembly kernels are in use.
const Accelerated = false
