package nnengine

import (
	"context"
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/wasmwhisk/wasmwhisk/internal/stats"
	"github.com/wasmwhisk/wasmwhisk/nn"
)

// BenchmarkInference times one 224×224 inference of the shared model, single-threaded, and
// reports the median of the iterations after warm-up (median-ms) besides Go's mean.
func BenchmarkInference(b *testing.B) {
	dir := sharedDir(b)
	c, err := Open(dir)
	if err != nil {
		b.Fatal(err)
	}
	x := readF32Bench(b, filepath.Join(dir, "parrot.input.f32"))
	for i := 0; i < 3; i++ { // warm-up
		if _, err := c.ClassifyTensor(context.Background(), x, 5); err != nil {
			b.Fatal(err)
		}
	}
	times := make([]float64, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s := time.Now()
		if _, err := c.ClassifyTensor(context.Background(), x, 5); err != nil {
			b.Fatal(err)
		}
		times = append(times, float64(time.Since(s).Microseconds())/1000)
	}
	b.ReportMetric(stats.Median(times), "median-ms")
	b.ReportMetric(boolMetric(nn.Accelerated), "asm")
}

// BenchmarkLoad times decoding and compiling the shared model.
func BenchmarkLoad(b *testing.B) {
	dir := sharedDir(b)
	for i := 0; i < b.N; i++ {
		if _, err := Open(dir); err != nil {
			b.Fatal(err)
		}
	}
}

func boolMetric(v bool) float64 {
	if v {
		return 1
	}
	return 0
}

func readF32Bench(b *testing.B, path string) []float32 {
	data, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	x := make([]float32, len(data)/4)
	for i := range x {
		x[i] = math.Float32frombits(binary.LittleEndian.Uint32(data[4*i:]))
	}
	return x
}
