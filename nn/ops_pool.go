package nn

import (
	"fmt"
	"math"

	"github.com/wasmwhisk/wasmwhisk/nn/onnx"
)

// spatialGeometry resolves kernel, strides, dilations and pads for a convolution or pooling over
// the spatial axes in (N, C, spatial...). It returns the output spatial shape.
type spatialGeometry struct {
	in, kernel, strides, dilations, padBegin, padEnd, out []int
}

func resolveGeometry(n *onnx.Node, in []int, kernel []int, ceilMode bool) (*spatialGeometry, error) {
	r := len(in)
	if len(kernel) != r {
		return nil, fmt.Errorf("kernel_shape %v does not match %d spatial axes", kernel, r)
	}
	ones := make([]int, r)
	for i := range ones {
		ones[i] = 1
	}
	g := &spatialGeometry{in: in, kernel: kernel}
	var err error
	if g.strides, err = attrInts(n, "strides", ones); err != nil {
		return nil, err
	}
	if g.dilations, err = attrInts(n, "dilations", ones); err != nil {
		return nil, err
	}
	pads, err := attrInts(n, "pads", make([]int, 2*r))
	if err != nil {
		return nil, err
	}
	autoPad, err := attrString(n, "auto_pad", "NOTSET")
	if err != nil {
		return nil, err
	}
	if len(g.strides) != r || len(g.dilations) != r || len(pads) != 2*r {
		return nil, fmt.Errorf("strides %v, dilations %v or pads %v do not match %d spatial axes", g.strides, g.dilations, pads, r)
	}
	g.padBegin, g.padEnd, g.out = make([]int, r), make([]int, r), make([]int, r)
	for i := 0; i < r; i++ {
		s, d, k := g.strides[i], g.dilations[i], kernel[i]
		if s < 1 || d < 1 || k < 1 {
			return nil, fmt.Errorf("kernel %v, strides %v and dilations %v must be positive", kernel, g.strides, g.dilations)
		}
		ext := (k-1)*d + 1
		switch autoPad {
		case "NOTSET", "":
			g.padBegin[i], g.padEnd[i] = pads[i], pads[i+r]
			if g.padBegin[i] < 0 || g.padEnd[i] < 0 {
				return nil, fmt.Errorf("negative pads %v", pads)
			}
			span := in[i] + g.padBegin[i] + g.padEnd[i] - ext
			if span < 0 {
				return nil, fmt.Errorf("kernel %v larger than padded input %v", kernel, in)
			}
			if ceilMode {
				g.out[i] = (span+s-1)/s + 1
				// The last window must start inside the input or the left padding.
				if (g.out[i]-1)*s >= in[i]+g.padBegin[i] {
					g.out[i]--
				}
			} else {
				g.out[i] = span/s + 1
			}
		case "SAME_UPPER", "SAME_LOWER":
			g.out[i] = (in[i] + s - 1) / s
			total := (g.out[i]-1)*s + ext - in[i]
			if total < 0 {
				total = 0
			}
			if autoPad == "SAME_UPPER" {
				g.padBegin[i] = total / 2
			} else {
				g.padBegin[i] = total - total/2
			}
			g.padEnd[i] = total - g.padBegin[i]
		case "VALID":
			if in[i] < ext {
				return nil, fmt.Errorf("kernel %v larger than input %v", kernel, in)
			}
			g.out[i] = (in[i]-ext)/s + 1
		default:
			return nil, fmt.Errorf("auto_pad %q is not supported", autoPad)
		}
		if g.out[i] < 1 {
			return nil, fmt.Errorf("empty output for input %v", in)
		}
	}
	return g, nil
}

// poolKernel is MaxPool and AveragePool over 1 to 3 spatial axes.
type poolKernel struct {
	g           *spatialGeometry
	max         bool
	includePad  bool
	planes      int
	inSz, outSz int
	inSt, outSt []int
}

func buildPool(n *onnx.Node, in []*info) (kernel, []info, error) {
	if err := needInputs(in, 1, 1); err != nil {
		return nil, nil, err
	}
	if err := needFloat(in, 0); err != nil {
		return nil, nil, err
	}
	isMax := n.OpType == "MaxPool"
	known := []string{"auto_pad", "ceil_mode", "kernel_shape", "pads", "strides", "dilations"}
	if isMax {
		known = append(known, "storage_order")
	} else {
		known = append(known, "count_include_pad")
	}
	if err := checkAttrs(n, known...); err != nil {
		return nil, nil, err
	}
	s := in[0].shape
	if len(s) < 3 || len(s) > 5 {
		return nil, nil, fmt.Errorf("input shape %v: want 1 to 3 spatial axes", s)
	}
	kernelShape, err := attrInts(n, "kernel_shape", nil)
	if err != nil {
		return nil, nil, err
	}
	ceil, err := attrInt(n, "ceil_mode", 0)
	if err != nil {
		return nil, nil, err
	}
	g, err := resolveGeometry(n, s[2:], kernelShape, ceil != 0)
	if err != nil {
		return nil, nil, err
	}
	cip, err := attrInt(n, "count_include_pad", 0)
	if err != nil {
		return nil, nil, err
	}
	out := append([]int{s[0], s[1]}, g.out...)
	k := &poolKernel{g: g, max: isMax, includePad: cip != 0, planes: s[0] * s[1],
		inSz: shapeLen(s[2:]), outSz: shapeLen(g.out), inSt: strides(s[2:]), outSt: strides(g.out)}
	return k, []info{{shape: out}}, nil
}

func (k *poolKernel) run(in, out []*value) error {
	g := k.g
	r := len(g.in)
	octr := make([]int, r)
	kctr := make([]int, r)
	for p := 0; p < k.planes; p++ {
		x := in[0].floats[p*k.inSz : (p+1)*k.inSz]
		y := out[0].floats[p*k.outSz : (p+1)*k.outSz]
		for o := range y {
			rem := o
			for ax := 0; ax < r; ax++ {
				octr[ax] = rem / k.outSt[ax]
				rem %= k.outSt[ax]
			}
			acc := float32(0)
			if k.max {
				acc = float32(math.Inf(-1))
			}
			count := 0
			padCount := 0
			for ax := range kctr {
				kctr[ax] = 0
			}
			for {
				pos, inside, inPadded := 0, true, true
				for ax := 0; ax < r; ax++ {
					c := octr[ax]*g.strides[ax] - g.padBegin[ax] + kctr[ax]*g.dilations[ax]
					if c < 0 || c >= g.in[ax] {
						inside = false
					}
					if c < -g.padBegin[ax] || c >= g.in[ax]+g.padEnd[ax] {
						inPadded = false
					}
					pos += c * k.inSt[ax]
				}
				if inPadded {
					padCount++
				}
				if inside {
					v := x[pos]
					if k.max {
						if v > acc || v != v {
							acc = v
						}
					} else {
						acc += v
					}
					count++
				}
				ax := r - 1
				for ; ax >= 0; ax-- {
					kctr[ax]++
					if kctr[ax] < g.kernel[ax] {
						break
					}
					kctr[ax] = 0
				}
				if ax < 0 {
					break
				}
			}
			if !k.max {
				div := count
				if k.includePad {
					div = padCount
				}
				if div > 0 {
					acc /= float32(div)
				}
			}
			y[o] = acc
		}
	}
	return nil
}

// globalAvgKernel averages each (n, c) plane.
type globalAvgKernel struct{ planes, size int }

func buildGlobalAveragePool(n *onnx.Node, in []*info) (kernel, []info, error) {
	if err := floatOp(n, in, 1, 1); err != nil {
		return nil, nil, err
	}
	s := in[0].shape
	if len(s) < 3 {
		return nil, nil, fmt.Errorf("input shape %v has no spatial axes", s)
	}
	out := []int{s[0], s[1]}
	for range s[2:] {
		out = append(out, 1)
	}
	return &globalAvgKernel{planes: s[0] * s[1], size: shapeLen(s[2:])}, []info{{shape: out}}, nil
}

func (k *globalAvgKernel) run(in, out []*value) error {
	x := in[0].floats
	for p := 0; p < k.planes; p++ {
		var sum float32
		for _, v := range x[p*k.size : (p+1)*k.size] {
			sum += v
		}
		out[0].floats[p] = sum / float32(k.size)
	}
	return nil
}

// batchNormKernel is inference-mode BatchNormalization over axis 1.
type batchNormKernel struct {
	n, c, size int
	eps        float32
}

func buildBatchNorm(n *onnx.Node, in []*info) (kernel, []info, error) {
	if err := floatOp(n, in, 5, 5, "epsilon", "momentum", "training_mode", "spatial"); err != nil {
		return nil, nil, err
	}
	if tm, _ := attrInt(n, "training_mode", 0); tm != 0 {
		return nil, nil, fmt.Errorf("training_mode=1 is not supported (inference only)")
	}
	if sp, _ := attrInt(n, "spatial", 1); sp != 1 {
		return nil, nil, fmt.Errorf("spatial=0 is not supported")
	}
	eps, err := attrFloat(n, "epsilon", 1e-5)
	if err != nil {
		return nil, nil, err
	}
	s := in[0].shape
	if len(s) < 2 {
		return nil, nil, fmt.Errorf("input shape %v has no channel axis", s)
	}
	for i := 1; i < 5; i++ {
		if shapeLen(in[i].shape) != s[1] {
			return nil, nil, fmt.Errorf("parameter %d has shape %v, want [%d]", i, in[i].shape, s[1])
		}
	}
	return &batchNormKernel{n: s[0], c: s[1], size: shapeLen(s[2:]), eps: eps}, []info{{shape: s}}, nil
}

func (k *batchNormKernel) run(in, out []*value) error {
	x, scale, bias, mean, variance, y := in[0].floats, in[1].floats, in[2].floats, in[3].floats, in[4].floats, out[0].floats
	for b := 0; b < k.n; b++ {
		for c := 0; c < k.c; c++ {
			s := scale[c] / float32(math.Sqrt(float64(variance[c]+k.eps)))
			sh := bias[c] - mean[c]*s
			off := (b*k.c + c) * k.size
			for i, v := range x[off : off+k.size] {
				y[off+i] = float32(v*s) + sh
			}
		}
	}
	return nil
}
