// Package model finds a MobileNet-style classifier on disk (model directory resolution and the
// JSON sidecar that describes its input and output) and runs it on images: preprocessing, the
// model through an Engine, softmax when the model does not apply it, top-k with labels. It
// imports no inference engine: package nnengine runs the model with nn in this process, and a
// wasm action can hand it to the host through wasi-nn (actions/sdk/wasinn), without linking nn.
package model

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// EnvDir is the environment variable naming the model directory.
const EnvDir = "WASMWHISK_MODEL_DIR"

// SidecarFile is the optional description of the model in a model directory.
const SidecarFile = "model.json"

// Known model files, in order of preference, used when a directory has no sidecar.
var knownModels = []string{"mobilenetv2-1.0-224.onnx", "mobilenetv2-1.0-224-bn-gemm.onnx", "mobilenetv2-7.onnx"}

// Sidecar describes a classifier model: which file, its input and how to feed it, its labels.
type Sidecar struct {
	// Model is the ONNX file name, relative to the directory.
	Model string `json:"model"`
	// Input is the input's name; empty means the model's first input.
	Input string `json:"input,omitempty"`
	// Layout is the input layout; only "NCHW" is supported.
	Layout string `json:"layout"`
	// Width and Height are the input's spatial size.
	Width  int `json:"width"`
	Height int `json:"height"`
	// Mean and Std normalise each RGB channel value p in 0..255: x = (p - mean) / std.
	Mean [3]float64 `json:"mean"`
	Std  [3]float64 `json:"std"`
	// Scale and Offset are the alternative form x = p*scale + offset (used when Scale != 0).
	Scale  float64 `json:"scale,omitempty"`
	Offset float64 `json:"offset,omitempty"`
	// Labels is the label file (one per line), relative to the directory.
	Labels string `json:"labels"`
	// LabelOffset is added to an output index to find its line in Labels (1 for 1000-class
	// models used with a 1001-line file whose line 0 is "background").
	LabelOffset int `json:"label_offset"`
	// Softmax says whether the output is logits that still need a softmax.
	Softmax bool `json:"softmax"`
}

// DefaultSidecar returns the description of a known model file.
func DefaultSidecar(modelFile string) (Sidecar, bool) {
	switch filepath.Base(modelFile) {
	case "mobilenetv2-1.0-224.onnx", "mobilenetv2-1.0-224-bn-gemm.onnx":
		// The shared models: x = (p - 128) / 128, output already softmaxed, 1001 classes.
		return Sidecar{Model: filepath.Base(modelFile), Layout: "NCHW", Width: 224, Height: 224,
			Mean: [3]float64{128, 128, 128}, Std: [3]float64{128, 128, 128},
			Labels: "imagenet_labels.txt"}, true
	case "mobilenetv2-7.onnx":
		// The ONNX model zoo's: torchvision normalisation, 1000 logits.
		return Sidecar{Model: "mobilenetv2-7.onnx", Layout: "NCHW", Width: 224, Height: 224,
			Mean:   [3]float64{0.485 * 255, 0.456 * 255, 0.406 * 255},
			Std:    [3]float64{0.229 * 255, 0.224 * 255, 0.225 * 255},
			Labels: "imagenet_labels.txt", LabelOffset: 1, Softmax: true}, true
	}
	return Sidecar{}, false
}

// validate checks a sidecar's fields.
func (s *Sidecar) validate() error {
	if s.Model == "" {
		return errors.New("sidecar: model is required")
	}
	if s.Layout != "" && s.Layout != "NCHW" {
		return fmt.Errorf("sidecar: layout %q is not supported (NCHW only)", s.Layout)
	}
	if s.Width <= 0 || s.Height <= 0 || s.Width > 4096 || s.Height > 4096 {
		return fmt.Errorf("sidecar: bad input size %dx%d", s.Width, s.Height)
	}
	if s.Scale == 0 {
		for _, v := range s.Std {
			if v == 0 {
				return errors.New("sidecar: std must be non-zero (or give scale/offset)")
			}
		}
	}
	return nil
}

// ReadSidecar returns the sidecar of the model directory fsys: model.json if present, else the
// default for the first known model file found.
func ReadSidecar(fsys fs.FS) (Sidecar, error) {
	b, err := fs.ReadFile(fsys, SidecarFile)
	if err == nil {
		var s Sidecar
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&s); err != nil {
			return Sidecar{}, fmt.Errorf("%s: %w", SidecarFile, err)
		}
		return s, s.validate()
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return Sidecar{}, err
	}
	for _, name := range knownModels {
		if _, err := fs.Stat(fsys, name); err == nil {
			s, _ := DefaultSidecar(name)
			return s, nil
		}
	}
	return Sidecar{}, fmt.Errorf("no %s and none of %v", SidecarFile, knownModels)
}

// ReadLabels reads a label file: one label per line.
func ReadLabels(fsys fs.FS, name string) ([]string, error) {
	b, err := fs.ReadFile(fsys, name)
	if err != nil {
		return nil, err
	}
	var labels []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		labels = append(labels, strings.TrimRight(sc.Text(), "\r"))
	}
	return labels, sc.Err()
}

// ModuleRoot returns the directory holding go.mod at or above dir, or "".
func ModuleRoot(dir string) string {
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

// Resolve returns the model directory: dir if not empty, else $WASMWHISK_MODEL_DIR, else
// ./models, else models/ and ../shared/models/ next to the module root found above the working
// directory. A directory counts when it holds a sidecar or a known model file.
func Resolve(dir string) (string, error) {
	if dir != "" {
		if !isModelDir(dir) {
			return "", fmt.Errorf("model directory %s has no %s and none of %v", dir, SidecarFile, knownModels)
		}
		return dir, nil
	}
	if env := os.Getenv(EnvDir); env != "" {
		if !isModelDir(env) {
			return "", fmt.Errorf("%s=%s has no %s and none of %v", EnvDir, env, SidecarFile, knownModels)
		}
		return env, nil
	}
	candidates := []string{"models"}
	if wd, err := os.Getwd(); err == nil {
		if root := ModuleRoot(wd); root != "" {
			candidates = append(candidates, filepath.Join(root, "models"), filepath.Join(root, "..", "shared", "models"))
		}
	}
	for _, c := range candidates {
		if isModelDir(c) {
			return filepath.Clean(c), nil
		}
	}
	return "", fmt.Errorf("no model found (tried -model, $%s, %v); run `make model` to download one", EnvDir, candidates)
}

func isModelDir(dir string) bool {
	if _, err := os.Stat(filepath.Join(dir, SidecarFile)); err == nil {
		return true
	}
	for _, name := range knownModels {
		if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
			return true
		}
	}
	return false
}
