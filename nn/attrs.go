package nn

import (
	"fmt"

	"github.com/wasmwhisk/wasmwhisk/nn/onnx"
)

const attrOpset = "nn.opset" // int64: the model's default-domain opset, set by Compile

func attrIntDefault(n *onnx.Node, name string, def int64) int64 {
	if v, ok := n.Attrs[name].(int64); ok {
		return v
	}
	return def
}

func attrInt(n *onnx.Node, name string, def int64) (int64, error) {
	a, ok := n.Attrs[name]
	if !ok {
		return def, nil
	}
	v, ok := a.(int64)
	if !ok {
		return 0, fmt.Errorf("attribute %s: want an int, have %T", name, a)
	}
	return v, nil
}

func attrFloat(n *onnx.Node, name string, def float32) (float32, error) {
	a, ok := n.Attrs[name]
	if !ok {
		return def, nil
	}
	v, ok := a.(float32)
	if !ok {
		return 0, fmt.Errorf("attribute %s: want a float, have %T", name, a)
	}
	return v, nil
}

func attrString(n *onnx.Node, name, def string) (string, error) {
	a, ok := n.Attrs[name]
	if !ok {
		return def, nil
	}
	v, ok := a.(string)
	if !ok {
		return "", fmt.Errorf("attribute %s: want a string, have %T", name, a)
	}
	return v, nil
}

// attrInts returns an int list attribute; def when absent.
func attrInts(n *onnx.Node, name string, def []int) ([]int, error) {
	a, ok := n.Attrs[name]
	if !ok {
		return def, nil
	}
	v, ok := a.([]int64)
	if !ok {
		return nil, fmt.Errorf("attribute %s: want ints, have %T", name, a)
	}
	out := make([]int, len(v))
	for i, x := range v {
		if x > 1<<31 || x < -(1<<31) {
			return nil, fmt.Errorf("attribute %s: value %d out of range", name, x)
		}
		out[i] = int(x)
	}
	return out, nil
}

// checkAttrs fails on attributes the builder does not handle, so that nothing is silently ignored.
func checkAttrs(n *onnx.Node, known ...string) error {
	for k := range n.Attrs {
		if len(k) > 3 && k[:3] == "nn." {
			continue
		}
		found := false
		for _, s := range known {
			if k == s {
				found = true
				break
			}
		}
		if !found {
			return fmt.Errorf("attribute %s is not supported", k)
		}
	}
	return nil
}

func opset(n *onnx.Node) int64 { return attrIntDefault(n, attrOpset, 13) }

// needInputs checks the number of present inputs.
func needInputs(in []*info, min, max int) error {
	if len(in) < min || len(in) > max {
		return fmt.Errorf("has %d inputs, want %d..%d", len(in), min, max)
	}
	for i := 0; i < min; i++ {
		if in[i] == nil {
			return fmt.Errorf("input %d is required", i)
		}
	}
	return nil
}

// floatOp checks what most float operators require of a node: from min to max inputs (see
// needInputs), none of them an integer tensor, and no attribute but known.
func floatOp(n *onnx.Node, in []*info, min, max int, known ...string) error {
	if err := needInputs(in, min, max); err != nil {
		return err
	}
	for i := range max {
		if err := needFloat(in, i); err != nil {
			return err
		}
	}
	return checkAttrs(n, known...)
}

// needFloat checks that none of the inputs at idx is an integer tensor.
func needFloat(in []*info, idx ...int) error {
	for _, i := range idx {
		if i < len(in) && in[i] != nil && in[i].isInt {
			return fmt.Errorf("input %d: integer tensors are not supported here", i)
		}
	}
	return nil
}
