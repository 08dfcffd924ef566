package nn

import (
	"fmt"

	"github.com/wasmwhisk/wasmwhisk/nn/onnx"
)

// gemmOpKernel is ONNX Gemm: Y = alpha·A'·B' + beta·C.
type gemmOpKernel struct {
	m, n, k        int
	transA, transB bool
	alpha, beta    float32
	cIdx           []int32 // broadcast index of C per output element; nil without C
}

func buildGemm(n *onnx.Node, in []*info) (kernel, []info, error) {
	if err := floatOp(n, in, 2, 3, "alpha", "beta", "transA", "transB"); err != nil {
		return nil, nil, err
	}
	alpha, err := attrFloat(n, "alpha", 1)
	if err != nil {
		return nil, nil, err
	}
	beta, err := attrFloat(n, "beta", 1)
	if err != nil {
		return nil, nil, err
	}
	ta, err := attrInt(n, "transA", 0)
	if err != nil {
		return nil, nil, err
	}
	tb, err := attrInt(n, "transB", 0)
	if err != nil {
		return nil, nil, err
	}
	a, b := in[0].shape, in[1].shape
	if len(a) != 2 || len(b) != 2 {
		return nil, nil, fmt.Errorf("inputs A %v and B %v must be matrices", a, b)
	}
	k := &gemmOpKernel{transA: ta != 0, transB: tb != 0, alpha: alpha, beta: beta}
	k.m, k.k = a[0], a[1]
	if k.transA {
		k.m, k.k = a[1], a[0]
	}
	kb, nb := b[0], b[1]
	if k.transB {
		kb, nb = b[1], b[0]
	}
	if kb != k.k {
		return nil, nil, fmt.Errorf("inner dimensions differ: A %v, B %v", a, b)
	}
	k.n = nb
	out := []int{k.m, k.n}
	if !fitsValue(out) {
		return nil, nil, fmt.Errorf("output shape %v is too large", out)
	}
	if len(in) > 2 && in[2] != nil {
		bs, err := broadcastShape(in[2].shape, out)
		if err != nil || !sameShape(bs, out) {
			return nil, nil, fmt.Errorf("input C %v does not broadcast to %v", in[2].shape, out)
		}
		k.cIdx = broadcastIndex(in[2].shape, out)
	}
	return k, []info{{shape: out}}, nil
}

func (k *gemmOpKernel) run(in, out []*value) error {
	a, b, y := in[0].floats, in[1].floats, out[0].floats
	var c []float32
	if k.cIdx != nil {
		c = in[2].floats
	}
	for i := 0; i < k.m; i++ {
		for j := 0; j < k.n; j++ {
			var sum float32
			for p := 0; p < k.k; p++ {
				var av, bv float32
				if k.transA {
					av = a[p*k.m+i]
				} else {
					av = a[i*k.k+p]
				}
				if k.transB {
					bv = b[j*k.k+p]
				} else {
					bv = b[p*k.n+j]
				}
				sum += float32(av * bv)
			}
			v := float32(k.alpha * sum)
			if c != nil {
				v += float32(k.beta * c[k.cIdx[i*k.n+j]])
			}
			y[i*k.n+j] = v
		}
	}
	return nil
}

// matMulKernel is numpy-style MatMul: batched, broadcasting over leading axes.
type matMulKernel struct {
	m, n, k        int
	batchA, batchB []int32 // per output batch: matrix index into A and B
}

func buildMatMul(n *onnx.Node, in []*info) (kernel, []info, error) {
	if err := floatOp(n, in, 2, 2); err != nil {
		return nil, nil, err
	}
	a, b := append([]int(nil), in[0].shape...), append([]int(nil), in[1].shape...)
	if len(a) == 0 || len(b) == 0 {
		return nil, nil, fmt.Errorf("MatMul of a scalar")
	}
	dropM, dropN := false, false
	if len(a) == 1 {
		a, dropM = []int{1, a[0]}, true
	}
	if len(b) == 1 {
		b, dropN = []int{b[0], 1}, true
	}
	k := &matMulKernel{m: a[len(a)-2], k: a[len(a)-1], n: b[len(b)-1]}
	if b[len(b)-2] != k.k {
		return nil, nil, fmt.Errorf("inner dimensions differ: %v and %v", in[0].shape, in[1].shape)
	}
	batch, err := broadcastShape(a[:len(a)-2], b[:len(b)-2])
	if err != nil {
		return nil, nil, err
	}
	if !fitsValue(append(append([]int(nil), batch...), k.m, k.n)) {
		return nil, nil, fmt.Errorf("output of %v by %v is too large", in[0].shape, in[1].shape)
	}
	k.batchA = broadcastIndex(a[:len(a)-2], batch)
	k.batchB = broadcastIndex(b[:len(b)-2], batch)
	out := append([]int(nil), batch...)
	if !dropM {
		out = append(out, k.m)
	}
	if !dropN {
		out = append(out, k.n)
	}
	return k, []info{{shape: out}}, nil
}

func (k *matMulKernel) run(in, out []*value) error {
	a, b, y := in[0].floats, in[1].floats, out[0].floats
	sa, sb, sy := k.m*k.k, k.k*k.n, k.m*k.n
	for i := range y {
		y[i] = 0
	}
	for bi := range k.batchA {
		ia, ib := int(k.batchA[bi]), int(k.batchB[bi])
		gemm(k.m, k.n, k.k, a[ia*sa:(ia+1)*sa], k.k, b[ib*sb:(ib+1)*sb], k.n, y[bi*sy:(bi+1)*sy], k.n)
	}
	return nil
}
