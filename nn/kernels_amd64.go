//go:build amd64 && !purego

package nn

var (
	gemmImpl      = gemmGo
	depthwiseImpl = depthwiseGo
)

// Accelerated reports whether assembly kernels are in use.
const Accelerated = false
