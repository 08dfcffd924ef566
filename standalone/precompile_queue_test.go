package standalone

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"
)

// compileRecorder is a Backend whose containers only record the compile-only /init they get; the
// precompiler's queue is under test here (precompile_test.go runs real compiles).
type compileRecorder struct {
	mu      sync.Mutex
	inits   []string      // the code of each /init, in order
	release chan struct{} // each /init waits for one value
	live    int
}

func (r *compileRecorder) Name() string { return "recorder" }
func (r *compileRecorder) Close() error { return nil }
func (r *compileRecorder) Create(_ context.Context, spec ContainerSpec) (Container, error) {
	if spec.Env[EnvCompileOnly] != "1" || spec.Kind != KindWasm || spec.MemoryMB != compileMemoryMB {
		return nil, errors.New("not a compile container: " + spec.Name) // the test then misses a compile
	}
	r.mu.Lock()
	r.live++
	r.mu.Unlock()
	return &recordedContainer{r: r}, nil
}

func (r *compileRecorder) compiled() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.inits...)
}

type recordedContainer struct{ r *compileRecorder }

func (c *recordedContainer) ID() string { return "compile" }
func (c *recordedContainer) Init(ctx context.Context, body []byte) (int, []byte, error) {
	var msg struct {
		Value struct {
			Code string `json:"code"`
		} `json:"value"`
	}
	if err := json.Unmarshal(body, &msg); err != nil {
		return 0, nil, err
	}
	select {
	case <-c.r.release:
	case <-ctx.Done():
		return 0, nil, ctx.Err()
	}
	c.r.mu.Lock()
	c.r.inits = append(c.r.inits, msg.Value.Code)
	c.r.mu.Unlock()
	return 200, []byte(`{"ok":true}`), nil
}
func (c *recordedContainer) Run(context.Context, []byte) (int, []byte, error) { return 500, nil, nil }
func (c *recordedContainer) Logs(context.Context, bool) ([]LogLine, error)    { return nil, nil }
func (c *recordedContainer) Pause(context.Context) error                      { return nil }
func (c *recordedContainer) Resume(context.Context) error                     { return nil }
func (c *recordedContainer) Destroy(context.Context) error {
	c.r.mu.Lock()
	c.r.live--
	c.r.mu.Unlock()
	return nil
}

// wasmAction is an action whose code is base64 of a WebAssembly module header followed by label.
func wasmAction(name, version, label string) *Action {
	return codeAction(name, version, moduleCode(label))
}

func moduleCode(label string) string {
	return base64.StdEncoding.EncodeToString([]byte("\x00asm" + label))
}

func codeAction(name, version, code string) *Action {
	return &Action{Namespace: "guest", Name: name, Version: version, Exec: Exec{Kind: KindWasm, Code: &code, Binary: isBinaryCode(code)}}
}

// TestPrecompilerQueue: one compile per code however many actions carry it (loadgen -cold's
// copies), one at a time, a cold start waits for its own action's compile only, a timed-out /init
// compiles the code again, and close releases every waiter and leaves no container.
func TestPrecompilerQueue(t *testing.T) {
	rec := &compileRecorder{release: make(chan struct{}, 16)}
	iv := &invoker{backend: rec, runtimes: map[string]Runtime{KindWasm: {Kind: KindWasm, Executor: "wasm"}}}
	p := newPrecompiler(context.Background(), iv, slog.New(slog.DiscardHandler))

	a1, copy1, b := wasmAction("a", "0.0.1", "AAAA"), wasmAction("a-copy", "0.0.1", "AAAA"), wasmAction("b", "0.0.1", "BBBB")
	p.schedule(a1)
	p.schedule(b)
	p.schedule(&Action{Namespace: "guest", Name: "native", Exec: Exec{Kind: KindNative, Code: a1.Exec.Code}}) // not wasm: nothing
	// b waits behind a's compile, which waits for release.
	waited := make(chan struct{})
	go func() {
		p.wait(context.Background(), b, time.Minute)
		close(waited)
	}()
	select {
	case <-waited:
		t.Fatal("a cold start of b did not wait for b's compile")
	case <-time.After(50 * time.Millisecond):
	}
	rec.release <- struct{}{}
	rec.release <- struct{}{}
	<-waited
	if got := rec.compiled(); len(got) != 2 || got[0] != moduleCode("AAAA") || got[1] != moduleCode("BBBB") {
		t.Fatalf("compiled %q, want AAAA then BBBB", got)
	}
	// The same code again (a copy, an update): nothing to compile, nothing to wait for.
	p.schedule(copy1)
	p.wait(context.Background(), copy1, time.Minute)
	if got := rec.compiled(); len(got) != 2 {
		t.Fatalf("a copy of compiled code was compiled again: %q", got)
	}
	// After an /init of it timed out, the code is compiled again.
	p.retry(copy1)
	rec.release <- struct{}{}
	p.wait(context.Background(), copy1, time.Minute)
	if got := rec.compiled(); len(got) != 3 || got[2] != moduleCode("AAAA") {
		t.Fatalf("after a timed-out init: compiled %q", got)
	}
	// Precompiled code, bare or zipped, needs no compile container; WebAssembly text does.
	var zipped bytes.Buffer
	zw := zip.NewWriter(&zipped)
	w, _ := zw.Create("main.cwasm")
	w.Write([]byte("\x7fELF precompiled"))
	zw.Close()
	for _, a := range []*Action{
		codeAction("cwasm", "0.0.1", base64.StdEncoding.EncodeToString([]byte("\x7fELF precompiled"))),
		codeAction("cwasm-zip", "0.0.1", base64.StdEncoding.EncodeToString(zipped.Bytes())),
	} {
		p.schedule(a)
		p.wait(context.Background(), a, time.Minute)
	}
	wat := codeAction("wat", "0.0.1", "(module)")
	p.schedule(wat)
	rec.release <- struct{}{}
	p.wait(context.Background(), wat, time.Minute)
	if got := rec.compiled(); len(got) != 4 || got[3] != "(module)" {
		t.Fatalf("after precompiled code and WebAssembly text: compiled %q", got)
	}
	// Close cancels a compile in progress and releases its waiters.
	c := wasmAction("c", "0.0.1", "CCCC")
	p.schedule(c)
	p.schedule(wasmAction("d", "0.0.1", "DDDD"))
	p.close()
	p.wait(context.Background(), c, time.Minute) // returns: the job is gone
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if rec.live != 0 {
		t.Fatalf("%d compile containers left", rec.live)
	}
	p.schedule(wasmAction("e", "0.0.1", "EEEE")) // after close: ignored, no panic

	var off *precompiler // precompilation off
	off.schedule(a1)
	off.retry(a1)
	off.wait(context.Background(), a1, time.Minute)
	off.close()
}
