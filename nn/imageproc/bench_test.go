package imageproc

import (
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// BenchmarkInput times resize + normalise of decoded fixtures, fast path against the reference.
//
//	go test -run '^$' -bench Input ./nn/imageproc
func BenchmarkInput(b *testing.B) {
	dir := fixtureDir(&testing.T{})
	if dir == "" {
		b.Skip("no fixtures")
	}
	for _, name := range []string{"parrot.jpg", "grace_hopper.bmp"} {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			b.Fatal(err)
		}
		img, err := Decode(data)
		if err != nil {
			b.Fatal(err)
		}
		var dst []float32
		b.Run(name+"/fast", func(b *testing.B) { minTime(b, func() { dst, _ = Input(dst, img, 224, 224, fixtureNorm) }) })
		b.Run(name+"/reference", func(b *testing.B) { minTime(b, func() { refPreprocess(img, 224, 224, fixtureNorm) }) })
		b.Run(name+"/decode", func(b *testing.B) { minTime(b, func() { Decode(data) }) })
	}
}

// minTime runs f b.N times and reports the fastest run (min-ms), the steadiest figure on a shared
// machine.
func minTime(b *testing.B, f func()) {
	best := math.Inf(1)
	for i := 0; i < b.N; i++ {
		start := time.Now()
		f()
		best = min(best, float64(time.Since(start).Nanoseconds())/1e6)
	}
	b.ReportMetric(best, "min-ms")
}
