package standalone

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"hash/maphash"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/wasmwhisk/wasmwhisk/runtime/archive"
)

// Compiling a wasm:0.1 module takes seconds (MobileNet: tens of seconds on two cores), longer
// than many actions' time limit, and a stock OpenWhisk pays it at the /init of every cold start
// until one finishes and fills the runtime's cache (issue 12 item 3: three cold starts in a row
// timed out, each killed mid-compile). So the controller compiles the code when the action is
// created or updated: it starts a compile-only container (EnvCompileOnly) of the wasm runtime,
// which shares the module cache of every wasm:0.1 container (the docker cache volume; the
// process backend's and the wasm host's cache directory), sends it the action's /init, and
// removes it. Cold starts then only load compiled code. A cold start that comes while its code is
// still compiling waits for that compile (inside waitTime: the platform's time, not the action's),
// and an /init that times out all the same (a cache that was cleared) schedules the compile
// again, which runs to the end whatever the action's limit, so the next cold start never finds
// the same state.

// EnvCompileOnly, set to "1" in a container's environment, makes the wasm:0.1 runtime's /init
// only compile the code into the cache its containers share, and run nothing (actionproxy
// -wasm-compile-only; the wasm host backend reads it from ContainerSpec.Env).
const EnvCompileOnly = "WASMWHISK_COMPILE_ONLY"

const (
	// compileMemoryMB is the memory of a compile container: OpenWhisk's largest action memory,
	// since compiling a module needs more than running it.
	compileMemoryMB = 512
	// compileTimeout bounds one compile.
	compileTimeout = 10 * time.Minute
)

// compileJob is the compile of one action version's code.
type compileJob struct {
	key    string // versionKey
	action *Action
	digest uint64        // of the code
	force  bool          // compile even if this code was compiled before (the cache lost it)
	done   chan struct{} // closed when the job has finished, whatever its outcome
}

// precompiler runs compile jobs one at a time (compiling is CPU-bound) on one goroutine, which
// close stops and waits for. A nil *precompiler does nothing: precompilation is off.
type precompiler struct {
	iv  *invoker
	log *slog.Logger

	mu       sync.Mutex
	pending  map[string]*compileJob // queued or running, by action key
	queue    []*compileJob
	seed     maphash.Seed
	compiled map[uint64]bool // digests of code this server compiled into the cache, or that needs no compile
	wake     chan struct{}
	closed   bool

	cancel context.CancelFunc
	done   chan struct{} // closed when the worker has returned
}

func newPrecompiler(ctx context.Context, iv *invoker, log *slog.Logger) *precompiler {
	ctx, cancel := context.WithCancel(ctx)
	p := &precompiler{
		iv: iv, log: log, cancel: cancel,
		pending: map[string]*compileJob{}, compiled: map[uint64]bool{}, seed: maphash.MakeSeed(),
		wake: make(chan struct{}, 1), done: make(chan struct{}),
	}
	go func() {
		defer close(p.done)
		p.work(ctx)
	}()
	return p
}

// versionKey names one version of an action.
func versionKey(a *Action) string { return a.Namespace + "/" + a.Name + "@" + a.Version }

// needsCompile says whether a's code is a wasm:0.1 module the runtime would compile.
func needsCompile(a *Action) bool {
	return a.Exec.Kind == KindWasm && a.Exec.Code != nil && *a.Exec.Code != ""
}

// schedule queues the compile of a's code, which the action was just created or updated with.
func (p *precompiler) schedule(a *Action) { p.add(a, false) }

// retry queues the compile of a's code after an /init of it timed out: whatever this server
// compiled before is not in the cache any more.
func (p *precompiler) retry(a *Action) { p.add(a, true) }

func (p *precompiler) add(a *Action, force bool) {
	if p == nil || !needsCompile(a) {
		return
	}
	// A fast hash (GB/s): copies of one action (loadgen -cold makes one per cold start) must not
	// queue jobs that cold starts would wait for. A collision would only skip a compile that the
	// runtime then does at /init.
	digest := maphash.String(p.seed, *a.Exec.Code)
	p.mu.Lock()
	defer p.mu.Unlock()
	key := versionKey(a)
	if _, queued := p.pending[key]; queued || p.closed || (p.compiled[digest] && !force) {
		return
	}
	job := &compileJob{key: key, action: a, digest: digest, force: force, done: make(chan struct{})}
	p.pending[key] = job
	p.queue = append(p.queue, job)
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// wait blocks until a compile of a's code that is queued or running has finished, at most max
// or until ctx is done; it returns at once when there is none.
func (p *precompiler) wait(ctx context.Context, a *Action, max time.Duration) {
	if p == nil || !needsCompile(a) {
		return
	}
	p.mu.Lock()
	job := p.pending[versionKey(a)]
	p.mu.Unlock()
	if job == nil {
		return
	}
	timer := time.NewTimer(max)
	defer timer.Stop()
	select {
	case <-job.done:
	case <-timer.C:
	case <-ctx.Done():
	}
}

// close stops the worker (a compile in progress is cancelled) and waits for it.
func (p *precompiler) close() {
	if p == nil {
		return
	}
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.cancel()
	<-p.done
}

func (p *precompiler) work(ctx context.Context) {
	for {
		p.mu.Lock()
		var job *compileJob
		if len(p.queue) > 0 {
			job, p.queue = p.queue[0], p.queue[1:]
		}
		p.mu.Unlock()
		if job == nil {
			select {
			case <-p.wake:
				continue
			case <-ctx.Done():
				p.abandon()
				return
			}
		}
		p.run(ctx, job)
		p.mu.Lock()
		delete(p.pending, job.key)
		p.mu.Unlock()
		close(job.done)
	}
}

// abandon releases the waiters of jobs that will not run.
func (p *precompiler) abandon() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, job := range p.queue {
		delete(p.pending, job.key)
		close(job.done)
	}
	p.queue = nil
}

// run compiles one job's code in a compile-only container.
func (p *precompiler) run(ctx context.Context, job *compileJob) {
	a := job.action
	p.mu.Lock()
	known := p.compiled[job.digest]
	p.mu.Unlock()
	if known && !job.force {
		return
	}
	if !compilable(a.Exec) {
		p.mu.Lock()
		p.compiled[job.digest] = true
		p.mu.Unlock()
		return
	}
	ctx, cancel := context.WithTimeout(ctx, compileTimeout)
	defer cancel()
	start := time.Now()
	spec := p.iv.compileSpec()
	c, err := p.iv.backend.Create(ctx, spec)
	if err != nil {
		p.log.Warn("precompile: create the compile container", "action", job.key, "err", err)
		return
	}
	defer func() {
		if err := c.Destroy(context.WithoutCancel(ctx)); err != nil {
			p.log.Warn("precompile: destroy the compile container", "container", c.ID(), "err", err)
		}
	}()
	status, body, err := c.Init(ctx, initBody(a, map[string]string{}))
	switch {
	case err != nil:
		p.log.Warn("precompile: /init", "action", job.key, "err", err)
	case status != 200:
		// The code cannot load: its first activation reports why, as in OpenWhisk.
		p.log.Info("precompile: the code does not load", "action", job.key, "status", status, "body", string(body))
	default:
		p.mu.Lock()
		p.compiled[job.digest] = true
		p.mu.Unlock()
		p.log.Debug("precompile: compiled", "action", job.key, "took", time.Since(start))
	}
}

// compilable says whether code holds a module to compile: a WebAssembly module, as binary or
// text, or a zip with a .wasm file. Precompiled code (wasmwhisk-compile's, as the demo ships it)
// needs no compile container; code that is neither fails at its first /init, as in OpenWhisk.
func compilable(e Exec) bool {
	code := []byte(*e.Code)
	if e.Binary {
		var err error
		if code, err = base64.StdEncoding.DecodeString(strings.TrimSpace(*e.Code)); err != nil {
			return false
		}
	}
	switch archive.Detect(code) {
	case archive.Wasm, archive.WasmText:
		return true
	case archive.Zip:
		zr, err := zip.NewReader(bytes.NewReader(code), int64(len(code)))
		if err != nil {
			return false
		}
		for _, f := range zr.File {
			if strings.HasSuffix(f.Name, ".wasm") {
				return true
			}
		}
	}
	return false
}

// compileSpec is the container of one compile job.
func (iv *invoker) compileSpec() ContainerSpec {
	rt := iv.runtimes[KindWasm]
	return ContainerSpec{
		Name: fmt.Sprintf("wsk0_compile_%d", iv.seq.Add(1)),
		Kind: KindWasm, Image: rt.Image, Executor: rt.Executor, MemoryMB: compileMemoryMB, Concurrency: 1,
		Env: map[string]string{"__OW_API_HOST": iv.apiHost, EnvCompileOnly: "1"},
	}
}
