package docker

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"testing"
	"time"

	"github.com/wasmwhisk/wasmwhisk/internal/stats"
	"github.com/wasmwhisk/wasmwhisk/internal/testbuild"
	"github.com/wasmwhisk/wasmwhisk/standalone"
)

// requireImageB skips a benchmark when `make images` has not built image.
func requireImageB(b *testing.B, c *Client, image string) {
	b.Helper()
	ok, err := c.ImageExists(context.Background(), image)
	if err != nil || !ok {
		b.Skipf("image %s not built (make images): %v", image, err)
	}
}

func helloInit(b *testing.B, target *testbuild.Target) []byte {
	b.Helper()
	value := map[string]any{"name": "hello", "main": "main", "binary": false, "env": map[string]string{}}
	if target != nil {
		code, err := os.ReadFile(testbuild.MustBuild(b, *target))
		if err != nil {
			b.Fatal(err)
		}
		value["code"], value["binary"] = base64.StdEncoding.EncodeToString(code), true
	}
	body, _ := json.Marshal(map[string]any{"value": value})
	return body
}

type benchImage struct {
	name, image, kind string
	target            *testbuild.Target
	cacheVolume       bool
}

var benchImages = []benchImage{
	{"wasm", WasmRuntimeImage, standalone.KindWasm, &testbuild.Target{Pkg: "./actions/hello", WASM: true}, false},
	{"wasm+cache-volume", WasmRuntimeImage, standalone.KindWasm, &testbuild.Target{Pkg: "./actions/hello", WASM: true}, true},
	{"native", NativeRuntimeImage, standalone.KindNative, &testbuild.Target{Pkg: "./actions/hello"}, false},
	{"mobilenet-stub", MobileNetImage, standalone.KindBlackbox, nil, false},
}

// BenchmarkCreateToInit is the docker backend's cold start as the invoker sees it: Create
// (engine create + start + inspect) and the first /init answered, for the hello action (no code
// for the MobileNet stub). Destroy is not timed.
func BenchmarkCreateToInit(b *testing.B) {
	c := NewClient("")
	defer c.Close()
	if err := c.Ping(context.Background()); err != nil {
		b.Skipf("no Docker engine: %v", err)
	}
	for _, bi := range benchImages {
		b.Run(bi.name, func(b *testing.B) {
			requireImageB(b, c, bi.image)
			cfg := Config{Instance: uniqueName("bench-")}
			if bi.cacheVolume {
				cfg.WasmCacheVolume = uniqueName("wwbench-modcache-")
				defer c.RemoveVolume(context.Background(), cfg.WasmCacheVolume, true)
			}
			be, err := New(context.Background(), cfg)
			if err != nil {
				b.Fatal(err)
			}
			defer be.Close()
			body := helloInit(b, bi.target)
			spec := standalone.ContainerSpec{Kind: bi.kind, Image: bi.image, MemoryMB: 256, Concurrency: 1,
				Env: map[string]string{"__OW_API_HOST": "http://127.0.0.1:3233"}}
			cold := func() {
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				spec.Name = uniqueName("wsk_bench_")
				ct, err := be.Create(ctx, spec)
				if err != nil {
					b.Fatal(err)
				}
				status, resp, err := ct.Init(ctx, body)
				b.StopTimer()
				if err != nil || status != 200 {
					b.Fatalf("init: %d %s %v", status, resp, err)
				}
				_ = ct.Destroy(ctx)
				b.StartTimer()
			}
			if bi.cacheVolume {
				cold() // compile once into the volume
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				cold()
			}
		})
	}
}

// reportPercentiles adds p50 and p99 (in ms) of the per-iteration latencies to the result.
func reportPercentiles(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	ms := stats.Milliseconds(lat)
	b.ReportMetric(stats.Quantile(ms, 0.5), "p50-ms")
	b.ReportMetric(stats.Quantile(ms, 0.99), "p99-ms")
}

// BenchmarkWarmRun is one warm /run of hello over the bridge plus collecting its logs (until
// both sentinels arrived), as the invoker does for every warm activation.
func BenchmarkWarmRun(b *testing.B) {
	c := NewClient("")
	defer c.Close()
	if err := c.Ping(context.Background()); err != nil {
		b.Skipf("no Docker engine: %v", err)
	}
	for _, bi := range benchImages[1:3] {
		b.Run(bi.name, func(b *testing.B) {
			requireImageB(b, c, bi.image)
			be, err := New(context.Background(), Config{Instance: uniqueName("bench-")})
			if err != nil {
				b.Fatal(err)
			}
			defer be.Close()
			ctx := context.Background()
			ct, err := be.Create(ctx, standalone.ContainerSpec{Name: uniqueName("wsk_bench_"), Kind: bi.kind, Image: bi.image, MemoryMB: 256, Concurrency: 1})
			if err != nil {
				b.Fatal(err)
			}
			initCtx, cancel := context.WithTimeout(ctx, time.Minute)
			defer cancel()
			if status, resp, err := ct.Init(initCtx, helloInit(b, bi.target)); err != nil || status != 200 {
				b.Fatalf("init: %d %s %v", status, resp, err)
			}
			run := []byte(`{"value":{"name":"bench"},"activation_id":"0123456789abcdef0123456789abcdef","deadline":"9999999999999"}`)
			lat := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				t0 := time.Now()
				status, resp, err := ct.Run(ctx, run)
				if err != nil || status != 200 {
					b.Fatalf("run: %d %s %v", status, resp, err)
				}
				logCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
				if _, err := ct.Logs(logCtx, true); err != nil {
					b.Fatal(err)
				}
				cancel()
				lat = append(lat, time.Since(t0))
			}
			b.StopTimer()
			reportPercentiles(b, lat)
		})
	}
}
