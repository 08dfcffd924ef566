package wasinn

import (
	"bytes"
	"encoding/binary"
	"math"
	"testing"
)

// guest is a test guest's linear memory with a bump allocator, laid out as a wasm32 guest would
// lay out wasi-nn arguments.
type guest struct {
	mem  SliceMemory
	next uint32
}

func newGuest(size int) *guest { return &guest{mem: make(SliceMemory, size), next: 16} }

// put copies b into guest memory and returns its address.
func (g *guest) put(b []byte) uint32 {
	g.next = (g.next + 7) &^ 7
	p := g.next
	if int(p)+len(b) > len(g.mem) {
		panic("test guest out of memory")
	}
	copy(g.mem[p:], b)
	g.next += uint32(len(b))
	return p
}

// alloc reserves n zero bytes.
func (g *guest) alloc(n int) uint32 { return g.put(make([]byte, n)) }

func (g *guest) u32(p uint32) uint32 { return binary.LittleEndian.Uint32(g.mem[p:]) }

// builders places a graph builder array of one builder holding model.
func (g *guest) builders(model []byte) uint32 {
	data := g.put(model)
	return g.put(le32(data, uint32(len(model))))
}

// tensor places a tensor {dims, type, data} and returns its address.
func (g *guest) tensor(dims []uint32, typ TensorType, data []float32) uint32 {
	dp := g.put(le32(dims...))
	fp := g.put(floatBytes(data))
	t := make([]byte, tensorSize)
	binary.LittleEndian.PutUint32(t[0:], dp)
	binary.LittleEndian.PutUint32(t[4:], uint32(len(dims)))
	t[8] = byte(typ)
	binary.LittleEndian.PutUint32(t[12:], fp)
	binary.LittleEndian.PutUint32(t[16:], uint32(4*len(data)))
	return g.put(t)
}

// floats reads n float32 values at p.
func (g *guest) floats(p uint32, n int) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(g.mem[int(p)+4*i:]))
	}
	return out
}

func le32(v ...uint32) []byte {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], x)
	}
	return b
}

func floatBytes(f []float32) []byte {
	b := make([]byte, 4*len(f))
	for i, x := range f {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return b
}

// logLines drains an instance's log.
func logLines(in *Instance) []string {
	var b bytes.Buffer
	if err := in.WriteLog(&b); err != nil {
		panic(err)
	}
	s := bytes.TrimRight(b.Bytes(), "\n")
	if len(s) == 0 {
		return nil
	}
	var out []string
	for _, l := range bytes.Split(s, []byte("\n")) {
		out = append(out, string(l))
	}
	return out
}

func mustSucceed(t *testing.T, in *Instance, what string, code Errno) {
	t.Helper()
	if code != Success {
		t.Fatalf("%s: %s; log: %q", what, code, logLines(in))
	}
}
