package onnx

import (
	"fmt"
	"os"

	onnxgo "github.com/owulveryck/onnx-go"
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
	f, err := readModel(data)
	if err != nil {
		return nil, err
	}
	b := newBackend()
	func() {
		// onnx-go and gonum panic on some inconsistencies the reader does not look for.
		defer func() {
			if p := recover(); p != nil {
				err = fmt.Errorf("onnx-go: %v", p)
			}
		}()
		err = onnxgo.NewModel(b).UnmarshalBinary(f.skeleton)
	}()
	if err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	return assemble(f, b)
}

// assemble builds the Graph from the reader's facts and onnx-go's operators, checking that the
// two agree node by node.
func assemble(f *facts, b *backend) (*Graph, error) {
	if len(b.ops) != len(f.nodes) {
		return nil, fmt.Errorf("decode: onnx-go applied %d operations for %d nodes", len(b.ops), len(f.nodes))
	}
	g := &Graph{
		IRVersion:    f.irVersion,
		Opset:        f.opset,
		Initializers: f.initializers,
		Outputs:      f.outputs,
		Metadata:     f.metadata,
		Nodes:        make([]Node, 0, len(b.ops)),
	}
	for _, in := range f.inputs {
		if _, isInit := f.initializers[in.Name]; !isInit {
			g.Inputs = append(g.Inputs, in)
		}
	}
	for i, op := range b.ops {
		nf := f.nodes[i]
		if len(op.outputs) != nf.outputs {
			return nil, fmt.Errorf("decode: node %d: onnx-go reports %d outputs, file has %d", i, len(op.outputs), nf.outputs)
		}
		n := Node{Name: nf.name, OpType: op.op.Name, Domain: nf.domain, Attrs: make(map[string]any, len(op.op.Attributes))}
		for _, o := range op.outputs {
			n.Outputs = append(n.Outputs, b.name(o))
		}
		if n.Name == "" {
			n.Name = fmt.Sprintf("#%d (output %s)", i, n.Outputs[0])
		}
		if nf.inputs > 0 { // onnx-go gives an input-less node a made-up input
			ins, err := b.inputsOf(op.outputs[0])
			if err != nil {
				return nil, fmt.Errorf("decode: %s: %w", n.Describe(), err)
			}
			if len(ins) != nf.inputs {
				return nil, fmt.Errorf("decode: %s: onnx-go reports %d inputs, file has %d", n.Describe(), len(ins), nf.inputs)
			}
			n.Inputs = ins
		}
		for k, a := range op.op.Attributes {
			if t, ok := nf.tensorAttrs[k]; ok {
				a = t // with its dims: gorgonia reports shape [1] as a scalar
			}
			n.Attrs[k] = a
		}
		g.Nodes = append(g.Nodes, n)
	}
	return g, nil
}

// DecodeTensor decodes a serialized TensorProto (the .pb files of ONNX's test data).
func DecodeTensor(data []byte) (*Tensor, error) {
	return readTensor(data)
}
