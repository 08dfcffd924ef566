// Package onnx decodes ONNX model files into a plain graph description (nodes, attributes,
// initializers) for the nn executor, in one decode path with two readers of one job each:
//
//   - reader.go walks the file once with protowire before anything else touches it: it rejects
//     what could make a hostile file allocate without bound (shapes, data lengths, element
//     types, nesting the executor does not support), takes the fields onnx-go drops (node
//     names, domains, the opset, ir_version, metadata, declared element types and symbolic
//     dimensions, tensor dims) and converts tensor data itself (tensor.go), straight from the
//     file's bytes;
//   - onnx-go decodes the structure (operators, their attributes and the edges between values)
//     into our Backend (backend.go), a gonum multigraph whose nodes take no tensors, from a copy
//     of the file without the initializers' data, so that neither the data nor gorgonia's
//     conversion of it goes through onnx-go.
//
// Decode checks that the two agree node by node and turns any panic of onnx-go into an error.
package onnx

import "fmt"

// DType is an ONNX tensor element type (TensorProto.DataType).
type DType int32

// The element types the executor understands.
const (
	Float32 DType = 1
	Int32   DType = 6
	Int64   DType = 7
	Float64 DType = 11
)

// Tensor is a constant tensor (an initializer or a Constant's value). Exactly one of Float and
// Int is set: floating-point data is converted to float32, integers to int64.
type Tensor struct {
	Name  string
	DType DType
	Shape []int
	Float []float32
	Int   []int64
}

// Len returns the number of elements of the shape.
func (t *Tensor) Len() int { return shapeLen(t.Shape) }

func shapeLen(s []int) int {
	n := 1
	for _, d := range s {
		n *= d
	}
	return n
}

// ValueInfo names a graph input or output and its declared shape (-1 for a symbolic dimension).
type ValueInfo struct {
	Name  string
	DType DType
	Shape []int
}

// Node is one operator application.
type Node struct {
	// Name is the node's name in the file, or "#i (output X)" when the file leaves it empty.
	Name   string
	OpType string
	Domain string
	// Inputs are value names in input order; "" is an omitted optional input.
	Inputs  []string
	Outputs []string
	// Attrs maps attribute names to int64, float32, string, []int64, []float32, []string or *Tensor.
	Attrs map[string]any
}

// Graph is a decoded model: nodes in file (topological) order.
type Graph struct {
	IRVersion    int64
	Opset        int64
	Inputs       []ValueInfo // graph inputs that are not initializers
	Outputs      []ValueInfo
	Initializers map[string]*Tensor
	Nodes        []Node
	// Metadata holds the model's metadata_props.
	Metadata map[string]string
}

// Describe returns "OpType node NAME" for messages.
func (n *Node) Describe() string { return fmt.Sprintf("%s node %q", n.OpType, n.Name) }
