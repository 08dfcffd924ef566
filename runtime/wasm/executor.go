package wasm

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bytecodealliance/wasmtime-go/v44"

	"github.com/wasmwhisk/wasmwhisk/runtime"
	"github.com/wasmwhisk/wasmwhisk/runtime/archive"
	"github.com/wasmwhisk/wasmwhisk/runtime/wasinn"
)

// Config configures one Executor. The zero value is ready to use; each zero field means the
// default its comment names.
type Config struct {
	// MemoryLimit caps each instance's linear memory, in bytes. Zero means 256 MiB. A guest that
	// grows past it sees memory.grow fail (Go guests then exit with "out of memory").
	MemoryLimit int64
	// MaxDuration caps every guest call (a command run, a reactor run, reactor initialization)
	// on top of the activation's deadline. Zero means 5 minutes, OpenWhisk's largest timeout.
	MaxDuration time.Duration
	// FreshReactor makes a reactor module get a fresh instance (and _initialize) for every run
	// instead of one instance reused by all runs; state then no longer persists between runs,
	// and Init only compiles (a failing _initialize shows at the first run).
	FreshReactor bool
	// LogLimit caps the bytes of each stream (stdout, stderr) copied to an activation's log;
	// past it OpenWhisk's truncation line is written. Zero means 10 MiB, the largest limits.logs
	// OpenWhisk allows: the runtime never drops what the platform would keep, and the platform
	// applies the action's own limit when it collects the logs, as OpenWhisk's invoker does.
	LogLimit int64
	// MaxResultBytes caps the result line a guest may produce. Zero means 16 MiB.
	MaxResultBytes int64
	// MaxArchiveBytes caps the total uncompressed size of a zip archive's files. Zero means 1 GiB.
	MaxArchiveBytes int64
	// MaxArchiveEntries caps the number of entries of a zip archive. Zero means 10000.
	MaxArchiveEntries int
	// WorkDir is where the executor makes its private directory (the archive's files, the guest's
	// stdio files). Empty means os.TempDir().
	WorkDir string
	// CompileOnly makes Init only put the code into the engine's caches — the module compiled
	// (unless the cache has it) and the archive unpacked — and check the module's imports and
	// ABI; then it lets go of it. No instance is made and no guest code runs; Run fails as before
	// Init. The standalone's controller uses it when an action is created or updated, so that no
	// activation pays for compiling the module (docs/runtime.md).
	CompileOnly bool
	// DisallowPrecompiled rejects precompiled modules at Init. Precompiled modules are native code
	// loaded as is, so a host that runs code from mutually distrusting users in one process
	// should set it.
	DisallowPrecompiled bool
	// InitStdout and InitStderr receive what a reactor writes while it initializes (Init has no
	// activation log), and wasi-nn's notes about the action's models. Nil means the process's
	// os.Stdout and os.Stderr.
	InitStdout, InitStderr io.Writer
	// WasiNNLimits caps the graphs and execution contexts each instance may hold through
	// wasi-nn; the host memory they hold counts against MemoryLimit (docs/wasm-abi.md).
	WasiNNLimits wasinn.Limits
	// Environ is the container's environment ("K=V"), whose __OW_API_HOST a reactor instance
	// starts with (no /run line carries it). Nil means os.Environ(): a proxy hosting several
	// actions in one process (the wasm host backend) passes each container's own.
	Environ []string
}

// ABI is the guest interface of a module (docs/wasm-abi.md).
type ABI string

// The ABIs.
const (
	// ABICommand: a WASI command (exports _start), run in a fresh instance per activation.
	ABICommand ABI = "command"
	// ABIReactor: exports wasmwhisk_alloc, wasmwhisk_run and memory (and usually _initialize);
	// one instance serves all activations unless Config.FreshReactor is set.
	ABIReactor ABI = "reactor"
)

// Info describes what Init loaded.
type Info struct {
	ABI    ABI
	Source ModuleSource
	// ModuleSHA256 is the hex SHA-256 of the WebAssembly module; empty for a precompiled module
	// (hashing megabytes of native code would only slow its Init down).
	ModuleSHA256 string
	// HasFiles says whether the code was an archive whose files are preopened at /action.
	HasFiles bool
	// WasiNN says whether the module imports wasi-nn; Graphs are then the names it may load
	// with load_by_name (the archive's models and the engine's model directory), sorted.
	WasiNN bool
	Graphs []string
}

// Executor runs one wasm:0.1 action. It implements runtime.Executor.
type Executor struct {
	eng *Engine
	cfg Config

	mu     sync.Mutex // serialises Init and Close
	closed bool
	dir    string // private directory, made at Init
	act    atomic.Pointer[action]

	// life is held shared by each Run and exclusively by Close, so that Close waits for the runs
	// in progress and no run starts on a closed action.
	life sync.RWMutex
	quit chan struct{} // closed when Close starts: runs waiting for the reactor give up
}

// action is what a successful Init produced; it is immutable afterwards.
type action struct {
	shared   *sharedModule
	module   *wasmtime.Module // shared.module
	archive  *sharedArchive   // the archive holding shared, for code unpacked into the cache; else nil
	info     Info
	name     string
	filesDir string
	ioDir    string          // private directory of this action's files; "" when none is needed
	reactor  *reactorPool    // nil for commands
	nn       *wasinn.Catalog // the graphs load_by_name answers; nil when the module has no wasi-nn
	// workers counts guest calls in flight, including those Run gave up on. The module is
	// released once the action is retired (Close, or a failed Init) and no worker remains, by
	// whichever of the two comes last (see releaseIfUnused).
	workers  atomic.Int64
	retired  atomic.Bool
	released atomic.Bool
}

// retire marks the action as no longer used by its executor and releases its module unless a
// guest call is still in flight; the last such call then releases it (releaseIfUnused).
func (ex *Executor) retire(a *action) {
	a.retired.Store(true)
	ex.releaseIfUnused(a)
}

// releaseIfUnused drops the action's hold on its module once it is retired and no guest call is
// in flight; exactly once.
func (ex *Executor) releaseIfUnused(a *action) {
	if a.retired.Load() && a.workers.Load() == 0 && a.released.CompareAndSwap(false, true) {
		if a.archive != nil {
			ex.eng.releaseArchive(a.archive)
		} else {
			ex.eng.releaseModule(a.shared)
		}
		a.nn.Close()
	}
}

var _ runtime.Executor = (*Executor)(nil)

// Defaults of Config.
const (
	DefaultMemoryLimit       = 256 << 20
	DefaultMaxDuration       = 5 * time.Minute
	DefaultLogLimit          = 10 << 20
	DefaultMaxResultBytes    = 16 << 20
	DefaultMaxArchiveBytes   = 1 << 30
	DefaultMaxArchiveEntries = 10000
)

// runGrace is how long a run may go on past its deadline before Run stops waiting for it: enough
// for an interrupted guest to unwind, and a bound for a guest blocked inside a host call (such as
// a long WASI sleep), which epoch interruption cannot stop.
const runGrace = 250 * time.Millisecond

// NewExecutor makes an executor that compiles and runs its action with this engine.
func (e *Engine) NewExecutor(cfg Config) *Executor {
	if cfg.MemoryLimit <= 0 {
		cfg.MemoryLimit = DefaultMemoryLimit
	}
	if cfg.MaxDuration <= 0 {
		cfg.MaxDuration = DefaultMaxDuration
	}
	if cfg.LogLimit <= 0 {
		cfg.LogLimit = DefaultLogLimit
	}
	if cfg.MaxResultBytes <= 0 {
		cfg.MaxResultBytes = DefaultMaxResultBytes
	}
	if cfg.MaxArchiveBytes <= 0 {
		cfg.MaxArchiveBytes = DefaultMaxArchiveBytes
	}
	if cfg.MaxArchiveEntries <= 0 {
		cfg.MaxArchiveEntries = DefaultMaxArchiveEntries
	}
	if cfg.WorkDir == "" {
		cfg.WorkDir = os.TempDir()
	}
	if cfg.InitStdout == nil {
		cfg.InitStdout = os.Stdout
	}
	if cfg.InitStderr == nil {
		cfg.InitStderr = os.Stderr
	}
	return &Executor{eng: e, cfg: cfg, quit: make(chan struct{})}
}

// Info describes the loaded action; ok is false before a successful Init.
func (ex *Executor) Info() (Info, bool) {
	a := ex.act.Load()
	if a == nil {
		return Info{}, false
	}
	return a.info, true
}

// Init loads the action: it decodes the code (module, zip or precompiled module), compiles it or
// loads it from the cache, checks its imports and ABI, and for a reactor instantiates it and runs
// _initialize. Errors for bad code are *runtime.Error with status 502.
func (ex *Executor) Init(ctx context.Context, req runtime.InitRequest) error {
	if len(req.Code) == 0 {
		return runtime.ErrNoCode
	}
	ex.mu.Lock()
	defer ex.mu.Unlock()
	if ex.closed {
		return errClosed
	}
	if ex.act.Load() != nil {
		return errors.New("wasm: init: the action is already initialized")
	}
	// Files on disk are only needed for an archive's files, or for the guests' stdio where memory
	// files are unavailable; a bare module on Linux needs none (and Init saves the system calls).
	attempt := ""
	if bytes.HasPrefix(req.Code, magicZip) || bytes.HasPrefix(req.Code, magicZipEmpty) || !memFilesWork() {
		if ex.dir == "" {
			dir, err := os.MkdirTemp(ex.cfg.WorkDir, "wasmwhisk-action-")
			if err != nil {
				return fmt.Errorf("wasm: init: %w", err)
			}
			ex.dir = dir
		}
		// A fresh directory per attempt, so that a failed Init leaves nothing behind for the next.
		var err error
		if attempt, err = os.MkdirTemp(ex.dir, "init-"); err != nil {
			return fmt.Errorf("wasm: init: %w", err)
		}
	}
	a, err := ex.load(ctx, req, attempt)
	if err != nil || a == nil { // a is nil after a compile-only Init
		if attempt != "" {
			os.RemoveAll(attempt)
		}
		return err
	}
	ex.act.Store(a)
	return nil
}

func (ex *Executor) load(ctx context.Context, req runtime.InitRequest, dir string) (*action, error) {
	a := &action{name: req.Name, ioDir: dir}
	art, err := ex.acquireCode(a, req.Code, dir)
	if err != nil {
		return nil, err
	}
	a.filesDir = art.filesDir
	a.info.HasFiles = art.filesDir != ""
	ok := false
	defer func() {
		if !ok {
			ex.retire(a)
		}
	}()
	if err := ex.checkImports(a.module); err != nil {
		return nil, err
	}
	if a.info.ABI, err = detectABI(a.module); err != nil {
		return nil, err
	}
	if ex.cfg.CompileOnly {
		return nil, nil // the deferred retire lets go of the module; the cache keeps it
	}
	if ex.eng.nn != nil && importsNN(a.module) {
		if a.nn, err = ex.openNN(art.filesDir, art.files, ex.cfg.InitStderr); err != nil {
			return nil, err
		}
		a.info.WasiNN, a.info.Graphs = true, a.nn.Names()
	}
	if a.info.ABI == ABIReactor {
		a.reactor = newReactorPool()
		if !ex.cfg.FreshReactor {
			deadline := time.Now().Add(ex.cfg.MaxDuration)
			if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
				deadline = d
			}
			// Guarded like a run: a guest blocked in a host call during _initialize must not
			// hold Init past its deadline.
			var inst *reactorInstance
			_, err := ex.runGuest(ctx, a, deadline, func(tryDeliver func() bool) (json.RawMessage, error) {
				r, err := ex.newReactor(a, reactorEnv(req.Env, ex.cfg.Environ), deadline)
				if !tryDeliver() {
					if r != nil {
						r.close()
					}
					return nil, nil
				}
				if r != nil {
					if cerr := r.copyLogs(ex, ex.cfg.InitStdout, ex.cfg.InitStderr); cerr != nil && err == nil {
						err = fmt.Errorf("wasm: init: copy logs: %w", cerr)
					}
					if err != nil {
						r.close()
					} else {
						inst = r
					}
				}
				return nil, err
			}, nil)
			if err != nil {
				return nil, err
			}
			a.reactor.put(inst)
		}
	}
	ok = true
	return a, nil
}

// acquireCode decodes the /init code and acquires its compiled module for a, setting a's module
// fields and Source. An archive another executor of the engine holds unpacked in the cache is taken
// as it is (see sharedArchive), once its entries are checked against this executor's limits.
func (ex *Executor) acquireCode(a *action, code []byte, dir string) (artifact, error) {
	lim := archive.Limits{MaxBytes: ex.cfg.MaxArchiveBytes, MaxFiles: ex.cfg.MaxArchiveEntries}
	sharable := ex.eng.cacheDir != "" && (bytes.HasPrefix(code, magicZip) || bytes.HasPrefix(code, magicZipEmpty))
	if sharable {
		if err := archive.CheckLimits(code, lim); err != nil {
			return artifact{}, badCode("cannot unpack the zip archive: %v", err)
		}
		if sa := ex.eng.acquireArchive(code); sa != nil {
			if ex.mayReuse(sa) {
				a.archive, a.shared, a.module = sa, sa.module, sa.module.module
				a.info.Source, a.info.ModuleSHA256 = SourceShared, sa.module.sha256
				return sa.art, nil
			}
			ex.eng.releaseArchive(sa)
		}
	}
	art, err := decodeCode(code, filepath.Join(dir, "action"), ex.eng.cacheDir, lim, !ex.cfg.DisallowPrecompiled)
	if err != nil {
		return artifact{}, err
	}
	shared, wasShared, err := ex.eng.acquireModule(art.module, art.precompiled)
	if err != nil {
		return artifact{}, err
	}
	a.shared, a.module = shared, shared.module
	a.info.Source, a.info.ModuleSHA256 = shared.source, shared.sha256
	if wasShared {
		a.info.Source = SourceShared
	}
	if sharable && art.filesDir != "" {
		a.archive = ex.eng.shareArchive(code, art, shared)
		a.shared, a.module = a.archive.module, a.archive.module.module
	}
	return art, nil
}

// mayReuse says whether this executor may take a shared archive as it is: its stance on
// precompiled code allows it, and the files are still in the cache (else the usual path unpacks
// them again).
func (ex *Executor) mayReuse(sa *sharedArchive) bool {
	if sa.art.precompiled && ex.cfg.DisallowPrecompiled {
		return false
	}
	_, err := os.Stat(sa.art.filesDir)
	return err == nil
}

// reactorEnv is the environment a reactor instance starts with: the init environment plus the
// platform's __OW_API_HOST from environ (nil: this process's), which no /run line carries.
func reactorEnv(env map[string]string, environ []string) map[string]string {
	out := make(map[string]string, len(env)+1)
	for k, v := range env {
		out[k] = v
	}
	if environ == nil {
		environ = os.Environ()
	}
	if _, ok := out["__OW_API_HOST"]; !ok {
		for _, kv := range environ {
			if v, ok := strings.CutPrefix(kv, "__OW_API_HOST="); ok {
				out["__OW_API_HOST"] = v
			}
		}
	}
	return out
}

// checkImports rejects modules that import anything but WASI preview 1.
func (ex *Executor) checkImports(m *wasmtime.Module) error {
	store := wasmtime.NewStore(ex.eng.engine)
	defer store.Close()
	for _, imp := range m.Imports() {
		name := ""
		if n := imp.Name(); n != nil {
			name = *n
		}
		if imp.Module() == wasinn.ImportModule {
			if ex.eng.nn == nil {
				return badCode("the module imports %s.%s, which the wasm:0.1 runtime does not provide: wasi-nn is turned off on this runtime", imp.Module(), name)
			}
			if err := checkNNImport(imp, name); err != nil {
				return err
			}
			continue
		}
		if ex.eng.linker.Get(store, imp.Module(), name) == nil {
			provides := "WASI preview 1, module wasi_snapshot_preview1"
			if ex.eng.nn != nil {
				provides += ", and wasi-nn, module " + wasinn.ImportModule
			}
			return badCode("the module imports %s.%s, which the wasm:0.1 runtime does not provide (it provides %s)", imp.Module(), name, provides)
		}
	}
	return nil
}

// Exports of the ABIs.
const (
	exportStart      = "_start"
	exportInitialize = "_initialize"
	exportAlloc      = "wasmwhisk_alloc"
	exportRun        = "wasmwhisk_run"
	exportMemory     = "memory"
)

// detectABI decides the module's ABI from its exports: _start makes a command (even when the
// reactor exports are there too, as in Go command builds using the SDK); otherwise the reactor
// exports must all be present with their exact types.
func detectABI(m *wasmtime.Module) (ABI, error) {
	exports := map[string]*wasmtime.ExternType{}
	for _, e := range m.Exports() {
		exports[e.Name()] = e.Type()
	}
	fn := func(name string, params, results []wasmtime.ValKind) string {
		t, ok := exports[name]
		if !ok {
			return name + " is missing"
		}
		ft := t.FuncType()
		if ft == nil || !kinds(ft.Params(), params) || !kinds(ft.Results(), results) {
			return fmt.Sprintf("%s must be a function %s -> %s", name, kindList(params), kindList(results))
		}
		return ""
	}
	if _, ok := exports[exportStart]; ok {
		if msg := fn(exportStart, nil, nil); msg != "" {
			return "", badCode("the module's %s", msg)
		}
		return ABICommand, nil
	}
	var problems []string
	i32, i64 := wasmtime.KindI32, wasmtime.KindI64
	for _, msg := range []string{
		fn(exportAlloc, []wasmtime.ValKind{i32}, []wasmtime.ValKind{i32}),
		fn(exportRun, []wasmtime.ValKind{i32, i32}, []wasmtime.ValKind{i64}),
	} {
		if msg != "" {
			problems = append(problems, msg)
		}
	}
	if t, ok := exports[exportMemory]; !ok || t.MemoryType() == nil {
		problems = append(problems, "memory (the exported linear memory) is missing")
	}
	if _, ok := exports[exportInitialize]; ok {
		if msg := fn(exportInitialize, nil, nil); msg != "" {
			problems = append(problems, msg)
		}
	}
	if len(problems) == 0 {
		return ABIReactor, nil
	}
	if _, ok := exports[exportInitialize]; !ok && len(problems) == 3 {
		return "", badCode("the module exports neither %s (command ABI) nor %s, %s and %s (reactor ABI); see docs/wasm-abi.md", exportStart, exportAlloc, exportRun, exportMemory)
	}
	return "", badCode("the module is not a valid wasm:0.1 reactor: %s; see docs/wasm-abi.md", joinProblems(problems))
}

func joinProblems(p []string) string {
	out := ""
	for i, s := range p {
		if i > 0 {
			out += "; "
		}
		out += s
	}
	return out
}

func kinds(got []*wasmtime.ValType, want []wasmtime.ValKind) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if got[i].Kind() != want[i] {
			return false
		}
	}
	return true
}

func kindList(k []wasmtime.ValKind) string {
	s := "("
	for i, v := range k {
		if i > 0 {
			s += ", "
		}
		s += v.String()
	}
	return s + ")"
}

// Run runs one activation. Logs go to req.Stdout and req.Stderr before Run returns.
func (ex *Executor) Run(ctx context.Context, req runtime.RunRequest) (json.RawMessage, error) {
	ex.life.RLock()
	defer ex.life.RUnlock()
	a := ex.act.Load()
	if a == nil {
		return nil, runtime.Errorf(http.StatusInternalServerError, "the action is not initialized", nil)
	}
	deadline := ex.deadline(ctx, req.Context)
	if a.info.ABI == ABICommand {
		return ex.runGuest(ctx, a, deadline, func(tryDeliver func() bool) (json.RawMessage, error) {
			return ex.runCommand(a, req, deadline, tryDeliver)
		}, nil)
	}
	return ex.runReactor(ctx, a, req, deadline)
}

// deadline is when this activation must end: the earliest of the activation's deadline, the
// context's and now + MaxDuration. An activation deadline that has already passed is ignored:
// the platform computes it just before /run, so a past one is not a real deadline (OpenWhisk's
// conformance tests send "123").
func (ex *Executor) deadline(ctx context.Context, actCtx map[string]string) time.Time {
	now := time.Now()
	d := now.Add(ex.cfg.MaxDuration)
	if cd, ok := ctx.Deadline(); ok && cd.Before(d) {
		d = cd
	}
	if s, ok := actCtx["deadline"]; ok {
		if ms, err := strconv.ParseFloat(s, 64); err == nil {
			ad := time.UnixMilli(int64(ms))
			if ad.After(now) && ad.Before(d) {
				d = ad
			}
		}
	}
	return d
}

// Run states shared by a run's worker goroutine and the Run call waiting for it.
const (
	runPending   = 0
	runClaimed   = 1 // the worker finished and will deliver its outcome
	runAbandoned = 2 // Run gave up waiting; the worker must not touch the request's writers
)

type outcome struct {
	result json.RawMessage
	err    error
}

// runGuest runs guest on its own goroutine and waits for it until the deadline (plus runGrace) or
// the context ends. guest calls tryDeliver once the guest code is done: true means Run still
// waits, and guest may write logs and deliver its outcome; false means Run has returned and guest
// must only clean up. onGiveUp runs when Run stops waiting.
func (ex *Executor) runGuest(ctx context.Context, a *action, deadline time.Time, guest func(tryDeliver func() bool) (json.RawMessage, error), onGiveUp func()) (json.RawMessage, error) {
	var state atomic.Int32
	tryDeliver := func() bool { return state.CompareAndSwap(runPending, runClaimed) }
	done := make(chan outcome, 1)
	a.workers.Add(1)
	ex.eng.workers.Add(1)
	go func() {
		var o outcome
		func() {
			// Counted down before the outcome is delivered: a Close right after Run returns
			// must see no worker, or the module would stay held by nobody.
			defer func() {
				a.workers.Add(-1)
				ex.releaseIfUnused(a)
				ex.eng.workers.Add(-1)
			}()
			o.result, o.err = guest(tryDeliver)
		}()
		done <- o
	}()
	timer := time.NewTimer(time.Until(deadline) + runGrace)
	defer timer.Stop()
	var giveUp error
	select {
	case o := <-done:
		return o.result, o.err
	case <-timer.C:
		giveUp = &runtime.TimeoutError{Err: errors.New("the action did not stop at its deadline (it may be blocked in a host call)")}
	case <-ctx.Done():
		giveUp = fmt.Errorf("wasm: run: %w", ctx.Err())
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			giveUp = &runtime.TimeoutError{Err: ctx.Err()}
		}
	}
	if !state.CompareAndSwap(runPending, runAbandoned) {
		o := <-done // the worker claimed first and is delivering
		return o.result, o.err
	}
	if onGiveUp != nil {
		onGiveUp()
	}
	return nil, giveUp
}

// Close releases the action: it waits for runs in progress, drops the reactor instance and the
// compiled module, and removes the executor's files. Guests abandoned at their deadline while
// blocked in a host call finish on their own and release what they hold.
func (ex *Executor) Close() error {
	ex.mu.Lock()
	defer ex.mu.Unlock()
	if ex.closed {
		return nil
	}
	ex.closed = true
	close(ex.quit)
	ex.life.Lock()
	a := ex.act.Swap(nil)
	ex.life.Unlock()
	if a != nil {
		if a.reactor != nil {
			a.reactor.close()
		}
		ex.retire(a)
	}
	if ex.dir != "" {
		if err := os.RemoveAll(ex.dir); err != nil {
			return fmt.Errorf("wasm: close: %w", err)
		}
	}
	return nil
}

// wasiConfig builds the WASI context of an instance: argv, env, stdio files and the archive's
// files preopened read-only at /action. Nothing else of the host is visible.
func wasiConfig(a *action, runName string, env map[string]string, stdin, stdout, stderr string) (*wasmtime.WasiConfig, error) {
	w := wasmtime.NewWasiConfig()
	name := a.name
	if name == "" {
		name = runName
	}
	if name == "" {
		name = "action"
	}
	w.SetArgv([]string{name})
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	values := make([]string, len(keys))
	for i, k := range keys {
		values[i] = env[k]
	}
	w.SetEnv(keys, values)
	if stdin != "" {
		if err := w.SetStdinFile(stdin); err != nil {
			w.Close()
			return nil, fmt.Errorf("wasm: stdin: %w", err)
		}
	}
	if err := w.SetStdoutFile(stdout); err != nil {
		w.Close()
		return nil, fmt.Errorf("wasm: stdout: %w", err)
	}
	if err := w.SetStderrFile(stderr); err != nil {
		w.Close()
		return nil, fmt.Errorf("wasm: stderr: %w", err)
	}
	if a.filesDir != "" {
		if err := w.PreopenDir(a.filesDir, "/action", wasmtime.DIR_READ, wasmtime.FILE_READ); err != nil {
			w.Close()
			return nil, fmt.Errorf("wasm: preopen /action: %w", err)
		}
	}
	return w, nil
}

// newStore makes a store with the executor's limits, the given WASI context and the instance's
// wasi-nn state (nil when the action does not use wasi-nn).
func (ex *Executor) newStore(w *wasmtime.WasiConfig, nn *wasinn.Instance) *wasmtime.Store {
	store := wasmtime.NewStoreWithData(ex.eng.engine, &storeData{nn: nn})
	store.Limiter(ex.cfg.MemoryLimit, -1, -1, -1, -1)
	store.SetWasi(w)
	return store
}

// guestFailure turns an error from instantiating or calling into a guest into the activation's
// error: nil for a WASI exit with code 0, *runtime.TimeoutError for an epoch interrupt, and a 502
// *runtime.Error naming the cause otherwise. what names the call ("the action", "the reactor's
// _initialize").
func (ex *Executor) guestFailure(err error, what string, memBytes uint64) error {
	if err == nil {
		return nil
	}
	var trap *wasmtime.Trap
	if errors.As(err, &trap) {
		if code := trap.Code(); code != nil && *code == wasmtime.Interrupt {
			return &runtime.TimeoutError{Err: fmt.Errorf("%s was interrupted at its deadline", what)}
		}
		return runtime.Errorf(http.StatusBadGateway, fmt.Sprintf("%s trapped: %s%s", what, trapReason(trap), ex.memoryNote(memBytes)), err)
	}
	var werr *wasmtime.Error
	if errors.As(err, &werr) {
		if status, ok := werr.ExitStatus(); ok {
			if status == 0 {
				return nil
			}
			return runtime.Errorf(http.StatusBadGateway, fmt.Sprintf("%s exited with code %d%s", what, status, ex.memoryNote(memBytes)), err)
		}
	}
	return runtime.Errorf(http.StatusBadGateway, fmt.Sprintf("%s failed: %s", what, firstLine(err.Error())), err)
}

// memoryNote explains a failure when the guest's memory was at its limit: the likely cause.
func (ex *Executor) memoryNote(memBytes uint64) string {
	if memBytes == 0 || float64(memBytes) < 0.9*float64(ex.cfg.MemoryLimit) {
		return ""
	}
	return fmt.Sprintf(" (its memory was %d MiB, at the limit of %d MiB)", memBytes>>20, ex.cfg.MemoryLimit>>20)
}

// trapReasons describe the trap codes a guest can cause.
var trapReasons = map[wasmtime.TrapCode]string{
	wasmtime.StackOverflow:          "stack overflow",
	wasmtime.MemoryOutOfBounds:      "out-of-bounds memory access",
	wasmtime.HeapMisaligned:         "misaligned memory access",
	wasmtime.TableOutOfBounds:       "out-of-bounds table access",
	wasmtime.IndirectCallToNull:     "indirect call to a null table entry",
	wasmtime.BadSignature:           "indirect call with a bad signature",
	wasmtime.IntegerOverflow:        "integer overflow",
	wasmtime.IntegerDivisionByZero:  "integer division by zero",
	wasmtime.BadConversionToInteger: "invalid conversion to integer",
	wasmtime.UnreachableCodeReached: "unreachable instruction executed",
	wasmtime.OutOfFuel:              "out of fuel",
}

// trapReason is a one-line reason for a trap; the full message, with its wasm backtrace, stays
// in the error's cause and in the activation's stderr.
func trapReason(trap *wasmtime.Trap) string {
	if code := trap.Code(); code != nil {
		if r, ok := trapReasons[*code]; ok {
			return r
		}
	}
	msg := trap.Message()
	if _, cause, ok := strings.Cut(msg, "Caused by:"); ok {
		if line := strings.TrimSpace(firstLine(strings.TrimSpace(cause))); line != "" {
			return line
		}
	}
	return firstLine(msg)
}

// writeTrapDetail writes a trap's full message (with the wasm backtrace) to an activation's
// stderr, for the developer.
func writeTrapDetail(stderr io.Writer, err error) {
	var trap *wasmtime.Trap
	if stderr == nil || !errors.As(err, &trap) {
		return
	}
	fmt.Fprintf(stderr, "wasmwhisk: %s\n", strings.TrimRight(trap.Message(), "\n"))
}

func firstLine(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' {
			return s[:i]
		}
	}
	return s
}

// memorySize is the current size of the instance's exported memory, 0 if it has none.
func memorySize(store *wasmtime.Store, inst *wasmtime.Instance) uint64 {
	if inst == nil {
		return 0
	}
	ext := inst.GetExport(store, exportMemory)
	if ext == nil || ext.Memory() == nil {
		return 0
	}
	return uint64(ext.Memory().DataSize(store))
}
