package nn

import (
	"fmt"
	"math"

	"github.com/wasmwhisk/wasmwhisk/nn/onnx"
)

const (
	convDepthwise = iota // one input channel per output channel
	convPointwise        // 1x1, stride 1, no padding, one group: a plain GEMM
	convIm2col           // everything else: im2col per group, then GEMM
)

// convKernel is a 1-D or 2-D Conv with optional bias and fused Clip/Relu.
type convKernel struct {
	batch, c, m, group     int
	h, w, oh, ow, kh, kw   int
	sh, sw, dh, dw, pt, pl int
	act                    bool
	lo, hi                 float32
	mode                   int
	colLen                 int       // im2col buffer length (convIm2col)
	col                    []float32 // made at the first run: a session's, or constant folding's
	// packed holds the weights of each group packed for gemmAsm, made at load when the weights
	// are constants (else at each run); nil when gemmAsm is nil.
	packed  []*packedA
	scratch gemmScratch
	dwPad   []float32 // zero-padded input plane of the assembly depthwise kernel
}

func buildConv(n *onnx.Node, in []*info) (kernel, []info, error) {
	if err := floatOp(n, in, 2, 3, "auto_pad", "dilations", "group", "kernel_shape", "pads", "strides"); err != nil {
		return nil, nil, err
	}
	xs, ws := in[0].shape, in[1].shape
	if len(xs) != 3 && len(xs) != 4 {
		return nil, nil, fmt.Errorf("input shape %v: only 1-D and 2-D convolutions are supported", xs)
	}
	if len(ws) != len(xs) {
		return nil, nil, fmt.Errorf("weight shape %v does not match input %v", ws, xs)
	}
	group, err := attrInt(n, "group", 1)
	if err != nil {
		return nil, nil, err
	}
	k := &convKernel{batch: xs[0], c: xs[1], m: ws[0], group: int(group)}
	if k.group < 1 || k.c%k.group != 0 || k.m%k.group != 0 || ws[1] != k.c/k.group {
		return nil, nil, fmt.Errorf("group %d does not fit input %v and weights %v", group, xs, ws)
	}
	if len(in) > 2 && in[2] != nil && shapeLen(in[2].shape) != k.m {
		return nil, nil, fmt.Errorf("bias shape %v, want [%d]", in[2].shape, k.m)
	}
	kernelShape, err := attrInts(n, "kernel_shape", ws[2:])
	if err != nil {
		return nil, nil, err
	}
	if !sameShape(kernelShape, ws[2:]) {
		return nil, nil, fmt.Errorf("kernel_shape %v does not match weights %v", kernelShape, ws)
	}
	g, err := resolveGeometry(n, xs[2:], kernelShape, false)
	if err != nil {
		return nil, nil, err
	}
	if len(xs) == 4 {
		k.h, k.w, k.oh, k.ow = xs[2], xs[3], g.out[0], g.out[1]
		k.kh, k.kw, k.sh, k.sw = ws[2], ws[3], g.strides[0], g.strides[1]
		k.dh, k.dw, k.pt, k.pl = g.dilations[0], g.dilations[1], g.padBegin[0], g.padBegin[1]
	} else {
		k.h, k.w, k.oh, k.ow = 1, xs[2], 1, g.out[0]
		k.kh, k.kw, k.sh, k.sw = 1, ws[2], 1, g.strides[0]
		k.dh, k.dw, k.pt, k.pl = 1, g.dilations[0], 0, g.padBegin[0]
	}
	if lo, ok := n.Attrs[attrActMin].(float32); ok {
		k.act, k.lo, k.hi = true, lo, n.Attrs[attrActMax].(float32)
	}
	switch {
	case k.group == k.c && k.m == k.c:
		k.mode = convDepthwise
	case k.group == 1 && k.kh == 1 && k.kw == 1 && k.sh == 1 && k.sw == 1 && k.pt == 0 && k.pl == 0 &&
		k.oh == k.h && k.ow == k.w:
		k.mode = convPointwise
	default:
		k.mode = convIm2col
		cg := k.c / k.group
		size := cg * k.kh * k.kw * k.oh * k.ow
		if size > 1<<28 {
			return nil, nil, fmt.Errorf("im2col buffer of %d floats is too large", size)
		}
		k.colLen = size
	}
	if k.mode != convDepthwise && gemmAsm != nil && in[1].constant != nil {
		k.packed = k.packWeights(in[1].constant.floats)
	}
	if !k.act {
		k.lo, k.hi = float32(math.Inf(-1)), float32(math.Inf(1))
	}
	out := []int{k.batch, k.m}
	out = append(out, g.out...)
	return k, []info{{shape: out}}, nil
}

// withScratch gives a session its own im2col, GEMM and padding buffers; the packed weights are
// shared.
func (k *convKernel) withScratch() (kernel, int64) {
	c := *k
	c.col = nil
	if k.colLen > 0 {
		c.col = make([]float32, k.colLen)
	}
	c.scratch = gemmScratch{}
	c.dwPad = nil
	return &c, k.scratchBytes()
}

// scratchBytes estimates the scratch a run of the kernel allocates: im2col, the GEMM strip and
// bias panels, the depthwise padding plane.
func (k *convKernel) scratchBytes() int64 {
	n := int64(k.colLen)
	if k.mode == convDepthwise {
		s := max(k.sh, 1)
		n += int64(max((k.oh-1)*s+3, k.h+k.pt)*max((k.ow-1)*s+3, k.w+k.pl) + 64)
	} else if gemmAsm != nil {
		kk := (k.c / k.group) * k.kh * k.kw
		n += int64(kk*gemmAsm.nr + k.m + gemmAsm.mr + gemmAsm.mr*gemmAsm.nr)
	}
	return 4 * n
}

// constBytes is the size of the packed weights.
func (k *convKernel) constBytes() int64 {
	var n int64
	for _, p := range k.packed {
		n += 4 * int64(len(p.data))
	}
	return n
}

// packWeights packs each group's weights (mg rows of cg·kh·kw) for gemmAsm.
func (k *convKernel) packWeights(wt []float32) []*packedA {
	mg, kk := k.m/k.group, (k.c/k.group)*k.kh*k.kw
	p := make([]*packedA, k.group)
	for grp := range p {
		p[grp] = packA(mg, kk, gemmAsm.mr, wt[grp*mg*kk:(grp+1)*mg*kk], kk)
	}
	return p
}

func (k *convKernel) run(in, out []*value) error {
	x, wt, y := in[0].floats, in[1].floats, out[0].floats
	var bias []float32
	if len(in) > 2 && in[2] != nil {
		bias = in[2].floats
	}
	packed := k.packed
	if packed == nil && gemmAsm != nil && k.mode != convDepthwise {
		packed = k.packWeights(wt) // weights that are graph inputs
	}
	inSz, outSz := k.c*k.h*k.w, k.m*k.oh*k.ow
	plane := k.oh * k.ow
	cg, mg := k.c/k.group, k.m/k.group
	kk := cg * k.kh * k.kw
	for b := 0; b < k.batch; b++ {
		xb, yb := x[b*inSz:(b+1)*inSz], y[b*outSz:(b+1)*outSz]
		if k.mode == convDepthwise {
			k.depthwise(xb, wt, bias, yb)
			continue
		}
		for grp := 0; grp < k.group; grp++ {
			src, ld := xb[grp*cg*k.h*k.w:], plane
			if k.mode == convIm2col {
				if len(k.col) != k.colLen {
					k.col = make([]float32, k.colLen) // constant folding at compile
				}
				k.im2col(src, cg)
				src = k.col
			}
			var gb []float32
			if bias != nil {
				gb = bias[grp*mg : (grp+1)*mg]
			}
			dst := yb[grp*mg*plane : (grp+1)*mg*plane]
			if packed != nil {
				gemmPacked(gemmAsm, packed[grp], plane, src, ld, dst, plane, gb, k.lo, k.hi, &k.scratch)
			} else {
				gemmBiasActGo(mg, plane, kk, wt[grp*mg*kk:(grp+1)*mg*kk], kk, src, ld, dst, plane, gb, k.lo, k.hi)
			}
		}
	}
	return nil
}

// depthwise runs one image of a depthwise convolution: the direct 3×3 kernels when they apply,
// else bias fill, depthwiseGo and a clamp pass.
func (k *convKernel) depthwise(x, wt, bias, y []float32) {
	if k.kh == 3 && k.kw == 3 && k.dh == 1 && k.dw == 1 && k.sh <= 2 && k.sw <= 2 {
		depthwise3x3Impl(k, x, wt, bias, y)
		return
	}
	plane := k.oh * k.ow
	for oc := 0; oc < k.m; oc++ {
		v := float32(0)
		if bias != nil {
			v = bias[oc]
		}
		row := y[oc*plane : (oc+1)*plane]
		for i := range row {
			row[i] = v
		}
	}
	depthwiseGo(k, x, wt, y)
	if k.act {
		clamp(y, y, k.lo, k.hi)
	}
}

// im2col lays the receptive fields of cg input channels out as rows of k.col.
func (k *convKernel) im2col(x []float32, cg int) {
	plane := k.oh * k.ow
	r := 0
	for ci := 0; ci < cg; ci++ {
		xc := x[ci*k.h*k.w : (ci+1)*k.h*k.w]
		for i := 0; i < k.kh; i++ {
			for j := 0; j < k.kw; j++ {
				dst := k.col[r*plane : (r+1)*plane]
				r++
				// Output columns [ox0, ox1) read inside the row; the rest are padding.
				ox0, ox1 := validRange(k.w, k.ow, k.sw, k.pl, j*k.dw)
				for oy := 0; oy < k.oh; oy++ {
					iy := oy*k.sh - k.pt + i*k.dh
					drow := dst[oy*k.ow : (oy+1)*k.ow]
					if iy < 0 || iy >= k.h || ox0 >= ox1 {
						clear(drow)
						continue
					}
					clear(drow[:ox0])
					clear(drow[ox1:])
					srow := xc[iy*k.w : (iy+1)*k.w]
					ix := ox0*k.sw - k.pl + j*k.dw
					mid := drow[ox0:ox1]
					if k.sw == 1 {
						copy(mid, srow[ix:ix+len(mid)])
						continue
					}
					src := srow[ix : ix+(len(mid)-1)*k.sw+1]
					for o := range mid {
						mid[o] = src[o*k.sw]
					}
				}
			}
		}
	}
}

// validRange returns the output positions [o0, o1) whose input coordinate o*s - p + t lies in
// [0, n).
func validRange(n, outN, s, p, t int) (int, int) {
	// o*s >= p - t  and  o*s <= n - 1 + p - t
	lo := p - t
	o0 := 0
	if lo > 0 {
		o0 = (lo + s - 1) / s
	}
	hi := n - 1 + p - t
	if hi < 0 {
		return 0, 0
	}
	o1 := hi/s + 1
	if o1 > outN {
		o1 = outN
	}
	if o0 > o1 {
		o0 = o1
	}
	return o0, o1
}

// depthwiseGo convolves each channel with its own kernel, one kernel tap at a time over the
// whole output plane; each output accumulates its taps in row-major tap order.
func depthwiseGo(k *convKernel, x, wt, y []float32) {
	plane, inPlane, taps := k.oh*k.ow, k.h*k.w, k.kh*k.kw
	for ch := 0; ch < k.c; ch++ {
		xc := x[ch*inPlane : (ch+1)*inPlane]
		yc := y[ch*plane : (ch+1)*plane]
		w := wt[ch*taps : (ch+1)*taps]
		for i := 0; i < k.kh; i++ {
			oy0, oy1 := validRange(k.h, k.oh, k.sh, k.pt, i*k.dh)
			for j := 0; j < k.kw; j++ {
				wv := w[i*k.kw+j]
				ox0, ox1 := validRange(k.w, k.ow, k.sw, k.pl, j*k.dw)
				if ox0 >= ox1 {
					continue
				}
				for oy := oy0; oy < oy1; oy++ {
					iy := oy*k.sh - k.pt + i*k.dh
					ix0 := ox0*k.sw - k.pl + j*k.dw
					out := yc[oy*k.ow+ox0 : oy*k.ow+ox1]
					if k.sw == 1 {
						src := xc[iy*k.w+ix0 : iy*k.w+ix0+len(out)]
						for o := range out {
							out[o] += float32(wv * src[o])
						}
					} else {
						src := xc[iy*k.w:]
						for o := range out {
							out[o] += float32(wv * src[ix0+o*k.sw])
						}
					}
				}
			}
		}
	}
}

// depthwise3x3Go is the direct 3×3 depthwise convolution (dilation 1, any stride and padding),
// with bias and activation fused: each output is its bias plus the in-range taps in row-major
// order, products rounded before each addition, so it gives exactly depthwiseGo's bits. Rows
// and columns whose taps are all in range take the unrolled interior path.
func depthwise3x3Go(k *convKernel, x, wt, bias, y []float32) {
	plane, inPlane := k.oh*k.ow, k.h*k.w
	W, sw, pl, lo, hi := k.w, k.sw, k.pl, k.lo, k.hi
	// Output columns whose three input columns ox*sw-pl+{0,1,2} are all in [0, W).
	ox0, _ := validRange(W, k.ow, sw, k.pl, 0)
	_, ox1 := validRange(W, k.ow, sw, k.pl, 2)
	if ox1 < ox0 {
		ox1 = ox0
	}
	for ch := 0; ch < k.c; ch++ {
		xc := x[ch*inPlane : (ch+1)*inPlane]
		yc := y[ch*plane : (ch+1)*plane]
		w := wt[ch*9 : ch*9+9]
		var bv float32
		if bias != nil {
			bv = bias[ch]
		}
		w0, w1, w2, w3, w4, w5, w6, w7, w8 := w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7], w[8]
		for oy := 0; oy < k.oh; oy++ {
			iy := oy*k.sh - k.pt
			out := yc[oy*k.ow : (oy+1)*k.ow]
			if iy < 0 || iy+2 >= k.h {
				depthwise3x3Edge(k, xc, w, bv, iy, 0, k.ow, out)
				continue
			}
			r0 := xc[iy*W : (iy+1)*W]
			r1 := xc[(iy+1)*W : (iy+2)*W]
			r2 := xc[(iy+2)*W : (iy+3)*W]
			depthwise3x3Edge(k, xc, w, bv, iy, 0, ox0, out)
			if mid := out[ox0:ox1]; len(mid) > 0 {
				ix := ox0*sw - pl
				span := (len(mid)-1)*sw + 3
				dw3x3Row(mid, r0[ix:ix+span], r1[ix:ix+span], r2[ix:ix+span], sw, bv, w0, w1, w2, w3, w4, w5, w6, w7, w8)
				clamp(mid, mid, lo, hi)
			}
			depthwise3x3Edge(k, xc, w, bv, iy, ox1, k.ow, out)
		}
	}
}

// dw3x3Row computes the interior outputs of one row, out[o] = bias + the nine taps on
// a/b/c[o*sw + {0,1,2}] in row-major order, before the clamp. Stride 1 keeps a sliding window of
// two columns per row in locals, so each output loads three floats instead of nine; the loops
// are written so that Go proves every index in range (no bounds checks, which matters in wasm).
func dw3x3Row(out, a, b, c []float32, sw int, bv, w0, w1, w2, w3, w4, w5, w6, w7, w8 float32) {
	if sw == 1 {
		n := len(out)
		a, b, c = a[:n+2], b[:n+2], c[:n+2]
		a0, a1, b0, b1, c0, c1 := a[0], a[1], b[0], b[1], c[0], c[1]
		a, b, c = a[2:], b[2:], c[2:]
		a, b, c = a[:n], b[:n], c[:n]
		for o := range out {
			a2, b2, c2 := a[o], b[o], c[o]
			v := bv + float32(w0*a0)
			v += float32(w1 * a1)
			v += float32(w2 * a2)
			v += float32(w3 * b0)
			v += float32(w4 * b1)
			v += float32(w5 * b2)
			v += float32(w6 * c0)
			v += float32(w7 * c1)
			v += float32(w8 * c2)
			out[o] = v
			a0, a1, b0, b1, c0, c1 = a1, a2, b1, b2, c1, c2
		}
		return
	}
	for o := range out {
		i := o * sw
		ra, rb, rc := a[i:i+3:i+3], b[i:i+3:i+3], c[i:i+3:i+3]
		v := bv + float32(w0*ra[0])
		v += float32(w1 * ra[1])
		v += float32(w2 * ra[2])
		v += float32(w3 * rb[0])
		v += float32(w4 * rb[1])
		v += float32(w5 * rb[2])
		v += float32(w6 * rc[0])
		v += float32(w7 * rc[1])
		v += float32(w8 * rc[2])
		out[o] = v
	}
}

// depthwise3x3Edge computes outputs [o0, o1) of one output row whose first input row is iy,
// adding only the taps inside the input (row-major order), then clamps them.
func depthwise3x3Edge(k *convKernel, xc, w []float32, bv float32, iy, o0, o1 int, out []float32) {
	if o0 >= o1 {
		return
	}
	W, sw, pl := k.w, k.sw, k.pl
	i0, i1 := max(0, -iy), min(3, k.h-iy) // tap rows inside the input
	w = w[:9]
	for ox := o0; ox < o1; ox++ {
		ix := ox*sw - pl
		j0, j1 := max(0, -ix), min(3, W-ix)
		v := bv
		for i := i0; i < i1; i++ {
			base := (iy+i)*W + ix // + j >= 0 for j >= j0
			for j := j0; j < j1; j++ {
				v += float32(w[i*3+j] * xc[base+j])
			}
		}
		out[ox] = v
	}
	clamp(out[o0:o1], out[o0:o1], k.lo, k.hi)
}
