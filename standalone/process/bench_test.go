package process

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/wasmwhisk/wasmwhisk/internal/stats"
	"github.com/wasmwhisk/wasmwhisk/internal/testbuild"
)

// BenchmarkColdContainer measures what isolation costs a cold start: Create, /init, one /run and
// Destroy of the native hello action, alternately on a backend with its defaults (a user of its
// own per container when root, cgroups, ledger) and on one with none of it (NoUserSwitch,
// NoCgroups, no ledger), in the same run. It reports the median of each and the median of the
// per-pair ratios (each isolated cycle against the plain one right after it, so that the
// machine's load drifting during the run cancels out).
func BenchmarkColdContainer(b *testing.B) {
	hello, err := os.ReadFile(testbuild.MustBuild(b, testbuild.Target{Pkg: "./actions/hello"}))
	if err != nil {
		b.Fatal(err)
	}
	isolated, _ := benchBackend(b, nil)
	plain, _ := benchBackend(b, func(c *Config) { c.NoUserSwitch, c.NoCgroups, c.StateDir = true, true, "" })
	b.Logf("isolated: users %v, memory cgroup %v, cgroup v2 %v", isolated.users.enabled, isolated.MemoryLimited(), isolated.roots.Unified != "")
	cycle := func(be *Backend) time.Duration {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		start := time.Now()
		c, err := be.Create(ctx, nativeSpec("bench"))
		if err != nil {
			b.Fatal(err)
		}
		if status, body, err := c.Init(ctx, initBody(hello)); err != nil || status != 200 {
			b.Fatalf("init: %d %s %v", status, body, err)
		}
		if status, body, err := c.Run(ctx, runBody(map[string]any{"name": "bench"})); err != nil || status != 200 {
			b.Fatalf("run: %d %s %v", status, body, err)
		}
		if err := c.Destroy(ctx); err != nil {
			b.Fatal(err)
		}
		return time.Since(start)
	}
	cycle(isolated)
	cycle(plain)
	var on, off, ratios []float64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		x, y := cycle(isolated), cycle(plain)
		on = append(on, float64(x)/float64(time.Millisecond))
		off = append(off, float64(y)/float64(time.Millisecond))
		ratios = append(ratios, float64(x)/float64(y))
	}
	b.StopTimer()
	b.ReportMetric(stats.Median(on), "isolated-ms")
	b.ReportMetric(stats.Median(off), "plain-ms")
	b.ReportMetric(stats.Median(ratios), "ratio")
}

// benchBackend is testBackend for benchmarks.
func benchBackend(b *testing.B, mutate func(*Config)) (*Backend, Config) {
	b.Helper()
	tmp, err := os.MkdirTemp("", "wasmwhisk-processbench-")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { os.RemoveAll(tmp) })
	os.Chmod(tmp, 0o711)
	cfg := Config{
		ProxyBinary: testbuild.MustBuild(b, testbuild.Target{Pkg: "./cmd/actionproxy", CGO: true}),
		Instance:    "bench" + time.Now().Format("150405.000000"),
		StateDir:    tmp + "/state",
		WorkDir:     tmp + "/work",
	}
	if mutate != nil {
		mutate(&cfg)
	}
	be, err := New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { be.Close() })
	return be, be.cfg
}
