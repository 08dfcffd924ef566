package onnx

import (
	"errors"
	"fmt"
	"math"

	"google.golang.org/protobuf/encoding/protowire"
)

// Limits that keep a corrupt or hostile file from causing huge allocations. A tensor's data is
// checked against its shape, so it never allocates more than a small multiple of the file.
const (
	// maxTensorElements bounds a declared graph input/output/value_info shape, from which the
	// executor sizes its buffers.
	maxTensorElements = 1 << 24
	maxDims           = 16
)

// facts is what the reader takes from a ModelProto: the fields onnx-go drops, and tensors,
// whose data it converts itself instead of through gorgonia.
type facts struct {
	// skeleton is the model without the initializers' data, for onnx-go: it has no use for
	// the data (the backend takes no tensors), and copying it was a fifth of the load.
	skeleton  []byte
	irVersion int64
	opset     int64 // default-domain opset; 0 if absent
	metadata  map[string]string
	nodes     []nodeFacts
	// initializers by name; inputs and outputs in file order, symbolic dimensions as -1.
	initializers    map[string]*Tensor
	inputs, outputs []ValueInfo
}

// nodeFacts is what onnx-go drops of a NodeProto, and the counts the decoder checks its
// result against.
type nodeFacts struct {
	name, domain    string
	inputs, outputs int
	tensorAttrs     map[string]*Tensor
}

// message walks the fields of one serialized protobuf message.
type message struct{ b []byte }

// next returns the next field: for a varint v holds the value; for a length-delimited field p
// holds the payload (a sub-slice of the input); for a fixed32/fixed64 p holds its bytes.
// Groups, which ONNX never uses, are rejected.
func (m *message) next() (num protowire.Number, typ protowire.Type, v uint64, p []byte, err error) {
	num, typ, n := protowire.ConsumeTag(m.b)
	if n < 0 {
		return 0, 0, 0, nil, protowire.ParseError(n)
	}
	m.b = m.b[n:]
	switch typ {
	case protowire.VarintType:
		v, n = protowire.ConsumeVarint(m.b)
	case protowire.BytesType:
		p, n = protowire.ConsumeBytes(m.b)
	case protowire.Fixed32Type:
		_, n = protowire.ConsumeFixed32(m.b)
	case protowire.Fixed64Type:
		_, n = protowire.ConsumeFixed64(m.b)
	default:
		return 0, 0, 0, nil, fmt.Errorf("field %d: unsupported wire type %d", num, typ)
	}
	if n < 0 {
		return 0, 0, 0, nil, fmt.Errorf("field %d: %w", num, protowire.ParseError(n))
	}
	if typ == protowire.Fixed32Type || typ == protowire.Fixed64Type {
		p = m.b[:n]
	}
	m.b = m.b[n:]
	return num, typ, v, p, nil
}

// fieldType rejects a known field carried with another wire type than its schema's.
func fieldType(num protowire.Number, typ, want protowire.Type) error {
	if typ != want {
		return fmt.Errorf("field %d has wire type %d, want %d", num, typ, want)
	}
	return nil
}

// readModel walks a ModelProto once, validating what onnx-go would otherwise trust and
// collecting the facts it drops.
func readModel(data []byte) (*facts, error) {
	f := &facts{metadata: map[string]string{}, initializers: map[string]*Tensor{}}
	m := message{data}
	sawGraph := false
	for len(m.b) > 0 {
		field := m.b
		num, typ, v, p, err := m.next()
		if err != nil {
			return nil, fmt.Errorf("model: %w", err)
		}
		field = field[:len(field)-len(m.b)]
		switch num {
		case 1: // ir_version
			if err := fieldType(num, typ, protowire.VarintType); err != nil {
				return nil, fmt.Errorf("model: ir_version: %w", err)
			}
			f.irVersion = int64(v)
		case 8: // opset_import
			if err := fieldType(num, typ, protowire.BytesType); err != nil {
				return nil, fmt.Errorf("model: opset_import: %w", err)
			}
			dom, ver, err := readOpset(p)
			if err != nil {
				return nil, fmt.Errorf("opset_import: %w", err)
			}
			if dom == "" || dom == "ai.onnx" {
				f.opset = ver
			}
		case 14: // metadata_props
			if err := fieldType(num, typ, protowire.BytesType); err != nil {
				return nil, fmt.Errorf("model: metadata_props: %w", err)
			}
			k, val, err := readStringPair(p)
			if err != nil {
				return nil, fmt.Errorf("metadata_props: %w", err)
			}
			f.metadata[k] = val
		case 7: // graph
			if err := fieldType(num, typ, protowire.BytesType); err != nil {
				return nil, fmt.Errorf("model: graph: %w", err)
			}
			sawGraph = true
			graph, err := f.readGraph(p)
			if err != nil {
				return nil, fmt.Errorf("graph: %w", err)
			}
			f.skeleton = protowire.AppendBytes(protowire.AppendTag(f.skeleton, num, typ), graph)
			continue
		}
		f.skeleton = append(f.skeleton, field...)
	}
	if !sawGraph {
		return nil, errors.New("model has no graph")
	}
	return f, nil
}

// readOpset reads an OperatorSetIdProto.
func readOpset(p []byte) (string, int64, error) {
	m := message{p}
	var dom string
	var ver int64
	for len(m.b) > 0 {
		num, typ, v, q, err := m.next()
		if err != nil {
			return "", 0, err
		}
		if num == 1 && typ == protowire.BytesType {
			dom = string(q)
		} else if num == 2 && typ == protowire.VarintType {
			ver = int64(v)
		}
	}
	return dom, ver, nil
}

// readStringPair reads a StringStringEntryProto.
func readStringPair(p []byte) (string, string, error) {
	m := message{p}
	var k, v string
	for len(m.b) > 0 {
		num, typ, _, q, err := m.next()
		if err != nil {
			return "", "", err
		}
		if typ == protowire.BytesType && num == 1 {
			k = string(q)
		} else if typ == protowire.BytesType && num == 2 {
			v = string(q)
		}
	}
	return k, v, nil
}

// readGraph reads a GraphProto: nodes, initializers and the declared values.
// It returns the graph without the initializers' data.
func (f *facts) readGraph(p []byte) ([]byte, error) {
	skeleton := make([]byte, 0, 1<<16)
	m := message{p}
	for len(m.b) > 0 {
		field := m.b
		num, typ, _, q, err := m.next()
		if err != nil {
			return nil, err
		}
		field = field[:len(field)-len(m.b)]
		if num == 5 && typ == protowire.BytesType { // initializer
			t, err := readTensor(q)
			if err != nil {
				return nil, fmt.Errorf("initializer: %w", err)
			}
			f.initializers[t.Name] = t
			skeleton = protowire.AppendBytes(protowire.AppendTag(skeleton, num, typ), withoutData(q))
			continue
		}
		skeleton = append(skeleton, field...)
		if typ != protowire.BytesType {
			continue
		}
		switch num {
		case 1: // node
			n, err := readNode(q)
			if err != nil {
				return nil, fmt.Errorf("node %d: %w", len(f.nodes), err)
			}
			f.nodes = append(f.nodes, n)
		case 15:
			return nil, errors.New("sparse initializers are not supported")
		case 11, 12, 13: // input, output, value_info
			vi, err := readValueInfo(q)
			if err != nil {
				return nil, fmt.Errorf("value %q: %w", vi.Name, err)
			}
			if num == 11 {
				f.inputs = append(f.inputs, vi)
			} else if num == 12 {
				f.outputs = append(f.outputs, vi)
			}
		}
	}
	return skeleton, nil
}

// readNode reads what onnx-go drops of a NodeProto (name, domain, tensor attributes with their
// dims) and counts its inputs and outputs.
func readNode(p []byte) (nodeFacts, error) {
	var n nodeFacts
	m := message{p}
	for len(m.b) > 0 {
		num, typ, _, q, err := m.next()
		if err != nil {
			return n, err
		}
		if typ != protowire.BytesType {
			continue
		}
		switch num {
		case 1:
			n.inputs++
		case 2:
			n.outputs++
		case 3:
			n.name = string(q)
		case 7:
			n.domain = string(q)
		case 5:
			name, t, err := readAttribute(q)
			if err != nil {
				return n, fmt.Errorf("attribute %s: %w", name, err)
			}
			if t != nil {
				if n.tensorAttrs == nil {
					n.tensorAttrs = map[string]*Tensor{}
				}
				n.tensorAttrs[name] = t
			}
		}
	}
	if n.outputs == 0 {
		return n, fmt.Errorf("node %q has no outputs", n.name)
	}
	return n, nil
}

// readAttribute reads an AttributeProto's name and, for a tensor attribute, the tensor (with
// its dims, which onnx-go's gorgonia tensor drops for shape [1]), and rejects the kinds of
// attribute the executor does not support.
func readAttribute(p []byte) (name string, t *Tensor, err error) {
	var kind uint64
	m := message{p}
	for len(m.b) > 0 {
		num, typ, v, q, err := m.next()
		if err != nil {
			return name, nil, err
		}
		if num == 20 && typ == protowire.VarintType {
			kind = v
		}
		if typ != protowire.BytesType {
			continue
		}
		switch num {
		case 1:
			name = string(q)
		case 5:
			if t, err = readTensor(q); err != nil {
				return name, nil, err
			}
		case 6, 10, 11, 14, 15, 22, 23:
			return name, nil, fmt.Errorf("attribute field %d (graphs, tensor lists, sparse tensors, types) is not supported", num)
		}
	}
	if kind != attributeTensor || t == nil {
		return name, nil, nil // onnx-go decodes the attribute by its type, which is not this tensor
	}
	t.Name = name
	return name, t, nil
}

// attributeTensor is AttributeProto.AttributeType TENSOR.
const attributeTensor = 4

// readValueInfo reads a ValueInfoProto's name, element type and shape.
func readValueInfo(p []byte) (ValueInfo, error) {
	vi := ValueInfo{}
	m := message{p}
	for len(m.b) > 0 {
		num, typ, _, q, err := m.next()
		if err != nil {
			return vi, err
		}
		if typ != protowire.BytesType {
			continue
		}
		switch num {
		case 1:
			vi.Name = string(q)
		case 2:
			if err := readType(q, &vi); err != nil {
				return vi, err
			}
		}
	}
	if vi.Shape != nil {
		n := 1
		for _, d := range vi.Shape {
			if d > 0 {
				n *= d
			}
			if n > maxTensorElements {
				return vi, fmt.Errorf("declared shape %v is too large", vi.Shape)
			}
		}
	}
	return vi, nil
}

// readType reads a TypeProto, which must be a tensor type.
func readType(p []byte, vi *ValueInfo) error {
	m := message{p}
	for len(m.b) > 0 {
		num, typ, _, q, err := m.next()
		if err != nil {
			return err
		}
		if typ != protowire.BytesType {
			continue
		}
		switch num {
		case 1: // tensor_type
			if err := readTensorType(q, vi); err != nil {
				return err
			}
		case 6: // denotation
		default:
			return fmt.Errorf("non-tensor value type (field %d) is not supported", num)
		}
	}
	return nil
}

// readTensorType reads a TypeProto.Tensor: element type and shape.
func readTensorType(p []byte, vi *ValueInfo) error {
	m := message{p}
	for len(m.b) > 0 {
		num, typ, v, q, err := m.next()
		if err != nil {
			return err
		}
		if num == 1 && typ == protowire.VarintType {
			vi.DType = DType(v)
		}
		if num == 2 && typ == protowire.BytesType {
			if vi.Shape, err = readShape(q); err != nil {
				return err
			}
		}
	}
	return nil
}

// readShape reads a TensorShapeProto; a dimension without a value (symbolic) is -1.
func readShape(p []byte) ([]int, error) {
	shape := []int{}
	m := message{p}
	for len(m.b) > 0 {
		num, typ, _, q, err := m.next()
		if err != nil {
			return nil, err
		}
		if num != 1 || typ != protowire.BytesType {
			continue
		}
		dim := -1
		d := message{q}
		for len(d.b) > 0 {
			num, typ, v, _, err := d.next()
			if err != nil {
				return nil, err
			}
			if num == 1 && typ == protowire.VarintType {
				if int64(v) < 0 || v > math.MaxInt32 {
					return nil, fmt.Errorf("bad dimension %d", int64(v))
				}
				if v == 0 {
					// As for constant tensors: the executor has no zero-size values.
					return nil, errors.New("zero-size dimension is not supported")
				}
				dim = int(v)
			}
		}
		shape = append(shape, dim)
		if len(shape) > maxDims {
			return nil, errors.New("too many dimensions")
		}
	}
	return shape, nil
}
