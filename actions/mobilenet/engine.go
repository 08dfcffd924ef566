package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/wasmwhisk/wasmwhisk/actions/sdk/wasinn"
	"github.com/wasmwhisk/wasmwhisk/nn/model"
)

// maxOutputFloats bounds the output buffer graphEngine grows to (64 MiB of float32).
const maxOutputFloats = 16 << 20

// graphEngine runs the classifier's model through wasi-nn: one execution context, made once and
// kept, so each inference is set_input, compute, get_output.
type graphEngine struct {
	ec   *wasinn.ExecutionContext
	dims []uint32
	out  []float32
}

func newGraphEngine(g *wasinn.Graph, sc model.Sidecar) (*graphEngine, error) {
	ec, err := g.NewExecutionContext()
	if err != nil {
		return nil, err
	}
	return &graphEngine{ec: ec, dims: []uint32{1, 3, uint32(sc.Height), uint32(sc.Width)}, out: make([]float32, 4096)}, nil
}

// Infer implements model.Engine.
func (e *graphEngine) Infer(ctx context.Context, x []float32) ([]float32, error) {
	if err := e.ec.SetInput(0, wasinn.TensorF32(e.dims, x)); err != nil {
		return nil, err
	}
	if err := e.ec.Compute(ctx); err != nil {
		return nil, err
	}
	for {
		n, err := e.ec.GetOutputF32(0, e.out)
		if errors.Is(err, wasinn.TooLarge) && len(e.out) < maxOutputFloats {
			// The output is larger than the buffer (nothing was written): grow and ask again.
			e.out = make([]float32, min(2*len(e.out), maxOutputFloats))
			continue
		}
		if err != nil {
			return nil, err
		}
		if n == 0 {
			return nil, fmt.Errorf("model output 0 is empty")
		}
		return e.out[:n], nil
	}
}
