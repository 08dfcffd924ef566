package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/wasmwhisk/wasmwhisk/runtime"
)

// runOnce is `actionproxy -executor E -once FILE`: the action in FILE (a wasm module, an
// executable or an action zip) is initialised and run once with the JSON value read from
// stdin, its result written as one line on stdout and its logs on stderr, with no HTTP server,
// so that the runtime's own start-up and execution can be timed from outside (the demo's
// execution times: `docker run` of a runtime image costs exactly this plus the container).
func runOnce(ctx context.Context, exec runtime.Executor, file string, stdin io.Reader, stdout, stderr io.Writer) error {
	defer exec.Close()
	code, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("-once: %w", err)
	}
	value, err := io.ReadAll(stdin)
	if err != nil {
		return fmt.Errorf("-once: read the value from stdin: %w", err)
	}
	value = bytes.TrimSpace(value)
	if len(value) == 0 || string(value) == "null" {
		value = []byte("{}")
	}
	if !json.Valid(value) {
		return fmt.Errorf("-once: the value on stdin is not JSON")
	}
	if err := exec.Init(ctx, runtime.InitRequest{Name: "once", Main: "main", Code: code, Env: map[string]string{}}); err != nil {
		return fmt.Errorf("-once: init: %w", err)
	}
	env := map[string]string{}
	for _, kv := range os.Environ() {
		if k, v, ok := strings.Cut(kv, "="); ok && strings.HasPrefix(k, "__OW_") {
			env[k] = v
		}
	}
	line, err := json.Marshal(map[string]json.RawMessage{"value": value})
	if err != nil {
		return fmt.Errorf("-once: %w", err)
	}
	result, err := exec.Run(ctx, runtime.RunRequest{Value: value, Context: map[string]string{}, Env: env, Line: line, Stdout: stderr, Stderr: stderr})
	if err != nil {
		return fmt.Errorf("-once: run: %w", err)
	}
	_, err = fmt.Fprintf(stdout, "%s\n", bytes.TrimSpace(result))
	return err
}
