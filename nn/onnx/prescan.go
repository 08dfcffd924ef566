package onnx

import (
	"errors"
	"fmt"
	"math"
)

// Limits that keep a corrupt or hostile file from causing huge allocations.
const (
	// maxTensorElements bounds a declared graph input/output/value_info shape, which onnx-go
	// allocates eagerly.
	maxTensorElements = 1 << 24
	maxDims           = 16
)

// scan is what the pre-scan learns about a model beyond validation: the facts onnx-go drops.
type scan struct {
	irVersion int64
	opset     int64 // default-domain opset; 0 if absent
	nodes     []scannedNode
	metadata  map[string]string
	// inputs and outputs in file order with symbolic dimensions as -1.
	inputs, outputs []ValueInfo
	initDims        map[string][]int // initializer name -> dims
}

type scannedNode struct {
	name, opType, domain string
	inputs, outputs      []string
	attrDims             map[string][]int // tensor attribute name -> dims
}

var errTruncated = errors.New("truncated protobuf")

// wire is a minimal protobuf wire-format reader.
type wire struct {
	b []byte
}

func (w *wire) varint() (uint64, error) {
	var v uint64
	for shift := uint(0); shift < 64; shift += 7 {
		if len(w.b) == 0 {
			return 0, errTruncated
		}
		c := w.b[0]
		w.b = w.b[1:]
		v |= uint64(c&0x7f) << shift
		if c < 0x80 {
			return v, nil
		}
	}
	return 0, errors.New("varint overflows 64 bits")
}

// field reads the next key; for length-delimited fields it returns the payload, for varints the
// value, and skips fixed-size fields.
func (w *wire) field() (num int, typ int, v uint64, payload []byte, err error) {
	key, err := w.varint()
	if err != nil {
		return 0, 0, 0, nil, err
	}
	num, typ = int(key>>3), int(key&7)
	if num <= 0 || num > math.MaxInt32 {
		return 0, 0, 0, nil, fmt.Errorf("bad field number %d", key>>3)
	}
	switch typ {
	case 0:
		v, err = w.varint()
	case 1:
		if len(w.b) < 8 {
			return 0, 0, 0, nil, errTruncated
		}
		payload, w.b = w.b[:8], w.b[8:]
	case 2:
		var n uint64
		n, err = w.varint()
		if err == nil && n > uint64(len(w.b)) {
			err = errTruncated
		}
		if err == nil {
			payload, w.b = w.b[:n], w.b[n:]
		}
	case 5:
		if len(w.b) < 4 {
			return 0, 0, 0, nil, errTruncated
		}
		payload, w.b = w.b[:4], w.b[4:]
	default:
		err = fmt.Errorf("unsupported wire type %d", typ)
	}
	return num, typ, v, payload, err
}

// prescanModel walks a ModelProto and validates what onnx-go would otherwise trust.
func prescanModel(data []byte) (*scan, error) {
	s := &scan{metadata: map[string]string{}, initDims: map[string][]int{}}
	w := wire{data}
	sawGraph := false
	for len(w.b) > 0 {
		num, typ, v, p, err := w.field()
		if err != nil {
			return nil, fmt.Errorf("model: %w", err)
		}
		switch {
		case num == 1 && typ == 0:
			s.irVersion = int64(v)
		case num == 8 && typ == 2:
			dom, ver, err := scanOpset(p)
			if err != nil {
				return nil, fmt.Errorf("opset_import: %w", err)
			}
			if dom == "" || dom == "ai.onnx" {
				s.opset = ver
			}
		case num == 14 && typ == 2:
			k, val, err := scanStringPair(p)
			if err != nil {
				return nil, fmt.Errorf("metadata_props: %w", err)
			}
			s.metadata[k] = val
		case num == 7 && typ == 2:
			sawGraph = true
			if err := s.scanGraph(p); err != nil {
				return nil, fmt.Errorf("graph: %w", err)
			}
		case num == 7 || num == 8 || num == 14:
			return nil, fmt.Errorf("model: field %d has wire type %d", num, typ)
		}
	}
	if !sawGraph {
		return nil, errors.New("model has no graph")
	}
	return s, nil
}

func scanOpset(p []byte) (string, int64, error) {
	w := wire{p}
	var dom string
	var ver int64
	for len(w.b) > 0 {
		num, typ, v, q, err := w.field()
		if err != nil {
			return "", 0, err
		}
		if num == 1 && typ == 2 {
			dom = string(q)
		} else if num == 2 && typ == 0 {
			ver = int64(v)
		}
	}
	return dom, ver, nil
}

func scanStringPair(p []byte) (string, string, error) {
	w := wire{p}
	var k, v string
	for len(w.b) > 0 {
		num, typ, _, q, err := w.field()
		if err != nil {
			return "", "", err
		}
		if typ == 2 && num == 1 {
			k = string(q)
		} else if typ == 2 && num == 2 {
			v = string(q)
		}
	}
	return k, v, nil
}

func (s *scan) scanGraph(p []byte) error {
	w := wire{p}
	for len(w.b) > 0 {
		num, typ, _, q, err := w.field()
		if err != nil {
			return err
		}
		if typ != 2 {
			continue
		}
		switch num {
		case 1:
			n, err := scanNode(q)
			if err != nil {
				return fmt.Errorf("node %d: %w", len(s.nodes), err)
			}
			s.nodes = append(s.nodes, n)
		case 5:
			name, dims, err := scanTensor(q)
			if err != nil {
				return fmt.Errorf("initializer %q: %w", name, err)
			}
			s.initDims[name] = dims
		case 15:
			return errors.New("sparse initializers are not supported")
		case 11, 12, 13:
			vi, err := scanValueInfo(q)
			if err != nil {
				return fmt.Errorf("value %q: %w", vi.Name, err)
			}
			if num == 11 {
				s.inputs = append(s.inputs, vi)
			} else if num == 12 {
				s.outputs = append(s.outputs, vi)
			}
		}
	}
	return nil
}

func scanNode(p []byte) (scannedNode, error) {
	n := scannedNode{attrDims: map[string][]int{}}
	w := wire{p}
	for len(w.b) > 0 {
		num, typ, _, q, err := w.field()
		if err != nil {
			return n, err
		}
		if typ != 2 {
			continue
		}
		switch num {
		case 1:
			n.inputs = append(n.inputs, string(q))
		case 2:
			n.outputs = append(n.outputs, string(q))
		case 3:
			n.name = string(q)
		case 4:
			n.opType = string(q)
		case 7:
			n.domain = string(q)
		case 5:
			name, dims, err := scanAttribute(q)
			if err != nil {
				return n, fmt.Errorf("attribute %s: %w", name, err)
			}
			if dims != nil {
				n.attrDims[name] = dims
			}
		}
	}
	if len(n.outputs) == 0 {
		return n, fmt.Errorf("%s node %q has no outputs", n.opType, n.name)
	}
	return n, nil
}

func scanAttribute(p []byte) (name string, dims []int, err error) {
	w := wire{p}
	for len(w.b) > 0 {
		num, typ, _, q, err := w.field()
		if err != nil {
			return name, nil, err
		}
		if typ != 2 {
			continue
		}
		switch num {
		case 1:
			name = string(q)
		case 5:
			if _, dims, err = scanTensor(q); err != nil {
				return name, nil, err
			}
		case 10, 11, 6, 22, 14:
			return name, nil, fmt.Errorf("attribute field %d (graphs, tensor lists, sparse tensors) is not supported", num)
		}
	}
	return name, dims, nil
}

// scanTensor checks that a TensorProto's declared shape matches the amount of data it carries
// and returns its name and dims.
func scanTensor(p []byte) (string, []int, error) {
	name, dims, err := scanTensorDims(p)
	if err != nil {
		return name, nil, err
	}
	out := make([]int, len(dims))
	for i, d := range dims {
		out[i] = int(d)
	}
	return name, out, nil
}

func scanTensorDims(p []byte) (string, []int64, error) {
	w := wire{p}
	var (
		name      string
		dims      []int64
		dtype     int64
		rawLen    = -1
		typedData int // elements in float_data/int32_data/int64_data/double_data
	)
	for len(w.b) > 0 {
		num, typ, v, q, err := w.field()
		if err != nil {
			return name, nil, err
		}
		switch num {
		case 1:
			if typ == 0 {
				dims = append(dims, int64(v))
			} else if typ == 2 {
				r := wire{q}
				for len(r.b) > 0 {
					d, err := r.varint()
					if err != nil {
						return name, nil, err
					}
					dims = append(dims, int64(d))
				}
			}
		case 2:
			dtype = int64(v)
		case 3:
			return name, nil, errors.New("segmented tensors are not supported")
		case 8:
			name = string(q)
		case 9:
			rawLen = len(q)
		case 13, 14:
			if num == 13 || v != 0 {
				return name, nil, errors.New("external data is not supported")
			}
		case 4, 5, 7, 10:
			if typ == 2 {
				switch num {
				case 4:
					typedData += len(q) / 4
				case 10:
					typedData += len(q) / 8
				default:
					r := wire{q}
					for len(r.b) > 0 {
						if _, err := r.varint(); err != nil {
							return name, nil, err
						}
						typedData++
					}
				}
			} else {
				typedData++
			}
		}
	}
	if len(dims) > maxDims {
		return name, nil, fmt.Errorf("%d dimensions", len(dims))
	}
	n := int64(1)
	for _, d := range dims {
		if d < 0 || d > math.MaxInt32 {
			return name, nil, fmt.Errorf("bad dimension %d", d)
		}
		if d != 0 && n > math.MaxInt64/d {
			return name, nil, errors.New("shape overflows")
		}
		n *= d
	}
	var size int64
	switch DType(dtype) {
	case Float32, Int32:
		size = 4
	case Int64, Float64:
		size = 8
	default:
		return name, nil, fmt.Errorf("unsupported tensor element type %d", dtype)
	}
	if rawLen >= 0 {
		if int64(rawLen) != n*size {
			return name, nil, fmt.Errorf("raw_data has %d bytes, shape %v needs %d", rawLen, dims, n*size)
		}
	} else if int64(typedData) != n {
		return name, nil, fmt.Errorf("tensor has %d values, shape %v needs %d", typedData, dims, n)
	}
	if n == 0 {
		// onnx-go cannot build an empty tensor; none of the supported operators needs one.
		return name, nil, fmt.Errorf("empty tensor (shape %v) is not supported", dims)
	}
	return name, dims, nil
}

func scanValueInfo(p []byte) (ValueInfo, error) {
	vi := ValueInfo{}
	w := wire{p}
	for len(w.b) > 0 {
		num, typ, _, q, err := w.field()
		if err != nil {
			return vi, err
		}
		if typ != 2 {
			continue
		}
		switch num {
		case 1:
			vi.Name = string(q)
		case 2:
			if err := scanType(q, &vi); err != nil {
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
		}
		if n > maxTensorElements {
			return vi, fmt.Errorf("declared shape %v is too large", vi.Shape)
		}
	}
	return vi, nil
}

func scanType(p []byte, vi *ValueInfo) error {
	w := wire{p}
	for len(w.b) > 0 {
		num, typ, _, q, err := w.field()
		if err != nil {
			return err
		}
		if num != 1 || typ != 2 {
			if typ == 2 && num != 6 {
				return fmt.Errorf("non-tensor value type (field %d) is not supported", num)
			}
			continue
		}
		t := wire{q}
		for len(t.b) > 0 {
			num, typ, v, q, err := t.field()
			if err != nil {
				return err
			}
			if num == 1 && typ == 0 {
				vi.DType = DType(v)
			}
			if num == 2 && typ == 2 {
				shape := []int{}
				s := wire{q}
				for len(s.b) > 0 {
					num, typ, _, dq, err := s.field()
					if err != nil {
						return err
					}
					if num != 1 || typ != 2 {
						continue
					}
					dim := -1
					d := wire{dq}
					for len(d.b) > 0 {
						num, typ, v, _, err := d.field()
						if err != nil {
							return err
						}
						if num == 1 && typ == 0 {
							if int64(v) < 0 || v > math.MaxInt32 {
								return fmt.Errorf("bad dimension %d", int64(v))
							}
							dim = int(v)
						}
					}
					shape = append(shape, dim)
					if len(shape) > maxDims {
						return errors.New("too many dimensions")
					}
				}
				vi.Shape = shape
			}
		}
	}
	return nil
}
