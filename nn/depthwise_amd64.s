//go:build amd64 && !purego

#include "textflag.h"

// Depthwise 3×3 row kernels for AVX2 + FMA over a zero-padded input plane p (row stride ldp
// floats): n8 chunks of 8 outputs of one output row, out[t] = clamp(bias + Σ w[3i+j]·p[i][t·s+j])
// with the taps added in row-major order by fused multiply-adds. Weights live in Y7..Y15, lo and
// hi in Y5 and Y6, the accumulator in Y0. n8 must be at least 1.

// func dw3x3s1(n8 int, p *float32, ldp int, w *float32, bias, lo, hi float32, out *float32)
TEXT ·dw3x3s1(SB), NOSPLIT, $0-56
	MOVQ n8+0(FP), CX
	MOVQ p+8(FP), SI
	MOVQ ldp+16(FP), R8
	SHLQ $2, R8
	MOVQ w+24(FP), R9
	MOVQ out+48(FP), DI
	LEAQ (SI)(R8*1), R10
	LEAQ (R10)(R8*1), R11
	VBROADCASTSS 0(R9), Y7
	VBROADCASTSS 4(R9), Y8
	VBROADCASTSS 8(R9), Y9
	VBROADCASTSS 12(R9), Y10
	VBROADCASTSS 16(R9), Y11
	VBROADCASTSS 20(R9), Y12
	VBROADCASTSS 24(R9), Y13
	VBROADCASTSS 28(R9), Y14
	VBROADCASTSS 32(R9), Y15
	VBROADCASTSS lo+36(FP), Y5
	VBROADCASTSS hi+40(FP), Y6
s1loop:
	VBROADCASTSS bias+32(FP), Y0
	VFMADD231PS 0(SI), Y7, Y0
	VFMADD231PS 4(SI), Y8, Y0
	VFMADD231PS 8(SI), Y9, Y0
	VFMADD231PS 0(R10), Y10, Y0
	VFMADD231PS 4(R10), Y11, Y0
	VFMADD231PS 8(R10), Y12, Y0
	VFMADD231PS 0(R11), Y13, Y0
	VFMADD231PS 4(R11), Y14, Y0
	VFMADD231PS 8(R11), Y15, Y0
	VMAXPS Y0, Y5, Y0
	VMINPS Y0, Y6, Y0
	VMOVUPS Y0, (DI)
	ADDQ $32, SI
	ADDQ $32, R10
	ADDQ $32, R11
	ADDQ $32, DI
	DECQ CX
	JNZ s1loop
	VZEROUPPER
	RET

// func dw3x3s2(n8 int, p *float32, ldp int, w *float32, bias, lo, hi float32, out *float32)
// Stride 2: two loads of 8 deinterleaved (VSHUFPS + VPERMPD) into the even and odd columns give
// taps 0 and 1; the even columns of the pair loaded two floats further give tap 2. Each chunk
// reads 18 floats of a row, one past its last tap.
TEXT ·dw3x3s2(SB), NOSPLIT, $0-56
	MOVQ n8+0(FP), CX
	MOVQ p+8(FP), SI
	MOVQ ldp+16(FP), R8
	SHLQ $2, R8
	MOVQ w+24(FP), R9
	MOVQ out+48(FP), DI
	LEAQ (SI)(R8*1), R10
	LEAQ (R10)(R8*1), R11
	VBROADCASTSS 0(R9), Y7
	VBROADCASTSS 4(R9), Y8
	VBROADCASTSS 8(R9), Y9
	VBROADCASTSS 12(R9), Y10
	VBROADCASTSS 16(R9), Y11
	VBROADCASTSS 20(R9), Y12
	VBROADCASTSS 24(R9), Y13
	VBROADCASTSS 28(R9), Y14
	VBROADCASTSS 32(R9), Y15
	VBROADCASTSS lo+36(FP), Y5
	VBROADCASTSS hi+40(FP), Y6
s2loop:
	VBROADCASTSS bias+32(FP), Y0
	VMOVUPS 0(SI), Y1
	VMOVUPS 32(SI), Y2
	VSHUFPS $0x88, Y2, Y1, Y3
	VPERMPD $0xD8, Y3, Y3
	VSHUFPS $0xDD, Y2, Y1, Y4
	VPERMPD $0xD8, Y4, Y4
	VFMADD231PS Y3, Y7, Y0
	VFMADD231PS Y4, Y8, Y0
	VMOVUPS 8(SI), Y1
	VMOVUPS 40(SI), Y2
	VSHUFPS $0x88, Y2, Y1, Y3
	VPERMPD $0xD8, Y3, Y3
	VFMADD231PS Y3, Y9, Y0
	VMOVUPS 0(R10), Y1
	VMOVUPS 32(R10), Y2
	VSHUFPS $0x88, Y2, Y1, Y3
	VPERMPD $0xD8, Y3, Y3
	VSHUFPS $0xDD, Y2, Y1, Y4
	VPERMPD $0xD8, Y4, Y4
	VFMADD231PS Y3, Y10, Y0
	VFMADD231PS Y4, Y11, Y0
	VMOVUPS 8(R10), Y1
	VMOVUPS 40(R10), Y2
	VSHUFPS $0x88, Y2, Y1, Y3
	VPERMPD $0xD8, Y3, Y3
	VFMADD231PS Y3, Y12, Y0
	VMOVUPS 0(R11), Y1
	VMOVUPS 32(R11), Y2
	VSHUFPS $0x88, Y2, Y1, Y3
	VPERMPD $0xD8, Y3, Y3
	VSHUFPS $0xDD, Y2, Y1, Y4
	VPERMPD $0xD8, Y4, Y4
	VFMADD231PS Y3, Y13, Y0
	VFMADD231PS Y4, Y14, Y0
	VMOVUPS 8(R11), Y1
	VMOVUPS 40(R11), Y2
	VSHUFPS $0x88, Y2, Y1, Y3
	VPERMPD $0xD8, Y3, Y3
	VFMADD231PS Y3, Y15, Y0
	VMAXPS Y0, Y5, Y0
	VMINPS Y0, Y6, Y0
	VMOVUPS Y0, (DI)
	ADDQ $64, SI
	ADDQ $64, R10
	ADDQ $64, R11
	ADDQ $32, DI
	DECQ CX
	JNZ s2loop
	VZEROUPPER
	RET
