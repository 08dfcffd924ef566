// Package nn is a small single-threaded inference engine for ONNX image classifiers such as
// MobileNetV2: it compiles a decoded graph (package nn/onnx) into a flat plan with static shapes,
// folds constants and BatchNormalization into the preceding convolution at load, and runs float32
// kernels written in pure Go (with optional amd64 assembly for the hot loops; see kernels_*.go).
package nn

import (
	"errors"
	"fmt"
	"os"

	"github.com/wasmwhisk/wasmwhisk/nn/onnx"
)

// Model is a compiled graph ready to run. A Model reuses its activation buffers between runs, so
// it is not safe for concurrent use; load one per goroutine.
type Model struct {
	// Inputs and Outputs describe the graph's interface in file order.
	Inputs  []onnx.ValueInfo
	Outputs []onnx.ValueInfo
	// Metadata holds the model's metadata_props.
	Metadata map[string]string

	inSlots  []int
	outSlots []int
	slots    []*value
	steps    []step
}

type step struct {
	node *onnx.Node
	k    kernel
	in   []int // -1 for an omitted optional input
	out  []int
}

// kernel runs one operator on inputs whose shapes were fixed at compile time.
type kernel interface {
	run(in, out []*value) error
}

// inPlacer is implemented by kernels that may write their output over their first input.
type inPlacer interface{ inPlace() bool }

// info is what the compiler knows about a value: its static shape, element kind and, for
// constants, the value itself.
type info struct {
	shape []int
	isInt bool
	c     *value
}

// builder validates a node against its input infos and returns its kernel and output infos. A
// builder may return constant outputs (info.c set) and a nil kernel when the result depends only
// on shapes.
type builder func(n *onnx.Node, in []*info) (kernel, []info, error)

// BindInputs returns a copy of g in which the named graph inputs are constants. Inputs that
// decide shapes (a Reshape target, Unsqueeze axes) must be bound before Compile, since the
// engine plans with static shapes.
func BindInputs(g *onnx.Graph, values map[string]*onnx.Tensor) *onnx.Graph {
	g2 := *g
	g2.Initializers = make(map[string]*onnx.Tensor, len(g.Initializers)+len(values))
	for k, v := range g.Initializers {
		g2.Initializers[k] = v
	}
	g2.Inputs = nil
	for _, in := range g.Inputs {
		if v, ok := values[in.Name]; ok {
			g2.Initializers[in.Name] = v
			continue
		}
		g2.Inputs = append(g2.Inputs, in)
	}
	return &g2
}

// LoadFile reads, decodes and compiles an ONNX model.
func LoadFile(path string) (*Model, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("nn: %w", err)
	}
	m, err := Load(data)
	if err != nil {
		return nil, fmt.Errorf("nn: %s: %w", path, err)
	}
	return m, nil
}

// Load decodes and compiles an ONNX model from its bytes.
func Load(data []byte) (*Model, error) {
	g, err := onnx.Decode(data)
	if err != nil {
		return nil, err
	}
	return Compile(g)
}

// Compile turns a decoded graph into a runnable Model. Every graph input needs a fully known
// shape. Unsupported operators and attributes fail here, naming the node.
func Compile(g *onnx.Graph) (*Model, error) {
	nodes, inits := optimize(g)
	m := &Model{Inputs: g.Inputs, Outputs: g.Outputs, Metadata: g.Metadata}
	slotOf := map[string]int{}
	var infos []*info
	newSlot := func(name string, in *info) int {
		slotOf[name] = len(infos)
		infos = append(infos, in)
		return len(infos) - 1
	}
	for name, t := range inits {
		v := &value{shape: t.Shape, f: t.Float, i: t.Int, isInt: t.Float == nil}
		newSlot(name, &info{shape: t.Shape, isInt: v.isInt, c: v})
	}
	for _, in := range g.Inputs {
		for _, d := range in.Shape {
			if d < 0 {
				return nil, fmt.Errorf("input %q has a symbolic shape %v; a fixed shape is required", in.Name, in.Shape)
			}
		}
		if in.Shape == nil {
			return nil, fmt.Errorf("input %q has no declared shape", in.Name)
		}
		isInt := in.DType == onnx.Int64 || in.DType == onnx.Int32
		if !isInt && in.DType != onnx.Float32 {
			return nil, fmt.Errorf("input %q: element type %d is not supported", in.Name, in.DType)
		}
		m.inSlots = append(m.inSlots, newSlot(in.Name, &info{shape: in.Shape, isInt: isInt}))
	}
	for ni := range nodes {
		n := &nodes[ni]
		if n.Domain != "" && n.Domain != "ai.onnx" {
			return nil, fmt.Errorf("%s: operator domain %q is not supported", n.Describe(), n.Domain)
		}
		n.Attrs[attrOpset] = g.Opset
		if g.Opset == 0 {
			n.Attrs[attrOpset] = int64(13)
		}
		b, ok := builders[n.OpType]
		if !ok {
			return nil, fmt.Errorf("unsupported operator %s", n.Describe())
		}
		ins := make([]*info, len(n.Inputs))
		inSlots := make([]int, len(n.Inputs))
		allConst := true
		for i, name := range n.Inputs {
			inSlots[i] = -1
			if name == "" {
				continue
			}
			s, ok := slotOf[name]
			if !ok {
				return nil, fmt.Errorf("%s: input %q is not produced by any earlier node", n.Describe(), name)
			}
			inSlots[i] = s
			ins[i] = infos[s]
			if ins[i].c == nil {
				allConst = false
			}
		}
		k, outs, err := b(n, ins)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", n.Describe(), err)
		}
		if len(outs) < len(n.Outputs) {
			for _, o := range n.Outputs[len(outs):] {
				if o != "" {
					return nil, fmt.Errorf("%s: optional output %q is not supported", n.Describe(), o)
				}
			}
		}
		outSlots := make([]int, 0, len(n.Outputs))
		for i, name := range n.Outputs {
			if name == "" {
				outSlots = append(outSlots, -1)
				continue
			}
			o := outs[i]
			outSlots = append(outSlots, newSlot(name, &o))
		}
		if k == nil {
			continue
		}
		if allConst {
			// Fold: run the kernel now and keep its outputs as constants.
			in := make([]*value, len(ins))
			for i, x := range ins {
				if x != nil {
					in[i] = x.c
				}
			}
			out := make([]*value, len(outSlots))
			for i, s := range outSlots {
				if s >= 0 {
					out[i] = allocValue(infos[s])
				}
			}
			if err := k.run(in, out); err != nil {
				return nil, fmt.Errorf("%s: constant folding: %w", n.Describe(), err)
			}
			for i, s := range outSlots {
				if s >= 0 {
					infos[s].c = out[i]
				}
			}
			continue
		}
		m.steps = append(m.steps, step{node: n, k: k, in: inSlots, out: outSlots})
	}
	for _, o := range g.Outputs {
		s, ok := slotOf[o.Name]
		if !ok {
			return nil, fmt.Errorf("graph output %q is not produced by any node", o.Name)
		}
		m.outSlots = append(m.outSlots, s)
	}
	m.slots = make([]*value, len(infos))
	for i, in := range infos {
		if in.c != nil {
			m.slots[i] = in.c
		} else {
			m.slots[i] = &value{shape: in.shape, isInt: in.isInt}
		}
	}
	m.assignBuffers()
	return m, nil
}

func allocValue(in *info) *value {
	v := &value{shape: in.shape, isInt: in.isInt}
	if in.isInt {
		v.i = make([]int64, shapeLen(in.shape))
	} else {
		v.f = make([]float32, shapeLen(in.shape))
	}
	return v
}

// assignBuffers gives every intermediate value a buffer, reusing the buffers of values that are
// dead by then, and lets elementwise kernels work in place.
func (m *Model) assignBuffers() {
	lastUse := make([]int, len(m.slots))
	for i := range lastUse {
		lastUse[i] = -1
	}
	keep := map[int]bool{}
	for _, s := range m.outSlots {
		keep[s] = true
	}
	for _, s := range m.inSlots {
		keep[s] = true
	}
	for si, st := range m.steps {
		for _, s := range st.in {
			if s >= 0 {
				lastUse[s] = si
			}
		}
	}
	var free [][]float32
	take := func(n int) []float32 {
		best := -1
		for i, b := range free {
			if cap(b) >= n && (best < 0 || cap(b) < cap(free[best])) {
				best = i
			}
		}
		if best < 0 {
			return make([]float32, n)
		}
		b := free[best][:n]
		free = append(free[:best], free[best+1:]...)
		return b
	}
	isConst := func(s int) bool { return m.slots[s].f != nil || m.slots[s].i != nil }
	for si, st := range m.steps {
		inPlace := false
		if ip, ok := st.k.(inPlacer); ok && ip.inPlace() && len(st.in) > 0 && st.in[0] >= 0 && len(st.out) == 1 && st.out[0] >= 0 {
			src := st.in[0]
			if !keep[src] && lastUse[src] == si && !isConst(src) && !m.slots[src].isInt {
				inPlace = true
				m.slots[st.out[0]].f = m.slots[src].f
				lastUse[src] = -2 // its buffer now belongs to the output
			}
		}
		for _, s := range st.out {
			if s < 0 || (inPlace && s == st.out[0]) {
				continue
			}
			v := m.slots[s]
			if v.isInt {
				continue // int intermediates are allocated per run
			}
			if keep[s] {
				v.f = make([]float32, v.len())
			} else {
				v.f = take(v.len())
			}
		}
		for _, s := range st.in {
			if s >= 0 && lastUse[s] == si && !keep[s] && !isConst(s) && !m.slots[s].isInt {
				free = append(free, m.slots[s].f)
				lastUse[s] = -2
			}
		}
		// Outputs nobody reads are dead at once.
		for _, s := range st.out {
			if s >= 0 && lastUse[s] == -1 && !keep[s] && !m.slots[s].isInt {
				free = append(free, m.slots[s].f)
			}
		}
	}
}

// Run runs the model on float32 inputs given in the order of m.Inputs and returns the outputs in
// the order of m.Outputs. The input shapes must match the declared ones.
func (m *Model) Run(inputs ...*Tensor) ([]*Tensor, error) {
	vals := make([]*value, len(inputs))
	for i, t := range inputs {
		if t == nil {
			return nil, errors.New("nn: nil input")
		}
		vals[i] = &value{shape: t.Shape, f: t.Data}
	}
	outs, err := m.run(vals)
	if err != nil {
		return nil, err
	}
	res := make([]*Tensor, len(outs))
	for i, o := range outs {
		if o.isInt {
			return nil, fmt.Errorf("nn: output %q is an integer tensor", m.Outputs[i].Name)
		}
		res[i] = &Tensor{Shape: append([]int(nil), o.shape...), Data: append([]float32(nil), o.f...)}
	}
	return res, nil
}

// run executes the plan; the returned values alias the model's buffers.
func (m *Model) run(inputs []*value) ([]*value, error) {
	if len(inputs) != len(m.inSlots) {
		return nil, fmt.Errorf("nn: model has %d inputs, got %d", len(m.inSlots), len(inputs))
	}
	for i, s := range m.inSlots {
		want := m.slots[s]
		in := inputs[i]
		if !sameShape(in.shape, want.shape) {
			return nil, fmt.Errorf("nn: input %q: shape %v, the model wants %v", m.Inputs[i].Name, in.shape, want.shape)
		}
		if in.isInt != want.isInt || len(in.f)+len(in.i) != want.len() {
			return nil, fmt.Errorf("nn: input %q: wrong element type or data length", m.Inputs[i].Name)
		}
		want.f, want.i = in.f, in.i
	}
	ins := make([]*value, 0, 8)
	outs := make([]*value, 0, 4)
	for _, st := range m.steps {
		ins, outs = ins[:0], outs[:0]
		for _, s := range st.in {
			if s < 0 {
				ins = append(ins, nil)
			} else {
				ins = append(ins, m.slots[s])
			}
		}
		for _, s := range st.out {
			if s < 0 {
				outs = append(outs, nil)
				continue
			}
			v := m.slots[s]
			if v.isInt {
				v.i = make([]int64, v.len())
			}
			outs = append(outs, v)
		}
		if err := st.k.run(ins, outs); err != nil {
			return nil, fmt.Errorf("nn: %s: %w", st.node.Describe(), err)
		}
	}
	res := make([]*value, len(m.outSlots))
	for i, s := range m.outSlots {
		res[i] = m.slots[s]
	}
	return res, nil
}
