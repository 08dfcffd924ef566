//go:build wasip1

package sdk

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
)

// Serve runs one activation under the wasm:0.1 command ABI (docs/wasm-abi.md): the value's JSON on
// stdin, the activation context in the __OW_* environment the host sets, the result as the last
// line of stdout. It returns normally (exit code 0) whether the handler succeeded or returned an
// application error; it exits with code 1 only when stdin or stdout fail.
//
// In a reactor build (-buildmode=c-shared) main never runs, so Serve is never called; the host
// drives the handler through the exports in reactor_wasip1.go instead.
func Serve() {
	value, err := io.ReadAll(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, "wasmwhisk: read the activation value from stdin:", err)
		os.Exit(1)
	}
	var result []byte
	if v, ok := normalizeValue(value); ok {
		result = invoke(v)
	} else {
		result = errorResult(fmt.Errorf("the activation value on stdin is not JSON"))
	}
	// The result must start a line of its own: the host takes the last line of stdout.
	if _, err := os.Stdout.Write(append(result, '\n')); err != nil {
		fmt.Fprintln(os.Stderr, "wasmwhisk: write the result to stdout:", err)
		os.Exit(1)
	}
}

// normalizeValue validates the command ABI's stdin and turns an empty or null value into {}.
func normalizeValue(value []byte) (json.RawMessage, bool) {
	trimmed := bytes.TrimSpace(value)
	if len(trimmed) == 0 || string(trimmed) == "null" {
		return json.RawMessage("{}"), true
	}
	if !json.Valid(trimmed) {
		return nil, false
	}
	return json.RawMessage(trimmed), true
}
