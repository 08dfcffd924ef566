//go:build wasip1

// Command nnguest is the wasi-nn test action of the wasm executor: it calls the six functions of
// wasi_ephemeral_nn directly (no SDK bindings), so the tests see the ABI as any guest does. The
// "mode" parameter chooses what it does:
//
//	run       load a graph ("name" by load_by_name, or "file" by load from /action, with
//	          "encoding" and "target"), make a context, set input 0 ("input" floats or
//	          "input_file" raw float32 from /action, "dims"), compute "repeat" times (default 1),
//	          get output 0 into "out_bytes" bytes; returns every code, the output and, with
//	          "timed", the mean and the least ns of one set_input+compute+get_output measured in
//	          the guest
//	oob       call every function with pointers outside its memory; returns the codes
//	loadloop  load "n" models made distinct by appending a doc_string to "file"; returns the codes
//	ctxloop   make "n" contexts of graph "name"; returns the codes
//	keep      (reactor) like run by name, but the graph and context are made once and kept in
//	          globals across activations
package main

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"time"
	"unsafe"

	"github.com/wasmwhisk/wasmwhisk/actions/sdk"
)

//go:wasmimport wasi_ephemeral_nn load
func nnLoad(builders, n, encoding, target, graphOut uint32) uint32

//go:wasmimport wasi_ephemeral_nn load_by_name
func nnLoadByName(name, n, graphOut uint32) uint32

//go:wasmimport wasi_ephemeral_nn init_execution_context
func nnInitExecutionContext(graph, ctxOut uint32) uint32

//go:wasmimport wasi_ephemeral_nn set_input
func nnSetInput(ctx, index, tensor uint32) uint32

//go:wasmimport wasi_ephemeral_nn compute
func nnCompute(ctx uint32) uint32

//go:wasmimport wasi_ephemeral_nn get_output
func nnGetOutput(ctx, index, buf, max, written uint32) uint32

// addr is the guest address of a Go value (wasm32: pointers are 32 bits). The value must be on
// the heap, which does not move (a goroutine stack may move before the call): everything passed
// here is made by heap or by make/ReadFile/json with a size known only at run time, or lives in
// a heap object.
func addr[T any](p *T) uint32 { return uint32(uintptr(unsafe.Pointer(p))) }

// escaped forces values onto the heap.
var escaped any

// heap returns a pointer to a heap copy of v.
func heap[T any](v T) *T {
	p := new(T)
	*p = v
	escaped = p
	return p
}

// heapBytes returns a heap copy of s.
func heapBytes(s string) []byte {
	b := *heap(make([]byte, len(s)))
	copy(b, s)
	escaped = b
	return b
}

func bytesAddr(b []byte) uint32 {
	if len(b) == 0 {
		return 0
	}
	return addr(&b[0])
}

// tensor is the witx tensor record as wasm32 lays it out: 20 bytes.
type tensor struct {
	dimsPtr, dimsLen uint32
	typ              uint8
	_                [3]byte
	dataPtr, dataLen uint32
}

// builder is a graph builder: a list of bytes.
type builder struct{ ptr, len uint32 }

type params struct {
	Mode      string    `json:"mode"`
	Name      string    `json:"name"`
	File      string    `json:"file"`
	Encoding  uint32    `json:"encoding"`
	Target    uint32    `json:"target"`
	Input     []float32 `json:"input"`
	InputFile string    `json:"input_file"`
	Dims      []uint32  `json:"dims"`
	Type      *uint8    `json:"type"`
	Repeat    int       `json:"repeat"`
	OutBytes  uint32    `json:"out_bytes"`
	Timed     bool      `json:"timed"`
	N         int       `json:"n"`
}

type result struct {
	Load, Init, Set, Compute, Get uint32
	Graph, Context, Written       uint32
	Output                        []float32 `json:",omitempty"`
	NsPerRun                      int64     `json:",omitempty"`
	MinNs                         int64     `json:",omitempty"`
	Codes                         map[string]uint32
	List                          []uint32
}

var kept struct {
	ok           bool
	graph, ctx   uint32
	load, initEC uint32
}

func init() { sdk.HandleRaw(handle) }

func main() { sdk.Serve() }

func handle(_ context.Context, raw json.RawMessage) (any, error) {
	var p params
	p.Encoding = 1 // onnx
	if err := json.Unmarshal(raw, &p); err != nil {
		return nil, err
	}
	switch p.Mode {
	case "run", "keep":
		return run(p)
	case "oob":
		return oob(), nil
	case "loadloop":
		return loadLoop(p)
	case "ctxloop":
		return ctxLoop(p), nil
	}
	return nil, fmt.Errorf("unknown mode %q", p.Mode)
}

func loadByName(name string) (uint32, uint32) {
	g := heap(uint32(0))
	b := heapBytes(name)
	return nnLoadByName(bytesAddr(b), uint32(len(b)), addr(g)), *g
}

func loadBytes(model []byte, encoding, target uint32) (uint32, uint32) {
	g := heap(uint32(0))
	bs := heap(builder{bytesAddr(model), uint32(len(model))})
	return nnLoad(addr(bs), 1, encoding, target, addr(g)), *g
}

func readFloats(path string) ([]float32, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	f := make([]float32, len(b)/4)
	for i := range f {
		f[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return f, nil
}

func run(p params) (*result, error) {
	r := heap(result{})
	switch {
	case p.Mode == "keep" && kept.ok:
		r.Load, r.Init, r.Graph, r.Context = kept.load, kept.initEC, kept.graph, kept.ctx
	case p.File != "":
		model, err := os.ReadFile("/action/" + p.File)
		if err != nil {
			return nil, err
		}
		r.Load, r.Graph = loadBytes(model, p.Encoding, p.Target)
	default:
		r.Load, r.Graph = loadByName(p.Name)
	}
	if r.Load != 0 {
		return r, nil
	}
	if p.Mode != "keep" || !kept.ok {
		r.Init = nnInitExecutionContext(r.Graph, addr(&r.Context)) // r is on the heap
		if r.Init != 0 {
			return r, nil
		}
	}
	if p.Mode == "keep" {
		kept.ok, kept.graph, kept.ctx, kept.load, kept.initEC = true, r.Graph, r.Context, r.Load, r.Init
	}
	input := p.Input
	if p.InputFile != "" {
		var err error
		if input, err = readFloats("/action/" + p.InputFile); err != nil {
			return nil, err
		}
	}
	dims := *heap(append(make([]uint32, 0, len(p.Dims)+1), p.Dims...))
	escaped = dims
	t := heap(tensor{dimsLen: uint32(len(dims)), typ: 1})
	if len(dims) > 0 {
		t.dimsPtr = addr(&dims[0])
	}
	if p.Type != nil {
		t.typ = *p.Type
	}
	if len(input) > 0 {
		t.dataPtr, t.dataLen = addr(&input[0]), uint32(4*len(input))
	}
	out := make([]float32, (p.OutBytes+3)/4)
	escaped = out
	outPtr := uint32(0)
	if len(out) > 0 {
		outPtr = addr(&out[0])
	}
	repeat := max(p.Repeat, 1)
	start := time.Now()
	for i := 0; i < repeat; i++ {
		t0 := time.Now()
		if r.Set = nnSetInput(r.Context, 0, addr(t)); r.Set != 0 {
			return r, nil
		}
		if r.Compute = nnCompute(r.Context); r.Compute != 0 {
			return r, nil
		}
		if r.Get = nnGetOutput(r.Context, 0, outPtr, p.OutBytes, addr(&r.Written)); r.Get != 0 { // r is on the heap
			return r, nil
		}
		if d := time.Since(t0).Nanoseconds(); r.MinNs == 0 || d < r.MinNs {
			r.MinNs = d
		}
	}
	if p.Timed {
		r.NsPerRun = time.Since(start).Nanoseconds() / int64(repeat)
	}
	r.Output = out[:r.Written/4]
	return r, nil
}

// oob calls every function with a pointer past the end of memory (and one with a length that
// would wrap around 2^32), after loading the model named "add" for the handles.
func oob() map[string]any {
	const past = 0xfffffff0
	g, c, n := heap(uint32(0)), heap(uint32(0)), heap(uint32(0))
	name := heapBytes("add")
	codes := map[string]uint32{
		"load_by_name.name":   nnLoadByName(past, 3, addr(g)),
		"load_by_name.wrap":   nnLoadByName(bytesAddr(name), 0xffffffff, addr(g)),
		"load_by_name.result": nnLoadByName(bytesAddr(name), 3, past),
		"load.builders":       nnLoad(past, 1, 1, 0, addr(g)),
		"load.bytes":          nnLoad(addr(heap(builder{past, 100})), 1, 1, 0, addr(g)),
	}
	if code := nnLoadByName(bytesAddr(name), 3, addr(g)); code != 0 {
		return map[string]any{"setup": code}
	}
	codes["init_execution_context.result"] = nnInitExecutionContext(*g, past)
	if code := nnInitExecutionContext(*g, addr(c)); code != 0 {
		return map[string]any{"setup": code}
	}
	codes["set_input.tensor"] = nnSetInput(*c, 0, past)
	dims := heap([2]uint32{1, 4})
	data := heap([4]float32{1, 2, 3, 4})
	codes["set_input.dims"] = nnSetInput(*c, 0, addr(heap(tensor{dimsPtr: past, dimsLen: 2, typ: 1, dataPtr: addr(data), dataLen: 16})))
	codes["set_input.data"] = nnSetInput(*c, 0, addr(heap(tensor{dimsPtr: addr(dims), dimsLen: 2, typ: 1, dataPtr: past, dataLen: 16})))
	if code := nnSetInput(*c, 0, addr(heap(tensor{dimsPtr: addr(dims), dimsLen: 2, typ: 1, dataPtr: addr(data), dataLen: 16}))); code != 0 {
		return map[string]any{"setup": code}
	}
	if code := nnCompute(*c); code != 0 {
		return map[string]any{"setup": code}
	}
	out := heap([4]float32{})
	codes["get_output.buffer"] = nnGetOutput(*c, 0, past, 16, addr(n))
	codes["get_output.written"] = nnGetOutput(*c, 0, addr(out), 16, past)
	codes["get_output.ok"] = nnGetOutput(*c, 0, addr(out), 16, addr(n))
	return map[string]any{"codes": codes, "output": out[:], "written": *n}
}

// loadLoop loads n models that differ only in a trailing doc_string (ModelProto field 6).
func loadLoop(p params) (*result, error) {
	model, err := os.ReadFile("/action/" + p.File)
	if err != nil {
		return nil, err
	}
	r := &result{}
	for i := 0; i < p.N; i++ {
		doc := fmt.Sprintf("copy %d", i)
		m := append(append(append(make([]byte, 0, len(model)+2+len(doc)), model...), 6<<3|2, byte(len(doc))), doc...)
		code, _ := loadBytes(m, 1, 0)
		r.List = append(r.List, code)
	}
	return r, nil
}

func ctxLoop(p params) *result {
	r := &result{}
	code, g := loadByName(p.Name)
	if code != 0 {
		r.Load = code
		return r
	}
	c := heap(uint32(0))
	for i := 0; i < p.N; i++ {
		r.List = append(r.List, nnInitExecutionContext(g, addr(c)))
	}
	return r
}
