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
	depthwise3x3Impl = pick(depthwise3x3AVX2, depthwise3x3Go)
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
func micro6x16(k int, a, b []float32, ldb int, bias []float32, lo, hi float32, c []float32, ldc, np int) {
	_, _, _, _ = a[6*k*np-1], b[(k-1)*ldb+15], bias[6*np-1], c[(6*np-1)*ldc+15]
	gemm6x16(k, &a[0], &b[0], ldb, &bias[0], lo, hi, &c[0], ldc, np)
}

func micro6x8(k int, a, b []float32, ldb int, bias []float32, lo, hi float32, c []float32, ldc, np int) {
	_, _, _, _ = a[6*k*np-1], b[(k-1)*ldb+7], bias[6*np-1], c[(6*np-1)*ldc+7]
	gemm6x8(k, &a[0], &b[0], ldb, &bias[0], lo, hi, &c[0], ldc, np)
}

//go:noescape
func gemm6x16(k int, a, b *float32, ldb int, bias *float32, lo, hi float32, c *float32, ldc, np int)

//go:noescape
func gemm6x8(k int, a, b *float32, ldb int, bias *float32, lo, hi float32, c *float32, ldc, np int)

func cpuid(eax, ecx uint32) (a, b, c, d uint32)

func xgetbv0() (eax, edx uint32)

//go:noescape
func dw3x3s1(p *float32, ldp int, w *float32, bias, lo, hi float32, out *float32, ow, oh int)

//go:noescape
func dw3x3s2(p *float32, ldp int, w *float32, bias, lo, hi float32, out *float32, ow, oh int)

// depthwise3x3AVX2 copies each channel into a zero-padded plane (k.dwPad, whose border is zeroed
// once and never written) and runs the plane kernel over it. Unequal strides or strides above 2
// go to Go.
func depthwise3x3AVX2(k *convKernel, x, wt, bias, y []float32) {
	s := k.sh
	if s != k.sw || s > 2 {
		depthwise3x3Go(k, x, wt, bias, y)
		return
	}
	plane := dw3x3s1
	if s == 2 {
		plane = dw3x3s2
	}
	ph := max((k.oh-1)*s+3, k.h+k.pt)
	ldp := max((k.ow-1)*s+3, k.w+k.pl)
	if need := ph*ldp + 64; len(k.dwPad) != need {
		k.dwPad = make([]float32, need) // a chunk reads at most 7s+3 floats past a row
	}
	pad := k.dwPad
	outPlane, inPlane := k.oh*k.ow, k.h*k.w
	for ch := 0; ch < k.c; ch++ {
		xc := x[ch*inPlane : (ch+1)*inPlane]
		for r := 0; r < k.h; r++ {
			copy(pad[(r+k.pt)*ldp+k.pl:(r+k.pt)*ldp+k.pl+k.w], xc[r*k.w:(r+1)*k.w])
		}
		w := wt[ch*9 : ch*9+9]
		var bv float32
		if bias != nil {
			bv = bias[ch]
		}
		yc := y[ch*outPlane : (ch+1)*outPlane]
		plane(&pad[0], ldp, &w[0], bv, k.lo, k.hi, &yc[0], k.ow, k.oh)
	}
}
