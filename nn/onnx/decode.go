package onnx

import (
	"fmt"
	"os"

	onnxgo "github.com/owulveryck/onnx-go"
	"gorgonia.org/tensor"
)

// ReadFile decodes the ONNX model in path.
func ReadFile(path string) (*Graph, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("onnx: %w", err)
	}
	g, err := Decode(data)
	if err != nil {
		return nil, fmt.Errorf("onnx: %s: %w", path, err)
	}
	return g, nil
}

// Decode decodes an ONNX ModelProto. It returns an error, never panics, on malformed input.
func Decode(data []byte) (g *Graph, err error) {
	sc, err := prescanModel(data)
	if err != nil {
		return nil, err
	}
	b := newBackend()
	m := onnxgo.NewModel(b)
	func() {
		// onnx-go and gorgonia panic on some inconsistencies the pre-scan does not look for.
		defer func() {
			if p := recover(); p != nil {
				err = fmt.Errorf("onnx-go: %v", p)
			}
		}()
		err = m.UnmarshalBinary(data)
	}()
	if err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	if len(b.ops) != len(sc.nodes) {
		return nil, fmt.Errorf("decode: onnx-go applied %d operations for %d nodes", len(b.ops), len(sc.nodes))
	}
	g = &Graph{
		IRVersion:    sc.irVersion,
		Opset:        sc.opset,
		Initializers: map[string]*Tensor{},
		Metadata:     sc.metadata,
	}
	for _, v := range b.nodes {
		dims, isInit := sc.initDims[v.name]
		if !isInit || v.tensor == nil {
			continue
		}
		t, err := convertTensor(v.name, v.tensor, dims)
		if err != nil {
			return nil, fmt.Errorf("initializer: %w", err)
		}
		g.Initializers[v.name] = t
	}
	for _, in := range sc.inputs {
		if _, isInit := g.Initializers[in.Name]; !isInit {
			g.Inputs = append(g.Inputs, in)
		}
	}
	g.Outputs = sc.outputs
	for i, op := range b.ops {
		sn := sc.nodes[i]
		if op.op.Name != sn.opType || len(op.outputs) != len(sn.outputs) {
			return nil, fmt.Errorf("decode: node %d: onnx-go reports %s, file has %s", i, op.op.Name, sn.opType)
		}
		n := Node{Name: sn.name, OpType: sn.opType, Domain: sn.domain, Attrs: map[string]any{}}
		if n.Name == "" {
			n.Name = fmt.Sprintf("#%d (output %s)", i, sn.outputs[0])
		}
		for _, o := range op.outputs {
			n.Outputs = append(n.Outputs, b.nodes[o].name)
		}
		if len(sn.inputs) > 0 {
			n.Inputs = b.inputsOf(op.outputs[0])
			if len(n.Inputs) != len(sn.inputs) {
				return nil, fmt.Errorf("decode: %s: onnx-go reports %d inputs, file has %d", n.Describe(), len(n.Inputs), len(sn.inputs))
			}
		}
		for k, a := range op.op.Attributes {
			if t, ok := a.(tensor.Tensor); ok {
				ct, err := convertTensor(k, t, sn.attrDims[k])
				if err != nil {
					return nil, fmt.Errorf("%s: attribute %s: %w", n.Describe(), k, err)
				}
				n.Attrs[k] = ct
				continue
			}
			n.Attrs[k] = a
		}
		g.Nodes = append(g.Nodes, n)
	}
	return g, nil
}

// DecodeTensor decodes a serialized TensorProto (the .pb files of ONNX's test data).
func DecodeTensor(data []byte) (t *Tensor, err error) {
	name, dims, err := scanTensor(data)
	if err != nil {
		return nil, fmt.Errorf("tensor %q: %w", name, err)
	}
	var gt tensor.Tensor
	func() {
		defer func() {
			if p := recover(); p != nil {
				err = fmt.Errorf("onnx-go: %v", p)
			}
		}()
		gt, err = onnxgo.NewTensor(data)
	}()
	if err != nil {
		return nil, fmt.Errorf("tensor %q: %w", name, err)
	}
	return convertTensor(name, gt, dims)
}
