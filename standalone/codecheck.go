package standalone

import (
	"fmt"
	"strings"

	"github.com/wasmwhisk/wasmwhisk/runtime/archive"
)

// The wsk CLI base64-encodes only .zip, .jar and .balx files and sends any other file as text
// (apache/openwhisk-cli commands/action.go, getExec): JSON-encoding a binary replaces its invalid
// UTF-8 with U+FFFD, so `wsk action create hello hello.wasm --kind wasm:0.1` stores a module that
// can never load, and OpenWhisk would only say so at the first invoke. checkCode refuses such code
// when the action is created or updated, with the command that uploads it intact.

// zipHint is the advice for binary code that arrived as text, per kind.
var zipHint = map[string]string{
	KindWasm:   "Zip it, then upload the zip: `wasmwhisk action zip FILE.wasm` writes FILE.zip, and `wsk action create NAME FILE.zip --kind wasm:0.1` sends it as base64 (a module in the WebAssembly text format, .wat, may be sent as it is).",
	KindNative: "Zip it, then upload the zip: `wasmwhisk action zip FILE` writes FILE.zip (the executable as exec), and `wsk action create NAME FILE.zip --kind native:0.1` sends it as base64.",
}

const msgBinaryAsText = "The action's code arrived as text, but it is %s: the wsk CLI sends only .zip, .jar and .balx files as base64 and any other file as text, which corrupts binary code. %s"

// checkCode refuses binary code that the client sent as text for a kind whose code is binary
// (a WebAssembly module, an executable, a zip). Other text is the runtime's to judge at /init, as
// in OpenWhisk: WebAssembly text for wasm:0.1 and #! scripts for native:0.1 run as they are.
func checkCode(e Exec) *httpError {
	hint, binaryKind := zipHint[e.Kind]
	if !binaryKind || e.Code == nil || e.Binary {
		return nil
	}
	if what := binaryText(*e.Code); what != "" {
		return badRequest(msgBinaryAsText, what, hint)
	}
	return nil
}

// binaryText says what binary code text is ("" when it looks like text).
func binaryText(code string) string {
	b := []byte(code[:min(len(code), 64)])
	switch archive.Detect(b) {
	case archive.Wasm:
		return "a WebAssembly module (it starts with \\0asm)"
	case archive.ELF:
		return "an ELF file (it starts with \\x7fELF): an executable, or a module precompiled by wasmwhisk-compile"
	case archive.Zip:
		return "a zip archive (it starts with PK)"
	}
	switch {
	case strings.ContainsRune(code, '\uFFFD'):
		return fmt.Sprintf("binary data (it holds U+FFFD, the replacement for invalid UTF-8, at byte %d)", strings.IndexRune(code, '\uFFFD'))
	case strings.IndexByte(code, 0) >= 0:
		return fmt.Sprintf("binary data (it holds a NUL byte at byte %d)", strings.IndexByte(code, 0))
	}
	return ""
}
