package wasinn

import (
	"container/list"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"

	"github.com/wasmwhisk/wasmwhisk/nn"
	"github.com/wasmwhisk/wasmwhisk/nn/onnx"
)

// RegistryConfig configures a Registry. The zero value is ready to use.
type RegistryConfig struct {
	// MaxModelBytes caps the size of one model (a file or the bytes a guest passes to load).
	// Zero means 256 MiB.
	MaxModelBytes int64
	// MaxIdleBytes caps the compiled graphs that nobody holds any more which the registry keeps
	// for the next load of the same content (least recently released go first). Zero means
	// 512 MiB; negative keeps none.
	MaxIdleBytes int64
}

// Defaults of RegistryConfig.
const (
	DefaultMaxModelBytes = 256 << 20
	DefaultMaxIdleBytes  = 512 << 20
)

// Registry compiles graphs once per content (SHA-256 of the model bytes) and shares each compiled
// graph read-only with every holder. It is safe for concurrent use; one per process is the intent
// (the wasm engine holds it), so that every executor and instance of the process shares graphs.
type Registry struct {
	cfg RegistryConfig

	mu      sync.Mutex
	byHash  map[[sha256.Size]byte]*Graph
	byFile  map[fileKey]*Graph
	idle    list.List // of *Graph, most recently released first
	idleSum int64

	compiles atomic.Int64
}

// fileKey identifies a file's content without reading it: a file rewritten in place changes its
// size or modification time.
type fileKey struct {
	path  string
	size  int64
	mtime int64
}

// Graph is a compiled graph held by the registry. Holders (catalogs, instances) keep a reference;
// the last Release lets the registry keep it idle or drop it.
type Graph struct {
	reg   *Registry
	sum   [sha256.Size]byte
	model *nn.Model
	bytes int64 // model.Bytes()
	err   error // compile error; a failed graph is never stored
	ready chan struct{}

	refs  int // under reg.mu
	elem  *list.Element
	files []fileKey
}

// NewRegistry returns an empty registry.
func NewRegistry(cfg RegistryConfig) *Registry {
	if cfg.MaxModelBytes <= 0 {
		cfg.MaxModelBytes = DefaultMaxModelBytes
	}
	if cfg.MaxIdleBytes == 0 {
		cfg.MaxIdleBytes = DefaultMaxIdleBytes
	}
	return &Registry{cfg: cfg, byHash: map[[sha256.Size]byte]*Graph{}, byFile: map[fileKey]*Graph{}}
}

// MaxModelBytes is the size cap of one model.
func (r *Registry) MaxModelBytes() int64 { return r.cfg.MaxModelBytes }

// Compiles counts the graphs the registry has compiled (successfully or not) since it was made.
func (r *Registry) Compiles() int64 { return r.compiles.Load() }

// Model is the compiled graph, shared: run it through a Session of its own.
func (g *Graph) Model() *nn.Model { return g.model }

// SHA256 is the hex SHA-256 of the model bytes.
func (g *Graph) SHA256() string { return hex.EncodeToString(g.sum[:]) }

// Bytes is the memory the compiled graph holds.
func (g *Graph) Bytes() int64 { return g.bytes }

// ErrTooLarge is wrapped by load errors for a model over the size cap.
var ErrTooLarge = errors.New("wasinn: model too large")

// Load returns the compiled graph of ONNX model bytes, compiling it unless the registry holds the
// same content. The caller holds a reference until Release. data is not retained.
func (r *Registry) Load(data []byte) (*Graph, error) {
	if int64(len(data)) > r.cfg.MaxModelBytes {
		return nil, fmt.Errorf("%w: %d bytes, the limit is %d", ErrTooLarge, len(data), r.cfg.MaxModelBytes)
	}
	return r.load(sha256.Sum256(data), data, fileKey{})
}

// LoadFile is Load for a model file. A file the registry has compiled before (same path, size and
// modification time) is neither read nor hashed again.
func (r *Registry) LoadFile(path string) (*Graph, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("wasinn: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("wasinn: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("wasinn: %s is not a regular file", path)
	}
	key := fileKey{path: path, size: fi.Size(), mtime: fi.ModTime().UnixNano()}
	r.mu.Lock()
	if g := r.byFile[key]; g != nil {
		r.holdLocked(g)
		r.mu.Unlock()
		return g.wait()
	}
	r.mu.Unlock()
	if fi.Size() > r.cfg.MaxModelBytes {
		return nil, fmt.Errorf("%w: %s is %d bytes, the limit is %d", ErrTooLarge, path, fi.Size(), r.cfg.MaxModelBytes)
	}
	data, err := io.ReadAll(io.LimitReader(f, r.cfg.MaxModelBytes+1))
	if err != nil {
		return nil, fmt.Errorf("wasinn: read %s: %w", path, err)
	}
	if int64(len(data)) > r.cfg.MaxModelBytes {
		return nil, fmt.Errorf("%w: %s grew past the limit of %d bytes", ErrTooLarge, path, r.cfg.MaxModelBytes)
	}
	g, err := r.load(sha256.Sum256(data), data, key)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return g, nil
}

// lookup returns a held reference to the graph of sum if the registry has it (compiled or being
// compiled), else nil.
func (r *Registry) lookup(sum [sha256.Size]byte) *Graph {
	r.mu.Lock()
	defer r.mu.Unlock()
	g := r.byHash[sum]
	if g != nil {
		r.holdLocked(g)
	}
	return g
}

// load returns the graph of sum, compiling data when nobody has; concurrent loads of the same
// content wait for one compile. data is only read.
func (r *Registry) load(sum [sha256.Size]byte, data []byte, key fileKey) (*Graph, error) {
	r.mu.Lock()
	if g := r.byHash[sum]; g != nil {
		r.holdLocked(g)
		if key.path != "" && r.byFile[key] == nil {
			r.byFile[key] = g
			g.files = append(g.files, key)
		}
		r.mu.Unlock()
		return g.wait()
	}
	g := &Graph{reg: r, sum: sum, refs: 1, ready: make(chan struct{})}
	r.byHash[sum] = g
	if key.path != "" {
		r.byFile[key] = g
		g.files = append(g.files, key)
	}
	r.mu.Unlock()

	r.compiles.Add(1)
	g.model, g.err = compile(data)
	if g.err == nil {
		g.bytes = g.model.Bytes()
	} else {
		r.mu.Lock()
		r.forgetLocked(g)
		r.mu.Unlock()
	}
	close(g.ready)
	return g.wait()
}

// wait waits for the graph's compile; on failure it drops the caller's reference.
func (g *Graph) wait() (*Graph, error) {
	<-g.ready
	if g.err != nil {
		g.Release()
		return nil, g.err
	}
	return g, nil
}

// holdLocked takes a reference; r.mu is held.
func (r *Registry) holdLocked(g *Graph) {
	if g.refs == 0 && g.elem != nil {
		r.idle.Remove(g.elem)
		g.elem = nil
		r.idleSum -= g.bytes
	}
	g.refs++
}

// hold takes another reference to a graph the caller already holds.
func (g *Graph) hold() {
	g.reg.mu.Lock()
	g.reg.holdLocked(g)
	g.reg.mu.Unlock()
}

// Release drops one reference. The last one leaves the graph idle in the registry (for the next
// load of the same content) until the idle budget pushes it out.
func (g *Graph) Release() {
	r := g.reg
	r.mu.Lock()
	defer r.mu.Unlock()
	if g.refs--; g.refs > 0 {
		return
	}
	if g.err != nil || r.byHash[g.sum] != g {
		return // a failed compile, already forgotten
	}
	if r.cfg.MaxIdleBytes < 0 {
		r.forgetLocked(g)
		return
	}
	g.elem = r.idle.PushFront(g)
	r.idleSum += g.bytes
	for r.idleSum > r.cfg.MaxIdleBytes {
		old := r.idle.Back().Value.(*Graph)
		r.idle.Remove(old.elem)
		old.elem = nil
		r.idleSum -= old.bytes
		r.forgetLocked(old)
	}
}

// forgetLocked removes g from the registry's maps; r.mu is held.
func (r *Registry) forgetLocked(g *Graph) {
	if r.byHash[g.sum] == g {
		delete(r.byHash, g.sum)
	}
	for _, k := range g.files {
		if r.byFile[k] == g {
			delete(r.byFile, k)
		}
	}
	g.files = nil
}

// compile decodes and compiles ONNX bytes. Symbolic input dimensions (a dynamic batch) are fixed
// to 1, since nn plans with static shapes. A panic anywhere in decoding or compiling a hostile
// model is an error, not a crash.
func compile(data []byte) (m *nn.Model, err error) {
	defer func() {
		if p := recover(); p != nil {
			m, err = nil, fmt.Errorf("wasinn: compile: internal error: %v", p)
		}
	}()
	g, err := onnx.Decode(data)
	if err != nil {
		return nil, fmt.Errorf("wasinn: decode ONNX: %w", err)
	}
	for i := range g.Inputs {
		in := &g.Inputs[i]
		shape := make([]int, len(in.Shape))
		for j, d := range in.Shape {
			shape[j] = d
			if d < 0 {
				shape[j] = 1
			}
		}
		in.Shape = shape
	}
	// A compiled graph is about twice its file (weights and packed weights); constants folded
	// at compile time get some room, a file that would blow up into gigabytes does not.
	m, err = nn.CompileWith(g, nn.CompileOptions{MaxBytes: 3*int64(len(data)) + compileSlack})
	if err != nil {
		return nil, fmt.Errorf("wasinn: compile: %w", err)
	}
	return m, nil
}

// compileSlack is what a compiled graph may hold beyond three times its file's size.
const compileSlack = 16 << 20

// Stats is what a registry holds.
type Stats struct {
	Graphs    int   // compiled graphs, held or idle
	Idle      int   // graphs nobody holds
	IdleBytes int64 // their memory
}

// Stats reports what the registry holds.
func (r *Registry) Stats() Stats {
	r.mu.Lock()
	defer r.mu.Unlock()
	return Stats{Graphs: len(r.byHash), Idle: r.idle.Len(), IdleBytes: r.idleSum}
}
