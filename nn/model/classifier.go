package model

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"sort"
	"time"

	"github.com/wasmwhisk/wasmwhisk/nn/imageproc"
	"github.com/wasmwhisk/wasmwhisk/nn/internal/detmath"
)

// Classifier is an image classifier: the preprocessing its sidecar describes, a model run by an
// Engine, then softmax (when the model does not apply it) and top-k with labels. It reuses its
// buffers between calls, so it is not safe for concurrent use.
type Classifier struct {
	Sidecar Sidecar
	Labels  []string
	engine  Engine
	input   []float32
}

// Engine runs a classifier's model on one preprocessed input, NCHW [1,3,height,width] float32,
// and returns the model's first output. The returned slice may be reused by the next call.
// Package nnengine's runs the nn engine in this process; an action built against
// actions/sdk/wasinn runs the model as a wasi-nn graph instead.
type Engine interface {
	Infer(ctx context.Context, input []float32) ([]float32, error)
}

// Prediction is one class of a result.
type Prediction struct {
	Index      int     `json:"index"`
	Label      string  `json:"label"`
	Confidence float64 `json:"confidence"`
}

// Result is a classification: the top classes, best first, all the probabilities, and the time
// spent decoding and preprocessing the image and running the model (Engine.Infer only).
type Result struct {
	Top          []Prediction
	Probs        []float32
	PreprocessMS float64
	InferenceMS  float64
}

// Files reads a model directory's description (see ReadSidecar) and labels.
func Files(fsys fs.FS) (Sidecar, []string, error) {
	sc, err := ReadSidecar(fsys)
	if err != nil {
		return Sidecar{}, nil, fmt.Errorf("model: %w", err)
	}
	var labels []string
	if sc.Labels != "" {
		if labels, err = ReadLabels(fsys, sc.Labels); err != nil {
			return Sidecar{}, nil, fmt.Errorf("model: labels: %w", err)
		}
	}
	return sc, labels, nil
}

// New returns a classifier whose model e runs (package nnengine's in this process, or a wasi-nn
// graph's).
func New(e Engine, labels []string, sc Sidecar) (*Classifier, error) {
	if err := sc.validate(); err != nil {
		return nil, err
	}
	if e == nil {
		return nil, errors.New("model: no engine")
	}
	return &Classifier{Sidecar: sc, Labels: labels, engine: e}, nil
}

// Norm returns the preprocessing normalisation of the sidecar.
func (c *Classifier) Norm() imageproc.Norm {
	s := c.Sidecar
	if s.Scale != 0 {
		// x = p*scale + offset  ==  (p - (-offset/scale)) / (1/scale)
		var n imageproc.Norm
		for i := range n.Mean {
			n.Mean[i], n.Std[i] = -s.Offset/s.Scale, 1/s.Scale
		}
		return n
	}
	return imageproc.Norm{Mean: s.Mean, Std: s.Std}
}

// InputLen is the number of floats of the model input.
func (c *Classifier) InputLen() int { return 3 * c.Sidecar.Width * c.Sidecar.Height }

// ClassifyImage decodes and preprocesses an encoded image and classifies it.
func (c *Classifier) ClassifyImage(ctx context.Context, data []byte, top int) (*Result, error) {
	start := time.Now()
	img, err := imageproc.Decode(data)
	if err != nil {
		return nil, err
	}
	if c.input, err = imageproc.Input(c.input, img, c.Sidecar.Width, c.Sidecar.Height, c.Norm()); err != nil {
		return nil, err
	}
	pre := time.Since(start)
	res, err := c.ClassifyTensor(ctx, c.input, top)
	if err != nil {
		return nil, err
	}
	res.PreprocessMS = ms(pre)
	return res, nil
}

// ClassifyTensor classifies a preprocessed NCHW input.
func (c *Classifier) ClassifyTensor(ctx context.Context, x []float32, top int) (*Result, error) {
	if len(x) != c.InputLen() {
		return nil, fmt.Errorf("input has %d values, want %d", len(x), c.InputLen())
	}
	start := time.Now()
	out, err := c.engine.Infer(ctx, x)
	elapsed := time.Since(start)
	if err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, errors.New("model has no output")
	}
	var probs []float32
	if c.Sidecar.Softmax {
		probs = softmax(out)
	} else {
		probs = append([]float32(nil), out...) // out may be the engine's buffer
	}
	return &Result{Top: c.topK(probs, top), Probs: probs, InferenceMS: ms(elapsed)}, nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func (c *Classifier) topK(probs []float32, k int) []Prediction {
	if k <= 0 {
		k = 5
	}
	if k > len(probs) {
		k = len(probs)
	}
	idx := make([]int, len(probs))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return probs[idx[a]] > probs[idx[b]] })
	out := make([]Prediction, k)
	for i := 0; i < k; i++ {
		j := idx[i]
		label := fmt.Sprintf("class %d", j)
		if l := j + c.Sidecar.LabelOffset; l >= 0 && l < len(c.Labels) {
			label = c.Labels[l]
		}
		out[i] = Prediction{Index: j, Label: label, Confidence: float64(probs[j])}
	}
	return out
}

func softmax(x []float32) []float32 {
	mx := float32(math.Inf(-1))
	for _, v := range x {
		if v > mx {
			mx = v
		}
	}
	out := make([]float32, len(x))
	var sum float64
	for i, v := range x {
		e := detmath.Exp(float64(v - mx))
		out[i] = float32(e)
		sum += e
	}
	for i := range out {
		out[i] = float32(float64(out[i]) / sum)
	}
	return out
}
