package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/wasmwhisk/wasmwhisk/internal/testbuild"
	"github.com/wasmwhisk/wasmwhisk/internal/ziptest"
	"github.com/wasmwhisk/wasmwhisk/runtime"
	"github.com/wasmwhisk/wasmwhisk/runtime/wasm"
)

// TestCompileOutputsLoad compiles the runtime's test guest as a module and as an archive with a
// data file, and runs both outputs in the runtime: they must load as precompiled modules.
func TestCompileOutputsLoad(t *testing.T) {
	module := testbuild.MustBuild(t, testbuild.Target{Pkg: "./runtime/wasm/testdata/guest", WASM: true})
	dir := t.TempDir()
	moduleBytes, err := os.ReadFile(module)
	if err != nil {
		t.Fatal(err)
	}
	archive := ziptest.Build(t, ziptest.File{Name: "main.wasm", Body: moduleBytes}, ziptest.File{Name: "data/greeting.txt", Body: []byte("hello")})
	archivePath := filepath.Join(dir, "action.zip")
	if err := os.WriteFile(archivePath, archive, 0o644); err != nil {
		t.Fatal(err)
	}

	eng, err := wasm.NewEngine(wasm.EngineConfig{DisableCache: true})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	cases := []struct {
		name  string
		args  []string
		out   string
		value string
		want  string
	}{
		{"module", []string{"-o", filepath.Join(dir, "m.cwasm"), module}, filepath.Join(dir, "m.cwasm"), `{"x":1}`, `{"x":1}`},
		{"module as zip", []string{"-zip", "-o", filepath.Join(dir, "m.zip"), module}, filepath.Join(dir, "m.zip"), `{"x":2}`, `{"x":2}`},
		{"archive", []string{archivePath}, filepath.Join(dir, "action.cwasm.zip"), `{"mode":"read","path":"/action/data/greeting.txt"}`, `{"text":"hello"}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := run(c.args); err != nil {
				t.Fatal(err)
			}
			code, err := os.ReadFile(c.out)
			if err != nil {
				t.Fatal(err)
			}
			x := eng.NewExecutor(wasm.Config{})
			defer x.Close()
			if err := x.Init(context.Background(), runtime.InitRequest{Code: code}); err != nil {
				t.Fatal(err)
			}
			// Shared: the previous case's executor may still be releasing the same precompiled
			// code (its last run's worker lets go of it asynchronously); either way nothing was
			// compiled here.
			if info, _ := x.Info(); info.Source != wasm.SourcePrecompiled && info.Source != wasm.SourceShared {
				t.Errorf("source = %s, want precompiled", info.Source)
			}
			res, err := x.Run(context.Background(), runtime.RunRequest{Value: json.RawMessage(c.value), Env: map[string]string{}})
			if err != nil || string(res) != c.want {
				t.Fatalf("run = %v %s, want %s", err, res, c.want)
			}
		})
	}
}

func TestCompileRejects(t *testing.T) {
	dir := t.TempDir()
	junk := filepath.Join(dir, "junk.wasm")
	os.WriteFile(junk, []byte("not wasm"), 0o644)
	for _, args := range [][]string{{}, {junk}, {filepath.Join(dir, "missing.wasm")}, {"-o", junk, junk}} {
		if err := run(args); err == nil {
			t.Errorf("run(%q) succeeded", args)
		}
	}
}
