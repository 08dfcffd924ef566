package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wasmwhisk/wasmwhisk/internal/testbuild"
	"github.com/wasmwhisk/wasmwhisk/runtime"
	"github.com/wasmwhisk/wasmwhisk/runtime/native"
)

func TestRunOnce(t *testing.T) {
	wasmHello := testbuild.MustBuild(t, testbuild.Target{Pkg: "./actions/hello", WASM: true})
	nativeHello := testbuild.MustBuild(t, testbuild.Target{Pkg: "./actions/hello"})
	notCode := filepath.Join(t.TempDir(), "notes.txt")
	if err := os.WriteFile(notCode, []byte("not an action"), 0o644); err != nil {
		t.Fatal(err)
	}
	newWasm := func() runtime.Executor {
		e, err := newWasmExecutor(&wasmOptions{memoryMiB: 64, cacheDir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	newNative := func() runtime.Executor { return native.New(native.Config{Dir: t.TempDir()}) }
	tests := []struct {
		name     string
		exec     func() runtime.Executor
		file     string
		stdin    string
		want     string // in stdout
		wantErr  string
		wantLogs string
	}{
		{name: "wasm module", exec: newWasm, file: wasmHello, stdin: `{"name":"once"}`,
			want: `{"greeting":"Hello, once!","params":{"name":"once"}}` + "\n", wantLogs: "hello stderr: Hello, once!"},
		{name: "native executable, empty value", exec: newNative, file: nativeHello, stdin: "",
			want: `"greeting":"Hello, stranger!"`},
		{name: "value is not JSON", exec: newWasm, file: wasmHello, stdin: "{", wantErr: "not JSON"},
		{name: "file is not code", exec: newWasm, file: notCode, stdin: "{}", wantErr: "init:"},
		{name: "no such file", exec: newNative, file: filepath.Join(t.TempDir(), "missing"), stdin: "{}", wantErr: "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := runOnce(context.Background(), tt.exec(), tt.file, strings.NewReader(tt.stdin), &stdout, &stderr)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(stdout.String(), tt.want) || !strings.Contains(stderr.String(), tt.wantLogs) {
				t.Fatalf("stdout %q stderr %q", stdout.String(), stderr.String())
			}
		})
	}
}
