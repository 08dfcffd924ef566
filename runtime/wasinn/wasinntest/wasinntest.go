// Package wasinntest makes small ONNX models for tests of wasi-nn hosts and guests: models whose
// output a test can compute by hand, and that differ in their bytes at will (to defeat the
// registry's sharing by content).
package wasinntest

import (
	"encoding/binary"
	"math"
)

// AddModel is the graph y = x + Bias, with x and y of shape [1, len(Bias)] (float32).
type AddModel struct {
	// Bias is the constant added to the input.
	Bias []float32
	// SymbolicBatch declares the first dimension of x and y as the symbolic "N".
	SymbolicBatch bool
	// Doc is the model's doc_string: models that differ only in Doc compute the same thing.
	Doc string
}

// ONNX protobuf field numbers used below (onnx/onnx.proto).
const (
	modelIRVersion   = 1
	modelDocString   = 6
	modelGraph       = 7
	modelOpsetImport = 8
	opsetVersion     = 2
	graphNode        = 1
	graphName        = 2
	graphInitializer = 5
	graphInput       = 11
	graphOutput      = 12
	nodeInput        = 1
	nodeOutput       = 2
	nodeName         = 3
	nodeOpType       = 4
	tensorDims       = 1
	tensorDataType   = 2
	tensorFloatData  = 4
	tensorName       = 8
	valueName        = 1
	valueType        = 2
	typeTensor       = 1
	tensorElemType   = 1
	tensorShape      = 2
	shapeDim         = 1
	dimValue         = 1
	dimParam         = 2
	float32Type      = 1
)

// Bytes is the serialized ModelProto.
func (m AddModel) Bytes() []byte {
	n := len(m.Bias)
	value := func(name string) []byte {
		var batch []byte
		if m.SymbolicBatch {
			batch = str(dimParam, "N")
		} else {
			batch = varintField(dimValue, 1)
		}
		shape := cat(msg(shapeDim, batch), msg(shapeDim, varintField(dimValue, uint64(n))))
		tt := cat(varintField(tensorElemType, float32Type), msg(tensorShape, shape))
		return cat(str(valueName, name), msg(valueType, msg(typeTensor, tt)))
	}
	floats := make([]byte, 4*n)
	for i, f := range m.Bias {
		binary.LittleEndian.PutUint32(floats[4*i:], math.Float32bits(f))
	}
	bias := cat(varintField(tensorDims, uint64(n)), varintField(tensorDataType, float32Type),
		bytesField(tensorFloatData, floats), str(tensorName, "b"))
	node := cat(str(nodeInput, "x"), str(nodeInput, "b"), str(nodeOutput, "y"), str(nodeName, "add"), str(nodeOpType, "Add"))
	graph := cat(msg(graphNode, node), str(graphName, "add"), msg(graphInitializer, bias),
		msg(graphInput, value("x")), msg(graphOutput, value("y")))
	model := cat(varintField(modelIRVersion, 7), msg(modelGraph, graph), msg(modelOpsetImport, varintField(opsetVersion, 13)))
	if m.Doc != "" {
		model = cat(model, str(modelDocString, m.Doc))
	}
	return model
}

// ChainModel is Layers MatMuls in a row, y = x·W·W·…·W, with x of shape [Rows, N] and one
// N×N weight W of zeros: a graph of many steps that each take a while, to test what happens
// between steps (deadlines). Its output is zeros.
type ChainModel struct {
	Rows, N, Layers int
}

// Bytes is the serialized ModelProto.
func (m ChainModel) Bytes() []byte {
	value := func(name string) []byte {
		shape := cat(msg(shapeDim, varintField(dimValue, uint64(m.Rows))), msg(shapeDim, varintField(dimValue, uint64(m.N))))
		tt := cat(varintField(tensorElemType, float32Type), msg(tensorShape, shape))
		return cat(str(valueName, name), msg(valueType, msg(typeTensor, tt)))
	}
	w := cat(varintField(tensorDims, uint64(m.N)), varintField(tensorDims, uint64(m.N)), varintField(tensorDataType, float32Type),
		bytesField(tensorFloatData, make([]byte, 4*m.N*m.N)), str(tensorName, "w"))
	graph := cat(str(graphName, "chain"), msg(graphInitializer, w), msg(graphInput, value("x")))
	prev := "x"
	for i := 0; i < m.Layers; i++ {
		out := "h" + itoa(i)
		if i == m.Layers-1 {
			out = "y"
		}
		graph = cat(graph, msg(graphNode, cat(str(nodeInput, prev), str(nodeInput, "w"), str(nodeOutput, out), str(nodeName, "mm"+itoa(i)), str(nodeOpType, "MatMul"))))
		prev = out
	}
	graph = cat(graph, msg(graphOutput, value("y")))
	return cat(varintField(modelIRVersion, 7), msg(modelGraph, graph), msg(modelOpsetImport, varintField(opsetVersion, 13)))
}

// BlowupModel is a file of a few hundred bytes whose graph folds two constants of K elements,
// a [K, 1] and a [1, K], into a [K, K] one (K² floats) and adds it to the input x [K, K]: a
// model that makes a careless compiler allocate gigabytes.
type BlowupModel struct{ K int }

// Bytes is the serialized ModelProto.
func (m BlowupModel) Bytes() []byte {
	k := uint64(m.K)
	value := func(name string) []byte {
		shape := cat(msg(shapeDim, varintField(dimValue, k)), msg(shapeDim, varintField(dimValue, k)))
		tt := cat(varintField(tensorElemType, float32Type), msg(tensorShape, shape))
		return cat(str(valueName, name), msg(valueType, msg(typeTensor, tt)))
	}
	col := cat(varintField(tensorDims, k), varintField(tensorDims, 1), varintField(tensorDataType, float32Type),
		bytesField(tensorFloatData, make([]byte, 4*m.K)), str(tensorName, "a"))
	row := cat(varintField(tensorDims, 1), varintField(tensorDims, k), varintField(tensorDataType, float32Type),
		bytesField(tensorFloatData, make([]byte, 4*m.K)), str(tensorName, "b"))
	graph := cat(str(graphName, "blowup"), msg(graphInitializer, col), msg(graphInitializer, row), msg(graphInput, value("x")),
		msg(graphNode, cat(str(nodeInput, "a"), str(nodeInput, "b"), str(nodeOutput, "c"), str(nodeName, "fold"), str(nodeOpType, "Add"))),
		msg(graphNode, cat(str(nodeInput, "x"), str(nodeInput, "c"), str(nodeOutput, "y"), str(nodeName, "add"), str(nodeOpType, "Add"))),
		msg(graphOutput, value("y")))
	return cat(varintField(modelIRVersion, 7), msg(modelGraph, graph), msg(modelOpsetImport, varintField(opsetVersion, 13)))
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var b []byte
	for ; i > 0; i /= 10 {
		b = append([]byte{byte('0' + i%10)}, b...)
	}
	return string(b)
}

// Output is what the model computes for x.
func (m AddModel) Output(x []float32) []float32 {
	y := make([]float32, len(x))
	for i := range x {
		y[i] = x[i] + m.Bias[i]
	}
	return y
}

func cat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func varintField(num int, v uint64) []byte {
	return binary.AppendUvarint(binary.AppendUvarint(nil, uint64(num)<<3), v)
}

func bytesField(num int, b []byte) []byte {
	out := binary.AppendUvarint(nil, uint64(num)<<3|2)
	out = binary.AppendUvarint(out, uint64(len(b)))
	return append(out, b...)
}

func msg(num int, b []byte) []byte { return bytesField(num, b) }

func str(num int, s string) []byte { return bytesField(num, []byte(s)) }
