package onnx

import (
	"fmt"
	"sort"

	onnxgo "github.com/owulveryck/onnx-go"
	"gonum.org/v1/gonum/graph"
	"gorgonia.org/tensor"
)

// backend is the onnx-go Backend that receives a decoded model. onnx-go creates one graph node per
// value name, records each operator's inputs as weighted edges from its output node (the weight is
// the input's position) and calls ApplyOperation once per ONNX node in file order. The backend
// keeps every edge in call order (a plain graph would merge Add(x, x) into one edge) and turns
// the result into a Graph.
type backend struct {
	nodes  map[int64]*value
	nextID int64
	// edges[from] lists the inputs of the operator producing from, in the order onnx-go set them.
	edges map[int64][]edge
	ops   []appliedOp
}

type value struct {
	id     int64
	name   string
	tensor tensor.Tensor
}

type edge struct {
	to     int64
	weight float64
}

type appliedOp struct {
	op      onnxgo.Operation
	outputs []int64
}

func newBackend() *backend {
	return &backend{nodes: map[int64]*value{}, edges: map[int64][]edge{}}
}

func (v *value) ID() int64                       { return v.id }
func (v *value) SetName(s string)                { v.name = s }
func (v *value) GetName() string                 { return v.name }
func (v *value) SetTensor(t tensor.Tensor) error { v.tensor = t; return nil }
func (v *value) GetTensor() tensor.Tensor        { return v.tensor }

func (b *backend) NewNode() graph.Node {
	n := &value{id: b.nextID}
	b.nextID++
	return n
}

func (b *backend) AddNode(n graph.Node) {
	if v, ok := n.(*value); ok {
		b.nodes[v.id] = v
	}
}

func (b *backend) NewWeightedEdge(from, to graph.Node, w float64) graph.WeightedEdge {
	return wedge{from, to, w}
}

func (b *backend) SetWeightedEdge(e graph.WeightedEdge) {
	b.edges[e.From().ID()] = append(b.edges[e.From().ID()], edge{e.To().ID(), e.Weight()})
}

func (b *backend) ApplyOperation(op onnxgo.Operation, outs ...graph.Node) error {
	ids := make([]int64, len(outs))
	for i, o := range outs {
		ids[i] = o.ID()
	}
	b.ops = append(b.ops, appliedOp{op, ids})
	return nil
}

// The read side of graph.Directed; onnx-go's decoder only uses Node.
func (b *backend) Node(id int64) graph.Node {
	if v, ok := b.nodes[id]; ok {
		return v
	}
	return nil
}
func (b *backend) Nodes() graph.Nodes             { return graph.Empty }
func (b *backend) From(int64) graph.Nodes         { return graph.Empty }
func (b *backend) To(int64) graph.Nodes           { return graph.Empty }
func (b *backend) HasEdgeBetween(x, y int64) bool { return false }
func (b *backend) HasEdgeFromTo(u, v int64) bool  { return false }
func (b *backend) Edge(u, v int64) graph.Edge     { return nil }

type wedge struct {
	f, t graph.Node
	w    float64
}

func (e wedge) From() graph.Node         { return e.f }
func (e wedge) To() graph.Node           { return e.t }
func (e wedge) ReversedEdge() graph.Edge { return wedge{e.t, e.f, e.w} }
func (e wedge) Weight() float64          { return e.w }

// inputsOf returns the input value names of the operator whose first output is out, by position.
func (b *backend) inputsOf(out int64) []string {
	es := b.edges[out]
	sorted := append([]edge(nil), es...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].weight < sorted[j].weight })
	names := make([]string, 0, len(sorted))
	for i, e := range sorted {
		if int(e.weight) != i {
			break // edges repeated for each output of a multi-output node
		}
		names = append(names, b.nodes[e.to].name)
	}
	return names
}

// convertTensor takes the data of a gorgonia tensor from onnx-go into a Tensor of the given
// dims (from the file: gorgonia reports shape [1] as a scalar).
func convertTensor(name string, t tensor.Tensor, dims []int) (*Tensor, error) {
	if t == nil {
		return nil, fmt.Errorf("tensor %q has no data", name)
	}
	shape := append([]int{}, dims...)
	out := &Tensor{Name: name, Shape: shape}
	switch d := t.Data().(type) {
	case []float32:
		out.DType, out.Float = Float32, d
	case float32:
		out.DType, out.Float = Float32, []float32{d}
	case []float64:
		out.DType, out.Float = Float64, make([]float32, len(d))
		for i, x := range d {
			out.Float[i] = float32(x)
		}
	case float64:
		out.DType, out.Float = Float64, []float32{float32(d)}
	case []int64:
		out.DType, out.Int = Int64, d
	case int64:
		out.DType, out.Int = Int64, []int64{d}
	case []int32:
		out.DType, out.Int = Int32, make([]int64, len(d))
		for i, x := range d {
			out.Int[i] = int64(x)
		}
	case int32:
		out.DType, out.Int = Int32, []int64{int64(d)}
	default:
		return nil, fmt.Errorf("tensor %q: unsupported element type %v", name, t.Dtype())
	}
	if n := len(out.Float) + len(out.Int); n != out.Len() {
		return nil, fmt.Errorf("tensor %q: %d values for shape %v", name, n, shape)
	}
	return out, nil
}
