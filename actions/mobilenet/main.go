// Command mobilenet is the MobileNet image classification action: one source built natively (an
// actionloop executable) and for wasip1 (command and reactor modules).
//
// Input {"image": "<base64 JPEG/PNG/BMP>", "top": 5}; without "image" it classifies a bundled
// sample (Grace Hopper, public domain). Output {"label", "confidence", "top": [{"label", "index",
// "confidence"}], "inference_ms"}. Bad input gives {"error": "..."}.
//
// The model comes from, in order: the files embedded at build time (build tag embedmodel, see
// embed_on.go), the action's archive (the /action directory a wasm module sees, or the
// executable's directory natively), then $WASMWHISK_MODEL_DIR and the usual model directories
// (nn/model.Resolve). It is loaded on the first activation and kept for the warm ones.
package main

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"time"

	"github.com/wasmwhisk/wasmwhisk/actions/sdk"
	"github.com/wasmwhisk/wasmwhisk/nn/imageproc"
	"github.com/wasmwhisk/wasmwhisk/nn/model"
)

// sample is Grace Hopper's portrait (US Navy, public domain), resized to 224×224; see SAMPLE.md.
//
//go:embed sample.png
var sample []byte

// maxImageBytes bounds the decoded image parameter.
const maxImageBytes = 16 << 20

// The model is loaded when the action loads: at /init for the native loop and the wasm reactor
// (so its cost is part of initTime, as for any action that prepares itself at start), and at
// every activation under the wasm command ABI, where every activation is a fresh instance. A
// failure is kept and reported by each activation.
func init() {
	sdk.Handle(classify)
	loadClassifier()
}

func main() { sdk.Serve() }

// Classifier state survives between warm activations (native loop, wasm reactor).
var (
	classifier *model.Classifier
	loadErr    error
	loadMS     float64
)

func loadClassifier() (*model.Classifier, error) {
	if classifier != nil || loadErr != nil {
		return classifier, loadErr
	}
	start := time.Now()
	classifier, loadErr = openModel()
	loadMS = float64(time.Since(start).Microseconds()) / 1000
	return classifier, loadErr
}

func openModel() (*model.Classifier, error) {
	if fsys := embeddedModel(); fsys != nil {
		return model.OpenFS(fsys)
	}
	var dirs []string
	if d := os.Getenv("__OW_ACTION_DIR"); d != "" {
		dirs = append(dirs, d)
	}
	dirs = append(dirs, "/action")
	if exe, err := os.Executable(); err == nil {
		dirs = append(dirs, filepath.Dir(exe))
	}
	for _, d := range dirs {
		// A directory with a sidecar, or with one of the known model files.
		if _, err := model.ReadSidecar(os.DirFS(d)); err == nil {
			return model.Open(d)
		}
	}
	dir, err := model.Resolve("")
	if err != nil {
		return nil, fmt.Errorf("no model: not embedded, no %s or known model file in the action's files, and %v", model.SidecarFile, err)
	}
	return model.Open(dir)
}

type prediction struct {
	Label      string  `json:"label"`
	Index      int     `json:"index"`
	Confidence float64 `json:"confidence"`
}

type result struct {
	Label       string       `json:"label"`
	Confidence  float64      `json:"confidence"`
	Top         []prediction `json:"top"`
	InferenceMS float64      `json:"inference_ms"`
	LoadMS      float64      `json:"load_ms"`
}

func classify(ctx context.Context, params map[string]any) (any, error) {
	top := 5
	if v, ok := params["top"]; ok {
		n, ok := v.(json.Number)
		f, err := n.Float64()
		if !ok || err != nil || f != math.Trunc(f) || f < 1 || f > 1000 {
			return nil, fmt.Errorf("top must be an integer between 1 and 1000, got %v", v)
		}
		top = int(f)
	}
	img := sample
	if v, ok := params["image"]; ok {
		s, ok := v.(string)
		if !ok {
			return nil, errors.New("image must be a base64 string")
		}
		var err error
		if img, err = imageproc.DecodeBase64(s, maxImageBytes); err != nil {
			return nil, err
		}
	}
	c, err := loadClassifier()
	if err != nil {
		return nil, err
	}
	res, err := c.ClassifyImage(img, top)
	if err != nil {
		return nil, fmt.Errorf("image: %w", err)
	}
	out := result{Label: res.Top[0].Label, Confidence: res.Top[0].Confidence, InferenceMS: res.InferenceMS, LoadMS: loadMS}
	for _, p := range res.Top {
		out.Top = append(out.Top, prediction{Label: p.Label, Index: p.Index, Confidence: p.Confidence})
	}
	return out, nil
}
