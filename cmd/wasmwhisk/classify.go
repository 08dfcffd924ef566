package main

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/wasmwhisk/wasmwhisk/nn/model"
	"github.com/wasmwhisk/wasmwhisk/nn/model/nnengine"
	"github.com/wasmwhisk/wasmwhisk/runtime"
	"github.com/wasmwhisk/wasmwhisk/runtime/wasm"
)

// classifyLine is one output line of `wasmwhisk classify`.
type classifyLine struct {
	File string             `json:"file"`
	Top  []model.Prediction `json:"top,omitempty"`
	MS   float64            `json:"ms"`
	// InferenceMS is the model's own time, without reading, decoding and resizing the image.
	InferenceMS float64 `json:"inference_ms,omitempty"`
	// Backend says where the model ran: "nn" (this process, or the wasm guest itself) or
	// "wasi-nn" (the wasm runtime's host, for the guest).
	Backend string `json:"backend,omitempty"`
	Error   string `json:"error,omitempty"`
}

// The MobileNet wasm builds `make mobilenet` writes (reactors: one instance kept across images).
const (
	wasinnModule  = "build/actions/mobilenet.reactor.wasm"
	inguestModule = "build/actions/mobilenet-inguest.reactor.wasm"
)

// classifyCmd is `wasmwhisk classify [-wasm [-inguest]] [-model DIR] [-top N] FILE...`: it
// classifies images (or raw .f32 NCHW tensors) with the native engine, or with a wasm build of
// the MobileNet action under the project's wasmtime runtime (by default the wasi-nn build, whose
// inference the runtime's host runs; with -inguest the build that runs the model inside the
// guest), printing one JSON object per file.
func classifyCmd(args []string) error {
	fset := flag.NewFlagSet("classify", flag.ContinueOnError)
	useWasm := fset.Bool("wasm", false, "run a wasm build of actions/mobilenet under wasmtime instead of the native engine (the wasi-nn build: inference by the host)")
	inguest := fset.Bool("inguest", false, "with -wasm (implied), run the build that computes the model inside the guest (-tags nn_inguest)")
	dirFlag := fset.String("model", "", "model directory (default: $"+model.EnvDir+", ./models, ../shared/models)")
	top := fset.Int("top", 5, "number of classes to print")
	module := fset.String("action", "", "the wasm action module (default "+wasinnModule+", with -inguest "+inguestModule+")")
	if err := fset.Parse(args); err != nil {
		return err
	}
	if fset.NArg() == 0 {
		return errors.New("classify: no files (usage: wasmwhisk classify [-wasm [-inguest]] [-model DIR] [-top N] FILE...)")
	}
	*useWasm = *useWasm || *inguest || *module != ""
	if *module == "" {
		*module = wasinnModule
		if *inguest {
			*module = inguestModule
		}
	}
	if *top < 1 || *top > 1000 {
		return fmt.Errorf("classify: -top must be between 1 and 1000")
	}
	dir, err := model.Resolve(*dirFlag)
	if err != nil {
		return fmt.Errorf("classify: %w", err)
	}
	ctx := context.Background()
	var classify func(file string, data []byte) (actionResult, error)
	if *useWasm {
		run, closeFn, err := wasmClassifier(*module, dir)
		if err != nil {
			return fmt.Errorf("classify: %w", err)
		}
		defer closeFn()
		classify = func(file string, data []byte) (actionResult, error) {
			if strings.HasSuffix(file, ".f32") {
				return actionResult{}, errors.New("raw .f32 tensors are not supported with -wasm (the action takes images)")
			}
			return run(data, *top)
		}
	} else {
		c, err := nnengine.Open(dir)
		if err != nil {
			return fmt.Errorf("classify: %w", err)
		}
		classify = func(file string, data []byte) (actionResult, error) {
			var res *model.Result
			var err error
			if strings.HasSuffix(file, ".f32") {
				if len(data)%4 != 0 {
					return actionResult{}, errors.New("a .f32 file must hold float32 values")
				}
				x := make([]float32, len(data)/4)
				for i := range x {
					x[i] = math.Float32frombits(binary.LittleEndian.Uint32(data[4*i:]))
				}
				res, err = c.ClassifyTensor(ctx, x, *top)
			} else {
				res, err = c.ClassifyImage(ctx, data, *top)
			}
			if err != nil {
				return actionResult{}, err
			}
			return actionResult{Top: res.Top, InferenceMS: res.InferenceMS, Backend: "nn"}, nil
		}
	}
	enc := json.NewEncoder(os.Stdout)
	failed := 0
	for _, file := range fset.Args() {
		line := classifyLine{File: file}
		start := time.Now()
		data, err := os.ReadFile(file)
		if err == nil {
			var res actionResult
			res, err = classify(file, data)
			line.Top, line.InferenceMS, line.Backend = res.Top, res.InferenceMS, res.Backend
		}
		line.MS = float64(time.Since(start).Microseconds()) / 1000
		if err != nil {
			line.Error = err.Error()
			failed++
		}
		if err := enc.Encode(line); err != nil {
			return err
		}
	}
	if failed > 0 {
		return fmt.Errorf("classify: %d of %d files failed", failed, fset.NArg())
	}
	return nil
}

// actionResult is what classify reads from the MobileNet action's result.
type actionResult struct {
	Top         []model.Prediction `json:"top"`
	InferenceMS float64            `json:"inference_ms"`
	Backend     string             `json:"backend"`
	Error       string             `json:"error"`
}

// wasmClassifier deploys the wasm action with the model directory's files in its archive and
// returns a function that classifies one image through it.
func wasmClassifier(modulePath, dir string) (func([]byte, int) (actionResult, error), func(), error) {
	mod, err := os.ReadFile(modulePath)
	if err != nil {
		return nil, nil, fmt.Errorf("%w (build it with `make mobilenet`)", err)
	}
	sc, err := model.ReadSidecar(os.DirFS(dir))
	if err != nil {
		return nil, nil, err
	}
	side, err := json.Marshal(sc)
	if err != nil {
		return nil, nil, err
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	files := map[string][]byte{"main.wasm": mod, model.SidecarFile: side}
	for _, f := range []string{sc.Model, sc.Labels} {
		if f == "" {
			continue
		}
		b, err := fs.ReadFile(os.DirFS(dir), f)
		if err != nil {
			return nil, nil, err
		}
		files[filepath.Base(f)] = b
	}
	for name, b := range files {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Store})
		if err != nil {
			return nil, nil, err
		}
		if _, err := w.Write(b); err != nil {
			return nil, nil, err
		}
	}
	if err := zw.Close(); err != nil {
		return nil, nil, err
	}
	eng, err := wasm.NewEngine(wasm.EngineConfig{})
	if err != nil {
		return nil, nil, err
	}
	x := eng.NewExecutor(wasm.Config{})
	closeFn := func() { x.Close(); eng.Close() }
	if err := x.Init(context.Background(), runtime.InitRequest{Name: "mobilenet", Main: "main", Code: buf.Bytes()}); err != nil {
		closeFn()
		return nil, nil, err
	}
	run := func(img []byte, top int) (actionResult, error) {
		value, _ := json.Marshal(map[string]any{"image": base64.StdEncoding.EncodeToString(img), "top": top})
		line, _ := json.Marshal(map[string]json.RawMessage{"value": value})
		var stdout, stderr bytes.Buffer
		res, err := x.Run(context.Background(), runtime.RunRequest{Value: value, Context: map[string]string{},
			Env: map[string]string{}, Line: line, Stdout: &stdout, Stderr: &stderr})
		if err != nil {
			return actionResult{}, fmt.Errorf("%w (action log: %s)", err, strings.TrimSpace(stderr.String()))
		}
		var out actionResult
		if err := json.Unmarshal(res, &out); err != nil {
			return actionResult{}, fmt.Errorf("action result %s: %w", res, err)
		}
		if out.Error != "" {
			return actionResult{}, errors.New(out.Error)
		}
		return out, nil
	}
	return run, closeFn, nil
}
