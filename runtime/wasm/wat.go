package wasm

import (
	"github.com/bytecodealliance/wasmtime-go/v44"
)

// watToWasm turns a module in the WebAssembly text format into the binary format. The wsk CLI
// sends any file but .zip, .jar and .balx as text, which keeps a .wat intact (and corrupts a
// .wasm), so `wsk action create NAME hello.wat --kind wasm:0.1` works as it reads.
func watToWasm(text []byte) ([]byte, error) {
	module, err := wasmtime.Wat2Wasm(string(text))
	if err != nil {
		return nil, badCode("the code is WebAssembly text that does not parse: %s", firstLine(err.Error()))
	}
	return module, nil
}
