package nn

import (
	"fmt"

	"github.com/wasmwhisk/wasmwhisk/nn/onnx"
)

// constInts returns a constant integer input as ints.
func constInts(in *info, what string) ([]int, error) {
	if in == nil || in.constant == nil || !in.isInt {
		return nil, fmt.Errorf("%s must be a constant integer tensor", what)
	}
	out := make([]int, len(in.constant.ints))
	for i, v := range in.constant.ints {
		if v > 1<<31 || v < -(1<<31) {
			return nil, fmt.Errorf("%s: value %d out of range", what, v)
		}
		out[i] = int(v)
	}
	return out, nil
}

func buildFlatten(n *onnx.Node, in []*info) (kernel, []info, error) {
	if err := needInputs(in, 1, 1); err != nil {
		return nil, nil, err
	}
	if err := checkAttrs(n, "axis"); err != nil {
		return nil, nil, err
	}
	ax, err := attrInt(n, "axis", 1)
	if err != nil {
		return nil, nil, err
	}
	s := in[0].shape
	a := int(ax)
	if a < 0 {
		a += len(s)
	}
	if a < 0 || a > len(s) {
		return nil, nil, fmt.Errorf("axis %d out of range for rank %d", ax, len(s))
	}
	return copyKernel{}, []info{{shape: []int{shapeLen(s[:a]), shapeLen(s[a:])}, isInt: in[0].isInt}}, nil
}

func buildReshape(n *onnx.Node, in []*info) (kernel, []info, error) {
	if err := needInputs(in, 2, 2); err != nil {
		return nil, nil, err
	}
	if err := checkAttrs(n, "allowzero"); err != nil {
		return nil, nil, err
	}
	allowZero, err := attrInt(n, "allowzero", 0)
	if err != nil {
		return nil, nil, err
	}
	target, err := constInts(in[1], "Reshape shape (runtime shapes are not supported)")
	if err != nil {
		return nil, nil, err
	}
	src := in[0].shape
	out := make([]int, len(target))
	infer := -1
	known := 1
	for i, d := range target {
		switch {
		case d == 0 && allowZero == 0:
			if i >= len(src) {
				return nil, nil, fmt.Errorf("shape %v copies dimension %d of %v", target, i, src)
			}
			out[i] = src[i]
		case d == -1:
			if infer >= 0 {
				return nil, nil, fmt.Errorf("shape %v has two -1", target)
			}
			infer = i
			continue
		case d < 0:
			return nil, nil, fmt.Errorf("bad dimension %d in %v", d, target)
		default:
			out[i] = d
		}
		known *= out[i]
	}
	total := shapeLen(src)
	if infer >= 0 {
		if known == 0 || total%known != 0 {
			return nil, nil, fmt.Errorf("cannot reshape %v to %v", src, target)
		}
		out[infer] = total / known
	}
	if shapeLen(out) != total {
		return nil, nil, fmt.Errorf("cannot reshape %v to %v", src, target)
	}
	return copyKernel{}, []info{{shape: out, isInt: in[0].isInt}}, nil
}

func buildShape(n *onnx.Node, in []*info) (kernel, []info, error) {
	if err := needInputs(in, 1, 1); err != nil {
		return nil, nil, err
	}
	if err := checkAttrs(n, "start", "end"); err != nil {
		return nil, nil, err
	}
	s := in[0].shape
	r := int64(len(s))
	start, err := attrInt(n, "start", 0)
	if err != nil {
		return nil, nil, err
	}
	end, err := attrInt(n, "end", r)
	if err != nil {
		return nil, nil, err
	}
	clampAxis := func(a int64) int {
		if a < 0 {
			a += r
		}
		if a < 0 {
			a = 0
		}
		if a > r {
			a = r
		}
		return int(a)
	}
	b, e := clampAxis(start), clampAxis(end)
	v := &value{shape: []int{0}, isInt: true}
	for i := b; i < e; i++ {
		v.ints = append(v.ints, int64(s[i]))
	}
	v.shape[0] = len(v.ints)
	if v.ints == nil {
		v.ints = []int64{}
	}
	// The shape is static, so the result is a constant whatever the input's data.
	return nil, []info{{shape: v.shape, isInt: true, constant: v}}, nil
}

// gatherKernel implements Gather along one axis.
type gatherKernel struct {
	outer, axisLen, inner int
}

func buildGather(n *onnx.Node, in []*info) (kernel, []info, error) {
	if err := needInputs(in, 2, 2); err != nil {
		return nil, nil, err
	}
	if err := checkAttrs(n, "axis"); err != nil {
		return nil, nil, err
	}
	if !in[1].isInt {
		return nil, nil, fmt.Errorf("indices must be integers")
	}
	ax, err := attrInt(n, "axis", 0)
	if err != nil {
		return nil, nil, err
	}
	s := in[0].shape
	a, err := normAxis(ax, len(s))
	if err != nil {
		return nil, nil, err
	}
	out := append(append(append([]int{}, s[:a]...), in[1].shape...), s[a+1:]...)
	return &gatherKernel{outer: shapeLen(s[:a]), axisLen: s[a], inner: shapeLen(s[a+1:])},
		[]info{{shape: out, isInt: in[0].isInt}}, nil
}

func (k *gatherKernel) run(in, out []*value) error {
	idx := in[1].ints
	nIdx := len(idx)
	for j, ix := range idx {
		if ix < 0 {
			ix += int64(k.axisLen)
		}
		if ix < 0 || ix >= int64(k.axisLen) {
			return fmt.Errorf("index %d out of range [%d, %d)", idx[j], -k.axisLen, k.axisLen)
		}
		for o := 0; o < k.outer; o++ {
			src := (o*k.axisLen + int(ix)) * k.inner
			dst := (o*nIdx + j) * k.inner
			if in[0].isInt {
				copy(out[0].ints[dst:dst+k.inner], in[0].ints[src:src+k.inner])
			} else {
				copy(out[0].floats[dst:dst+k.inner], in[0].floats[src:src+k.inner])
			}
		}
	}
	return nil
}

func buildUnsqueeze(n *onnx.Node, in []*info) (kernel, []info, error) {
	if err := needInputs(in, 1, 2); err != nil {
		return nil, nil, err
	}
	if err := checkAttrs(n, "axes"); err != nil {
		return nil, nil, err
	}
	var axes []int
	var err error
	if opset(n) >= 13 {
		if len(in) < 2 {
			return nil, nil, fmt.Errorf("axes input is required from opset 13")
		}
		axes, err = constInts(in[1], "Unsqueeze axes")
	} else {
		axes, err = attrInts(n, "axes", nil)
	}
	if err != nil {
		return nil, nil, err
	}
	r := len(in[0].shape) + len(axes)
	ones := make([]bool, r)
	for _, a := range axes {
		na, err := normAxis(int64(a), r)
		if err != nil {
			return nil, nil, err
		}
		if ones[na] {
			return nil, nil, fmt.Errorf("axis %d repeated", a)
		}
		ones[na] = true
	}
	out := make([]int, 0, r)
	j := 0
	for i := 0; i < r; i++ {
		if ones[i] {
			out = append(out, 1)
		} else {
			out = append(out, in[0].shape[j])
			j++
		}
	}
	return copyKernel{}, []info{{shape: out, isInt: in[0].isInt}}, nil
}

// concatKernel joins its inputs along one axis.
type concatKernel struct {
	outer int
	inner []int // per input: axis length × inner size
}

func buildConcat(n *onnx.Node, in []*info) (kernel, []info, error) {
	if len(in) == 0 {
		return nil, nil, fmt.Errorf("a Concat needs inputs")
	}
	if err := checkAttrs(n, "axis"); err != nil {
		return nil, nil, err
	}
	ax, ok := n.Attrs["axis"].(int64)
	if !ok {
		return nil, nil, fmt.Errorf("attribute axis is required")
	}
	for i, x := range in {
		if x == nil {
			return nil, nil, fmt.Errorf("input %d is missing", i)
		}
		if x.isInt != in[0].isInt || len(x.shape) != len(in[0].shape) {
			return nil, nil, fmt.Errorf("input %d does not match input 0 in type or rank", i)
		}
	}
	a, err := normAxis(ax, len(in[0].shape))
	if err != nil {
		return nil, nil, err
	}
	out := append([]int(nil), in[0].shape...)
	out[a] = 0
	k := &concatKernel{outer: shapeLen(in[0].shape[:a])}
	for i, x := range in {
		for d := range out {
			if d != a && x.shape[d] != out[d] {
				return nil, nil, fmt.Errorf("input %d has shape %v, incompatible with %v", i, x.shape, in[0].shape)
			}
		}
		out[a] += x.shape[a]
		k.inner = append(k.inner, shapeLen(x.shape[a:]))
	}
	return k, []info{{shape: out, isInt: in[0].isInt}}, nil
}

func (k *concatKernel) run(in, out []*value) error {
	pos := 0
	for o := 0; o < k.outer; o++ {
		for i, x := range in {
			sz := k.inner[i]
			if x.isInt {
				copy(out[0].ints[pos:pos+sz], x.ints[o*sz:(o+1)*sz])
			} else {
				copy(out[0].floats[pos:pos+sz], x.floats[o*sz:(o+1)*sz])
			}
			pos += sz
		}
	}
	return nil
}

// transposeKernel permutes axes.
type transposeKernel struct {
	outShape  []int
	srcStride []int // stride in the input of each output axis
}

func buildTranspose(n *onnx.Node, in []*info) (kernel, []info, error) {
	if err := needInputs(in, 1, 1); err != nil {
		return nil, nil, err
	}
	if err := checkAttrs(n, "perm"); err != nil {
		return nil, nil, err
	}
	s := in[0].shape
	def := make([]int, len(s))
	for i := range def {
		def[i] = len(s) - 1 - i
	}
	perm, err := attrInts(n, "perm", def)
	if err != nil {
		return nil, nil, err
	}
	if len(perm) != len(s) {
		return nil, nil, fmt.Errorf("perm %v for rank %d", perm, len(s))
	}
	seen := make([]bool, len(s))
	st := strides(s)
	k := &transposeKernel{}
	for _, p := range perm {
		if p < 0 || p >= len(s) || seen[p] {
			return nil, nil, fmt.Errorf("bad perm %v", perm)
		}
		seen[p] = true
		k.outShape = append(k.outShape, s[p])
		k.srcStride = append(k.srcStride, st[p])
	}
	return k, []info{{shape: k.outShape, isInt: in[0].isInt}}, nil
}

func (k *transposeKernel) run(in, out []*value) error {
	n := shapeLen(k.outShape)
	r := len(k.outShape)
	ctr := make([]int, r)
	pos := 0
	for e := 0; e < n; e++ {
		if in[0].isInt {
			out[0].ints[e] = in[0].ints[pos]
		} else {
			out[0].floats[e] = in[0].floats[pos]
		}
		for ax := r - 1; ax >= 0; ax-- {
			ctr[ax]++
			pos += k.srcStride[ax]
			if ctr[ax] < k.outShape[ax] {
				break
			}
			pos -= k.srcStride[ax] * ctr[ax]
			ctr[ax] = 0
		}
	}
	return nil
}
