package onnx

import (
	"fmt"
	"sort"

	onnxgo "github.com/owulveryck/onnx-go"
	"gonum.org/v1/gonum/graph"
	"gonum.org/v1/gonum/graph/multi"
	"gonum.org/v1/gonum/graph/simple"
)

// backend is the onnx-go Backend that receives a decoded model: a gonum multigraph with one
// node per value name and, from each operator's output, one weighted line per input (the
// weight is the input's position; a multigraph keeps both lines of Add(x, x)), plus the
// operators in the order onnx-go applied them (file order).
//
// Its nodes know their names but carry no tensor (they are not onnx-go DataCarriers), so onnx-go
// skips its gorgonia conversion of initializers: the reader converts them from the file.
type backend struct {
	*multi.WeightedDirectedGraph
	ops []appliedOp
}

// value is a graph node: one value name of the model.
type value struct {
	id   int64
	name string
}

type appliedOp struct {
	op      onnxgo.Operation
	outputs []int64
}

func newBackend() *backend {
	return &backend{WeightedDirectedGraph: multi.NewWeightedDirectedGraph()}
}

func (v *value) ID() int64        { return v.id }
func (v *value) SetName(s string) { v.name = s }
func (v *value) GetName() string  { return v.name }

// NewNode returns a named node with an ID the graph has not used.
func (b *backend) NewNode() graph.Node {
	return &value{id: b.WeightedDirectedGraph.NewNode().ID()}
}

// NewWeightedEdge returns an edge for SetWeightedEdge.
func (b *backend) NewWeightedEdge(from, to graph.Node, w float64) graph.WeightedEdge {
	return simple.WeightedEdge{F: from, T: to, W: w}
}

// SetWeightedEdge adds e as a new line, so that parallel edges stay distinct.
func (b *backend) SetWeightedEdge(e graph.WeightedEdge) {
	b.SetWeightedLine(b.NewWeightedLine(e.From(), e.To(), e.Weight()))
}

// ApplyOperation records an operator and its output nodes.
func (b *backend) ApplyOperation(op onnxgo.Operation, outs ...graph.Node) error {
	ids := make([]int64, len(outs))
	for i, o := range outs {
		ids[i] = o.ID()
	}
	b.ops = append(b.ops, appliedOp{op, ids})
	return nil
}

// name returns the value name of node id.
func (b *backend) name(id int64) string {
	if v, ok := b.Node(id).(*value); ok {
		return v.name
	}
	return ""
}

// inputsOf returns the input value names of the operator whose first output is out, in input
// order.
func (b *backend) inputsOf(out int64) ([]string, error) {
	type input struct {
		pos  float64
		name string
	}
	var ins []input
	for to := b.From(out); to.Next(); {
		lines := b.WeightedLines(out, to.Node().ID())
		for lines.Next() {
			ins = append(ins, input{lines.WeightedLine().Weight(), b.name(to.Node().ID())})
		}
	}
	sort.Slice(ins, func(i, j int) bool { return ins[i].pos < ins[j].pos })
	names := make([]string, len(ins))
	for i, in := range ins {
		if in.pos != float64(i) {
			return nil, fmt.Errorf("input %d of %d is missing or repeated (is a value produced twice?)", i, len(ins))
		}
		names[i] = in.name
	}
	return names, nil
}
