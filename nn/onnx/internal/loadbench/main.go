// Command loadbench times the load of one ONNX model: onnx.Decode, then nn.Compile, n times after
// one warm-up, from bytes already in memory. It reads {"model": PATH, "n": N} on stdin and prints
// {"decode_ms": [...], "load_ms": [...]} as its last line of stdout. The same source runs as a
// native executable and as a wasip1 command under the project's wasmtime runtime, so both
// figures of BenchmarkModelLoad (nn/onnx) come from one program.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/wasmwhisk/wasmwhisk/nn"
	"github.com/wasmwhisk/wasmwhisk/nn/onnx"
)

// request is what loadbench reads on stdin.
type request struct {
	Model string `json:"model"`
	N     int    `json:"n"`
}

// times is what loadbench prints: per iteration, decode alone and decode plus compile.
type times struct {
	DecodeMS []float64 `json:"decode_ms"`
	LoadMS   []float64 `json:"load_ms"`
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "loadbench:", err)
		os.Exit(1)
	}
}

func run() error {
	var req request
	if err := json.NewDecoder(os.Stdin).Decode(&req); err != nil {
		return fmt.Errorf("read request: %w", err)
	}
	if req.N < 1 || req.N > 1000 {
		return errors.New("n must be between 1 and 1000")
	}
	data, err := os.ReadFile(req.Model)
	if err != nil {
		return err
	}
	var out times
	for i := 0; i <= req.N; i++ { // iteration 0 warms up
		start := time.Now()
		g, err := onnx.Decode(data)
		if err != nil {
			return err
		}
		decoded := time.Since(start)
		if _, err := nn.Compile(g); err != nil {
			return err
		}
		loaded := time.Since(start)
		if i > 0 {
			out.DecodeMS = append(out.DecodeMS, ms(decoded))
			out.LoadMS = append(out.LoadMS, ms(loaded))
		}
	}
	return json.NewEncoder(os.Stdout).Encode(out)
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
