package onnx

import (
	"encoding/binary"
	"math"
	"reflect"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
)

// Builders of protobuf fields for hand-made models; lenField is a length-delimited field.
func cat(fields ...[]byte) []byte {
	var b []byte
	for _, f := range fields {
		b = append(b, f...)
	}
	return b
}

func vint(num protowire.Number, v uint64) []byte {
	return protowire.AppendVarint(protowire.AppendTag(nil, num, protowire.VarintType), v)
}

func lenField(num protowire.Number, fields ...[]byte) []byte {
	return protowire.AppendBytes(protowire.AppendTag(nil, num, protowire.BytesType), cat(fields...))
}

func str(num protowire.Number, s string) []byte { return lenField(num, []byte(s)) }

func fixed32(num protowire.Number, v uint32) []byte {
	return protowire.AppendFixed32(protowire.AppendTag(nil, num, protowire.Fixed32Type), v)
}

func fixed64(num protowire.Number, v uint64) []byte {
	return protowire.AppendFixed64(protowire.AppendTag(nil, num, protowire.Fixed64Type), v)
}

func rawFloats(xs ...float32) []byte {
	b := make([]byte, 4*len(xs))
	for i, x := range xs {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return b
}

func packedVarints(xs ...int64) []byte {
	var b []byte
	for _, x := range xs {
		b = protowire.AppendVarint(b, uint64(x))
	}
	return b
}

// valueInfo is a ValueInfoProto of a float tensor; a negative dim is symbolic.
func valueInfo(name string, dims ...int) []byte {
	var shape []byte
	for _, d := range dims {
		if d < 0 {
			shape = append(shape, lenField(1, str(2, "N"))...)
		} else {
			shape = append(shape, lenField(1, vint(1, uint64(d)))...)
		}
	}
	return cat(str(1, name), lenField(2, lenField(1, vint(1, 1), lenField(2, shape))))
}

func node(name, op string, inputs, outputs []string, attrs ...[]byte) []byte {
	var b []byte
	for _, in := range inputs {
		b = append(b, str(1, in)...)
	}
	for _, out := range outputs {
		b = append(b, str(2, out)...)
	}
	if name != "" {
		b = append(b, str(3, name)...)
	}
	b = append(b, str(4, op)...)
	for _, a := range attrs {
		b = append(b, lenField(5, a)...)
	}
	return b
}

// model is a ModelProto (IR 8, opset 13) around the given graph fields.
func model(graph ...[]byte) []byte {
	return cat(vint(1, 8), lenField(8, str(1, ""), vint(2, 13)), lenField(7, graph...))
}

func TestDecodeFields(t *testing.T) {
	data := cat(
		vint(1, 8),
		lenField(8, str(1, ""), vint(2, 13)),
		lenField(8, str(1, "com.example"), vint(2, 1)),
		lenField(14, str(1, "author"), str(2, "test")),
		lenField(7,
			lenField(1, node("", "Add", []string{"x", "x"}, []string{"y"})),
			lenField(1, node("const", "Constant", nil, []string{"c"},
				cat(str(1, "value"), vint(20, 4), lenField(5, vint(1, 1), vint(2, 1), lenField(4, rawFloats(2.5)))))),
			lenField(1, node("mul", "Mul", []string{"y", "w"}, []string{"z"}, cat(str(1, "axis"), vint(20, 2), vint(3, 1)))),
			lenField(1, node("", "Gather", []string{"z", "", "i"}, []string{"g", "h"})),
			lenField(5, vint(1, 1), vint(1, 2), vint(2, 1), str(8, "w"), lenField(9, rawFloats(1, -2))),
			lenField(5, lenField(1, packedVarints(2)), vint(2, 7), str(8, "i"), lenField(7, packedVarints(-1, 5))),
			lenField(5, vint(2, 11), str(8, "d"), fixed64(10, math.Float64bits(0.5))),
			lenField(5, vint(2, 1), str(8, "f"), fixed32(4, math.Float32bits(3))),
			lenField(11, valueInfo("x", -1, 2)),
			lenField(11, valueInfo("w", 1, 2)),
			lenField(12, valueInfo("g", 1)),
		),
	)
	want := &Graph{
		IRVersion: 8,
		Opset:     13,
		Inputs:    []ValueInfo{{Name: "x", DType: Float32, Shape: []int{-1, 2}}},
		Outputs:   []ValueInfo{{Name: "g", DType: Float32, Shape: []int{1}}},
		Initializers: map[string]*Tensor{
			"w": {Name: "w", DType: Float32, Shape: []int{1, 2}, Float: []float32{1, -2}},
			"i": {Name: "i", DType: Int64, Shape: []int{2}, Int: []int64{-1, 5}},
			"d": {Name: "d", DType: Float64, Shape: []int{}, Float: []float32{0.5}},
			"f": {Name: "f", DType: Float32, Shape: []int{}, Float: []float32{3}},
		},
		Nodes: []Node{
			{Name: "#0 (output y)", OpType: "Add", Inputs: []string{"x", "x"}, Outputs: []string{"y"}, Attrs: map[string]any{}},
			{Name: "const", OpType: "Constant", Outputs: []string{"c"}, Attrs: map[string]any{
				"value": &Tensor{Name: "value", DType: Float32, Shape: []int{1}, Float: []float32{2.5}}}},
			{Name: "mul", OpType: "Mul", Inputs: []string{"y", "w"}, Outputs: []string{"z"}, Attrs: map[string]any{"axis": int64(1)}},
			{Name: "#3 (output g)", OpType: "Gather", Inputs: []string{"z", "", "i"}, Outputs: []string{"g", "h"}, Attrs: map[string]any{}},
		},
		Metadata: map[string]string{"author": "test"},
	}
	got, err := Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
		for i := range got.Nodes {
			if i < len(want.Nodes) && !reflect.DeepEqual(got.Nodes[i], want.Nodes[i]) {
				t.Errorf("node %d: got %+v, want %+v", i, got.Nodes[i], want.Nodes[i])
			}
		}
	}
}

func TestDecodeRejects(t *testing.T) {
	add := lenField(1, node("", "Add", []string{"x", "x"}, []string{"y"}))
	out := lenField(12, valueInfo("y", 1))
	tensor := func(fields ...[]byte) []byte { return model(add, lenField(5, fields...), out) }
	cases := []struct {
		name string
		data []byte
		want string
	}{
		{"empty", []byte{}, "no graph"},
		{"truncated varint", []byte{0x08, 0xff}, "model"},
		{"no graph", []byte{0x08, 0x08}, "no graph"},
		{"huge length", []byte{0x3a, 0xff, 0xff, 0xff, 0xff, 0x0f}, "model"},
		{"bad wire type", []byte{0x0f}, "model"},
		{"group", cat(vint(1, 8), protowire.AppendTag(nil, 3, protowire.StartGroupType), protowire.AppendTag(nil, 3, protowire.EndGroupType)), "wire type"},
		{"graph as a varint", vint(7, 1), "graph"},
		{"tensor too short", []byte{0x3a, 0x0c, 0x2a, 0x0a, 0x08, 0x04, 0x10, 0x01, 0x42, 0x01, 'w', 0x4a, 0x01, 0x00}, "raw_data has 1 bytes"},
		{"negative dim", []byte{0x3a, 0x0f, 0x2a, 0x0d, 0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0x10, 0x01}, "bad dimension"},
		{"too many dims", tensor(lenField(1, packedVarints(1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1)), vint(2, 1), lenField(9, rawFloats(1))), "dimensions"},
		{"shape overflows", tensor(lenField(1, packedVarints(1<<31-1, 1<<31-1, 1<<31-1)), vint(2, 1)), "overflows"},
		{"raw and typed data", tensor(vint(2, 1), str(8, "t"), lenField(9, rawFloats(1)), fixed32(4, 0)), "raw_data"},
		{"data of another type", tensor(vint(2, 1), str(8, "t"), lenField(7, packedVarints(1))), "field 7"},
		{"float_data as varints", tensor(vint(2, 1), str(8, "t"), vint(4, 1)), "wire type"},
		{"partial float", tensor(vint(2, 1), str(8, "t"), lenField(4, []byte{1, 2, 3})), "whole number"},
		{"too few values", tensor(vint(1, 3), vint(2, 7), str(8, "t"), lenField(7, packedVarints(1, 2))), "needs 3"},
		{"empty tensor", tensor(vint(1, 0), vint(2, 1), str(8, "t"), lenField(9)), "empty tensor"},
		{"unsupported type", tensor(vint(2, 2), str(8, "t"), lenField(9, []byte{1})), "element type 2"},
		{"segmented", tensor(vint(2, 1), lenField(3, vint(1, 0)), lenField(9, rawFloats(1))), "segmented"},
		{"external data", tensor(vint(2, 1), lenField(13, str(1, "location"), str(2, "w.bin"))), "external"},
		{"sparse initializer", model(add, lenField(15), out), "sparse"},
		{"graph attribute", model(lenField(1, node("", "If", []string{"c"}, []string{"y"}, cat(str(1, "then_branch"), lenField(6)))), out), "field 6"},
		{"node without outputs", model(lenField(1, node("n", "Relu", []string{"x"}, nil)), out), "no outputs"},
		{"zero-size input", model(add, lenField(11, valueInfo("x", 0, 2)), out), "zero-size"},
		{"huge input", model(add, lenField(11, valueInfo("x", 1<<13, 1<<13, 1<<13)), out), "too large"},
		{"sequence input", model(add, lenField(11, str(1, "x"), lenField(2, lenField(4))), out), "non-tensor"},
		{"value produced twice", model(add, lenField(1, node("", "Relu", []string{"x"}, []string{"y"})), out), "repeated"},
		{"no outputs (onnx-go)", model(add), "decode"},
	}
	for _, c := range cases {
		_, err := Decode(c.data)
		if err == nil {
			t.Errorf("%s: decoded without error", c.name)
			continue
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %q does not mention %q", c.name, err, c.want)
		}
	}
}
