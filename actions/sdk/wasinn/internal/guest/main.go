// Command guest exercises every call of package wasinn and reports what it got, so that one test
// (wasinn's guest_test.go) can run the same source natively, as wasm with wasi-nn and as wasm
// with -tags nn_inguest and require the same answers: every error code, and the shared model's
// output on the fixture inputs.
//
// Input {"model": "<name>", "inputs": ["parrot", ...]}: the model is loaded by name and from
// its file's bytes (<name>.onnx in the action's directory); each <input>.input.f32 there is run
// through two execution contexts of one graph, interleaved. The result is {"backend", "codes":
// {check: errno name or "ok"}, "outputs": {input: [1001 probabilities]}, "mismatch": ...}.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/wasmwhisk/wasmwhisk/actions/sdk"
	"github.com/wasmwhisk/wasmwhisk/actions/sdk/wasinn"
)

func init() { sdk.Handle(run) }

func main() { sdk.Serve() }

// actionDir is where the action's files are: /action in wasm, the executable's directory natively.
func actionDir() string {
	if d := os.Getenv("__OW_ACTION_DIR"); d != "" {
		return d
	}
	if exe, err := os.Executable(); err == nil {
		if _, err := os.Stat(filepath.Join(filepath.Dir(exe), "exec")); err == nil {
			return filepath.Dir(exe)
		}
	}
	return "/action"
}

// code names what err wraps: "ok", a wasi-nn errno's name, or "other: ...".
func code(err error) string {
	var e wasinn.Errno
	switch {
	case err == nil:
		return "ok"
	case errors.As(err, &e):
		return e.Error()[len("wasi-nn error "):]
	}
	return "other: " + err.Error()
}

func run(ctx context.Context, p map[string]any) (any, error) {
	name, _ := p["model"].(string)
	var inputs []string
	if in, ok := p["inputs"].([]any); ok {
		for _, v := range in {
			s, _ := v.(string)
			inputs = append(inputs, s)
		}
	}
	dir := actionDir()
	codes := map[string]string{}
	check := func(what string, err error) { codes[what] = code(err) }

	g, err := wasinn.LoadByName(name)
	check("load_by_name", err)
	if err != nil {
		return map[string]any{"backend": wasinn.Backend, "codes": codes}, nil
	}
	g2, err := wasinn.LoadByName(name)
	check("load_by_name again", err)
	modelBytes, err := os.ReadFile(filepath.Join(dir, name+".onnx"))
	if err != nil {
		return nil, err
	}
	gb, err := wasinn.Load([][]byte{modelBytes}, wasinn.ONNX, wasinn.CPU)
	check("load onnx bytes", err)
	_, err = wasinn.Load([][]byte{modelBytes}, wasinn.Autodetect, wasinn.GPU)
	check("load autodetect on gpu", err)

	_, err = wasinn.LoadByName("no-such-model")
	check("load_by_name unknown", err)
	_, err = wasinn.LoadByName("")
	check("load_by_name empty", err)
	_, err = wasinn.Load([][]byte{modelBytes}, wasinn.TensorFlow, wasinn.CPU)
	check("load tensorflow", err)
	_, err = wasinn.Load([][]byte{modelBytes}, wasinn.OpenVINO, wasinn.CPU)
	check("load openvino", err)
	_, err = wasinn.Load([][]byte{modelBytes}, wasinn.ONNX, wasinn.TPU+1)
	check("load bad target", err)
	_, err = wasinn.Load(nil, wasinn.ONNX, wasinn.CPU)
	check("load no builder", err)
	_, err = wasinn.Load([][]byte{modelBytes, modelBytes}, wasinn.ONNX, wasinn.CPU)
	check("load two builders", err)
	_, err = wasinn.Load([][]byte{[]byte("not a model")}, wasinn.ONNX, wasinn.CPU)
	check("load garbage", err)
	_, err = wasinn.Load([][]byte{modelBytes[:len(modelBytes)/2]}, wasinn.ONNX, wasinn.CPU)
	check("load truncated", err)

	a, err := g.NewExecutionContext()
	check("init_execution_context", err)
	if err != nil {
		return map[string]any{"backend": wasinn.Backend, "codes": codes}, nil
	}
	b, err := g2.NewExecutionContext()
	check("init_execution_context of the same graph", err)
	c, err := gb.NewExecutionContext()
	check("init_execution_context of the bytes' graph", err)

	dims := []uint32{1, 3, 224, 224}
	zeros := make([]float32, 3*224*224)
	out := make([]float32, 1001)
	check("compute before set_input", c.Compute(ctx))
	_, err = c.GetOutputF32(0, out)
	check("get_output before compute", err)
	check("set_input index 1", a.SetInput(1, wasinn.TensorF32(dims, zeros)))
	check("set_input u8", a.SetInput(0, wasinn.Tensor{Dims: dims, Type: wasinn.U8, Data: make([]byte, 3*224*224)}))
	check("set_input f64", a.SetInput(0, wasinn.Tensor{Dims: dims, Type: wasinn.F64, Data: make([]byte, 8*3*224*224)}))
	check("set_input wrong dims", a.SetInput(0, wasinn.TensorF32([]uint32{1, 3, 224, 225}, zeros)))
	check("set_input wrong rank", a.SetInput(0, wasinn.TensorF32([]uint32{3, 224, 224}, zeros)))
	check("set_input no dims", a.SetInput(0, wasinn.TensorF32(nil, zeros)))
	check("set_input short data", a.SetInput(0, wasinn.TensorF32(dims, zeros[1:])))
	check("set_input no data", a.SetInput(0, wasinn.Tensor{Dims: dims, Type: wasinn.F32}))
	check("set_input zeros", c.SetInput(0, wasinn.TensorF32(dims, zeros)))
	check("compute zeros", c.Compute(ctx))
	_, err = c.GetOutputF32(1, out)
	check("get_output index 1", err)
	small := make([]byte, 4*1000)
	for i := range small {
		small[i] = 0xa5
	}
	_, err = c.GetOutput(0, small)
	check("get_output buffer too small", err)
	untouched := true
	for _, v := range small {
		untouched = untouched && v == 0xa5
	}
	codes["get_output buffer too small wrote nothing"] = fmt.Sprint(untouched)
	_, err = c.GetOutput(0, nil)
	check("get_output no buffer", err)
	n, err := c.GetOutputF32(0, out)
	check("get_output", err)
	codes["get_output values"] = fmt.Sprint(n)

	// The fixtures through contexts a and b, interleaved: set both, then compute and read each,
	// so that a context's input must be its own.
	outputs := map[string][]float32{}
	for i := 0; i < len(inputs); i += 2 {
		pair := inputs[i:min(i+2, len(inputs))]
		ecs := []*wasinn.ExecutionContext{a, b}
		for k, in := range pair {
			x, err := os.ReadFile(filepath.Join(dir, in+".input.f32"))
			if err != nil {
				return nil, err
			}
			if err := ecs[k].SetInput(0, wasinn.Tensor{Dims: dims, Type: wasinn.F32, Data: x}); err != nil {
				return nil, fmt.Errorf("%s: %w", in, err)
			}
		}
		for k := len(pair) - 1; k >= 0; k-- {
			if err := ecs[k].Compute(ctx); err != nil {
				return nil, fmt.Errorf("%s: %w", pair[k], err)
			}
			probs := make([]float32, 1001)
			if _, err := ecs[k].GetOutputF32(0, probs); err != nil {
				return nil, fmt.Errorf("%s: %w", pair[k], err)
			}
			outputs[pair[k]] = probs
		}
	}
	return map[string]any{"backend": wasinn.Backend, "codes": codes, "outputs": outputs}, nil
}
