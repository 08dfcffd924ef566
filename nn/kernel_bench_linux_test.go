package nn_test

import (
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/wasmwhisk/wasmwhisk/internal/stats"
	"github.com/wasmwhisk/wasmwhisk/nn"
)

// threadCPU returns the CPU time consumed by the calling OS thread (CLOCK_THREAD_CPUTIME_ID).
func threadCPU() time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
		return 0
	}
	return time.Duration(ts.Nano())
}

// BenchmarkMobileNetCPU times one 224×224 MobileNetV2 inference through nn directly and reports
// the median and minimum of wall time (median-ms, min-ms) and the median of the thread's CPU time
// (median-cpu-ms). On a
// shared machine the CPU time is the steadier figure: it leaves out time spent waiting for a
// core. The model comes from $WASMWHISK_MODEL_DIR or ../../shared/models.
func BenchmarkMobileNetCPU(b *testing.B) {
	dir := os.Getenv("WASMWHISK_MODEL_DIR")
	if dir == "" {
		dir = filepath.Join("..", "..", "shared", "models")
	}
	m, err := nn.LoadFile(filepath.Join(dir, "mobilenetv2-1.0-224.onnx"))
	if err != nil {
		if os.Getenv("CI") == "true" {
			b.Fatal(err)
		}
		b.Skip(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, "parrot.input.f32"))
	if err != nil {
		b.Fatal(err)
	}
	x := make([]float32, len(data)/4)
	for i := range x {
		x[i] = math.Float32frombits(binary.LittleEndian.Uint32(data[4*i:]))
	}
	in := &nn.Tensor{Shape: []int{1, 3, 224, 224}, Data: x}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	for i := 0; i < 3; i++ {
		if _, err := m.Run(in); err != nil {
			b.Fatal(err)
		}
	}
	wall := make([]float64, 0, b.N)
	cpu := make([]float64, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0, c0 := time.Now(), threadCPU()
		if _, err := m.Run(in); err != nil {
			b.Fatal(err)
		}
		cpu = append(cpu, float64(threadCPU()-c0)/1e6)
		wall = append(wall, float64(time.Since(t0))/1e6)
	}
	b.ReportMetric(stats.Median(wall), "median-ms")
	b.ReportMetric(slices.Min(wall), "min-ms")
	b.ReportMetric(stats.Median(cpu), "median-cpu-ms")
}
