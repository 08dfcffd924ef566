// Command mobilenet is the MobileNet image classification action: one source built natively (an
// actionloop executable) and for wasip1 (command and reactor modules), in three ways that differ
// only in where the model runs (actions/sdk/wasinn):
//
//	go build ./actions/mobilenet                                       native, nn in-process
//	GOOS=wasip1 GOARCH=wasm go build ./actions/mobilenet               wasm, inference by the host (wasi-nn)
//	GOOS=wasip1 GOARCH=wasm go build -tags nn_inguest ./actions/mobilenet  wasm, inference in the guest
//
// (add -buildmode=c-shared for a wasm reactor). Preprocessing, softmax and top-k are the same
// code in all three (nn/model, nn/imageproc).
//
// Input {"image": "<base64 JPEG/PNG/BMP>", "top": 5}; without "image" it classifies a bundled
// sample (Grace Hopper, public domain). Output {"label", "confidence", "top": [{"label", "index",
// "confidence"}], "inference_ms", "preprocess_ms", "load_ms", "backend"}: inference_ms is the
// model's own time (set input, compute, get output), preprocess_ms decoding and preprocessing
// the image, load_ms loading the model when the action loaded, backend "wasi-nn" or "nn". Bad
// input gives {"error": "..."}.
//
// The model's description (model.json, or the defaults of a known model file) and labels come
// from, in order: the files embedded at build time (build tag embedmodel, see embed_on.go), the
// action's archive (the /action directory a wasm module sees, or the executable's directory
// natively), then $WASMWHISK_MODEL_DIR and the usual model directories (nn/model.Resolve). The
// model itself is the graph registered under its file name without ".onnx" (wasinn.LoadByName:
// with wasi-nn the host compiled it at /init and shares it), else the file's bytes
// (wasinn.Load). It is loaded when the action loads and kept for the warm activations.
package main

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/wasmwhisk/wasmwhisk/actions/sdk"
	"github.com/wasmwhisk/wasmwhisk/actions/sdk/wasinn"
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
	fsys, err := modelFiles()
	if err != nil {
		return nil, err
	}
	sc, labels, err := model.Files(fsys)
	if err != nil {
		return nil, err
	}
	g, err := wasinn.LoadByName(strings.TrimSuffix(path.Base(sc.Model), ".onnx"))
	if errors.Is(err, wasinn.NotFound) {
		// Not registered by name (an embedded model, or a directory the platform does not know):
		// hand over the bytes.
		data, rerr := fs.ReadFile(fsys, sc.Model)
		if rerr != nil {
			return nil, fmt.Errorf("model: %w (and %v)", rerr, err)
		}
		g, err = wasinn.Load([][]byte{data}, wasinn.ONNX, wasinn.CPU)
	}
	if err != nil {
		return nil, fmt.Errorf("model %s: %w", sc.Model, err)
	}
	e, err := newGraphEngine(g, sc)
	if err != nil {
		return nil, fmt.Errorf("model %s: %w", sc.Model, err)
	}
	return model.New(e, labels, sc)
}

// modelFiles returns the directory holding the model's description and labels.
func modelFiles() (fs.FS, error) {
	if fsys := embeddedModel(); fsys != nil {
		return fsys, nil
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
			return os.DirFS(d), nil
		}
	}
	dir, err := model.Resolve("")
	if err != nil {
		return nil, fmt.Errorf("no model: not embedded, no %s or known model file in the action's files, and %v", model.SidecarFile, err)
	}
	return os.DirFS(dir), nil
}

type prediction struct {
	Label      string  `json:"label"`
	Index      int     `json:"index"`
	Confidence float64 `json:"confidence"`
}

type result struct {
	Label        string       `json:"label"`
	Confidence   float64      `json:"confidence"`
	Top          []prediction `json:"top"`
	InferenceMS  float64      `json:"inference_ms"`
	PreprocessMS float64      `json:"preprocess_ms"`
	LoadMS       float64      `json:"load_ms"`
	Backend      string       `json:"backend"`
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
	res, err := c.ClassifyImage(ctx, img, top)
	if err != nil {
		return nil, fmt.Errorf("image: %w", err)
	}
	out := result{Label: res.Top[0].Label, Confidence: res.Top[0].Confidence, InferenceMS: res.InferenceMS,
		PreprocessMS: res.PreprocessMS, LoadMS: loadMS, Backend: wasinn.Backend}
	for _, p := range res.Top {
		out.Top = append(out.Top, prediction{Label: p.Label, Index: p.Index, Confidence: p.Confidence})
	}
	return out, nil
}
