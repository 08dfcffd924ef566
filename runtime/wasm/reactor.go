package wasm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"time"

	"github.com/bytecodealliance/wasmtime-go/v44"

	"github.com/wasmwhisk/wasmwhisk/runtime"
	"github.com/wasmwhisk/wasmwhisk/runtime/wasinn"
)

// reactorPool holds the one reactor instance that serves an action's runs. The slot always holds
// exactly one value while no run is using it: the instance, or nil when the next run must make
// one (at first use with FreshReactor off it is made by Init; after a failure it is remade).
// Taking the value from the slot is the lock that serialises runs on the instance.
type reactorPool struct {
	slot chan *reactorInstance
}

func newReactorPool() *reactorPool {
	p := &reactorPool{slot: make(chan *reactorInstance, 1)}
	p.slot <- nil
	return p
}

// put installs inst in place of the empty value (used by Init).
func (p *reactorPool) put(inst *reactorInstance) {
	old := <-p.slot
	if old != nil {
		old.close()
	}
	p.slot <- inst
}

// close drops the instance; the pool must not be used afterwards.
func (p *reactorPool) close() {
	if inst := <-p.slot; inst != nil {
		inst.close()
	}
}

// reactorInstance is one instantiated reactor module with its store and output files.
type reactorInstance struct {
	store      *wasmtime.Store
	mem        *wasmtime.Memory
	alloc, run *wasmtime.Func
	out, errf  *stdioFile // the guest's stdout and stderr
	outOff     int64      // bytes of out already copied to a log
	errOff     int64
	nn         *wasinn.Instance // wasi-nn state; nil when the action does not use it
}

// newReactor instantiates a reactor and calls its _initialize under the deadline. Output is left
// in the instance's files for the caller to copy (copyLogs). On failure the instance is still
// returned when it holds output worth copying; the caller closes it.
func (ex *Executor) newReactor(a *action, env map[string]string, deadline time.Time) (*reactorInstance, error) {
	r := &reactorInstance{}
	var err error
	if r.out, err = newStdioFile(a.ioDir, "reactor-stdout"); err != nil {
		return nil, fmt.Errorf("wasm: reactor stdout: %w", err)
	}
	if r.errf, err = newStdioFile(a.ioDir, "reactor-stderr"); err != nil {
		r.out.close()
		return nil, fmt.Errorf("wasm: reactor stderr: %w", err)
	}
	w, err := wasiConfig(a, "", env, "", r.out.path, r.errf.path)
	if err != nil {
		r.close()
		return nil, err
	}
	defer ex.eng.watch(&watchedFile{f: r.out.f, head: ex.cfg.LogLimit})()
	defer ex.eng.watch(&watchedFile{f: r.errf.f, head: ex.cfg.LogLimit})()
	r.nn = ex.newNNInstance(a)
	r.store = ex.newStore(w, r.nn)
	ex.eng.enter()
	defer ex.eng.leave()
	defer beginNN(r.nn, deadline)()
	r.store.SetEpochDeadline(ex.eng.deadlineTicks(time.Until(deadline)))
	inst, err := ex.eng.linker.Instantiate(r.store, a.module)
	if err != nil {
		return r, ex.guestFailure(err, "the reactor", 0)
	}
	r.alloc = inst.GetFunc(r.store, exportAlloc)
	r.run = inst.GetFunc(r.store, exportRun)
	if ext := inst.GetExport(r.store, exportMemory); ext != nil {
		r.mem = ext.Memory()
	}
	if r.alloc == nil || r.run == nil || r.mem == nil {
		return r, runtime.Errorf(http.StatusBadGateway, "the reactor lacks its exports", nil)
	}
	if init := inst.GetFunc(r.store, exportInitialize); init != nil {
		if _, err := init.Call(r.store); err != nil {
			ferr := nnTimeout(r.nn, ex.guestFailure(err, "the reactor's _initialize", uint64(r.mem.DataSize(r.store))))
			if ferr == nil {
				ferr = runtime.Errorf(http.StatusBadGateway, "the reactor's _initialize exited (code 0): a reactor must return from _initialize", err)
			}
			return r, ferr
		}
	}
	return r, nil
}

// call runs one activation on the instance. poisoned reports that the instance must not serve
// another run (it trapped, exited or was interrupted).
func (r *reactorInstance) call(ex *Executor, line []byte, deadline time.Time) (result json.RawMessage, poisoned bool, err error) {
	if int64(len(line)) > math.MaxInt32 {
		return nil, false, runtime.Errorf(http.StatusRequestEntityTooLarge, "the activation is too large for a 32-bit guest", nil)
	}
	defer ex.eng.watch(&watchedFile{f: r.out.f, from: r.outOff, head: ex.cfg.LogLimit})()
	defer ex.eng.watch(&watchedFile{f: r.errf.f, from: r.errOff, head: ex.cfg.LogLimit})()
	ex.eng.enter()
	defer ex.eng.leave()
	defer beginNN(r.nn, deadline)()
	r.store.SetEpochDeadline(ex.eng.deadlineTicks(time.Until(deadline)))
	fail := func(err error) (json.RawMessage, bool, error) {
		ferr := nnTimeout(r.nn, ex.guestFailure(err, "the action", uint64(r.mem.DataSize(r.store))))
		if ferr == nil { // a WASI exit with code 0 in the middle of a run
			ferr = runtime.Errorf(http.StatusBadGateway, "the action exited (code 0) instead of returning a result", err)
		}
		return nil, true, ferr
	}
	p, err := r.alloc.Call(r.store, int32(len(line)))
	if err != nil {
		return fail(err)
	}
	ptr, ok := p.(int32)
	if !ok {
		return nil, true, runtime.Errorf(http.StatusBadGateway, "wasmwhisk_alloc returned a non-i32", nil)
	}
	mem := r.mem.UnsafeData(r.store)
	if uint64(uint32(ptr))+uint64(len(line)) > uint64(len(mem)) {
		return nil, true, runtime.Errorf(http.StatusBadGateway, fmt.Sprintf("wasmwhisk_alloc(%d) returned %d, outside the guest's memory of %d bytes", len(line), uint32(ptr), len(mem)), nil)
	}
	copy(mem[uint32(ptr):], line)
	v, err := r.run.Call(r.store, ptr, int32(len(line)))
	if err != nil {
		return fail(err)
	}
	if err := nnTimeout(r.nn, nil); err != nil {
		return nil, false, err // the instance is sound: only its time was up
	}
	packed, ok := v.(int64)
	if !ok {
		return nil, true, runtime.Errorf(http.StatusBadGateway, "wasmwhisk_run returned a non-i64", nil)
	}
	rptr, rlen := uint64(uint32(uint64(packed)>>32)), uint64(uint32(packed))
	mem = r.mem.UnsafeData(r.store) // the run may have grown memory
	if rptr+rlen > uint64(len(mem)) {
		return nil, true, runtime.Errorf(http.StatusBadGateway, fmt.Sprintf("wasmwhisk_run returned a result at [%d, %d), outside the guest's memory of %d bytes", rptr, rptr+rlen, len(mem)), nil)
	}
	if int64(rlen) > ex.cfg.MaxResultBytes {
		return nil, false, runtime.Errorf(http.StatusBadGateway, fmt.Sprintf("the action's result is longer than the limit of %d bytes", ex.cfg.MaxResultBytes), nil)
	}
	out := make([]byte, rlen)
	copy(out, mem[rptr:rptr+rlen])
	if len(out) == 0 {
		return nil, false, runtime.Errorf(http.StatusBadGateway, "the action produced no result (wasmwhisk_run returned an empty buffer)", nil)
	}
	return out, false, nil
}

// copyLogs copies what the instance wrote since the last copy to the writers, and frees the
// copied part of the files.
// punchEvery is how much copied output a reactor's files may hold before it is freed.
const punchEvery = 1 << 20

func (r *reactorInstance) copyLogs(ex *Executor, stdout, stderr io.Writer) error {
	for _, s := range []struct {
		f   *stdioFile
		off *int64
		dst io.Writer
	}{{r.out, &r.outOff, stdout}, {r.errf, &r.errOff, stderr}} {
		end, err := s.f.size()
		if err != nil {
			return err
		}
		if err := copyLog(s.dst, stderr, s.f.f, *s.off, end, ex.cfg.LogLimit); err != nil {
			return err
		}
		// Free what was copied now and then, not on every run: it costs a system call.
		if end > *s.off {
			if end/punchEvery > *s.off/punchEvery {
				punchHole(s.f.f, 0, end)
			}
			*s.off = end
		}
	}
	return writeNNLog(r.nn, stderr)
}

func (r *reactorInstance) close() {
	if r.store != nil {
		r.store.Close()
	}
	if r.nn != nil {
		r.nn.Close()
	}
	if r.out != nil {
		r.out.close()
	}
	if r.errf != nil {
		r.errf.close()
	}
}

// runReactor runs one activation on the action's reactor instance (or on a fresh one).
func (ex *Executor) runReactor(ctx context.Context, a *action, req runtime.RunRequest, deadline time.Time) (json.RawMessage, error) {
	if len(req.Line) == 0 {
		line, err := activationLine(req)
		if err != nil {
			return nil, err
		}
		req.Line = line
	}
	if ex.cfg.FreshReactor {
		return ex.runGuest(ctx, a, deadline, func(tryDeliver func() bool) (json.RawMessage, error) {
			inst, err := ex.newReactor(a, req.Env, deadline)
			if inst != nil {
				defer inst.close()
			}
			var result json.RawMessage
			if err == nil {
				result, _, err = inst.call(ex, req.Line, deadline)
			}
			if !tryDeliver() {
				return nil, nil
			}
			if inst != nil {
				if cerr := inst.copyLogs(ex, req.Stdout, req.Stderr); cerr != nil && err == nil {
					err = fmt.Errorf("wasm: run: copy logs: %w", cerr)
				}
			}
			writeTrapDetail(req.Stderr, err)
			return result, err
		}, nil)
	}

	// Wait for the instance, as long as the activation may wait.
	wait := time.NewTimer(time.Until(deadline))
	defer wait.Stop()
	var inst *reactorInstance
	select {
	case inst = <-a.reactor.slot:
	case <-wait.C:
		return nil, &runtime.TimeoutError{Err: errors.New("the action's deadline passed while it waited for the reactor instance")}
	case <-ctx.Done():
		return nil, fmt.Errorf("wasm: run: %w", ctx.Err())
	case <-ex.quit:
		return nil, errClosed
	}
	return ex.runGuest(ctx, a, deadline, func(tryDeliver func() bool) (json.RawMessage, error) {
		var err error
		if inst == nil {
			inst, err = ex.newReactor(a, req.Env, deadline)
		}
		var result json.RawMessage
		poisoned := err != nil
		if err == nil {
			result, poisoned, err = inst.call(ex, req.Line, deadline)
		}
		if !tryDeliver() {
			if inst != nil {
				inst.close() // the slot was refilled with nil when Run gave up
			}
			return nil, nil
		}
		if inst != nil {
			if cerr := inst.copyLogs(ex, req.Stdout, req.Stderr); cerr != nil && err == nil {
				err = fmt.Errorf("wasm: run: copy logs: %w", cerr)
				poisoned = true
			}
		}
		writeTrapDetail(req.Stderr, err)
		if poisoned {
			if inst != nil {
				inst.close()
			}
			inst = nil
		}
		a.reactor.slot <- inst
		return result, err
	}, func() { a.reactor.slot <- nil })
}

// activationLine rebuilds the /run line from Value and Context, for callers that leave
// RunRequest.Line empty.
func activationLine(req runtime.RunRequest) ([]byte, error) {
	value := req.Value
	if len(value) == 0 {
		value = json.RawMessage("{}")
	}
	line := make(map[string]any, len(req.Context)+1)
	for k, v := range req.Context {
		line[k] = v
	}
	line["value"] = value
	b, err := json.Marshal(line)
	if err != nil {
		return nil, runtime.Errorf(http.StatusBadRequest, "the activation's value is not JSON", err)
	}
	return b, nil
}
