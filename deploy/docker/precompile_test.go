package dockerimages_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wasmwhisk/wasmwhisk/internal/testbuild"
	"github.com/wasmwhisk/wasmwhisk/standalone"
	dockerbackend "github.com/wasmwhisk/wasmwhisk/standalone/docker"
)

// TestStandaloneDockerPrecompile is issue 12's item 3 on the docker backend with its cache
// volume: creating a wasm:0.1 action compiles its module into the volume before anything is
// invoked, and leaves no container behind; a cold start then runs; an /init that times out (the
// volume lost the module, and the action's _initialize never returns) compiles it again, so the
// next cold start does not start from nothing.
func TestStandaloneDockerPrecompile(t *testing.T) {
	wasmImage := requireImage(t, "wasm-runtime")
	var b [4]byte
	rand.Read(b[:])
	instance := "e2e-pre-" + hex.EncodeToString(b[:])
	volume := cacheVolume(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	backend, err := dockerbackend.New(ctx, dockerbackend.Config{Instance: instance, WasmCacheVolume: volume})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := standalone.New(standalone.Config{
		Listen: "127.0.0.1:0", DataDir: t.TempDir(), NoSync: true, Backend: backend,
		Runtimes: []standalone.Runtime{{Kind: standalone.KindWasm, Image: wasmImage, Executor: "wasm", Sentinelled: true}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	e := &e2e{t: t, srv: srv, instance: instance}

	e.create("hello", map[string]any{"kind": "wasm:0.1", "code": codeOf(t, testbuild.Target{Pkg: "./actions/hello", WASM: true, Reactor: true})})
	// The volume is created by the compile container; read it where the engine keeps it.
	var dir string
	waitFor(t, "the module compiled into the volume at create", 2*time.Minute, func() bool {
		if dir == "" {
			out, err := exec.Command("docker", "volume", "inspect", "-f", "{{.Mountpoint}}", volume).Output()
			if err != nil {
				return false
			}
			dir = strings.TrimSpace(string(out))
			if _, err := os.ReadDir(dir); err != nil {
				t.Skipf("the volume's directory %s is not readable here: %v", dir, err)
			}
		}
		return len(modulesIn(dir)) == 1
	})
	waitFor(t, "the compile container to be removed", 30*time.Second, func() bool {
		out, _ := exec.Command("docker", "ps", "-aq", "--filter", "label="+dockerbackend.LabelInstance+"="+instance).Output()
		return strings.TrimSpace(string(out)) == ""
	})
	if status, rec := e.invoke("hello", map[string]any{"name": "precompiled"}); status != http.StatusOK || !strings.Contains(string(rec.Response.Result), "Hello, precompiled!") {
		t.Fatalf("cold invoke: %d %+v", status, rec)
	}
	if n := len(modulesIn(dir)); n != 1 {
		t.Fatalf("%d modules in the volume after the cold start, want the one compiled at create", n)
	}

	const spinInit = `(module (memory (export "memory") 1)
  (func (export "_initialize") (loop $l (br $l)))
  (func (export "wasmwhisk_alloc") (param i32) (result i32) i32.const 1024)
  (func (export "wasmwhisk_run") (param i32 i32) (result i64) i64.const 0))`
	if status, body := e.call(http.MethodPut, "/actions/spin?overwrite=true", map[string]any{"exec": map[string]any{"kind": "wasm:0.1", "code": spinInit}, "limits": map[string]any{"timeout": 1000}}); status != 200 {
		t.Fatalf("create spin: %d %s", status, body)
	}
	waitFor(t, "the second module compiled at create", 2*time.Minute, func() bool { return len(modulesIn(dir)) == 2 })
	for _, m := range modulesIn(dir) {
		if err := os.Remove(m); err != nil {
			t.Fatal(err)
		}
	}
	status, rec := e.invoke("spin", nil)
	if status != http.StatusBadGateway || !strings.Contains(string(rec.Response.Result), "during initialization") {
		t.Fatalf("spin: %d %s", status, rec.Response.Result)
	}
	waitFor(t, "the module compiled again after the timed-out init", 2*time.Minute, func() bool { return len(modulesIn(dir)) == 1 })
}

// modulesIn lists the compiled modules of a module cache directory.
func modulesIn(dir string) []string {
	entries, _ := os.ReadDir(dir)
	var out []string
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".cwasm") {
			out = append(out, filepath.Join(dir, e.Name()))
		}
	}
	return out
}

// waitFor polls cond until it holds, failing after within (a bound on a hang, not a timing
// assertion).
func waitFor(t *testing.T, what string, within time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
