package nn

import (
	"fmt"
	"math"
	"runtime"
	"unsafe"

	"github.com/wasmwhisk/wasmwhisk/nn/internal/detmath"
	"github.com/wasmwhisk/wasmwhisk/nn/onnx"
)

var builders map[string]builder

func init() {
	builders = map[string]builder{
		"Relu":               buildRelu,
		"Clip":               buildClip,
		"Add":                buildBinary,
		"Mul":                buildBinary,
		"Softmax":            buildSoftmax,
		"Identity":           buildIdentity,
		"Constant":           buildConstant,
		"Flatten":            buildFlatten,
		"Reshape":            buildReshape,
		"Shape":              buildShape,
		"Gather":             buildGather,
		"Unsqueeze":          buildUnsqueeze,
		"Concat":             buildConcat,
		"Transpose":          buildTranspose,
		"Gemm":               buildGemm,
		"MatMul":             buildMatMul,
		"GlobalAveragePool":  buildGlobalAveragePool,
		"AveragePool":        buildPool,
		"MaxPool":            buildPool,
		"BatchNormalization": buildBatchNorm,
		"Conv":               buildConv,
	}
}

// clampKernel is Relu and Clip.
type clampKernel struct{ lo, hi float32 }

func (k clampKernel) inPlace() bool { return true }

func (k clampKernel) run(in, out []*value) error {
	clamp(out[0].floats, in[0].floats, k.lo, k.hi)
	return nil
}

// clamp writes min(max(x, lo), hi); NaN stays NaN as in ONNX. With numeric bounds the result
// is normalised by adding +0 (turning -0 into +0), so that the two ways of computing it give the
// same bits everywhere: on amd64 and arm64 Go's min and max builtins, which compile to
// branch-free instructions (a ReLU's sign is a coin toss for the branch predictor); elsewhere
// (wasm, where the builtins are runtime calls) two comparisons selecting the bits of the
// result, which compile to wasm's select rather than to branches.
func clamp(dst, src []float32, lo, hi float32) {
	dst = dst[:len(src)]
	if lo != lo || hi != hi {
		for i, x := range src {
			if x < lo {
				x = lo
			}
			if x > hi {
				x = hi
			}
			dst[i] = x
		}
		return
	}
	if fastMinMax {
		for i, x := range src {
			dst[i] = min(max(x, lo), hi) + 0
		}
		return
	}
	clampSelect(dst, src, lo, hi)
}

// clampSelect is clamp's portable path for numeric bounds (see clamp).
func clampSelect(dst, src []float32, lo, hi float32) {
	dst = dst[:len(src)]
	if len(src) == 0 {
		return
	}
	if lo > hi {
		for i, x := range src {
			if x < lo {
				x = lo
			}
			if x > hi {
				x = hi
			}
			dst[i] = x + 0
		}
		return
	}
	// Select the result's bits (integers), which compiles to wasm's select instead of branches;
	// the bits are read through a second view of the same memory rather than converted through
	// the stack as math.Float32bits does in wasm. With lo <= hi, x < lo and x > hi exclude each
	// other, so both tests may look at x. -0 becomes +0 as in the other paths.
	lob, hib := math.Float32bits(lo), math.Float32bits(hi)
	sb := unsafe.Slice((*uint32)(unsafe.Pointer(&src[0])), len(src))
	db := unsafe.Slice((*uint32)(unsafe.Pointer(&dst[0])), len(src))
	for i, x := range src {
		b := sb[i]
		if x < lo {
			b = lob
		}
		if x > hi {
			b = hib
		}
		if b == 1<<31 {
			b = 0
		}
		db[i] = b
	}
}

// fastMinMax tells whether Go's float min and max builtins are single instructions here.
const fastMinMax = runtime.GOARCH == "amd64" || runtime.GOARCH == "arm64"

func buildRelu(n *onnx.Node, in []*info) (kernel, []info, error) {
	if err := floatOp(n, in, 1, 1); err != nil {
		return nil, nil, err
	}
	return clampKernel{0, float32(math.Inf(1))}, []info{{shape: in[0].shape}}, nil
}

func buildClip(n *onnx.Node, in []*info) (kernel, []info, error) {
	if err := floatOp(n, in, 1, 3, "min", "max"); err != nil {
		return nil, nil, err
	}
	lo, err := attrFloat(n, "min", float32(math.Inf(-1)))
	if err != nil {
		return nil, nil, err
	}
	hi, err := attrFloat(n, "max", float32(math.Inf(1)))
	if err != nil {
		return nil, nil, err
	}
	runtimeBounds := false
	for i, dst := range []*float32{&lo, &hi} {
		if len(in) <= i+1 || in[i+1] == nil {
			continue
		}
		b := in[i+1]
		if shapeLen(b.shape) != 1 || len(b.shape) > 1 {
			return nil, nil, fmt.Errorf("bound %d of Clip must be a scalar, has shape %v", i+1, b.shape)
		}
		if b.constant == nil {
			runtimeBounds = true
			continue
		}
		*dst = b.constant.floats[0]
	}
	if runtimeBounds {
		return clipRuntimeKernel{lo, hi}, []info{{shape: in[0].shape}}, nil
	}
	return clampKernel{lo, hi}, []info{{shape: in[0].shape}}, nil
}

// clipRuntimeKernel is a Clip whose bounds are graph inputs, read at each run.
type clipRuntimeKernel struct{ lo, hi float32 }

func (k clipRuntimeKernel) run(in, out []*value) error {
	lo, hi := k.lo, k.hi
	if len(in) > 1 && in[1] != nil {
		lo = in[1].floats[0]
	}
	if len(in) > 2 && in[2] != nil {
		hi = in[2].floats[0]
	}
	clamp(out[0].floats, in[0].floats, lo, hi)
	return nil
}

func buildIdentity(n *onnx.Node, in []*info) (kernel, []info, error) {
	if err := needInputs(in, 1, 1); err != nil {
		return nil, nil, err
	}
	return copyKernel{}, []info{{shape: in[0].shape, isInt: in[0].isInt}}, nil
}

// copyKernel copies its input unchanged (Identity, Reshape, Flatten, Unsqueeze).
type copyKernel struct{}

func (copyKernel) run(in, out []*value) error {
	copy(out[0].floats, in[0].floats)
	copy(out[0].ints, in[0].ints)
	return nil
}

func buildConstant(n *onnx.Node, in []*info) (kernel, []info, error) {
	if err := checkAttrs(n, "value"); err != nil {
		return nil, nil, err
	}
	// onnx-go gives an input-less node a placeholder input; ignore it.
	t, ok := n.Attrs["value"].(*onnx.Tensor)
	if !ok {
		return nil, nil, fmt.Errorf("a Constant needs a tensor value attribute")
	}
	v := &value{shape: t.Shape, floats: t.Float, ints: t.Int, isInt: t.Float == nil}
	return nil, []info{{shape: t.Shape, isInt: v.isInt, constant: v}}, nil
}

// binaryKernel is Add and Mul with numpy broadcasting.
type binaryKernel struct {
	mul   bool
	shape []int
	// idxA and idxB map each output element to its input elements when broadcasting.
	idxA, idxB []int32
	same       bool
}

func broadcastShape(a, b []int) ([]int, error) {
	r := len(a)
	if len(b) > r {
		r = len(b)
	}
	out := make([]int, r)
	for i := 0; i < r; i++ {
		da, db := 1, 1
		if j := len(a) - r + i; j >= 0 {
			da = a[j]
		}
		if j := len(b) - r + i; j >= 0 {
			db = b[j]
		}
		switch {
		case da == db || db == 1:
			out[i] = da
		case da == 1:
			out[i] = db
		default:
			return nil, fmt.Errorf("shapes %v and %v do not broadcast", a, b)
		}
	}
	return out, nil
}

// broadcastIndex returns, for every element of out, the index of the element of in feeding it.
func broadcastIndex(in, out []int) []int32 {
	st := strides(in)
	// Stride of each output axis in the input (0 where broadcast).
	ost := make([]int, len(out))
	for i := range out {
		j := len(in) - len(out) + i
		if j >= 0 && in[j] != 1 {
			ost[i] = st[j]
		}
	}
	n := shapeLen(out)
	idx := make([]int32, n)
	ctr := make([]int, len(out))
	pos := 0
	for e := 0; e < n; e++ {
		idx[e] = int32(pos)
		for ax := len(out) - 1; ax >= 0; ax-- {
			ctr[ax]++
			pos += ost[ax]
			if ctr[ax] < out[ax] {
				break
			}
			pos -= ost[ax] * ctr[ax]
			ctr[ax] = 0
		}
	}
	return idx
}

func buildBinary(n *onnx.Node, in []*info) (kernel, []info, error) {
	if err := floatOp(n, in, 2, 2); err != nil {
		return nil, nil, err
	}
	shape, err := broadcastShape(in[0].shape, in[1].shape)
	if err != nil {
		return nil, nil, err
	}
	if !fitsValue(shape) {
		return nil, nil, fmt.Errorf("output shape %v is too large", shape)
	}
	k := &binaryKernel{mul: n.OpType == "Mul", shape: shape}
	if sameShape(in[0].shape, shape) && sameShape(in[1].shape, shape) {
		k.same = true
	} else {
		k.idxA = broadcastIndex(in[0].shape, shape)
		k.idxB = broadcastIndex(in[1].shape, shape)
	}
	return k, []info{{shape: shape}}, nil
}

// constBytes is the size of the broadcast indexes.
func (k *binaryKernel) constBytes() int64 { return 4 * int64(len(k.idxA)+len(k.idxB)) }

func (k *binaryKernel) run(in, out []*value) error {
	a, b, o := in[0].floats, in[1].floats, out[0].floats
	if k.same {
		b = b[:len(a)]
		o = o[:len(a)]
		if k.mul {
			for i := range a {
				o[i] = a[i] * b[i]
			}
		} else {
			for i := range a {
				o[i] = a[i] + b[i]
			}
		}
		return nil
	}
	ia, ib := k.idxA, k.idxB[:len(k.idxA)]
	o = o[:len(ia)]
	if k.mul {
		for i := range ia {
			o[i] = a[ia[i]] * b[ib[i]]
		}
	} else {
		for i := range ia {
			o[i] = a[ia[i]] + b[ib[i]]
		}
	}
	return nil
}

// softmaxKernel normalises over blocks of n consecutive... or over one axis with inner stride.
type softmaxKernel struct {
	outer, axis, inner int
}

func buildSoftmax(n *onnx.Node, in []*info) (kernel, []info, error) {
	if err := floatOp(n, in, 1, 1, "axis"); err != nil {
		return nil, nil, err
	}
	shape := in[0].shape
	def := int64(-1)
	if opset(n) < 13 {
		def = 1
	}
	ax, err := attrInt(n, "axis", def)
	if err != nil {
		return nil, nil, err
	}
	if len(shape) == 0 {
		return nil, nil, fmt.Errorf("the Softmax of a scalar")
	}
	a, err := normAxis(ax, len(shape))
	if err != nil {
		return nil, nil, err
	}
	k := &softmaxKernel{outer: shapeLen(shape[:a]), axis: shape[a], inner: shapeLen(shape[a+1:])}
	if opset(n) < 13 {
		// Before opset 13 the input is coerced to 2-D at axis: one softmax over all trailing axes.
		k.axis, k.inner = shapeLen(shape[a:]), 1
	}
	return k, []info{{shape: shape}}, nil
}

func (k *softmaxKernel) run(in, out []*value) error {
	x, y := in[0].floats, out[0].floats
	for o := 0; o < k.outer; o++ {
		for i := 0; i < k.inner; i++ {
			base := o*k.axis*k.inner + i
			mx := float32(math.Inf(-1))
			for j := 0; j < k.axis; j++ {
				if v := x[base+j*k.inner]; v > mx {
					mx = v
				}
			}
			var sum float64
			for j := 0; j < k.axis; j++ {
				e := float32(exp(float64(x[base+j*k.inner] - mx)))
				y[base+j*k.inner] = e
				sum += float64(e)
			}
			for j := 0; j < k.axis; j++ {
				y[base+j*k.inner] = float32(float64(y[base+j*k.inner]) / sum)
			}
		}
	}
	return nil
}

// exp is e**x in pure Go arithmetic, so that native and wasm builds round identically (the
// standard library uses assembly on amd64). Relative error is below 1e-15 on the range used here.
func exp(x float64) float64 { return detmath.Exp(x) }

// Exp is e**x computed the same way on every architecture (see exp).
func Exp(x float64) float64 { return exp(x) }
