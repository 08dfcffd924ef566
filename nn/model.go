// Package nn is a small single-threaded inference engine for ONNX image classifiers such as
// MobileNetV2: it compiles a decoded graph (package nn/onnx) into a flat plan with static shapes,
// folds constants and BatchNormalization into the preceding convolution at load, and runs float32
// kernels written in pure Go (with optional amd64 assembly for the hot loops; see kernels_*.go).
package nn

import (
	"fmt"
	"os"
	"sync"

	"github.com/wasmwhisk/wasmwhisk/nn/onnx"
)

// Model is a compiled graph: its plan and its weights, which nothing changes after Compile. The
// buffers a run writes belong to a Session (NewSession), so one Model serves any number of
// sessions at once, on as many goroutines, with its weights held once. Model.Run is the
// one-call form over a session of the Model's own.
type Model struct {
	// Inputs and Outputs describe the graph's interface in file order.
	Inputs  []onnx.ValueInfo
	Outputs []onnx.ValueInfo
	// Metadata holds the model's metadata_props.
	Metadata map[string]string

	inSlots  []int
	outSlots []int
	// slots is the template of a session's values: constants (shared, read-only) carry their
	// data, every other slot only its shape.
	slots  []*value
	konst  []bool // slots that are constants
	steps  []step
	bufOf  []int // per slot: the session buffer its data lives in; -1 for constants and ints
	bufLen []int // per session buffer: its length in floats

	runMu  sync.Mutex // serialises Run, which uses runner
	runner *Session
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
	shape    []int
	isInt    bool
	constant *value
}

// builder validates a node against its input infos and returns its kernel and output infos. A
// builder may return constant outputs (info.constant set) and a nil kernel when the result depends only
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

// maxValueElements bounds every value of a plan (1 GiB of float32): a small hostile file must not
// make Compile plan, or allocate, gigantic tensors.
const maxValueElements = 1 << 28

// fitsValue reports whether a shape's element count is within maxValueElements, without
// overflowing on the way.
func fitsValue(shape []int) bool {
	n := 1
	for _, d := range shape {
		if d < 0 || (d > 0 && n > maxValueElements/d) {
			return false
		}
		n *= d
	}
	return n <= maxValueElements
}

// CompileOptions bound what Compile may allocate for a model from an untrusted source.
type CompileOptions struct {
	// MaxBytes caps the memory the compiled model holds (Model.Bytes: weights, constants made by
	// folding, packed weights), checked as it grows, so that a small file cannot make Compile
	// allocate gigabytes. Zero means no cap beyond the per-value bound.
	MaxBytes int64
}

// Compile turns a decoded graph into a runnable Model. Every graph input needs a fully known
// shape. Unsupported operators and attributes fail here, naming the node.
func Compile(g *onnx.Graph) (*Model, error) { return CompileWith(g, CompileOptions{}) }

// CompileWith is Compile with limits.
func CompileWith(g *onnx.Graph, opt CompileOptions) (*Model, error) {
	nodes, inits := optimize(g)
	m := &Model{Inputs: g.Inputs, Outputs: g.Outputs, Metadata: g.Metadata}
	c := &compiler{opt: opt, slotOf: map[string]int{}}
	if err := c.addInitializers(inits); err != nil {
		return nil, err
	}
	var err error
	if m.inSlots, err = c.addInputs(g.Inputs); err != nil {
		return nil, err
	}
	opset := g.Opset
	if opset == 0 {
		opset = 13
	}
	for ni := range nodes {
		st, err := c.addNode(&nodes[ni], opset)
		if err != nil {
			return nil, err
		}
		if st != nil {
			m.steps = append(m.steps, *st)
		}
	}
	for _, o := range g.Outputs {
		s, ok := c.slotOf[o.Name]
		if !ok {
			return nil, fmt.Errorf("graph output %q is not produced by any node", o.Name)
		}
		m.outSlots = append(m.outSlots, s)
	}
	m.slots = make([]*value, len(c.infos))
	m.konst = make([]bool, len(c.infos))
	for i, in := range c.infos {
		if in.constant != nil {
			m.slots[i], m.konst[i] = in.constant, true
		} else {
			m.slots[i] = &value{shape: in.shape, isInt: in.isInt}
		}
	}
	m.planBuffers()
	return m, nil
}

// compiler is CompileWith's state while it walks the graph: a slot per named value, in the
// order they are defined, and the bytes of constants and kernel data held so far.
type compiler struct {
	opt    CompileOptions
	slotOf map[string]int
	infos  []*info
	held   int64
}

func (c *compiler) newSlot(name string, in *info) int {
	c.slotOf[name] = len(c.infos)
	c.infos = append(c.infos, in)
	return len(c.infos) - 1
}

// grow accounts for n more bytes held by the compiled model, failing past opt.MaxBytes.
func (c *compiler) grow(n int64, what string) error {
	c.held += n
	if c.opt.MaxBytes > 0 && c.held > c.opt.MaxBytes {
		return fmt.Errorf("%s: the compiled model would hold more than %d bytes", what, c.opt.MaxBytes)
	}
	return nil
}

func (c *compiler) addInitializers(inits map[string]*onnx.Tensor) error {
	for name, t := range inits {
		v := &value{shape: t.Shape, floats: t.Float, ints: t.Int, isInt: t.Float == nil}
		c.newSlot(name, &info{shape: t.Shape, isInt: v.isInt, constant: v})
		if err := c.grow(4*int64(len(t.Float))+8*int64(len(t.Int)), "initializer "+name); err != nil {
			return err
		}
	}
	return nil
}

// addInputs gives each graph input a slot; every one needs a fixed shape and a supported type.
func (c *compiler) addInputs(inputs []onnx.ValueInfo) ([]int, error) {
	var slots []int
	for _, in := range inputs {
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
		slots = append(slots, c.newSlot(in.Name, &info{shape: in.Shape, isInt: isInt}))
	}
	return slots, nil
}

// addNode builds n's kernel and gives its outputs slots. It returns the plan step, or nil when
// the node needs none: its outputs depend only on shapes, or on constants and were folded.
func (c *compiler) addNode(n *onnx.Node, opset int64) (*step, error) {
	if n.Domain != "" && n.Domain != "ai.onnx" {
		return nil, fmt.Errorf("%s: operator domain %q is not supported", n.Describe(), n.Domain)
	}
	n.Attrs[attrOpset] = opset
	b, ok := builders[n.OpType]
	if !ok {
		return nil, fmt.Errorf("unsupported operator %s", n.Describe())
	}
	ins, inSlots, allConst, err := c.nodeInputs(n)
	if err != nil {
		return nil, err
	}
	k, outs, err := b(n, ins)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", n.Describe(), err)
	}
	for _, o := range outs {
		if !fitsValue(o.shape) {
			return nil, fmt.Errorf("%s: output shape %v is too large", n.Describe(), o.shape)
		}
	}
	if sk, ok := k.(sizedKernel); ok {
		if err := c.grow(sk.constBytes(), n.Describe()); err != nil {
			return nil, err
		}
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
		outSlots = append(outSlots, c.newSlot(name, &o))
	}
	if k == nil {
		return nil, nil
	}
	if allConst {
		return nil, c.fold(n, k, ins, outSlots)
	}
	return &step{node: n, k: k, in: inSlots, out: outSlots}, nil
}

// nodeInputs looks up n's inputs (-1 and a nil info for an omitted optional one) and reports
// whether all of them are constants.
func (c *compiler) nodeInputs(n *onnx.Node) (ins []*info, slots []int, allConst bool, err error) {
	ins = make([]*info, len(n.Inputs))
	slots = make([]int, len(n.Inputs))
	allConst = true
	for i, name := range n.Inputs {
		slots[i] = -1
		if name == "" {
			continue
		}
		s, ok := c.slotOf[name]
		if !ok {
			return nil, nil, false, fmt.Errorf("%s: input %q is not produced by any earlier node", n.Describe(), name)
		}
		slots[i] = s
		ins[i] = c.infos[s]
		if ins[i].constant == nil {
			allConst = false
		}
	}
	return ins, slots, allConst, nil
}

// fold runs k now, on constant inputs, and keeps its outputs as constants.
func (c *compiler) fold(n *onnx.Node, k kernel, ins []*info, outSlots []int) error {
	in := make([]*value, len(ins))
	for i, x := range ins {
		if x != nil {
			in[i] = x.constant
		}
	}
	out := make([]*value, len(outSlots))
	for i, s := range outSlots {
		if s >= 0 {
			if err := c.grow(8*int64(shapeLen(c.infos[s].shape)), n.Describe()+": constant folding"); err != nil {
				return err
			}
			out[i] = allocValue(c.infos[s])
		}
	}
	if err := k.run(in, out); err != nil {
		return fmt.Errorf("%s: constant folding: %w", n.Describe(), err)
	}
	for i, s := range outSlots {
		if s >= 0 {
			c.infos[s].constant = out[i]
		}
	}
	return nil
}

func allocValue(in *info) *value {
	v := &value{shape: in.shape, isInt: in.isInt}
	if in.isInt {
		v.ints = make([]int64, shapeLen(in.shape))
	} else {
		v.floats = make([]float32, shapeLen(in.shape))
	}
	return v
}
