package wasinn

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/wasmwhisk/wasmwhisk/nn"
	"github.com/wasmwhisk/wasmwhisk/nn/onnx"
)

// Limits caps what one instance may make the host hold. The zero value means the defaults.
type Limits struct {
	// MaxGraphs caps the graph handles of an instance (load and load_by_name of distinct
	// graphs; loading a graph the instance already has returns its handle). Zero means 32.
	MaxGraphs int
	// MaxContexts caps the execution contexts of an instance. Zero means 32.
	MaxContexts int
}

// Defaults of Limits.
const (
	DefaultMaxGraphs   = 32
	DefaultMaxContexts = 32
)

// InstanceConfig configures an Instance.
type InstanceConfig struct {
	// Registry compiles and shares the graphs the guest loads from bytes. Required.
	Registry *Registry
	// Catalog answers load_by_name; nil answers no name.
	Catalog *Catalog
	// Limits caps graphs and contexts.
	Limits Limits
	// MemoryLimit is the action's memory limit in bytes: the guest's linear memory plus the host
	// memory held for the instance (graphs it loaded from bytes, its execution contexts) must stay
	// within it when the guest asks for more. Zero means no limit but the caps.
	MemoryLimit int64
}

// Instance is the wasi-nn state of one guest instance: its graphs, its execution contexts and the
// host memory they hold. It is made with the instance and closed with it. A wasm instance runs
// one call at a time, and so does an Instance: it is not safe for concurrent use.
type Instance struct {
	cfg      InstanceConfig
	graphs   []instGraph
	byName   map[string]uint32 // graphs loaded by name
	contexts []*execContext
	held     int64 // host bytes counted against MemoryLimit
	ctx      context.Context
	stopped  bool // a compute stopped at ctx's deadline since Begin
	log      logBuffer
	closed   bool
}

type instGraph struct {
	g       *Graph
	counted int64 // bytes counted against the memory limit: a graph loaded from guest bytes
}

// execContext is a graph execution context: a session of the graph's model.
type execContext struct {
	graph    uint32
	model    *nn.Model
	session  *nn.Session
	set      []bool // inputs set since the context was made
	computed bool
}

// NewInstance makes the wasi-nn state of a new guest instance.
func NewInstance(cfg InstanceConfig) *Instance {
	if cfg.Limits.MaxGraphs <= 0 {
		cfg.Limits.MaxGraphs = DefaultMaxGraphs
	}
	if cfg.Limits.MaxContexts <= 0 {
		cfg.Limits.MaxContexts = DefaultMaxContexts
	}
	return &Instance{cfg: cfg, ctx: context.Background()}
}

// Begin starts a guest call (a command's run, a reactor's activation or initialisation): compute
// stops when ctx is done (its deadline is the activation's).
func (in *Instance) Begin(ctx context.Context) {
	in.ctx = ctx
	in.stopped = false
}

// Stopped reports whether a compute stopped at the deadline since Begin: the guest then failed
// because its time was up, whatever it did with the error.
func (in *Instance) Stopped() bool { return in.stopped }

// Held is the host memory counted against the memory limit, in bytes.
func (in *Instance) Held() int64 { return in.held }

// WriteLog writes the log lines of the calls since the last WriteLog (one line per error) to w,
// and forgets them.
func (in *Instance) WriteLog(w io.Writer) error { return in.log.drain(w) }

// Close releases the instance's graphs and contexts; the Instance must not be used afterwards.
func (in *Instance) Close() {
	if in.closed {
		return
	}
	in.closed = true
	for _, ig := range in.graphs {
		ig.g.Release()
	}
	in.graphs, in.byName, in.contexts, in.held = nil, nil, nil, 0
}

// fail logs one line for a failed call and returns its code.
func (in *Instance) fail(code Errno, call string, format string, args ...any) Errno {
	in.log.add(fmt.Sprintf("wasi-nn: %s: %s (%s)", call, fmt.Sprintf(format, args...), code.String()))
	return code
}

// note logs one line for a call that succeeded with a caveat.
func (in *Instance) note(call string, format string, args ...any) {
	in.log.add(fmt.Sprintf("wasi-nn: %s: %s", call, fmt.Sprintf(format, args...)))
}

// budget checks that the instance may make the host hold need more bytes.
func (in *Instance) budget(mem []byte, need int64) error {
	if in.cfg.MemoryLimit <= 0 {
		return nil
	}
	if total := int64(len(mem)) + in.held + need; total > in.cfg.MemoryLimit {
		return fmt.Errorf("it needs %s of host memory; with the guest's %s of linear memory and the %s wasi-nn already holds for it, that is over the action's memory limit of %s",
			size(need), size(int64(len(mem))), size(in.held), size(in.cfg.MemoryLimit))
	}
	return nil
}

// size formats a byte count for a log line.
func size(n int64) string {
	switch {
	case n >= 10<<20:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 10<<10:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// addGraph gives g a handle, or returns the handle the instance already has for it. It takes
// over the caller's reference.
func (in *Instance) addGraph(g *Graph, counted int64) uint32 {
	for h, ig := range in.graphs {
		if ig.g == g {
			g.Release()
			return uint32(h)
		}
	}
	in.graphs = append(in.graphs, instGraph{g: g, counted: counted})
	in.held += counted
	return uint32(len(in.graphs) - 1)
}

// hasGraph returns the handle of g when the instance has it.
func (in *Instance) hasGraph(g *Graph) (uint32, bool) {
	for h, ig := range in.graphs {
		if ig.g == g {
			return uint32(h), true
		}
	}
	return 0, false
}

// Load implements load(builders_ptr, builders_len, encoding, target, graph_out_ptr): the graph
// in the one builder's ONNX bytes.
func (in *Instance) Load(m Memory, buildersPtr, buildersLen, encoding, target, graphOut uint32) Errno {
	const call = FuncLoad
	mem := m.Bytes()
	if enc := Encoding(encoding); enc != ONNX && enc != Autodetect {
		return in.fail(InvalidEncoding, call, "encoding %s is not supported: this host loads ONNX graphs (encoding onnx or autodetect)", enc)
	}
	if Target(target) > TPU {
		return in.fail(InvalidArgument, call, "%s is not an execution target (cpu 0, gpu 1, tpu 2)", Target(target))
	}
	if buildersLen != 1 {
		return in.fail(InvalidArgument, call, "an ONNX graph is one graph builder (the model file's bytes); got %d", buildersLen)
	}
	b, err := span(mem, uint64(buildersPtr), builderSize, "the graph builder array")
	if err != nil {
		return in.fail(InvalidArgument, call, "%v", err)
	}
	dataPtr, dataLen := u32(b, 0), u32(b, 4)
	data, err := span(mem, uint64(dataPtr), uint64(dataLen), "the graph builder's bytes")
	if err != nil {
		return in.fail(InvalidArgument, call, "%v", err)
	}
	out, err := span(mem, uint64(graphOut), handleSize, "the graph result")
	if err != nil {
		return in.fail(InvalidArgument, call, "%v", err)
	}
	reg := in.cfg.Registry
	if int64(dataLen) > reg.MaxModelBytes() {
		return in.fail(TooLarge, call, "the model is %d bytes; the limit is %d", dataLen, reg.MaxModelBytes())
	}
	// Hashed in place: a graph this instance or the process already has costs no copy.
	sum := sha256.Sum256(data)
	g := reg.lookup(sum)
	if g != nil {
		if _, err := g.wait(); err != nil {
			g = nil // a concurrent compile of the same bytes failed; compile again below
		}
	}
	if g != nil {
		if h, ok := in.hasGraph(g); ok {
			g.Release()
			putU32(out, h)
			return Success
		}
	}
	if len(in.graphs) >= in.cfg.Limits.MaxGraphs {
		if g != nil {
			g.Release()
		}
		return in.fail(TooLarge, call, "the instance has %d graphs, the most it may hold", len(in.graphs))
	}
	if g == nil {
		// A compiled graph is about twice the file (weights, packed weights); refuse before the
		// work when even that cannot fit.
		if err := in.budget(mem, 2*int64(dataLen)); err != nil {
			return in.fail(TooLarge, call, "cannot load a model of %d bytes: %v", dataLen, err)
		}
		// Copied out of guest memory: the compiled graph outlives the instance and is shared.
		g, err = reg.load(sum, append([]byte(nil), data...), fileKey{})
		if err != nil {
			return in.fail(RuntimeError, call, "%v", err)
		}
	}
	if err := in.budget(mem, g.bytes); err != nil {
		g.Release()
		return in.fail(TooLarge, call, "%v", err)
	}
	if Target(target) != CPU {
		in.note(call, "execution target %s is not available on this host; the graph runs on the cpu", Target(target))
	}
	putU32(out, in.addGraph(g, g.bytes))
	return Success
}

// LoadByName implements load_by_name(name_ptr, name_len, graph_out_ptr): a graph of the catalog.
func (in *Instance) LoadByName(m Memory, namePtr, nameLen, graphOut uint32) Errno {
	const call = FuncLoadByName
	mem := m.Bytes()
	nb, err := span(mem, uint64(namePtr), uint64(nameLen), "the name")
	if err != nil {
		return in.fail(InvalidArgument, call, "%v", err)
	}
	out, err := span(mem, uint64(graphOut), handleSize, "the graph result")
	if err != nil {
		return in.fail(InvalidArgument, call, "%v", err)
	}
	if h, ok := in.byName[string(nb)]; ok {
		putU32(out, h)
		return Success
	}
	var g *Graph
	var found bool
	if in.cfg.Catalog != nil && len(nb) <= maxNameBytes {
		g, err, found = in.cfg.Catalog.Graph(string(nb))
	}
	name := quoteName(nb)
	if !found {
		return in.fail(NotFound, call, "no graph is named %s; %s", name, in.known())
	}
	if err != nil {
		return in.fail(RuntimeError, call, "graph %s did not compile: %v", name, err)
	}
	h, ok := in.hasGraph(g)
	if !ok {
		if len(in.graphs) >= in.cfg.Limits.MaxGraphs {
			return in.fail(TooLarge, call, "the instance has %d graphs, the most it may hold", len(in.graphs))
		}
		g.hold()
		// A named graph belongs to the action or the operator, not to this instance: its memory
		// is not counted against the instance.
		h = in.addGraph(g, 0)
	}
	if in.byName == nil {
		in.byName = map[string]uint32{}
	}
	in.byName[string(nb)] = h
	putU32(out, h)
	return Success
}

// known describes the names load_by_name answers, for a not_found message.
func (in *Instance) known() string {
	if in.cfg.Catalog == nil {
		return "this action has no named graphs (an .onnx file of the action's zip archive is one)"
	}
	names := in.cfg.Catalog.Names()
	switch {
	case len(names) == 0:
		return "this action has no named graphs (an .onnx file of the action's zip archive is one)"
	case len(names) > 10:
		return fmt.Sprintf("the graphs are %s and %d more", strings.Join(quoteAll(names[:10]), ", "), len(names)-10)
	}
	return "the graphs are " + strings.Join(quoteAll(names), ", ")
}

func quoteAll(names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = fmt.Sprintf("%q", n)
	}
	return out
}

// quoteName quotes a guest-supplied name for a log line, shortened.
func quoteName(b []byte) string {
	if len(b) > maxLoggedNameLen {
		return fmt.Sprintf("%q... (%d bytes)", b[:maxLoggedNameLen], len(b))
	}
	return fmt.Sprintf("%q", b)
}

// InitExecutionContext implements init_execution_context(graph, ctx_out_ptr).
func (in *Instance) InitExecutionContext(m Memory, graph, ctxOut uint32) Errno {
	const call = FuncInitExecutionContext
	mem := m.Bytes()
	if uint64(graph) >= uint64(len(in.graphs)) {
		return in.fail(InvalidArgument, call, "graph %d does not exist (the instance has %d)", graph, len(in.graphs))
	}
	out, err := span(mem, uint64(ctxOut), handleSize, "the context result")
	if err != nil {
		return in.fail(InvalidArgument, call, "%v", err)
	}
	if len(in.contexts) >= in.cfg.Limits.MaxContexts {
		return in.fail(TooLarge, call, "the instance has %d execution contexts, the most it may hold (make one per graph and reuse it)", len(in.contexts))
	}
	model := in.graphs[graph].g.model
	need := model.SessionBytes()
	if err := in.budget(mem, need); err != nil {
		return in.fail(TooLarge, call, "%v", err)
	}
	s := model.NewSession()
	in.held += s.Bytes()
	in.contexts = append(in.contexts, &execContext{graph: graph, model: model, session: s, set: make([]bool, len(model.Inputs))})
	putU32(out, uint32(len(in.contexts)-1))
	return Success
}

// execContext returns context h, or logs why not.
func (in *Instance) context(call string, h uint32) (*execContext, Errno) {
	if uint64(h) >= uint64(len(in.contexts)) {
		return nil, in.fail(InvalidArgument, call, "execution context %d does not exist (the instance has %d)", h, len(in.contexts))
	}
	return in.contexts[h], Success
}

// SetInput implements set_input(ctx, index, tensor_ptr): it copies the tensor's data into input
// index of the context.
func (in *Instance) SetInput(m Memory, ctx, index, tensorPtr uint32) Errno {
	const call = FuncSetInput
	mem := m.Bytes()
	ec, code := in.context(call, ctx)
	if code != Success {
		return code
	}
	t, err := span(mem, uint64(tensorPtr), tensorSize, "the tensor")
	if err != nil {
		return in.fail(InvalidArgument, call, "%v", err)
	}
	model := ec.model
	if uint64(index) >= uint64(len(model.Inputs)) {
		return in.fail(InvalidArgument, call, "input %d does not exist (the graph has %d)", index, len(model.Inputs))
	}
	info := model.Inputs[index]
	if typ := TensorType(t[tensorTypeOff]); typ != F32 {
		return in.fail(InvalidArgument, call, "input %d (%q): tensor type %s is not supported; this host takes f32 tensors", index, info.Name, typ)
	}
	if info.DType != onnx.Float32 {
		return in.fail(InvalidArgument, call, "input %d (%q) of the graph is not a float32 tensor; this host passes f32 tensors only", index, info.Name)
	}
	dimsPtr, dimsLen := u32(t, tensorDimsOff), u32(t, tensorDimsOff+4)
	dataPtr, dataLen := u32(t, tensorDataOff), u32(t, tensorDataOff+4)
	dims, err := span(mem, uint64(dimsPtr), uint64(dimsLen)*dimensionSize, "the tensor's dimensions")
	if err != nil {
		return in.fail(InvalidArgument, call, "%v", err)
	}
	want := model.InputShape(int(index))
	if !sameDims(dims, want) {
		return in.fail(InvalidArgument, call, "input %d (%q): dimensions %s, the graph takes %v", index, info.Name, formatDims(dims), want)
	}
	dst := ec.session.Input(int(index))
	if uint64(dataLen) != uint64(len(dst))*float32Size {
		return in.fail(InvalidArgument, call, "input %d (%q): %d bytes of data, dimensions %v take %d", index, info.Name, dataLen, want, len(dst)*float32Size)
	}
	data, err := span(mem, uint64(dataPtr), uint64(dataLen), "the tensor's data")
	if err != nil {
		return in.fail(InvalidArgument, call, "%v", err)
	}
	copyToFloats(dst, data)
	ec.set[index] = true
	return Success
}

func sameDims(dims []byte, want []int) bool {
	if len(dims) != dimensionSize*len(want) {
		return false
	}
	for i, w := range want {
		if uint64(u32(dims, dimensionSize*i)) != uint64(w) {
			return false
		}
	}
	return true
}

func formatDims(dims []byte) string {
	const most = 8
	parts := make([]string, 0, most+1)
	for i := 0; i+dimensionSize <= len(dims); i += dimensionSize {
		if len(parts) == most {
			parts = append(parts, fmt.Sprintf("... (%d dimensions)", len(dims)/dimensionSize))
			break
		}
		parts = append(parts, fmt.Sprint(u32(dims, i)))
	}
	return "[" + strings.Join(parts, " ") + "]"
}

// Compute implements compute(ctx): it runs the graph on the context's inputs, on the calling
// goroutine, and stops between operators once the activation's deadline has passed.
func (in *Instance) Compute(ctx uint32) Errno {
	const call = FuncCompute
	ec, code := in.context(call, ctx)
	if code != Success {
		return code
	}
	for i, ok := range ec.set {
		if !ok {
			return in.fail(RuntimeError, call, "input %d (%q) of execution context %d was never set", i, ec.model.Inputs[i].Name, ctx)
		}
	}
	ec.computed = false
	if err := ec.session.Run(in.ctx); err != nil {
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
			in.stopped = true
			return in.fail(RuntimeError, call, "stopped at the activation's deadline: %v", err)
		}
		return in.fail(RuntimeError, call, "%v", err)
	}
	ec.computed = true
	return Success
}

// GetOutput implements get_output(ctx, index, out_ptr, out_max_len, bytes_written_out_ptr): it
// copies output index of the last compute into the guest's buffer.
func (in *Instance) GetOutput(m Memory, ctx, index, outPtr, outMax, writtenOut uint32) Errno {
	const call = FuncGetOutput
	mem := m.Bytes()
	ec, code := in.context(call, ctx)
	if code != Success {
		return code
	}
	if uint64(index) >= uint64(len(ec.model.Outputs)) {
		return in.fail(InvalidArgument, call, "output %d does not exist (the graph has %d)", index, len(ec.model.Outputs))
	}
	written, err := span(mem, uint64(writtenOut), handleSize, "the bytes-written result")
	if err != nil {
		return in.fail(InvalidArgument, call, "%v", err)
	}
	buf, err := span(mem, uint64(outPtr), uint64(outMax), "the output buffer")
	if err != nil {
		return in.fail(InvalidArgument, call, "%v", err)
	}
	if !ec.computed {
		return in.fail(RuntimeError, call, "execution context %d has no output: compute has not succeeded since it was made", ctx)
	}
	out := ec.session.Output(int(index))
	if out == nil {
		return in.fail(InvalidArgument, call, "output %d (%q) is not a float32 tensor", index, ec.model.Outputs[index].Name)
	}
	n := uint64(len(out)) * float32Size
	if n > uint64(outMax) {
		return in.fail(TooLarge, call, "output %d (%q) is %d bytes; the buffer holds %d", index, ec.model.Outputs[index].Name, n, outMax)
	}
	copyFromFloats(buf, out)
	putU32(written, uint32(n))
	return Success
}
