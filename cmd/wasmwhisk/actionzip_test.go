package main

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wasmwhisk/wasmwhisk/internal/conformance"
	"github.com/wasmwhisk/wasmwhisk/internal/testbuild"
	"github.com/wasmwhisk/wasmwhisk/runtime/wasm"
)

func zipNames(t *testing.T, file string) map[string]string {
	t.Helper()
	zr, err := zip.OpenReader(file)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	out := map[string]string{}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		_, _ = b.ReadFrom(rc)
		rc.Close()
		out[f.Name] = b.String()
	}
	return out
}

func TestActionZip(t *testing.T) {
	dir := t.TempDir()
	write := func(name, data string) string {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	wasmMod := write("act.wasm", "\x00asm\x01\x00\x00\x00")
	precompiled := precompiledHello(t)
	cwasm := write("act.cwasm", string(precompiled))
	exe, err := os.ReadFile(testbuild.MustBuild(t, testbuild.Target{Pkg: "./actions/hello"}))
	if err != nil {
		t.Fatal(err)
	}
	native := write("hello", string(exe))
	notWasm := write("act.txt", "hello")
	watText := write("act.wat", "(module)")
	object := write("act.o", "\x7fELF\x02\x01\x01\x00"+strings.Repeat("\x00", 8)+"\x01\x00"+strings.Repeat("\x00", 46))
	labels := write("data/labels.txt", "cat\ndog\n")
	write("data/models/m.onnx", "onnx")
	other := write("other/labels.txt", "clash")

	tests := []struct {
		name    string
		args    []string
		want    map[string]string
		wantErr string
	}{
		{"module alone, default output name", []string{wasmMod}, map[string]string{"main.wasm": "\x00asm\x01\x00\x00\x00"}, ""},
		{"leading zip verb and data files", []string{"zip", "-o", filepath.Join(dir, "x.zip"), wasmMod, labels, filepath.Join(dir, "data", "models")},
			map[string]string{"main.wasm": "\x00asm\x01\x00\x00\x00", "labels.txt": "cat\ndog\n", "models/m.onnx": "onnx"}, ""},
		{"directory keeps its name", []string{"-o", filepath.Join(dir, "y.zip"), wasmMod, filepath.Join(dir, "data")},
			map[string]string{"main.wasm": "\x00asm\x01\x00\x00\x00", "data/labels.txt": "cat\ndog\n", "data/models/m.onnx": "onnx"}, ""},
		{"precompiled module", []string{"-o", filepath.Join(dir, "c.zip"), cwasm}, map[string]string{"main.cwasm": string(precompiled)}, ""},
		{"native executable", []string{"-o", filepath.Join(dir, "e.zip"), native, labels}, map[string]string{"exec": string(exe), "labels.txt": "cat\ndog\n"}, ""},
		{"not a module", []string{"-o", filepath.Join(dir, "n.zip"), notWasm}, nil, "neither a WebAssembly module"},
		{"WebAssembly text", []string{"-o", filepath.Join(dir, "n.zip"), watText}, nil, "WebAssembly text, which needs no zip"},
		{"ELF object file", []string{"-o", filepath.Join(dir, "n.zip"), object}, nil, "neither an executable nor a precompiled module"},
		{"no module", []string{"-o", filepath.Join(dir, "n.zip")}, nil, "a module or an executable is required"},
		{"missing module", []string{filepath.Join(dir, "absent.wasm")}, nil, "no such file"},
		{"missing data file", []string{"-o", filepath.Join(dir, "n.zip"), wasmMod, filepath.Join(dir, "absent.txt")}, nil, "no such file"},
		{"two files with one name", []string{"-o", filepath.Join(dir, "n.zip"), wasmMod, labels, other}, nil, "would both be labels.txt"},
		{"data file named like the module", []string{"-o", filepath.Join(dir, "n.zip"), wasmMod, write("m/main.wasm", "x")}, nil, "would both be main.wasm"},
		{"unknown flag", []string{"-x", wasmMod}, nil, "flag provided but not defined"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := actionZipCmd(tt.args)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			out := strings.TrimSuffix(wasmMod, ".wasm") + ".zip"
			for i, a := range tt.args {
				if a == "-o" {
					out = tt.args[i+1]
				}
			}
			got := zipNames(t, out)
			if len(got) != len(tt.want) {
				t.Fatalf("entries %v, want %v", got, tt.want)
			}
			for k, v := range tt.want {
				if got[k] != v {
					t.Fatalf("entry %s = %q, want %q (all: %v)", k, got[k], v, got)
				}
			}
		})
	}

	// Same inputs, same bytes.
	a, b := filepath.Join(dir, "a.zip"), filepath.Join(dir, "b.zip")
	for _, o := range []string{a, b} {
		if err := actionZipCmd([]string{"-o", o, wasmMod, filepath.Join(dir, "data")}); err != nil {
			t.Fatal(err)
		}
	}
	ab, _ := os.ReadFile(a)
	bb, _ := os.ReadFile(b)
	if !bytes.Equal(ab, bb) {
		t.Fatal("the zip is not reproducible")
	}
}

// precompiledHello is the hello action precompiled by this build's wasmtime, as
// wasmwhisk-compile writes it.
func precompiledHello(t *testing.T) []byte {
	t.Helper()
	module, err := os.ReadFile(testbuild.MustBuild(t, testbuild.Target{Pkg: "./actions/hello", WASM: true}))
	if err != nil {
		t.Fatal(err)
	}
	eng, err := wasm.NewEngine(wasm.EngineConfig{DisableCache: true})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	b, err := eng.Precompile(module)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestActionZipRunsOnTheRuntime uploads a zipped hello action to the real wasm runtime the way
// the wsk CLI does (base64 of the zip file) and runs it.
func TestActionZipRunsOnTheRuntime(t *testing.T) {
	proxy := testbuild.MustBuild(t, testbuild.Target{Pkg: "./cmd/actionproxy", CGO: true})
	module := testbuild.MustBuild(t, testbuild.Target{Pkg: "./actions/hello", WASM: true})
	dir := t.TempDir()
	data := filepath.Join(dir, "greeting.txt")
	if err := os.WriteFile(data, []byte("hi"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "hello.zip")
	if err := actionZipCmd([]string{"zip", "-o", out, module, data}); err != nil {
		t.Fatal(err)
	}
	zipBytes, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	c := conformance.StartProcess(t, proxy, []string{"-executor", "wasm", "-wasm-no-cache"}, nil)
	cl := conformance.NewClient(t, c)
	if r := cl.Init(conformance.B64(zipBytes), "main", nil); r.Status != http.StatusOK {
		t.Fatalf("init: %d %s", r.Status, r.Body)
	}
	r := cl.Run(map[string]any{"name": "zip"}, nil)
	var res struct {
		Greeting string `json:"greeting"`
	}
	if r.Status != http.StatusOK || json.Unmarshal(r.Body, &res) != nil || res.Greeting != "Hello, zip!" {
		t.Fatalf("run: %d %s", r.Status, r.Body)
	}

	// The native build of the same action, zipped as exec, runs on the native runtime.
	exe := testbuild.MustBuild(t, testbuild.Target{Pkg: "./actions/hello"})
	nativeZip := filepath.Join(dir, "hello-native.zip")
	if err := actionZipCmd([]string{"-o", nativeZip, exe}); err != nil {
		t.Fatal(err)
	}
	if zipBytes, err = os.ReadFile(nativeZip); err != nil {
		t.Fatal(err)
	}
	cl = conformance.NewClient(t, conformance.StartProcess(t, proxy, []string{"-executor", "native"}, nil))
	if r := cl.Init(conformance.B64(zipBytes), "main", nil); r.Status != http.StatusOK {
		t.Fatalf("native init: %d %s", r.Status, r.Body)
	}
	r = cl.Run(map[string]any{"name": "native zip"}, nil)
	if r.Status != http.StatusOK || json.Unmarshal(r.Body, &res) != nil || res.Greeting != "Hello, native zip!" {
		t.Fatalf("native run: %d %s", r.Status, r.Body)
	}
}
