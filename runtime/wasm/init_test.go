package wasm

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/bytecodealliance/wasmtime-go/v44"

	"github.com/wasmwhisk/wasmwhisk/internal/ziptest"
	"github.com/wasmwhisk/wasmwhisk/runtime"
	"github.com/wasmwhisk/wasmwhisk/runtime/archive"
)

// Hand-written modules for the ABI checks and for guests other than Go's.
const (
	// watEchoReactor is a minimal reactor in WebAssembly text: its result is the /run line itself.
	watEchoReactor = `(module
  (memory (export "memory") 1)
  (func (export "wasmwhisk_alloc") (param i32) (result i32) i32.const 1024)
  (func (export "wasmwhisk_run") (param i32 i32) (result i64)
    (i64.or (i64.shl (i64.extend_i32_u (local.get 0)) (i64.const 32)) (i64.extend_i32_u (local.get 1)))))`
	watTrapCommand = `(module (memory (export "memory") 1) (func (export "_start") unreachable))`
	watTrapReactor = `(module (memory (export "memory") 1)
  (func (export "wasmwhisk_alloc") (param i32) (result i32) i32.const 1024)
  (func (export "wasmwhisk_run") (param i32 i32) (result i64) unreachable))`
	watWildPointer = `(module (memory (export "memory") 1)
  (func (export "wasmwhisk_alloc") (param i32) (result i32) i32.const 1024)
  (func (export "wasmwhisk_run") (param i32 i32) (result i64) i64.const 0x7fff000000000010))`
	watOOBCommand = `(module (memory (export "memory") 1)
  (func (export "_start") (drop (i32.load (i32.const 0x7ffffff0)))))`
	watRecurseCommand = `(module (func $f (export "_start") (call $f)))`
	watNoExports      = `(module (memory 1) (func))`
	watOnlyInitialize = `(module (memory (export "memory") 1) (func (export "_initialize")))`
	watBadStart       = `(module (func (export "_start") (param i32)))`
	watBadImport      = `(module (import "env" "host_secret" (func)) (func (export "_start")))`
)

// initErr initialises a fresh executor with code and returns Init's error.
func initErr(t *testing.T, eng *Engine, cfg Config, code []byte) error {
	t.Helper()
	x := eng.NewExecutor(cfg)
	defer x.Close()
	return x.Init(context.Background(), runtime.InitRequest{Name: "bad", Code: code})
}

func TestInitRejectsBadCode(t *testing.T) {
	eng := sharedEngine(t)
	module := wat(t, watEchoReactor)
	cases := []struct {
		name string
		code []byte
		cfg  Config
		want string
	}{
		{"text", []byte("function main() {}"), Config{}, "not a WebAssembly module (\\0asm or text starting with (module), a zip archive"},
		{"WebAssembly text with an error", []byte("(module (func (i32.bogus)))"), Config{}, "WebAssembly text that does not parse"},
		{"native executable", selfExecutable(t), Config{}, "native executable, not a WebAssembly module: it runs as kind native:0.1"},
		{"truncated module", []byte("\x00asm\x01\x00\x00\x00\x01"), Config{}, "not a valid WebAssembly module"},
		{"not a zip", []byte("PK\x03\x04 this is not a zip"), Config{}, "cannot unpack the zip archive"},
		{"empty zip", ziptest.Build(t), Config{}, "holds no WebAssembly module"},
		{"zip without module", ziptest.Build(t, ziptest.File{Name: "data.txt", Body: []byte("x")}), Config{}, "holds no WebAssembly module"},
		{"zip escaping with ..", ziptest.Build(t, ziptest.File{Name: "../evil.wasm", Body: module}), Config{}, "escapes the action directory"},
		{"zip escaping deeper", ziptest.Build(t, ziptest.File{Name: "a/../../evil", Body: module}), Config{}, "escapes the action directory"},
		{"zip with absolute name", ziptest.Build(t, ziptest.File{Name: "/etc/evil", Body: module}), Config{}, "escapes the action directory"},
		{"zip with backslash", ziptest.Build(t, ziptest.File{Name: `..\evil`, Body: module}), Config{}, "backslash"},
		{"zip with symlink", ziptest.Build(t, ziptest.File{Name: "main.wasm", Body: []byte("/etc/passwd"), Mode: fs.ModeSymlink | 0o777}), Config{}, "symbolic link"},
		{"zip with duplicate", ziptest.Build(t, ziptest.File{Name: "main.wasm", Body: module}, ziptest.File{Name: "main.wasm", Body: module}), Config{}, "appears twice"},
		{"zip with two modules", ziptest.Build(t, ziptest.File{Name: "a.wasm", Body: module}, ziptest.File{Name: "b.wasm", Body: module}), Config{}, "several .wasm files"},
		{"zip main.wasm not wasm", ziptest.Build(t, ziptest.File{Name: "main.wasm", Body: []byte("hello")}), Config{}, "main.wasm in the zip archive is not a WebAssembly module"},
		{"zip too big", ziptest.Build(t, ziptest.File{Name: "main.wasm", Body: module}, ziptest.File{Name: "big", Body: make([]byte, 1<<20)}), Config{MaxArchiveBytes: 1 << 19}, "more than the size limit"},
		{"zip too many entries", ziptest.Build(t, ziptest.File{Name: "main.wasm", Body: module}, ziptest.File{Name: "a"}, ziptest.File{Name: "b"}), Config{MaxArchiveEntries: 2}, "more than the limit of 2"},
		{"no exports", wat(t, watNoExports), Config{}, "exports neither _start (command ABI) nor wasmwhisk_alloc, wasmwhisk_run and memory (reactor ABI)"},
		{"reactor without run", wat(t, watOnlyInitialize), Config{}, "wasmwhisk_alloc is missing; wasmwhisk_run is missing"},
		{"_start with params", wat(t, watBadStart), Config{}, "_start must be a function () -> ()"},
		{"import outside WASI", wat(t, watBadImport), Config{}, "imports env.host_secret"},
		{"corrupt precompiled", append([]byte("\x7fELF\x02\x01\x01"), make([]byte, 100)...), Config{}, "precompiled module was not made for this runtime"},
		{"precompiled disallowed", mustPrecompile(t, eng, module), Config{DisallowPrecompiled: true}, "does not accept precompiled modules"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			wantStatus(t, initErr(t, eng, c.cfg, c.code), http.StatusBadGateway, c.want)
		})
	}
	t.Run("empty code", func(t *testing.T) {
		if err := initErr(t, eng, Config{}, nil); !errors.Is(err, runtime.ErrNoCode) {
			t.Fatalf("Init(empty) = %v, want ErrNoCode", err)
		}
	})
	t.Run("failed init can be retried", func(t *testing.T) {
		x := eng.NewExecutor(Config{})
		defer x.Close()
		if err := x.Init(context.Background(), runtime.InitRequest{Code: []byte("junk")}); err == nil {
			t.Fatal("junk accepted")
		}
		if err := x.Init(context.Background(), runtime.InitRequest{Code: module}); err != nil {
			t.Fatal(err)
		}
		if err := x.Init(context.Background(), runtime.InitRequest{Code: module}); err == nil {
			t.Fatal("second successful Init accepted")
		}
	})
}

// selfExecutable is this test binary: a real native executable.
func selfExecutable(t testing.TB) []byte {
	t.Helper()
	path, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestWasmText: a module in the text format, as wsk sends a .wat file, is compiled like its
// binary form (and the same module shares the cache entry).
func TestWasmText(t *testing.T) {
	eng := sharedEngine(t)
	x := newExecutor(t, eng, Config{}, []byte(";; sent as text by wsk\n"+watEchoReactor))
	r := run(t, x, activation{value: `{"x":1}`})
	var line map[string]json.RawMessage
	if r.err != nil || json.Unmarshal([]byte(r.result), &line) != nil || string(line["value"]) != `{"x":1}` {
		t.Fatalf("run = %v %s; want the /run line back", r.err, r.result)
	}
}

func mustPrecompile(t testing.TB, eng *Engine, module []byte) []byte {
	t.Helper()
	b, err := eng.Precompile(module)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestHandWrittenModules(t *testing.T) {
	eng := sharedEngine(t)
	t.Run("echo reactor", func(t *testing.T) {
		x := newExecutor(t, eng, Config{}, wat(t, watEchoReactor))
		r := run(t, x, activation{value: `{"x":1}`})
		var line map[string]json.RawMessage
		if r.err != nil || json.Unmarshal([]byte(r.result), &line) != nil || string(line["value"]) != `{"x":1}` {
			t.Fatalf("run = %v %s; want the /run line back", r.err, r.result)
		}
	})
	cases := []struct {
		name, src, want string
	}{
		{"command trap", watTrapCommand, "the action trapped: unreachable instruction executed"},
		{"reactor trap", watTrapReactor, "the action trapped"},
		{"out-of-bounds load", watOOBCommand, "the action trapped: out-of-bounds memory access"},
		{"infinite recursion", watRecurseCommand, "the action trapped: stack overflow"},
		{"reactor wild pointer", watWildPointer, "outside the guest's memory"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			x := newExecutor(t, eng, Config{}, wat(t, c.src))
			for i := 0; i < 2; i++ { // and again: the executor still serves
				r := run(t, x, activation{})
				wantStatus(t, r.err, http.StatusBadGateway, c.want)
				if strings.Contains(c.want, "trapped") && !strings.Contains(r.stderr, "wasm backtrace") {
					t.Errorf("stderr = %q, want the trap's backtrace", r.stderr)
				}
			}
		})
	}
}

func TestZipDataFiles(t *testing.T) {
	for _, abi := range abis {
		t.Run(abi.name, func(t *testing.T) {
			code := ziptest.Build(t,
				ziptest.File{Name: "data/", Mode: fs.ModeDir | 0o755},
				ziptest.File{Name: "data/hello.txt", Body: []byte("hi from a file")},
				ziptest.File{Name: "main.wasm", Body: guestModule(t, abi.reactor)},
			)
			x := newExecutor(t, sharedEngine(t), Config{}, code)
			if info, _ := x.Info(); !info.HasFiles {
				t.Errorf("Info = %+v, want HasFiles", info)
			}
			r := run(t, x, activation{value: `{"mode":"read","path":"/action/data/hello.txt"}`})
			if r.err != nil || r.result != `{"text":"hi from a file"}` {
				t.Fatalf("read /action file = %v %s", r.err, r.result)
			}
			// Read-only, and nothing of the host is visible.
			r = run(t, x, activation{value: `{"mode":"write","path":"/action/new.txt"}`})
			if r.err != nil || r.result == `{"error_text":"\u003cnil\u003e"}` {
				t.Errorf("write to /action = %v %s; want a refusal", r.err, r.result)
			}
			r = run(t, x, activation{value: `{"mode":"read","path":"/etc/passwd"}`})
			if r.err != nil || !strings.Contains(r.result, `"error"`) {
				t.Errorf("read /etc/passwd = %v %s; want an error", r.err, r.result)
			}
		})
	}
}

func TestZipModuleNames(t *testing.T) {
	eng := sharedEngine(t)
	module := wat(t, watEchoReactor)
	for _, c := range []struct {
		name    string
		entries []ziptest.File
		source  ModuleSource
	}{
		{"only .wasm", []ziptest.File{{Name: "action.wasm", Body: module}, {Name: "x.txt"}}, SourceCompiled},
		{"main.wasm first", []ziptest.File{{Name: "other.wasm", Body: []byte("junk")}, {Name: "main.wasm", Body: module}}, SourceCompiled},
		{"main.cwasm", []ziptest.File{{Name: "main.cwasm", Body: mustPrecompile(t, eng, module)}}, SourcePrecompiled},
	} {
		t.Run(c.name, func(t *testing.T) {
			x := newExecutor(t, eng, Config{}, ziptest.Build(t, c.entries...))
			if info, _ := x.Info(); info.Source != c.source && !(c.source == SourceCompiled && info.Source == SourceCache) {
				t.Errorf("source = %s, want %s", info.Source, c.source)
			}
			if r := run(t, x, activation{}); r.err != nil {
				t.Fatal(r.err)
			}
		})
	}
}

func TestModuleCache(t *testing.T) {
	dir := t.TempDir()
	eng, err := NewEngine(EngineConfig{CacheDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	module := wat(t, watEchoReactor)
	// Each executor is closed before the next Init, so that the module is not shared in memory.
	source := func() ModuleSource {
		x := eng.NewExecutor(Config{})
		defer x.Close()
		if err := x.Init(context.Background(), runtime.InitRequest{Code: module}); err != nil {
			t.Fatal(err)
		}
		if r := run(t, x, activation{}); r.err != nil {
			t.Fatal(r.err)
		}
		info, _ := x.Info()
		return info.Source
	}
	if s := source(); s != SourceCompiled {
		t.Fatalf("first init: %s, want compiled", s)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 || !strings.HasSuffix(entries[0].Name(), ".cwasm") {
		t.Fatalf("cache dir holds %v, want one .cwasm file", entries)
	}
	if s := source(); s != SourceCache {
		t.Fatalf("second init: %s, want cache", s)
	}
	// A damaged entry is recompiled and replaced. (Replaced by rename, as the cache itself does:
	// truncating a cache file in place under a loaded module would crash the process, which is
	// why docs/wasm-abi.md says to delete cache files, never to edit them.)
	cached := filepath.Join(dir, entries[0].Name())
	if err := writeFileAtomic(cached, []byte("\x7fELF damaged")); err != nil {
		t.Fatal(err)
	}
	if s := source(); s != SourceCompiled {
		t.Fatalf("init over a damaged entry: %s, want compiled", s)
	}
	if s := source(); s != SourceCache {
		t.Fatalf("init after the repair: %s, want cache", s)
	}
	// An engine without cache compiles every time and writes nothing.
	noCache, err := NewEngine(EngineConfig{DisableCache: true})
	if err != nil {
		t.Fatal(err)
	}
	defer noCache.Close()
	for i := 0; i < 2; i++ {
		x := noCache.NewExecutor(Config{})
		if err := x.Init(context.Background(), runtime.InitRequest{Code: module}); err != nil {
			t.Fatal(err)
		}
		if info, _ := x.Info(); info.Source != SourceCompiled {
			t.Fatalf("uncached init %d: %s", i, info.Source)
		}
		x.Close()
	}
}

func TestCacheDirMustBePrivate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "shared")
	if err := os.Mkdir(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	if eng, err := NewEngine(EngineConfig{CacheDir: dir}); err == nil {
		eng.Close()
		t.Fatal("a world-writable cache dir was accepted")
	}
}

func TestPrecompiled(t *testing.T) {
	eng := sharedEngine(t)
	t.Run("go guest", func(t *testing.T) {
		x := newExecutor(t, eng, Config{}, mustPrecompile(t, eng, guestModule(t, false)))
		if info, _ := x.Info(); info.Source != SourcePrecompiled || info.ABI != ABICommand {
			t.Errorf("Info = %+v", info)
		}
		if r := run(t, x, activation{value: `{"p":1}`}); r.err != nil || r.result != `{"p":1}` {
			t.Fatalf("run = %v %s", r.err, r.result)
		}
	})
	t.Run("other engine settings", func(t *testing.T) {
		// Compiled code from an engine without epoch interruption would ignore deadlines.
		foreign := wasmtime.NewEngine()
		defer foreign.Close()
		m, err := wasmtime.NewModule(foreign, wat(t, watEchoReactor))
		if err != nil {
			t.Fatal(err)
		}
		b, err := m.Serialize()
		if err != nil {
			t.Fatal(err)
		}
		wantStatus(t, initErr(t, eng, Config{}, b), http.StatusBadGateway, "was not made for this runtime")
	})
	t.Run("not wasm", func(t *testing.T) {
		if _, err := eng.Precompile([]byte("nope")); err == nil {
			t.Fatal("Precompile accepted junk")
		}
	})
}

// FuzzDecodeCode feeds arbitrary /init code to the decoder: it must never panic, and every
// refusal must be a 502 *runtime.Error with a message for the client.
func FuzzDecodeCode(f *testing.F) {
	f.Add([]byte("\x00asm\x01\x00\x00\x00"))
	f.Add([]byte("\x7fELF"))
	f.Add([]byte("not code"))
	f.Add(ziptest.Build(f, ziptest.File{Name: "main.wasm", Body: []byte("\x00asm\x01\x00\x00\x00")}, ziptest.File{Name: "d/x", Body: []byte("x")}))
	f.Add(ziptest.Build(f, ziptest.File{Name: "a.wasm", Body: []byte("\x00asm")}, ziptest.File{Name: "b.cwasm", Body: []byte("\x7fELF")}))
	f.Add(ziptest.Build(f, ziptest.File{Name: "../main.wasm", Body: []byte("\x00asm")}))
	f.Fuzz(func(t *testing.T, code []byte) {
		dir := t.TempDir()
		art, err := decodeCode(code, filepath.Join(dir, "action"), "", archive.Limits{MaxBytes: 1 << 16, MaxFiles: 50}, true)
		if err != nil {
			var rerr *runtime.Error
			if !errors.As(err, &rerr) || rerr.Status != http.StatusBadGateway || rerr.Message == "" {
				t.Fatalf("decodeCode error %v (%T) is not a 502 for the client", err, err)
			}
			return
		}
		if !bytes.HasPrefix(art.module, magicWasm) && !bytes.HasPrefix(art.module, magicELF) {
			t.Fatalf("decodeCode accepted a module starting %q", art.module[:min(4, len(art.module))])
		}
	})
}

// TestSharedModule: executors of one engine loading the same code share the compiled module while
// any of them holds it.
func TestSharedModule(t *testing.T) {
	eng, err := NewEngine(EngineConfig{CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	module := wat(t, watEchoReactor)
	initExec := func() (*Executor, ModuleSource) {
		x := eng.NewExecutor(Config{})
		if err := x.Init(context.Background(), runtime.InitRequest{Code: module}); err != nil {
			t.Fatal(err)
		}
		info, _ := x.Info()
		return x, info.Source
	}
	first, s1 := initExec()
	second, s2 := initExec()
	if s1 != SourceCompiled || s2 != SourceShared {
		t.Fatalf("sources = %s, %s; want compiled, shared", s1, s2)
	}
	first.Close()
	if r := run(t, second, activation{}); r.err != nil {
		t.Fatalf("the sharing executor broke when the first closed: %v", r.err)
	}
	second.Close()
	third, s3 := initExec()
	defer third.Close()
	if s3 != SourceCache {
		t.Fatalf("after every holder closed: %s, want cache", s3)
	}
	// Concurrent Inits of the same code all get a working module.
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			x := eng.NewExecutor(Config{})
			defer x.Close()
			if err := x.Init(context.Background(), runtime.InitRequest{Code: module}); err != nil {
				t.Error(err)
				return
			}
			if r := run(t, x, activation{}); r.err != nil {
				t.Error(r.err)
			}
		}()
	}
	wg.Wait()
	// A different module is not confused with it.
	other := newExecutor(t, eng, Config{}, wat(t, watTrapReactor))
	if info, _ := other.Info(); info.Source == SourceShared {
		t.Fatal("a different module was shared")
	}
}

// TestArchiveCache: an archive is unpacked once per content; a second executor of the same
// archive uses the same read-only directory, and a different archive gets its own.
func TestArchiveCache(t *testing.T) {
	dir := t.TempDir()
	eng, err := NewEngine(EngineConfig{CacheDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	module := guestModule(t, true)
	zipWith := func(text string) []byte {
		return ziptest.Build(t, ziptest.File{Name: "main.wasm", Body: module}, ziptest.File{Name: "data/hello.txt", Body: []byte(text)})
	}
	unpacked := func() []string {
		matches, _ := filepath.Glob(filepath.Join(dir, "files-*"))
		return matches
	}
	read := func(code []byte) string {
		x := newExecutor(t, eng, Config{}, code)
		defer x.Close()
		r := run(t, x, activation{value: `{"mode":"read","path":"/action/data/hello.txt"}`})
		if r.err != nil {
			t.Fatal(r.err)
		}
		return r.result
	}
	first := zipWith("one")
	if got := read(first); got != `{"text":"one"}` {
		t.Fatalf("first = %s", got)
	}
	if n := len(unpacked()); n != 1 {
		t.Fatalf("%d unpacked archives after the first init, want 1", n)
	}
	if got := read(first); got != `{"text":"one"}` {
		t.Fatalf("again = %s", got)
	}
	if n := len(unpacked()); n != 1 {
		t.Fatalf("the same archive was unpacked again: %v", unpacked())
	}
	if got := read(zipWith("two")); got != `{"text":"two"}` {
		t.Fatalf("second archive = %s", got)
	}
	if n := len(unpacked()); n != 2 {
		t.Fatalf("%d unpacked archives after a different one, want 2", n)
	}
	if tmp, _ := filepath.Glob(filepath.Join(dir, "files-tmp-*")); len(tmp) != 0 {
		t.Fatalf("temporary directories left: %v", tmp)
	}
}

// TestCloseRightAfterRunReleasesModule: Close straight after Run returns must release the compiled
// module (the run's worker counts itself out before delivering), so the next Init of the same code
// loads it from the cache instead of finding it still held by nobody.
func TestCloseRightAfterRunReleasesModule(t *testing.T) {
	eng, err := NewEngine(EngineConfig{CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	module := wat(t, watEchoReactor)
	for i := 0; i < 50; i++ {
		x := eng.NewExecutor(Config{})
		if err := x.Init(context.Background(), runtime.InitRequest{Code: module}); err != nil {
			t.Fatal(err)
		}
		if i > 0 {
			if info, _ := x.Info(); info.Source == SourceShared {
				t.Fatalf("round %d: the previous executor's module was never released", i)
			}
		}
		if r := run(t, x, activation{}); r.err != nil {
			t.Fatal(r.err)
		}
		// The invariant that makes it so: once Run has returned, its worker is counted out.
		if n := x.act.Load().workers.Load(); n != 0 {
			t.Fatalf("round %d: %d guest calls still counted after Run returned", i, n)
		}
		x.Close()
	}
}

// TestSharedArchive: executors of one engine that /init the same archive share its unpacked files
// and its module while any of them holds it, each within its own limits, and a caller's buffer
// changed after Init is not taken for the archive it held.
func TestSharedArchive(t *testing.T) {
	dir := t.TempDir()
	eng, err := NewEngine(EngineConfig{CacheDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	module := guestModule(t, true)
	code := ziptest.Build(t, ziptest.File{Name: "main.wasm", Body: module},
		ziptest.File{Name: "data/hello.txt", Body: []byte("shared"), Store: true})
	initExec := func(cfg Config, code []byte) (*Executor, error) {
		x := eng.NewExecutor(cfg)
		err := x.Init(context.Background(), runtime.InitRequest{Name: "guest", Code: code})
		if err != nil {
			x.Close()
			return nil, err
		}
		return x, nil
	}
	readHello := func(x *Executor) {
		t.Helper()
		r := run(t, x, activation{value: `{"mode":"read","path":"/action/data/hello.txt"}`})
		if r.err != nil || r.result != `{"text":"shared"}` {
			t.Fatalf("read = %v %s", r.err, r.result)
		}
	}
	held := func() int {
		eng.archives.mu.Lock()
		defer eng.archives.mu.Unlock()
		n := 0
		for _, list := range eng.archives.byID {
			for _, a := range list {
				n += a.refs
			}
		}
		return n
	}

	buf := bytes.Clone(code)
	first, err := initExec(Config{}, buf)
	if err != nil {
		t.Fatal(err)
	}
	second, err := initExec(Config{}, bytes.Clone(code))
	if err != nil {
		t.Fatal(err)
	}
	if info, _ := second.Info(); info.Source != SourceShared || !info.HasFiles {
		t.Fatalf("second Info = %+v, want a shared module with files", info)
	}
	readHello(first)
	readHello(second)
	if n := held(); n != 2 {
		t.Fatalf("archive references = %d, want 2", n)
	}

	// The caller's buffer, changed after Init, is another (broken: its CRC fails) archive.
	copy(buf[bytes.Index(buf, []byte("shared")):], "SHARED")
	if x, err := initExec(Config{}, buf); err == nil {
		x.Close()
		t.Fatal("a changed buffer was taken for the archive it held before")
	}

	// Each executor's own limits and stance on precompiled code hold for a shared archive.
	wantStatus(t, initErr(t, eng, Config{MaxArchiveBytes: 64}, code), http.StatusBadGateway, "limit")
	wantStatus(t, initErr(t, eng, Config{MaxArchiveEntries: 1}, code), http.StatusBadGateway, "limit")
	pre := ziptest.Build(t, ziptest.File{Name: "main.cwasm", Body: mustPrecompile(t, eng, module)})
	x, err := initExec(Config{}, pre)
	if err != nil {
		t.Fatal(err)
	}
	wantStatus(t, initErr(t, eng, Config{DisallowPrecompiled: true}, pre), http.StatusBadGateway, "does not accept")
	x.Close()

	// Files removed from the cache under a shared archive are unpacked again.
	files, _ := filepath.Glob(filepath.Join(dir, "files-*"))
	for _, f := range files {
		os.RemoveAll(f)
	}
	third, err := initExec(Config{}, code)
	if err != nil {
		t.Fatal(err)
	}
	readHello(third)

	for _, x := range []*Executor{first, second, third} {
		x.Close()
	}
	if n := held(); n != 0 {
		t.Fatalf("archive references after every executor closed = %d, want 0", n)
	}
	eng.modules.mu.Lock()
	modules := len(eng.modules.byID)
	eng.modules.mu.Unlock()
	if modules != 0 {
		t.Fatalf("%d modules still held after every executor closed", modules)
	}
}
