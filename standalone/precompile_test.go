package standalone_test

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wasmwhisk/wasmwhisk/runtime/wasm"
	"github.com/wasmwhisk/wasmwhisk/standalone/wasmhost"
)

// watSpinInit is a reactor whose _initialize never returns: its /init always runs into the
// action's time limit, while compiling it is quick.
const watSpinInit = `(module (memory (export "memory") 1)
  (func (export "_initialize") (loop $l (br $l)))
  (func (export "wasmwhisk_alloc") (param i32) (result i32) i32.const 1024)
  (func (export "wasmwhisk_run") (param i32 i32) (result i64) i64.const 0))`

// waitCompiled polls cond for up to two minutes: a compile takes seconds, and many more on a
// loaded machine (the bound only stops a hang; nothing is timed).
func waitCompiled(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// cachedModules lists the compiled modules in a module cache directory.
func cachedModules(t testing.TB, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".cwasm") {
			out = append(out, filepath.Join(dir, e.Name()))
		}
	}
	return out
}

// TestPrecompileAtCreate: creating a wasm:0.1 action compiles its module into the cache that the
// backend's containers share, before anything is invoked and without leaving a container behind;
// an /init that times out all the same (here: a cache that lost the module, and an _initialize
// that never returns) compiles it again, so the next cold start finds it compiled.
func TestPrecompileAtCreate(t *testing.T) {
	cache := t.TempDir()
	eng, err := wasm.NewEngine(wasm.EngineConfig{CacheDir: cache})
	if err != nil {
		t.Fatal(err)
	}
	b, err := wasmhost.New(wasmhost.Config{Engine: eng, WorkDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close() }) // after the server (registered later, so run first) closed b
	srv := startServer(t, b, nil)

	createAction(t, srv, "hello", map[string]any{"exec": map[string]any{"kind": "wasm:0.1", "code": wasmReactorCode(t, "./actions/hello")}})
	waitCompiled(t, "the module compiled at create", func() bool { return len(cachedModules(t, cache)) == 1 })
	if st := srv.PoolStats(); st.Containers != 0 {
		t.Fatalf("pool after the compile: %+v", st)
	}
	status, rec := invokeBlocking(t, srv, "hello", map[string]any{"name": "precompiled"})
	if status != http.StatusOK || !strings.Contains(string(rec.Response.Result), "Hello, precompiled!") {
		t.Fatalf("invoke: %d %s", status, rec.Response.Result)
	}
	if n := len(cachedModules(t, cache)); n != 1 {
		t.Fatalf("the cold start compiled again: %d modules in the cache", n)
	}

	createAction(t, srv, "spin", map[string]any{"exec": map[string]any{"kind": "wasm:0.1", "code": watSpinInit}, "limits": map[string]any{"timeout": 300}})
	waitCompiled(t, "the second module compiled at create", func() bool { return len(cachedModules(t, cache)) == 2 })
	for _, m := range cachedModules(t, cache) {
		if err := os.Remove(m); err != nil {
			t.Fatal(err)
		}
	}
	status, rec = invokeBlocking(t, srv, "spin", nil)
	if status != http.StatusBadGateway || !strings.Contains(string(rec.Response.Result), "exceeded its time limits of 300 milliseconds during initialization") {
		t.Fatalf("spin: %d %s", status, rec.Response.Result)
	}
	waitCompiled(t, "the module compiled again after the timed-out init", func() bool { return len(cachedModules(t, cache)) == 1 })
}
