package standalone_test

import (
	"encoding/base64"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/apache/openwhisk-client-go/whisk"

	"github.com/wasmwhisk/wasmwhisk/internal/testbuild"
)

// TestBinaryCodeSentAsText does what `wsk action create NAME FILE --kind KIND` does with a file
// that is not a .zip, .jar or .balx: it reads the file into a string and sends it as text
// through openwhisk-client-go (whose JSON encoding replaces invalid UTF-8 with U+FFFD). The
// controller refuses binary code that arrived so, on create and on update, with 400 and the
// command that uploads it intact; text (WebAssembly text, a #! script) and base64 (what wsk sends
// for a .zip) are accepted, and the WebAssembly text action runs.
func TestBinaryCodeSentAsText(t *testing.T) {
	srv := startServer(t, newWasmHost(t), nil)
	c := newClient(t, srv)
	read := func(target testbuild.Target) string {
		b, err := os.ReadFile(testbuild.MustBuild(t, target))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	wasmModule := read(testbuild.Target{Pkg: "./actions/hello", WASM: true})
	executable := read(testbuild.Target{Pkg: "./actions/hello"})
	const wat = `;; echo.wat: returns the /run line it is given (reactor ABI, docs/wasm-abi.md)
(module
  (memory (export "memory") 1)
  (global $next (mut i32) (i32.const 1024))
  (func (export "wasmwhisk_alloc") (param $n i32) (result i32) (global.get $next))
  (func (export "wasmwhisk_run") (param $p i32) (param $n i32) (result i64)
    (i64.or (i64.shl (i64.extend_i32_u (local.get $p)) (i64.const 32)) (i64.extend_i32_u (local.get $n)))))
`
	cases := []struct {
		name, kind, code string
		status           int
		want             string // in the error message
	}{
		{"wasm module as text", "wasm:0.1", wasmModule, 400, "it is a WebAssembly module (it starts with \\0asm)"},
		{"executable as text", "native:0.1", executable, 400, "it is an ELF file"},
		{"executable as text for wasm", "wasm:0.1", executable, 400, "it is an ELF file"},
		{"mangled binary", "wasm:0.1", "junk \uFFFD junk", 400, "U+FFFD"},
		{"NUL byte", "native:0.1", "#!/bin/sh\n\x00", 400, "NUL byte"},
		// Text that is not binary is the runtime's to judge at /init, as in OpenWhisk.
		{"javascript for wasm", "wasm:0.1", "function main() { return {} }", 200, ""},
		{"WebAssembly text", "wasm:0.1", wat, 200, ""},
		{"script", "native:0.1", "#!/bin/sh\necho '{\"ok\":true}' >&3\n", 200, ""},
		{"base64 module", "wasm:0.1", base64.StdEncoding.EncodeToString([]byte(wasmModule)), 200, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			name := "code-" + strings.ReplaceAll(tc.name, " ", "-")
			for _, overwrite := range []bool{false, true} { // create, then update
				code := tc.code
				_, resp, err := c.Actions.Insert(&whisk.Action{Name: name, Exec: &whisk.Exec{Kind: tc.kind, Code: &code}}, overwrite)
				if resp == nil || resp.StatusCode != tc.status {
					t.Fatalf("overwrite=%v: status %v, err %v; want %d", overwrite, resp, err, tc.status)
				}
				if tc.status != 200 {
					if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "wasmwhisk action zip") {
						t.Fatalf("overwrite=%v: error %v, want %q and the zip command", overwrite, err, tc.want)
					}
					if _, _, err := c.Actions.Get(name, false); err == nil {
						t.Fatal("the refused action was stored")
					}
					break // nothing to update
				}
			}
		})
	}
	// An existing action keeps its code when an update sends binary code as text.
	module := wasmModule
	if _, resp, err := c.Actions.Insert(&whisk.Action{Name: "code-WebAssembly-text", Exec: &whisk.Exec{Kind: "wasm:0.1", Code: &module}}, true); err == nil || resp.StatusCode != 400 {
		t.Fatalf("update with binary as text: %v %v", resp, err)
	}
	status, rec := invokeBlocking(t, srv, "code-WebAssembly-text", map[string]any{"wat": true})
	if status != http.StatusOK || !strings.Contains(string(rec.Response.Result), `"wat":true`) {
		t.Fatalf("WebAssembly text action: %d %s", status, rec.Response.Result)
	}
}
