package nn

import (
	"math"

	"github.com/wasmwhisk/wasmwhisk/nn/onnx"
)

// Internal attributes the optimizer sets on Conv nodes.
const (
	attrActMin = "nn.act_min" // float32: fused Clip/Relu lower bound
	attrActMax = "nn.act_max" // float32: fused Clip/Relu upper bound
)

// optimize rewrites the graph for execution without changing its results beyond float32
// rounding: BatchNormalization after a Conv is folded into the Conv's weights and bias, and a
// Clip or Relu after a Conv becomes the Conv's epilogue. The input graph is not modified; the
// returned nodes may refer to new initializers, which the returned map (a copy) holds.
func optimize(g *onnx.Graph) ([]onnx.Node, map[string]*onnx.Tensor) {
	inits := make(map[string]*onnx.Tensor, len(g.Initializers))
	for k, v := range g.Initializers {
		inits[k] = v
	}
	nodes := make([]onnx.Node, len(g.Nodes))
	for i, n := range g.Nodes {
		nodes[i] = n
		nodes[i].Attrs = make(map[string]any, len(n.Attrs))
		for k, v := range n.Attrs {
			nodes[i].Attrs[k] = v
		}
		nodes[i].Inputs = append([]string(nil), n.Inputs...)
		nodes[i].Outputs = append([]string(nil), n.Outputs...)
	}
	uses := map[string]int{}
	for _, n := range nodes {
		for _, in := range n.Inputs {
			uses[in]++
		}
	}
	for _, o := range g.Outputs {
		uses[o.Name] += 2 // never fuse away a graph output
	}
	producer := map[string]int{}
	for i, n := range nodes {
		for _, o := range n.Outputs {
			producer[o] = i
		}
	}
	dead := make([]bool, len(nodes))
	convFor := func(n *onnx.Node) (int, bool) {
		if len(n.Inputs) == 0 {
			return 0, false
		}
		pi, ok := producer[n.Inputs[0]]
		if !ok || dead[pi] || nodes[pi].OpType != "Conv" || len(nodes[pi].Outputs) != 1 || uses[n.Inputs[0]] != 1 {
			return 0, false
		}
		return pi, true
	}
	for i := range nodes {
		n := &nodes[i]
		switch n.OpType {
		case "BatchNormalization":
			ci, ok := convFor(n)
			if !ok || len(n.Inputs) != 5 || len(n.Outputs) != 1 || attrIntDefault(n, "training_mode", 0) != 0 {
				continue
			}
			conv := &nodes[ci]
			if _, fused := conv.Attrs[attrActMin]; fused {
				continue
			}
			if foldBN(conv, n, inits) {
				conv.Outputs[0] = n.Outputs[0]
				producer[n.Outputs[0]] = ci
				dead[i] = true
			}
		case "Clip", "Relu":
			ci, ok := convFor(n)
			if !ok {
				continue
			}
			lo, hi, ok := constClipBounds(n, inits)
			if !ok {
				continue
			}
			conv := &nodes[ci]
			if _, fused := conv.Attrs[attrActMin]; fused {
				continue
			}
			conv.Attrs[attrActMin] = lo
			conv.Attrs[attrActMax] = hi
			conv.Outputs[0] = n.Outputs[0]
			producer[n.Outputs[0]] = ci
			dead[i] = true
		}
	}
	out := nodes[:0]
	for i, n := range nodes {
		if !dead[i] {
			out = append(out, n)
		}
	}
	return out, inits
}

// constClipBounds returns the bounds of a Relu or of a Clip whose bounds are constants.
func constClipBounds(n *onnx.Node, inits map[string]*onnx.Tensor) (float32, float32, bool) {
	lo, hi := float32(math.Inf(-1)), float32(math.Inf(1))
	if n.OpType == "Relu" {
		return 0, hi, true
	}
	if v, ok := n.Attrs["min"].(float32); ok {
		lo = v
	}
	if v, ok := n.Attrs["max"].(float32); ok {
		hi = v
	}
	for i, dst := range []*float32{&lo, &hi} {
		if len(n.Inputs) <= i+1 || n.Inputs[i+1] == "" {
			continue
		}
		t, ok := inits[n.Inputs[i+1]]
		if !ok || len(t.Float) != 1 {
			return 0, 0, false
		}
		*dst = t.Float[0]
	}
	return lo, hi, true
}

// foldBN folds bn's affine transform into conv's weights and bias. It returns false (and changes
// nothing) when the parameters are not suitable constants.
func foldBN(conv, bn *onnx.Node, inits map[string]*onnx.Tensor) bool {
	if len(conv.Inputs) < 2 {
		return false
	}
	w, ok := inits[conv.Inputs[1]]
	if !ok || w.Float == nil || len(w.Shape) < 3 {
		return false
	}
	m := w.Shape[0]
	var params [4][]float32
	for i := 0; i < 4; i++ {
		t, ok := inits[bn.Inputs[i+1]]
		if !ok || t.Float == nil || len(t.Float) != m {
			return false
		}
		params[i] = t.Float
	}
	var bias []float32
	if len(conv.Inputs) > 2 && conv.Inputs[2] != "" {
		t, ok := inits[conv.Inputs[2]]
		if !ok || len(t.Float) != m {
			return false
		}
		bias = t.Float
	}
	eps := float32(1e-5)
	if e, ok := bn.Attrs["epsilon"].(float32); ok {
		eps = e
	}
	scale, shift, mean, variance := params[0], params[1], params[2], params[3]
	per := len(w.Float) / m
	nw := make([]float32, len(w.Float))
	nb := make([]float32, m)
	for oc := 0; oc < m; oc++ {
		s := scale[oc] / float32(math.Sqrt(float64(variance[oc]+eps)))
		for j := 0; j < per; j++ {
			nw[oc*per+j] = w.Float[oc*per+j] * s
		}
		b := float32(0)
		if bias != nil {
			b = bias[oc]
		}
		nb[oc] = (b-mean[oc])*s + shift[oc]
	}
	wName, bName := bn.Outputs[0]+"#folded_weights", bn.Outputs[0]+"#folded_bias"
	inits[wName] = &onnx.Tensor{Name: wName, DType: onnx.Float32, Shape: w.Shape, Float: nw}
	inits[bName] = &onnx.Tensor{Name: bName, DType: onnx.Float32, Shape: []int{m}, Float: nb}
	conv.Inputs = []string{conv.Inputs[0], wName, bName}
	return true
}
