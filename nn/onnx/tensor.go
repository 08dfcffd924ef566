package onnx

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"unsafe"

	"google.golang.org/protobuf/encoding/protowire"
)

// TensorProto field numbers.
const (
	tensorDims       = 1
	tensorDataType   = 2
	tensorSegment    = 3
	tensorFloatData  = 4
	tensorInt32Data  = 5
	tensorInt64Data  = 7
	tensorName       = 8
	tensorRawData    = 9
	tensorDoubleData = 10
	tensorExternal   = 13
	tensorLocation   = 14
)

// elementField is, per supported element type, its size in raw_data and the field that holds
// its typed data.
var elementField = map[DType]struct {
	size  int
	field protowire.Number
}{
	Float32: {4, tensorFloatData},
	Int32:   {4, tensorInt32Data},
	Int64:   {8, tensorInt64Data},
	Float64: {8, tensorDoubleData},
}

// readTensor decodes a TensorProto after checking that its declared shape matches the amount of
// data it carries, so that no allocation exceeds a small multiple of the input.
func readTensor(p []byte) (*Tensor, error) {
	t := &Tensor{Shape: []int{}}
	f, err := t.readFields(p)
	if err != nil {
		return nil, tensorError(t, err)
	}
	el, ok := elementField[DType(f.dtype)]
	if !ok {
		return nil, tensorError(t, fmt.Errorf("unsupported tensor element type %d", f.dtype))
	}
	t.DType = DType(f.dtype)
	n, err := elements(t.Shape)
	if err != nil {
		return nil, tensorError(t, err)
	}
	for field, c := range f.values {
		if c == 0 {
			continue
		}
		if f.hasRaw {
			return nil, tensorError(t, fmt.Errorf("both raw_data and field %d hold values", field))
		}
		if field != el.field {
			return nil, tensorError(t, fmt.Errorf("field %d holds values; type %d keeps them in field %d", field, f.dtype, el.field))
		}
	}
	switch {
	case f.hasRaw && int64(len(f.raw)) != n*int64(el.size):
		return nil, tensorError(t, fmt.Errorf("raw_data has %d bytes, shape %v needs %d", len(f.raw), t.Shape, n*int64(el.size)))
	case !f.hasRaw && int64(f.values[el.field]) != n:
		return nil, tensorError(t, fmt.Errorf("tensor has %d values, shape %v needs %d", f.values[el.field], t.Shape, n))
	case n == 0:
		// The executor's kernels and onnx-go's tensor attributes do not handle empty tensors.
		return nil, tensorError(t, fmt.Errorf("empty tensor (shape %v) is not supported", t.Shape))
	}
	if f.hasRaw {
		t.fromRaw(f.raw, int(n))
		return t, nil
	}
	if err := t.fromTyped(p, el.field, int(n)); err != nil {
		return nil, tensorError(t, err)
	}
	return t, nil
}

// tensorFields is what a first walk over a TensorProto finds besides its name and dims.
type tensorFields struct {
	dtype  int64
	raw    []byte
	hasRaw bool
	values map[protowire.Number]int // elements per typed-data field
}

// readFields walks the fields of the TensorProto p, setting t's name and shape.
func (t *Tensor) readFields(p []byte) (tensorFields, error) {
	f := tensorFields{values: map[protowire.Number]int{}}
	m := message{p}
	for len(m.b) > 0 {
		num, typ, v, q, err := m.next()
		if err != nil {
			return f, err
		}
		switch num {
		case tensorDims:
			if typ == protowire.VarintType {
				t.Shape, err = appendDim(t.Shape, v)
			} else if typ == protowire.BytesType {
				err = eachVarint(q, func(d uint64) error {
					var err error
					t.Shape, err = appendDim(t.Shape, d)
					return err
				})
			}
		case tensorDataType:
			f.dtype = int64(v)
		case tensorSegment:
			err = errors.New("segmented tensors are not supported")
		case tensorName:
			t.Name = string(q)
		case tensorRawData:
			f.raw, f.hasRaw = q, true
		case tensorExternal:
			err = errors.New("external data is not supported")
		case tensorLocation:
			if v != 0 {
				err = errors.New("external data is not supported")
			}
		case tensorFloatData, tensorInt32Data, tensorInt64Data, tensorDoubleData:
			var n int
			n, err = countValues(num, typ, q)
			f.values[num] += n
		}
		if err != nil {
			return f, err
		}
	}
	return f, nil
}

// withoutData returns a copy of the valid TensorProto p without its data fields.
func withoutData(p []byte) []byte {
	out := make([]byte, 0, 64)
	m := message{p}
	for len(m.b) > 0 {
		field := m.b
		num, _, _, _, err := m.next()
		if err != nil {
			break // readTensor has accepted p
		}
		switch num {
		case tensorFloatData, tensorInt32Data, tensorInt64Data, tensorRawData, tensorDoubleData:
		default:
			out = append(out, field[:len(field)-len(m.b)]...)
		}
	}
	return out
}

func tensorError(t *Tensor, err error) error { return fmt.Errorf("tensor %q: %w", t.Name, err) }

// appendDim appends one TensorProto dimension, rejecting negative and huge ones and too many.
func appendDim(shape []int, d uint64) ([]int, error) {
	if int64(d) < 0 || d > math.MaxInt32 {
		return shape, fmt.Errorf("bad dimension %d", int64(d))
	}
	if len(shape) == maxDims {
		return shape, fmt.Errorf("more than %d dimensions", maxDims)
	}
	return append(shape, int(d)), nil
}

// elements returns the number of elements of a shape whose dims are already bounded.
func elements(shape []int) (int64, error) {
	n := int64(1)
	for _, d := range shape {
		if d != 0 && n > math.MaxInt64/int64(d) {
			return 0, errors.New("shape overflows")
		}
		n *= int64(d)
	}
	return n, nil
}

// eachVarint calls fn for each varint of a packed repeated field.
func eachVarint(p []byte, fn func(uint64) error) error {
	for len(p) > 0 {
		v, n := protowire.ConsumeVarint(p)
		if n < 0 {
			return protowire.ParseError(n)
		}
		if err := fn(v); err != nil {
			return err
		}
		p = p[n:]
	}
	return nil
}

// countValues counts the values of one occurrence of a typed-data field, packed or not.
func countValues(num protowire.Number, typ protowire.Type, p []byte) (int, error) {
	size, unpacked := 0, protowire.VarintType // size of a fixed-width value; wire type of one value
	switch num {
	case tensorFloatData:
		size, unpacked = 4, protowire.Fixed32Type
	case tensorDoubleData:
		size, unpacked = 8, protowire.Fixed64Type
	}
	switch {
	case typ == unpacked:
		return 1, nil
	case typ != protowire.BytesType:
		return 0, fmt.Errorf("field %d has wire type %d", num, typ)
	case size > 0:
		if len(p)%size != 0 {
			return 0, fmt.Errorf("field %d: %d bytes is not a whole number of values", num, len(p))
		}
		return len(p) / size, nil
	}
	c := 0
	err := eachVarint(p, func(uint64) error { c++; return nil })
	return c, err
}

// littleEndian says whether the host stores numbers as raw_data does.
var littleEndian = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

// fromRaw converts n little-endian values of raw_data.
func (t *Tensor) fromRaw(raw []byte, n int) {
	switch t.DType {
	case Float32:
		t.Float = make([]float32, n)
		if littleEndian {
			// raw_data is little-endian, as the host: a copy is the conversion. It is most of
			// a model's bytes, and element by element it took half of the load in wasm.
			copy(unsafe.Slice((*byte)(unsafe.Pointer(&t.Float[0])), 4*n), raw)
			return
		}
		for i := range t.Float {
			t.Float[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
		}
	case Float64:
		t.Float = make([]float32, n)
		for i := range t.Float {
			t.Float[i] = float32(math.Float64frombits(binary.LittleEndian.Uint64(raw[8*i:])))
		}
	case Int32:
		t.Int = make([]int64, n)
		for i := range t.Int {
			t.Int[i] = int64(int32(binary.LittleEndian.Uint32(raw[4*i:])))
		}
	case Int64:
		t.Int = make([]int64, n)
		for i := range t.Int {
			t.Int[i] = int64(binary.LittleEndian.Uint64(raw[8*i:]))
		}
	}
}

// fromTyped converts the n values of the typed-data field of the tensor message p, already
// counted by readTensor.
func (t *Tensor) fromTyped(p []byte, field protowire.Number, n int) error {
	if t.DType == Float32 || t.DType == Float64 {
		t.Float = make([]float32, 0, n)
	} else {
		t.Int = make([]int64, 0, n)
	}
	add := func(v uint64) error {
		switch t.DType {
		case Float32:
			t.Float = append(t.Float, math.Float32frombits(uint32(v)))
		case Float64:
			t.Float = append(t.Float, float32(math.Float64frombits(v)))
		case Int32:
			t.Int = append(t.Int, int64(int32(v)))
		case Int64:
			t.Int = append(t.Int, int64(v))
		}
		return nil
	}
	m := message{p}
	for len(m.b) > 0 {
		num, typ, v, q, err := m.next()
		if err != nil {
			return err
		}
		if num != field {
			continue
		}
		switch {
		case typ == protowire.VarintType:
			err = add(v)
		case typ == protowire.Fixed32Type:
			err = add(uint64(binary.LittleEndian.Uint32(q)))
		case typ == protowire.Fixed64Type:
			err = add(binary.LittleEndian.Uint64(q))
		case field == tensorFloatData:
			for i := 0; i+4 <= len(q); i += 4 {
				err = add(uint64(binary.LittleEndian.Uint32(q[i:])))
			}
		case field == tensorDoubleData:
			for i := 0; i+8 <= len(q); i += 8 {
				err = add(binary.LittleEndian.Uint64(q[i:]))
			}
		default:
			err = eachVarint(q, add)
		}
		if err != nil {
			return err
		}
	}
	return nil
}
