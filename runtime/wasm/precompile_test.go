package wasm

import (
	"context"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/wasmwhisk/wasmwhisk/internal/ziptest"
	"github.com/wasmwhisk/wasmwhisk/runtime"
)

// TestCompileOnly: a compile-only Init puts the module into the cache — where another engine with
// the same cache dir (another container on the volume) loads it instead of compiling — and the
// archive's files beside it, runs no guest code (a reactor whose _initialize traps is fine), holds
// nothing afterwards, and still refuses code that could not run.
func TestCompileOnly(t *testing.T) {
	dir := t.TempDir()
	controller, err := NewEngine(EngineConfig{CacheDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer controller.Close()
	const trappingInit = `(module (memory (export "memory") 1)
  (func (export "_initialize") unreachable)
  (func (export "wasmwhisk_alloc") (param i32) (result i32) i32.const 1024)
  (func (export "wasmwhisk_run") (param i32 i32) (result i64) i64.const 0))`
	module := wat(t, watEchoReactor)
	archive := ziptest.Build(t, ziptest.File{Name: "main.wasm", Body: wat(t, watTrapReactor)}, ziptest.File{Name: "data.txt", Body: []byte("data")})
	for _, code := range [][]byte{module, wat(t, trappingInit), archive} {
		x := controller.NewExecutor(Config{CompileOnly: true})
		if err := x.Init(context.Background(), runtime.InitRequest{Code: code}); err != nil {
			t.Fatalf("compile-only Init: %v", err)
		}
		if _, ok := x.Info(); ok {
			t.Fatal("a compile-only executor holds an action")
		}
		r := run(t, x, activation{})
		wantStatus(t, r.err, http.StatusInternalServerError, "not initialized")
		x.Close()
	}
	if n := controller.modules.count(); n != 0 {
		t.Fatalf("the engine still holds %d modules", n)
	}
	entries, _ := os.ReadDir(dir)
	var cwasm, files int
	for _, e := range entries {
		switch {
		case strings.HasSuffix(e.Name(), ".cwasm"):
			cwasm++
		case strings.HasPrefix(e.Name(), "files-"):
			files++
		}
	}
	if cwasm != 3 || files != 1 {
		t.Fatalf("cache holds %v; want 3 compiled modules and 1 unpacked archive", entries)
	}

	container, err := NewEngine(EngineConfig{CacheDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer container.Close()
	for _, code := range [][]byte{module, archive} {
		x := newExecutor(t, container, Config{}, code)
		if info, _ := x.Info(); info.Source != SourceCache {
			t.Fatalf("Init after the compile-only one: module from %s, want cache", info.Source)
		}
	}

	x := controller.NewExecutor(Config{CompileOnly: true})
	defer x.Close()
	wantStatus(t, x.Init(context.Background(), runtime.InitRequest{Code: wat(t, watBadImport)}), http.StatusBadGateway, "imports env.host_secret")
}

// count is the number of modules the table holds.
func (t *moduleTable) count() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for _, list := range t.byID {
		n += len(list)
	}
	return n
}
