// Package nnengine runs a classifier's model (package model) with the nn engine in this process.
// It is apart from package model so that a program that runs its model elsewhere (a wasm action
// handing inference to the host through wasi-nn) does not link, nor initialise at start-up, the
// engine and the ONNX decoder.
package nnengine

import (
	"context"
	"fmt"
	"io/fs"
	"os"

	"github.com/wasmwhisk/wasmwhisk/nn"
	"github.com/wasmwhisk/wasmwhisk/nn/model"
	"github.com/wasmwhisk/wasmwhisk/nn/onnx"
)

// Open loads the classifier in the model directory dir (see model.Resolve).
func Open(dir string) (*model.Classifier, error) { return OpenFS(os.DirFS(dir)) }

// OpenFS loads the classifier from a model directory given as a file system.
func OpenFS(fsys fs.FS) (*model.Classifier, error) {
	sc, labels, err := model.Files(fsys)
	if err != nil {
		return nil, err
	}
	data, err := fs.ReadFile(fsys, sc.Model)
	if err != nil {
		return nil, fmt.Errorf("model: %w", err)
	}
	return NewClassifier(data, labels, sc)
}

// NewClassifier compiles a classifier from model bytes, labels and its sidecar.
func NewClassifier(modelData []byte, labels []string, sc model.Sidecar) (*model.Classifier, error) {
	e, err := New(modelData, sc)
	if err != nil {
		return nil, err
	}
	return model.New(e, labels, sc)
}

// engine is one session (execution context) of the compiled model.
type engine struct{ s *nn.Session }

// New decodes and compiles the model, checking its input against the sidecar (and fixing a
// symbolic batch dimension to 1), and returns an Engine running it.
func New(modelData []byte, sc model.Sidecar) (model.Engine, error) {
	g, err := onnx.Decode(modelData)
	if err != nil {
		return nil, fmt.Errorf("model %s: %w", sc.Model, err)
	}
	if len(g.Inputs) != 1 {
		return nil, fmt.Errorf("model %s: want one input, have %d", sc.Model, len(g.Inputs))
	}
	in := &g.Inputs[0]
	if sc.Input != "" && in.Name != sc.Input {
		return nil, fmt.Errorf("model %s: input is %q, the sidecar says %q", sc.Model, in.Name, sc.Input)
	}
	want := []int{1, 3, sc.Height, sc.Width}
	if len(in.Shape) != 4 {
		return nil, fmt.Errorf("model %s: input shape %v is not NCHW", sc.Model, in.Shape)
	}
	for i, d := range in.Shape {
		if d >= 0 && d != want[i] {
			return nil, fmt.Errorf("model %s: input shape %v, the sidecar says %v", sc.Model, in.Shape, want)
		}
	}
	in.Shape = want
	m, err := nn.Compile(g)
	if err != nil {
		return nil, fmt.Errorf("model %s: %w", sc.Model, err)
	}
	if len(m.Outputs) == 0 {
		return nil, fmt.Errorf("model %s has no output", sc.Model)
	}
	return &engine{m.NewSession()}, nil
}

// Infer runs the session; ctx's deadline stops it between operators.
func (e *engine) Infer(ctx context.Context, x []float32) ([]float32, error) {
	in := e.s.Input(0)
	if len(in) != len(x) {
		return nil, fmt.Errorf("input has %d values, the model takes %d", len(x), len(in))
	}
	copy(in, x)
	if err := e.s.Run(ctx); err != nil {
		return nil, err
	}
	return e.s.Output(0), nil
}
