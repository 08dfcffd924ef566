//go:build amd64 && !purego

package nn

import "os"

// hasAVX2FMA reports whether the CPU and the OS support AVX2 and FMA (CPUID and XCR0).
func hasAVX2FMA() bool {
	maxID, _, _, _ := cpuid(0, 0)
	if maxID < 7 {
		return false
	}
	_, _, ecx1, _ := cpuid(1, 0)
	const fma, osxsave, avx = 1 << 12, 1 << 27, 1 << 28
	if ecx1&(fma|osxsave|avx) != fma|osxsave|avx {
		return false
	}
	if xcr0, _ := xgetbv0(); xcr0&6 != 6 { // XMM and YMM state enabled by the OS
		return false
	}
	_, ebx7, _, _ := cpuid(7, 0)
	return ebx7&(1<<5) != 0
}

// The AVX2+FMA kernels, or nil (pure Go) when the CPU lacks them or WASMWHISK_NN_PUREGO=1.
var (
	gemmAsm          = pick(&gemmKernel{mr: 6, nr: 16, micro: micro6x16, half: micro6x8}, nil)
	depthwise3x3Impl = depthwise3x3Go
)

// Accelerated reports whether assembly kernels are in use.
var Accelerated = gemmAsm != nil

func pick[T any](asm, portable T) T {
	if hasAVX2FMA() && os.Getenv("WASMWHISK_NN_PUREGO") != "1" {
		return asm
	}
	return portable
}

// micro6x16 and micro6x8 check the slice bounds once and call the assembly.
func micro6x16(k int, a, b, bias []float32, lo, hi float32, c []float32, ldc int) {
	_, _, _, _ = a[6*k-1], b[16*k-1], bias[5], c[5*ldc+15]
	gemm6x16(k, &a[0], &b[0], &bias[0], lo, hi, &c[0], ldc)
}

func micro6x8(k int, a, b, bias []float32, lo, hi float32, c []float32, ldc int) {
	_, _, _, _ = a[6*k-1], b[8*k-1], bias[5], c[5*ldc+7]
	gemm6x8(k, &a[0], &b[0], &bias[0], lo, hi, &c[0], ldc)
}

//go:noescape
func gemm6x16(k int, a, b, bias *float32, lo, hi float32, c *float32, ldc int)

//go:noescape
func gemm6x8(k int, a, b, bias *float32, lo, hi float32, c *float32, ldc int)

func cpuid(eax, ecx uint32) (a, b, c, d uint32)

func xgetbv0() (eax, edx uint32)
