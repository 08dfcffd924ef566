//go:build purego || !amd64

package nn

// The portable kernels; amd64 builds without the purego tag use assembly instead.
var (
	gemmImpl      = gemmGo
	depthwiseImpl = depthwiseGo
)

// Accelerated reports whether assembly kernels are in use.
const Accelerated = false
