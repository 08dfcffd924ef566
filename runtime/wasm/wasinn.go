package wasm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/bytecodealliance/wasmtime-go/v44"

	"github.com/wasmwhisk/wasmwhisk/runtime"
	"github.com/wasmwhisk/wasmwhisk/runtime/wasinn"
)

// wasi-nn (docs/wasm-abi.md): wasmtime-go's C API has no wasi-nn, so the engine defines the six
// functions of wasi_ephemeral_nn on its linker and each store carries the wasi-nn state of its
// instance (a *wasinn.Instance) as its data. Package wasinn does the work; this file only moves
// arguments between wasmtime and it.

// nnEngine is the engine's wasi-nn part: the process's graph registry and the operator's model
// directory, compiled at the first Init that needs it.
type nnEngine struct {
	reg *wasinn.Registry
	dir string // the model directory; "" for none

	mu      sync.Mutex
	dirCat  *wasinn.Catalog
	dirErr  error
	dirOpen bool
}

// storeData is what a store of this engine carries for its host functions.
type storeData struct {
	nn  *wasinn.Instance // nil when the action does not import wasi-nn
	mem *wasmtime.Memory // the instance's exported memory, found at the first host call
}

// newNNEngine prepares wasi-nn for an engine and defines its functions on the linker.
func newNNEngine(linker *wasmtime.Linker, cfg EngineConfig) (*nnEngine, error) {
	if cfg.ModelDir != "" {
		fi, err := os.Stat(cfg.ModelDir)
		if err != nil {
			return nil, fmt.Errorf("wasm: wasi-nn model directory: %w", err)
		}
		if !fi.IsDir() {
			return nil, fmt.Errorf("wasm: wasi-nn model directory %s is not a directory", cfg.ModelDir)
		}
	}
	n := &nnEngine{reg: wasinn.NewRegistry(cfg.WasiNN), dir: cfg.ModelDir}
	if err := defineNN(linker); err != nil {
		return nil, fmt.Errorf("wasm: define wasi-nn: %w", err)
	}
	return n, nil
}

// defineNN defines wasi_ephemeral_nn's functions on the linker.
func defineNN(l *wasmtime.Linker) error {
	u := func(v int32) uint32 { return uint32(v) }
	for _, f := range []struct {
		name string
		fn   any
	}{
		{wasinn.FuncLoad, func(c *wasmtime.Caller, builders, n, enc, target, out int32) (int32, *wasmtime.Trap) {
			return nnCall(c, wasinn.FuncLoad, func(in *wasinn.Instance, m wasinn.Memory) wasinn.Errno {
				return in.Load(m, u(builders), u(n), u(enc), u(target), u(out))
			})
		}},
		{wasinn.FuncLoadByName, func(c *wasmtime.Caller, name, n, out int32) (int32, *wasmtime.Trap) {
			return nnCall(c, wasinn.FuncLoadByName, func(in *wasinn.Instance, m wasinn.Memory) wasinn.Errno {
				return in.LoadByName(m, u(name), u(n), u(out))
			})
		}},
		{wasinn.FuncInitExecutionContext, func(c *wasmtime.Caller, graph, out int32) (int32, *wasmtime.Trap) {
			return nnCall(c, wasinn.FuncInitExecutionContext, func(in *wasinn.Instance, m wasinn.Memory) wasinn.Errno {
				return in.InitExecutionContext(m, u(graph), u(out))
			})
		}},
		{wasinn.FuncSetInput, func(c *wasmtime.Caller, ctx, index, tensor int32) (int32, *wasmtime.Trap) {
			return nnCall(c, wasinn.FuncSetInput, func(in *wasinn.Instance, m wasinn.Memory) wasinn.Errno {
				return in.SetInput(m, u(ctx), u(index), u(tensor))
			})
		}},
		{wasinn.FuncGetOutput, func(c *wasmtime.Caller, ctx, index, buf, max, out int32) (int32, *wasmtime.Trap) {
			return nnCall(c, wasinn.FuncGetOutput, func(in *wasinn.Instance, m wasinn.Memory) wasinn.Errno {
				return in.GetOutput(m, u(ctx), u(index), u(buf), u(max), u(out))
			})
		}},
		{wasinn.FuncCompute, func(c *wasmtime.Caller, ctx int32) (int32, *wasmtime.Trap) {
			return nnCall(c, wasinn.FuncCompute, func(in *wasinn.Instance, _ wasinn.Memory) wasinn.Errno {
				return in.Compute(u(ctx))
			})
		}},
	} {
		if err := l.FuncWrap(wasinn.ImportModule, f.name, f.fn); err != nil {
			return fmt.Errorf("%s: %w", f.name, err)
		}
	}
	return nil
}

// callerMemory is the linear memory of the instance in a host call.
type callerMemory struct {
	mem    *wasmtime.Memory
	caller *wasmtime.Caller
}

func (m callerMemory) Bytes() []byte { return m.mem.UnsafeData(m.caller) }

// nnCall runs one wasi-nn call for the calling instance. A host panic becomes a trap of the
// guest (never a crash of the process): wasmtime-go would otherwise re-raise it in the
// goroutine that called into the guest.
func nnCall(c *wasmtime.Caller, name string, call func(*wasinn.Instance, wasinn.Memory) wasinn.Errno) (code int32, trap *wasmtime.Trap) {
	defer func() {
		if p := recover(); p != nil {
			code, trap = 0, wasmtime.NewTrap(fmt.Sprintf("wasi-nn: %s: internal error: %v", name, p))
		}
	}()
	d, ok := c.Data().(*storeData)
	if !ok || d.nn == nil {
		return 0, wasmtime.NewTrap(fmt.Sprintf("wasi-nn: %s: this instance has no wasi-nn state", name))
	}
	if d.mem == nil {
		ext := c.GetExport(exportMemory)
		if ext == nil || ext.Memory() == nil {
			return 0, wasmtime.NewTrap(fmt.Sprintf("wasi-nn: %s: the module must export its linear memory as %q", name, exportMemory))
		}
		d.mem = ext.Memory()
	}
	return int32(call(d.nn, callerMemory{mem: d.mem, caller: c})), nil
}

// importsNN reports whether a module imports wasi-nn.
func importsNN(m *wasmtime.Module) bool {
	for _, imp := range m.Imports() {
		if imp.Module() == wasinn.ImportModule {
			return true
		}
	}
	return false
}

// checkNNImport checks that an import of wasi_ephemeral_nn names one of its functions with the
// type the witx ABI lowers it to: (i32 × n) -> i32.
func checkNNImport(imp *wasmtime.ImportType, name string) error {
	for _, f := range wasinn.Funcs {
		if f.Name != name {
			continue
		}
		ft := imp.Type().FuncType()
		want := make([]wasmtime.ValKind, f.Params)
		for i := range want {
			want[i] = wasmtime.KindI32
		}
		if ft == nil || !kinds(ft.Params(), want) || !kinds(ft.Results(), []wasmtime.ValKind{wasmtime.KindI32}) {
			return badCode("the module imports %s.%s with the wrong type: it must be a function %s -> (i32)", wasinn.ImportModule, name, kindList(want))
		}
		return nil
	}
	names := make([]string, len(wasinn.Funcs))
	for i, f := range wasinn.Funcs {
		names[i] = f.Name
	}
	return badCode("the module imports %s.%s, which wasi-nn does not define (it has %s)", wasinn.ImportModule, name, strings.Join(names, ", "))
}

// modelDir returns the catalog of the operator's model directory, compiling it at the first call;
// nil when there is none. notes are the models that did not compile (reported once).
func (n *nnEngine) modelDir() (cat *wasinn.Catalog, notes []string, err error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.dir == "" {
		return nil, nil, nil
	}
	if !n.dirOpen {
		n.dirOpen = true
		n.dirCat, n.dirErr = n.reg.OpenDir(n.dir, nil)
		if n.dirCat != nil {
			notes = n.dirCat.Failures()
		}
	}
	return n.dirCat, notes, n.dirErr
}

func (n *nnEngine) close() {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.dirCat.Close()
	n.dirCat = nil
}

// openNN makes the action's catalog: the archive's .onnx files, then the model directory. It
// writes a line to log for every model that did not compile (load_by_name of its name then
// fails with runtime_error and says why).
func (ex *Executor) openNN(filesDir string, files []string, log io.Writer) (*wasinn.Catalog, error) {
	parent, notes, err := ex.eng.nn.modelDir()
	if err != nil {
		return nil, fmt.Errorf("wasm: init: %w", err)
	}
	for _, n := range notes {
		fmt.Fprintf(log, "wasi-nn: model directory: %s\n", n)
	}
	if filesDir == "" {
		// A bare module: only the model directory's graphs. A catalog of its own keeps the
		// action's lifetime separate from the directory's.
		return ex.eng.nn.reg.OpenCatalog("", nil, parent)
	}
	cat, err := ex.eng.nn.reg.OpenCatalog(filesDir, files, parent)
	if err != nil {
		return nil, badCode("the zip archive's models: %v", err)
	}
	for _, n := range cat.Failures() {
		fmt.Fprintf(log, "wasi-nn: %s\n", n)
	}
	return cat, nil
}

// newNNInstance makes the wasi-nn state of a new instance of the action; nil when the action does
// not use wasi-nn.
func (ex *Executor) newNNInstance(a *action) *wasinn.Instance {
	if a.nn == nil {
		return nil
	}
	return wasinn.NewInstance(wasinn.InstanceConfig{
		Registry:    ex.eng.nn.reg,
		Catalog:     a.nn,
		Limits:      ex.cfg.WasiNNLimits,
		MemoryLimit: ex.cfg.MemoryLimit,
	})
}

// beginNN starts a guest call on an instance's wasi-nn state with the call's deadline; the
// returned function ends it.
func beginNN(in *wasinn.Instance, deadline time.Time) func() {
	if in == nil {
		return func() {}
	}
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	in.Begin(ctx)
	return cancel
}

// nnTimeout turns the outcome of a guest call during which a compute was stopped at the deadline
// into the timeout it is, whatever the guest did with the error (it may well have returned a
// result in the millisecond before its epoch deadline).
func nnTimeout(in *wasinn.Instance, err error) error {
	if in == nil || !in.Stopped() {
		return err
	}
	var te *runtime.TimeoutError
	if errors.As(err, &te) {
		return err
	}
	msg := "its wasi-nn compute was stopped at the deadline"
	if err != nil {
		msg += ", then the action failed: " + firstLine(err.Error())
	}
	return &runtime.TimeoutError{Err: errors.New(msg)}
}

// writeNNLog copies an instance's wasi-nn log lines to w.
func writeNNLog(in *wasinn.Instance, w io.Writer) error {
	if in == nil || w == nil {
		return nil
	}
	return in.WriteLog(w)
}
