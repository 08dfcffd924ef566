// Command stages is a benchmark action: it times each stage of the MobileNet action's
// preprocessing (base64, image decode, RGB, resize, normalise) on the image it is given, inside
// whatever build it is (native actionloop or wasm), and returns the median and minimum of each. The harness
// (stages_test.go) runs it natively and under wasmtime in one run and prints the ratios; it also
// times, from the outside, what the SDK's JSON costs for a large "image" parameter.
//
// Input {"image": "<base64>", "runs": N}; with runs 0 it returns at once (the JSON-only probe).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/wasmwhisk/wasmwhisk/actions/sdk"
	"github.com/wasmwhisk/wasmwhisk/internal/stats"
	"github.com/wasmwhisk/wasmwhisk/nn/imageproc"
)

func init() { sdk.Handle(stages) }

func main() { sdk.Serve() }

// norm is the shared MobileNet's: x = (p - 128) / 128.
var norm = imageproc.Norm{Mean: [3]float64{128, 128, 128}, Std: [3]float64{128, 128, 128}}

func stages(ctx context.Context, params map[string]any) (any, error) {
	runs := 0
	if v, ok := params["runs"].(json.Number); ok {
		n, err := v.Int64()
		if err != nil || n < 0 || n > 1000 {
			return nil, fmt.Errorf("runs must be an integer between 0 and 1000")
		}
		runs = int(n)
	}
	if runs == 0 {
		return map[string]any{}, nil
	}
	s, ok := params["image"].(string)
	if !ok {
		return nil, errors.New("image must be a base64 string")
	}
	times := map[string][]float64{}
	timed := func(name string, f func() error) error {
		start := time.Now()
		err := f()
		times[name] = append(times[name], float64(time.Since(start).Nanoseconds())/1e6)
		return err
	}
	for i := 0; i < runs; i++ {
		var data []byte
		if err := timed("base64", func() (err error) { data, err = imageproc.DecodeBase64(s, 16<<20); return }); err != nil {
			return nil, err
		}
		if err := stagesOf(data, timed); err != nil {
			return nil, err
		}
		if err := timed("preprocess", func() error { _, err := imageproc.Preprocess(data, 224, 224, norm); return err }); err != nil {
			return nil, err
		}
	}
	med, least := map[string]float64{}, map[string]float64{}
	for k, v := range times {
		med[k], least[k] = stats.Median(v), slices.Min(v)
	}
	return map[string]any{"median_ms": med, "min_ms": least, "runs": runs}, nil
}
