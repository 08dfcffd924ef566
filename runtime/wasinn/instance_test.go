package wasinn

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/wasmwhisk/wasmwhisk/runtime/wasinn/wasinntest"
)

var addModel = wasinntest.AddModel{Bias: []float32{1, 2, 3, 4}}

// ready is an instance with the add model loaded from bytes (graph 0), a context (0) and its
// input set, and the guest memory holding everything.
type ready struct {
	in     *Instance
	g      *guest
	x      []float32
	tensor uint32
}

func newReady(t *testing.T, reg *Registry, cfg InstanceConfig) *ready {
	t.Helper()
	if reg == nil {
		reg = NewRegistry(RegistryConfig{})
	}
	cfg.Registry = reg
	in := NewInstance(cfg)
	t.Cleanup(in.Close)
	g := newGuest(1 << 16)
	out := g.alloc(4)
	mustSucceed(t, in, "load", in.Load(g.mem, g.builders(addModel.Bytes()), 1, uint32(ONNX), uint32(CPU), out))
	if h := g.u32(out); h != 0 {
		t.Fatalf("first graph handle %d, want 0", h)
	}
	mustSucceed(t, in, "init_execution_context", in.InitExecutionContext(g.mem, 0, out))
	if h := g.u32(out); h != 0 {
		t.Fatalf("first context handle %d, want 0", h)
	}
	x := []float32{10, 20, 30, 40}
	tp := g.tensor([]uint32{1, 4}, F32, x)
	mustSucceed(t, in, "set_input", in.SetInput(g.mem, 0, 0, tp))
	return &ready{in: in, g: g, x: x, tensor: tp}
}

func TestLoadComputeGetOutput(t *testing.T) {
	r := newReady(t, nil, InstanceConfig{})
	in, g := r.in, r.g
	mustSucceed(t, in, "compute", in.Compute(0))
	buf, written := g.alloc(64), g.alloc(4)
	mustSucceed(t, in, "get_output", in.GetOutput(g.mem, 0, 0, buf, 64, written))
	if n := g.u32(written); n != 16 {
		t.Fatalf("bytes written %d, want 16", n)
	}
	if got, want := g.floats(buf, 4), addModel.Output(r.x); !slices.Equal(got, want) {
		t.Fatalf("output %v, want %v", got, want)
	}
	if lines := logLines(in); lines != nil {
		t.Fatalf("log after successful calls: %q", lines)
	}
	// A buffer of exactly the output's size is enough; a second compute gives the same.
	mustSucceed(t, in, "compute", in.Compute(0))
	mustSucceed(t, in, "get_output", in.GetOutput(g.mem, 0, 0, buf, 16, written))
}

func TestEncodingsAndTargets(t *testing.T) {
	for _, tc := range []struct {
		enc, target uint32
		want        Errno
		note        bool
	}{
		{uint32(ONNX), uint32(CPU), Success, false},
		{uint32(Autodetect), uint32(CPU), Success, false},
		{uint32(ONNX), uint32(GPU), Success, true},
		{uint32(ONNX), uint32(TPU), Success, true},
		{uint32(OpenVINO), uint32(CPU), InvalidEncoding, false},
		{uint32(TensorFlow), uint32(CPU), InvalidEncoding, false},
		{uint32(PyTorch), uint32(CPU), InvalidEncoding, false},
		{uint32(TensorFlowLite), uint32(CPU), InvalidEncoding, false},
		{6, uint32(CPU), InvalidEncoding, false},
		{0xffffffff, uint32(CPU), InvalidEncoding, false},
		{uint32(ONNX), 3, InvalidArgument, false},
	} {
		in := NewInstance(InstanceConfig{Registry: NewRegistry(RegistryConfig{})})
		g := newGuest(1 << 14)
		out := g.alloc(4)
		code := in.Load(g.mem, g.builders(addModel.Bytes()), 1, tc.enc, tc.target, out)
		lines := logLines(in)
		if code != tc.want {
			t.Errorf("load(encoding %s, target %s) = %s, want %s (log %q)", Encoding(tc.enc), Target(tc.target), code, tc.want, lines)
		}
		if wantLines := b2i(code != Success || tc.note); len(lines) != wantLines {
			t.Errorf("load(encoding %s, target %s): log %q, want %d line(s)", Encoding(tc.enc), Target(tc.target), lines, wantLines)
		}
		in.Close()
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestErrors calls every function with every bad argument it can get, on a ready instance, and
// checks the code, the one log line and that the guest's memory is unchanged.
func TestErrors(t *testing.T) {
	const oob = 0xfffffff0
	for _, tc := range []struct {
		name string
		call func(r *ready) Errno
		want Errno
		says string // in the log line
	}{
		{"load: no builder", func(r *ready) Errno {
			return r.in.Load(r.g.mem, r.g.builders(addModel.Bytes()), 0, 1, 0, r.g.alloc(4))
		}, InvalidArgument, "one graph builder"},
		{"load: two builders", func(r *ready) Errno {
			return r.in.Load(r.g.mem, r.g.builders(addModel.Bytes()), 2, 1, 0, r.g.alloc(4))
		}, InvalidArgument, "got 2"},
		{"load: builder array out of bounds", func(r *ready) Errno {
			return r.in.Load(r.g.mem, oob, 1, 1, 0, r.g.alloc(4))
		}, InvalidArgument, "graph builder array"},
		{"load: builder bytes out of bounds", func(r *ready) Errno {
			return r.in.Load(r.g.mem, r.g.put(le32(100, 0xffffffff)), 1, 1, 0, r.g.alloc(4))
		}, InvalidArgument, "builder's bytes"},
		{"load: result out of bounds", func(r *ready) Errno {
			return r.in.Load(r.g.mem, r.g.builders(addModel.Bytes()), 1, 1, 0, uint32(len(r.g.mem))-3)
		}, InvalidArgument, "graph result"},
		{"load: not a model", func(r *ready) Errno {
			return r.in.Load(r.g.mem, r.g.builders([]byte("this is not ONNX")), 1, 1, 0, r.g.alloc(4))
		}, RuntimeError, "decode"},
		{"load: empty model", func(r *ready) Errno {
			return r.in.Load(r.g.mem, r.g.builders(nil), 1, 1, 0, r.g.alloc(4))
		}, RuntimeError, ""},
		{"load_by_name: no catalog", func(r *ready) Errno {
			return r.in.LoadByName(r.g.mem, r.g.put([]byte("mobilenet")), 9, r.g.alloc(4))
		}, NotFound, `"mobilenet"`},
		{"load_by_name: name out of bounds", func(r *ready) Errno {
			return r.in.LoadByName(r.g.mem, uint32(len(r.g.mem))-4, 5, r.g.alloc(4))
		}, InvalidArgument, "the name"},
		{"load_by_name: result out of bounds", func(r *ready) Errno {
			return r.in.LoadByName(r.g.mem, r.g.put([]byte("x")), 1, oob)
		}, InvalidArgument, "graph result"},
		{"init_execution_context: no such graph", func(r *ready) Errno {
			return r.in.InitExecutionContext(r.g.mem, 1, r.g.alloc(4))
		}, InvalidArgument, "graph 1 does not exist"},
		{"init_execution_context: huge graph handle", func(r *ready) Errno {
			return r.in.InitExecutionContext(r.g.mem, 0xffffffff, r.g.alloc(4))
		}, InvalidArgument, "does not exist"},
		{"init_execution_context: result out of bounds", func(r *ready) Errno {
			return r.in.InitExecutionContext(r.g.mem, 0, oob)
		}, InvalidArgument, "context result"},
		{"set_input: no such context", func(r *ready) Errno { return r.in.SetInput(r.g.mem, 7, 0, r.tensor) }, InvalidArgument, "context 7"},
		{"set_input: tensor out of bounds", func(r *ready) Errno {
			return r.in.SetInput(r.g.mem, 0, 0, uint32(len(r.g.mem))-19)
		}, InvalidArgument, "the tensor at"},
		{"set_input: no such input", func(r *ready) Errno { return r.in.SetInput(r.g.mem, 0, 1, r.tensor) }, InvalidArgument, "input 1 does not exist"},
		{"set_input: u8", func(r *ready) Errno {
			return r.in.SetInput(r.g.mem, 0, 0, r.g.tensor([]uint32{1, 4}, U8, r.x))
		}, InvalidArgument, "tensor type u8"},
		{"set_input: f16", func(r *ready) Errno {
			return r.in.SetInput(r.g.mem, 0, 0, r.g.tensor([]uint32{1, 4}, F16, r.x))
		}, InvalidArgument, "tensor type f16"},
		{"set_input: unknown type", func(r *ready) Errno {
			return r.in.SetInput(r.g.mem, 0, 0, r.g.tensor([]uint32{1, 4}, 200, r.x))
		}, InvalidArgument, "tensor_type(200)"},
		{"set_input: wrong rank", func(r *ready) Errno {
			return r.in.SetInput(r.g.mem, 0, 0, r.g.tensor([]uint32{4}, F32, r.x))
		}, InvalidArgument, "dimensions [4], the graph takes [1 4]"},
		{"set_input: wrong dimension", func(r *ready) Errno {
			return r.in.SetInput(r.g.mem, 0, 0, r.g.tensor([]uint32{2, 2}, F32, r.x))
		}, InvalidArgument, "dimensions [2 2]"},
		{"set_input: data too short", func(r *ready) Errno {
			return r.in.SetInput(r.g.mem, 0, 0, r.g.tensor([]uint32{1, 4}, F32, r.x[:3]))
		}, InvalidArgument, "12 bytes of data"},
		{"set_input: dimensions out of bounds", func(r *ready) Errno {
			t := r.g.tensor([]uint32{1, 4}, F32, r.x)
			copy(r.g.mem[t:], le32(oob))
			return r.in.SetInput(r.g.mem, 0, 0, t)
		}, InvalidArgument, "dimensions at"},
		{"set_input: data out of bounds", func(r *ready) Errno {
			t := r.g.tensor([]uint32{1, 4}, F32, r.x)
			copy(r.g.mem[t+12:], le32(oob))
			return r.in.SetInput(r.g.mem, 0, 0, t)
		}, InvalidArgument, "data at"},
		{"compute: no such context", func(r *ready) Errno { return r.in.Compute(1) }, InvalidArgument, "context 1 does not exist"},
		{"compute: input never set", func(r *ready) Errno {
			if code := r.in.InitExecutionContext(r.g.mem, 0, r.g.alloc(4)); code != Success {
				return code
			}
			return r.in.Compute(1)
		}, RuntimeError, "never set"},
		{"compute: past the deadline", func(r *ready) Errno {
			ctx, cancel := context.WithTimeout(context.Background(), 0)
			defer cancel()
			r.in.Begin(ctx)
			return r.in.Compute(0)
		}, RuntimeError, "deadline"},
		{"get_output: no such context", func(r *ready) Errno {
			return r.in.GetOutput(r.g.mem, 3, 0, r.g.alloc(16), 16, r.g.alloc(4))
		}, InvalidArgument, "context 3"},
		{"get_output: before compute", func(r *ready) Errno {
			return r.in.GetOutput(r.g.mem, 0, 0, r.g.alloc(16), 16, r.g.alloc(4))
		}, RuntimeError, "compute has not succeeded"},
		{"get_output: no such output", func(r *ready) Errno {
			return r.in.GetOutput(r.g.mem, 0, 1, r.g.alloc(16), 16, r.g.alloc(4))
		}, InvalidArgument, "output 1 does not exist"},
		{"get_output: buffer out of bounds", func(r *ready) Errno {
			return r.in.GetOutput(r.g.mem, 0, 0, uint32(len(r.g.mem))-8, 16, r.g.alloc(4))
		}, InvalidArgument, "output buffer"},
		{"get_output: bytes-written out of bounds", func(r *ready) Errno {
			return r.in.GetOutput(r.g.mem, 0, 0, r.g.alloc(16), 16, oob)
		}, InvalidArgument, "bytes-written"},
		{"get_output: buffer too small", func(r *ready) Errno {
			if code := r.in.Compute(0); code != Success {
				return code
			}
			return r.in.GetOutput(r.g.mem, 0, 0, r.g.alloc(16), 15, r.g.alloc(4))
		}, TooLarge, "is 16 bytes; the buffer holds 15"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newReady(t, nil, InstanceConfig{})
			// The test's own setup writes into memory; snapshot just before the failing call
			// by running the call on a copy of the setup first.
			before := bytes.Clone(r.g.mem)
			next := r.g.next
			code := tc.call(r)
			if code != tc.want {
				t.Fatalf("got %s, want %s; log %q", code, tc.want, logLines(r.in))
			}
			lines := logLines(r.in)
			if len(lines) != 1 || !strings.HasPrefix(lines[0], "wasi-nn: ") || !strings.Contains(lines[0], tc.says) || !strings.HasSuffix(lines[0], "("+tc.want.String()+")") {
				t.Fatalf("log %q: want one line saying %q and ending in (%s)", lines, tc.says, tc.want)
			}
			// Nothing outside what the test itself placed changed: compare the memory the call
			// could have written (everything before the test's later allocations).
			if !bytes.Equal(before[:next], r.g.mem[:next]) && !strings.Contains(tc.name, "out of bounds") {
				t.Fatalf("the failed call changed guest memory below %#x", next)
			}
			// The instance still works.
			r.in.Begin(context.Background())
			mustSucceed(t, r.in, "compute after the failure", r.in.Compute(0))
		})
	}
}

// TestFailedCallsWriteNothing checks that the result pointers of failing calls are not written:
// each failing call gets a result slot filled with a marker.
func TestFailedCallsWriteNothing(t *testing.T) {
	r := newReady(t, nil, InstanceConfig{Limits: Limits{MaxContexts: 1}})
	g, in := r.g, r.in
	marker := le32(0xdeadbeef)
	slot := g.put(marker)
	buf := g.put(bytes.Repeat([]byte{0xaa}, 16))
	mustSucceed(t, in, "compute", in.Compute(0))
	for _, code := range []Errno{
		in.Load(g.mem, g.builders([]byte("junk")), 1, 1, 0, slot),
		in.Load(g.mem, g.builders(addModel.Bytes()), 1, 0, 0, slot),
		in.LoadByName(g.mem, g.put([]byte("none")), 4, slot),
		in.InitExecutionContext(g.mem, 0, slot), // over MaxContexts
		in.InitExecutionContext(g.mem, 5, slot),
		in.GetOutput(g.mem, 0, 0, buf, 12, slot),
	} {
		if code == Success {
			t.Fatal("a call that must fail succeeded")
		}
	}
	if !bytes.Equal(g.mem[slot:slot+4], marker) {
		t.Fatalf("a failed call wrote its result: %x", g.mem[slot:slot+4])
	}
	if !bytes.Equal(g.mem[buf:buf+16], bytes.Repeat([]byte{0xaa}, 16)) {
		t.Fatal("get_output into a buffer too small wrote to it")
	}
}

func TestSameGraphSameHandle(t *testing.T) {
	reg := NewRegistry(RegistryConfig{})
	r := newReady(t, reg, InstanceConfig{})
	out := r.g.alloc(4)
	mustSucceed(t, r.in, "load again", r.in.Load(r.g.mem, r.g.builders(addModel.Bytes()), 1, 1, 0, out))
	if h := r.g.u32(out); h != 0 {
		t.Fatalf("the same bytes again gave graph %d, want 0", h)
	}
	other := wasinntest.AddModel{Bias: addModel.Bias, Doc: "same graph, other bytes"}
	mustSucceed(t, r.in, "load other bytes", r.in.Load(r.g.mem, r.g.builders(other.Bytes()), 1, 1, 0, out))
	if h := r.g.u32(out); h != 1 {
		t.Fatalf("other bytes gave graph %d, want 1", h)
	}
	// A second instance of the process shares the compiled graph.
	r2 := newReady(t, reg, InstanceConfig{})
	if reg.Compiles() != 2 {
		t.Fatalf("%d compiles for two distinct models loaded by two instances, want 2", reg.Compiles())
	}
	if r.in.graphs[0].g != r2.in.graphs[0].g {
		t.Fatal("two instances loading the same bytes hold different graphs")
	}
}

// TestGraphCap: a guest loading distinct models in a loop gets too_large at the cap, and the
// instance serves on.
func TestGraphCap(t *testing.T) {
	reg := NewRegistry(RegistryConfig{MaxIdleBytes: -1})
	r := newReady(t, reg, InstanceConfig{Limits: Limits{MaxGraphs: 4}})
	out := r.g.alloc(4)
	var codes []Errno
	for i := 0; i < 8; i++ {
		m := wasinntest.AddModel{Bias: addModel.Bias, Doc: strings.Repeat("x", i+1)}
		codes = append(codes, r.in.Load(r.g.mem, r.g.builders(m.Bytes()), 1, 1, 0, out))
	}
	want := []Errno{Success, Success, Success, TooLarge, TooLarge, TooLarge, TooLarge, TooLarge}
	if !slices.Equal(codes, want) {
		t.Fatalf("codes %v, want %v", codes, want)
	}
	if lines := logLines(r.in); len(lines) != 5 || !strings.Contains(lines[0], "4 graphs, the most it may hold") {
		t.Fatalf("log %q", lines)
	}
	// Loading a graph it has still works at the cap.
	mustSucceed(t, r.in, "load a graph it has", r.in.Load(r.g.mem, r.g.builders(addModel.Bytes()), 1, 1, 0, out))
	mustSucceed(t, r.in, "compute", r.in.Compute(0))
	r.in.Close()
	if s := reg.Stats(); s.Graphs != 0 {
		t.Fatalf("after Close with no idle budget the registry holds %+v", s)
	}
}

func TestContextCapAndMemoryLimit(t *testing.T) {
	r := newReady(t, nil, InstanceConfig{Limits: Limits{MaxContexts: 2}})
	out := r.g.alloc(4)
	mustSucceed(t, r.in, "second context", r.in.InitExecutionContext(r.g.mem, 0, out))
	if code := r.in.InitExecutionContext(r.g.mem, 0, out); code != TooLarge {
		t.Fatalf("third context: %s, want too_large", code)
	}
	if lines := logLines(r.in); len(lines) != 1 || !strings.Contains(lines[0], "2 execution contexts") {
		t.Fatalf("log %q", lines)
	}

	// The memory limit counts linear memory plus what the host holds for the instance.
	reg := NewRegistry(RegistryConfig{})
	graphBytes, sessionBytes := addModelBytes(t)
	model := addModel.Bytes()
	limit := int64(1<<16) + 2*int64(len(model)) + 3*sessionBytes // room for a few contexts
	wantContexts := int((limit - 1<<16 - graphBytes) / sessionBytes)
	in := NewInstance(InstanceConfig{Registry: reg, MemoryLimit: limit})
	defer in.Close()
	g := newGuest(1 << 16)
	out = g.alloc(4)
	mustSucceed(t, in, "load", in.Load(g.mem, g.builders(addModel.Bytes()), 1, 1, 0, out))
	for i := 0; i < wantContexts; i++ {
		mustSucceed(t, in, "context", in.InitExecutionContext(g.mem, 0, out))
	}
	if code := in.InitExecutionContext(g.mem, 0, out); code != TooLarge {
		t.Fatalf("context over the memory limit: %s, want too_large", code)
	}
	lines := logLines(in)
	if !strings.Contains(lines[len(lines)-1], "memory limit") {
		t.Fatalf("log %q", lines)
	}
	if int64(len(g.mem))+in.Held() > limit {
		t.Fatalf("held %d with %d of linear memory, over the limit %d", in.Held(), len(g.mem), limit)
	}

	// A model too large for the registry's cap.
	small := NewRegistry(RegistryConfig{MaxModelBytes: 64})
	in2 := NewInstance(InstanceConfig{Registry: small})
	defer in2.Close()
	if code := in2.Load(g.mem, g.builders(addModel.Bytes()), 1, 1, 0, out); code != TooLarge {
		t.Fatalf("model over MaxModelBytes: %s, want too_large", code)
	}
}

// addModelBytes is what the add model's graph and one of its contexts hold.
func addModelBytes(t *testing.T) (graph, session int64) {
	reg := NewRegistry(RegistryConfig{})
	g, err := reg.Load(addModel.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	defer g.Release()
	if g.Bytes() < 16 {
		t.Fatalf("the add model holds %d bytes, less than its bias", g.Bytes())
	}
	return g.Bytes(), g.Model().SessionBytes()
}

func writeModels(t *testing.T, files map[string][]byte) string {
	t.Helper()
	dir := t.TempDir()
	for name, b := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestLoadByName(t *testing.T) {
	reg := NewRegistry(RegistryConfig{})
	opDir := writeModels(t, map[string][]byte{"shared.onnx": addModel.Bytes(), "broken.onnx": []byte("nope"), "notes.txt": []byte("x")})
	op, err := reg.OpenDir(opDir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer op.Close()
	if f := op.Failures(); len(f) != 1 || !strings.Contains(f[0], `"broken"`) {
		t.Fatalf("failures %q", f)
	}
	other := wasinntest.AddModel{Bias: []float32{-1, -1, -1, -1}}
	actDir := writeModels(t, map[string][]byte{"models/mine.onnx": other.Bytes(), "main.wasm": []byte("\x00asm")})
	act, err := reg.OpenCatalog(actDir, []string{"main.wasm", "models/mine.onnx"}, op)
	if err != nil {
		t.Fatal(err)
	}
	defer act.Close()
	if names := act.Names(); !slices.Equal(names, []string{"broken", "mine", "shared"}) {
		t.Fatalf("names %v", names)
	}

	in := NewInstance(InstanceConfig{Registry: reg, Catalog: act, Limits: Limits{MaxGraphs: 2}})
	defer in.Close()
	g := newGuest(1 << 14)
	out := g.alloc(4)
	name := func(s string) (uint32, uint32) { return g.put([]byte(s)), uint32(len(s)) }
	for _, tc := range []struct {
		name   string
		want   Errno
		handle uint32
	}{
		{"mine", Success, 0},
		{"shared", Success, 1},
		{"mine", Success, 0}, // the same graph again: its handle, even at the cap
		{"missing", NotFound, 0},
		{"broken", RuntimeError, 0},
		{"", NotFound, 0},
		{strings.Repeat("n", 5000), NotFound, 0},
	} {
		p, n := name(tc.name)
		copy(g.mem[out:], le32(0xffffffff))
		code := in.LoadByName(g.mem, p, n, out)
		if code != tc.want {
			t.Fatalf("load_by_name(%.20q) = %s, want %s; log %q", tc.name, code, tc.want, logLines(in))
		}
		if code == Success && g.u32(out) != tc.handle {
			t.Fatalf("load_by_name(%q) gave graph %d, want %d", tc.name, g.u32(out), tc.handle)
		}
	}
	lines := logLines(in)
	if len(lines) != 4 || !strings.Contains(lines[0], `the graphs are "broken", "mine", "shared"`) || !strings.Contains(lines[1], "did not compile") {
		t.Fatalf("log %q", lines)
	}
	// A third distinct graph is over MaxGraphs.
	act2, err := reg.OpenCatalog(opDir, []string{"shared.onnx"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer act2.Close()
	if reg.Compiles() != 3 { // shared, broken, mine; act2's shared.onnx is the same file
		t.Fatalf("%d compiles, want 3", reg.Compiles())
	}

	// The named graph computes what it should, and survives the catalogs' Close.
	act.Close()
	op.Close()
	mustSucceed(t, in, "init_execution_context", in.InitExecutionContext(g.mem, 0, out))
	x := []float32{1, 1, 1, 1}
	mustSucceed(t, in, "set_input", in.SetInput(g.mem, 0, 0, g.tensor([]uint32{1, 4}, F32, x)))
	mustSucceed(t, in, "compute", in.Compute(0))
	buf := g.alloc(16)
	mustSucceed(t, in, "get_output", in.GetOutput(g.mem, 0, 0, buf, 16, out))
	if got := g.floats(buf, 4); !slices.Equal(got, other.Output(x)) {
		t.Fatalf("output %v, want %v", got, other.Output(x))
	}
	if code := in.LoadByName(g.mem, g.put([]byte("shared")), 6, out); code != Success {
		t.Fatalf("a graph the instance holds must stay loadable by name after the catalog closed: %s", code)
	}
}

func TestCatalogDuplicateNames(t *testing.T) {
	reg := NewRegistry(RegistryConfig{})
	dir := writeModels(t, map[string][]byte{"a/m.onnx": addModel.Bytes(), "b/m.onnx": addModel.Bytes()})
	if _, err := reg.OpenCatalog(dir, []string{"b/m.onnx", "a/m.onnx"}, nil); err == nil || !strings.Contains(err.Error(), `a/m.onnx and b/m.onnx would both be the graph named "m"`) {
		t.Fatalf("err %v", err)
	}
}

func TestModelName(t *testing.T) {
	for _, tc := range []struct {
		file, name string
		ok         bool
	}{
		{"mobilenetv2-1.0-224.onnx", "mobilenetv2-1.0-224", true},
		{"models/x.ONNX", "x", true},
		{".onnx", "", false},
		{"x.onnx.txt", "", false},
		{"main.wasm", "", false},
	} {
		name, ok := ModelName(tc.file)
		if name != tc.name || ok != tc.ok {
			t.Errorf("ModelName(%q) = %q, %v; want %q, %v", tc.file, name, ok, tc.name, tc.ok)
		}
	}
}

func TestRegistrySharingAndIdle(t *testing.T) {
	reg := NewRegistry(RegistryConfig{})
	dir := writeModels(t, map[string][]byte{"m.onnx": addModel.Bytes()})
	path := filepath.Join(dir, "m.onnx")
	g1, err := reg.LoadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	g2, err := reg.Load(addModel.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if g1 != g2 || reg.Compiles() != 1 {
		t.Fatalf("a file and the same bytes: %p, %p after %d compiles", g1, g2, reg.Compiles())
	}
	g1.Release()
	g2.Release()
	if s := reg.Stats(); s.Graphs != 1 || s.Idle != 1 {
		t.Fatalf("stats after release %+v, want one idle graph", s)
	}
	g3, err := reg.LoadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if g3 != g1 || reg.Compiles() != 1 {
		t.Fatal("an idle graph was compiled again")
	}
	g3.Release()
	// A model rewritten in place is compiled again.
	other := wasinntest.AddModel{Bias: []float32{5, 5, 5, 5}, Doc: "rewritten"}
	if err := os.WriteFile(path, other.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	g4, err := reg.LoadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer g4.Release()
	if g4 == g1 || reg.Compiles() != 2 {
		t.Fatal("a rewritten file was not compiled again")
	}

	// No idle budget: a released graph is gone.
	none := NewRegistry(RegistryConfig{MaxIdleBytes: -1})
	g, err := none.Load(addModel.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	g.Release()
	if s := none.Stats(); s.Graphs != 0 {
		t.Fatalf("stats %+v, want empty", s)
	}
	if _, err := none.LoadFile(filepath.Join(dir, "missing.onnx")); err == nil {
		t.Fatal("a missing file loaded")
	}
}

func TestConcurrentLoadsCompileOnce(t *testing.T) {
	reg := NewRegistry(RegistryConfig{})
	var wg sync.WaitGroup
	graphs := make([]*Graph, 8)
	for i := range graphs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			g, err := reg.Load(addModel.Bytes())
			if err != nil {
				t.Error(err)
				return
			}
			graphs[i] = g
		}()
	}
	wg.Wait()
	if reg.Compiles() != 1 {
		t.Fatalf("%d compiles for 8 concurrent loads of one model", reg.Compiles())
	}
	for _, g := range graphs {
		if g != graphs[0] {
			t.Fatal("concurrent loads got different graphs")
		}
		g.Release()
	}
}

// TestInstancesComputeConcurrently: instances sharing one graph compute at once without sharing
// buffers (run with -race).
func TestInstancesComputeConcurrently(t *testing.T) {
	reg := NewRegistry(RegistryConfig{})
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			in := NewInstance(InstanceConfig{Registry: reg})
			defer in.Close()
			g := newGuest(1 << 14)
			out := g.alloc(4)
			x := []float32{float32(i), float32(2 * i), 0, -1}
			tp := g.tensor([]uint32{1, 4}, F32, x)
			buf := g.alloc(16)
			for _, code := range []Errno{
				in.Load(g.mem, g.builders(addModel.Bytes()), 1, 1, 0, out),
				in.InitExecutionContext(g.mem, 0, out),
				in.SetInput(g.mem, 0, 0, tp),
			} {
				if code != Success {
					t.Error(code, logLines(in))
					return
				}
			}
			for j := 0; j < 50; j++ {
				if code := in.Compute(0); code != Success {
					t.Error(code)
					return
				}
				if code := in.GetOutput(g.mem, 0, 0, buf, 16, out); code != Success {
					t.Error(code)
					return
				}
				if got := g.floats(buf, 4); !slices.Equal(got, addModel.Output(x)) {
					t.Errorf("instance %d: %v, want %v", i, got, addModel.Output(x))
					return
				}
			}
		}()
	}
	wg.Wait()
}

func TestSymbolicBatchIsOne(t *testing.T) {
	m := wasinntest.AddModel{Bias: []float32{1, 1}, SymbolicBatch: true}
	in := NewInstance(InstanceConfig{Registry: NewRegistry(RegistryConfig{})})
	defer in.Close()
	g := newGuest(1 << 14)
	out := g.alloc(4)
	mustSucceed(t, in, "load", in.Load(g.mem, g.builders(m.Bytes()), 1, 1, 0, out))
	mustSucceed(t, in, "init", in.InitExecutionContext(g.mem, 0, out))
	mustSucceed(t, in, "set_input [1 2]", in.SetInput(g.mem, 0, 0, g.tensor([]uint32{1, 2}, F32, []float32{1, 2})))
	if code := in.SetInput(g.mem, 0, 0, g.tensor([]uint32{2, 2}, F32, []float32{1, 2, 3, 4})); code != InvalidArgument {
		t.Fatalf("batch 2 on a graph planned for 1: %s", code)
	}
}

func TestLogIsBounded(t *testing.T) {
	in := NewInstance(InstanceConfig{Registry: NewRegistry(RegistryConfig{})})
	defer in.Close()
	for i := 0; i < 1000; i++ {
		in.Compute(uint32(i))
	}
	lines := logLines(in)
	if len(lines) != maxLogLines+1 || lines[maxLogLines] != "wasi-nn: 980 more failed calls were not logged" {
		t.Fatalf("%d lines, last %q", len(lines), lines[len(lines)-1])
	}
	if lines := logLines(in); lines != nil {
		t.Fatalf("log after drain: %q", lines)
	}
}

// TestHostileModels: small files that would make the host allocate gigabytes are refused while
// compiling, not after.
func TestHostileModels(t *testing.T) {
	in := NewInstance(InstanceConfig{Registry: NewRegistry(RegistryConfig{})})
	defer in.Close()
	g := newGuest(1 << 20)
	out := g.alloc(4)
	for _, tc := range []struct {
		model []byte
		says  string
	}{
		{wasinntest.BlowupModel{K: 4096}.Bytes(), "would hold more than"}, // 64 MiB folded from 32 KiB
		{wasinntest.BlowupModel{K: 8192}.Bytes(), "too large"},            // refused by nn/onnx's pre-scan
	} {
		if code := in.Load(g.mem, g.builders(tc.model), 1, 1, 0, out); code != RuntimeError {
			t.Fatalf("load of a %d-byte blow-up model: %s", len(tc.model), code)
		}
		if lines := logLines(in); len(lines) != 1 || !strings.Contains(lines[0], tc.says) {
			t.Fatalf("log %q, want %q", lines, tc.says)
		}
	}
}

// TestNoAllocationPerInference: set_input, compute and get_output allocate nothing once the
// context exists (the data is copied straight between guest memory and the session's buffers).
func TestNoAllocationPerInference(t *testing.T) {
	r := newReady(t, nil, InstanceConfig{})
	var m Memory = r.g.mem
	buf, written := r.g.alloc(16), r.g.alloc(4)
	allocs := testing.AllocsPerRun(100, func() {
		if r.in.SetInput(m, 0, 0, r.tensor) != Success || r.in.Compute(0) != Success || r.in.GetOutput(m, 0, 0, buf, 16, written) != Success {
			t.Fatal("an inference failed")
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per inference, want 0", allocs)
	}
}
