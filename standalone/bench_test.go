package standalone_test

import (
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wasmwhisk/wasmwhisk/internal/stats"
	"github.com/wasmwhisk/wasmwhisk/standalone"
)

// benchBackends are the backends benchmarked here; docker is benchmarked in standalone/docker.
var benchBackends = []struct {
	name string
	make func(testing.TB) standalone.Backend
	kind string
	code func(testing.TB, string) string
}{
	{"wasmhost-command", func(tb testing.TB) standalone.Backend { return newWasmHost(tb) }, "wasm:0.1", wasmCode},
	{"wasmhost-reactor", func(tb testing.TB) standalone.Backend { return newWasmHost(tb) }, "wasm:0.1", wasmReactorCode},
	{"process-native", func(tb testing.TB) standalone.Backend { return newProcessBackend(tb) }, "native:0.1", nativeCode},
}

// BenchmarkWarmInvoke measures blocking invokes of a warm hello through the controller over
// HTTP, at concurrency 1 and 16; it reports p50 latency and activations per second.
func BenchmarkWarmInvoke(b *testing.B) {
	for _, be := range benchBackends {
		for _, conc := range []int{1, 16} {
			b.Run(fmt.Sprintf("%s/c=%d", be.name, conc), func(b *testing.B) {
				srv := startServer(b, be.make(b), func(c *standalone.Config) { c.Limits.MaxConcurrency = 16 })
				createAction(b, srv, "hello", map[string]any{"exec": map[string]any{"kind": be.kind, "code": be.code(b, "./actions/hello")}})
				url := srv.URL() + "/api/v1/namespaces/_/actions/hello?blocking=true&result=true"
				client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: conc}}
				user, pass, _ := cut(standalone.GuestKey)
				one := func() time.Duration {
					req, _ := http.NewRequest(http.MethodPost, url, nil)
					req.SetBasicAuth(user, pass)
					t := time.Now()
					resp, err := client.Do(req)
					if err != nil {
						b.Error(err)
						return 0
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 {
						b.Errorf("status %d", resp.StatusCode)
					}
					return time.Since(t)
				}
				// Warm up: one container per concurrent client.
				var wg sync.WaitGroup
				for i := 0; i < conc; i++ {
					wg.Add(1)
					go func() { defer wg.Done(); one() }()
				}
				wg.Wait()
				lat := make([]time.Duration, b.N)
				var idx atomic.Int64
				b.ResetTimer()
				start := time.Now()
				for w := 0; w < conc; w++ {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for {
							i := idx.Add(1) - 1
							if i >= int64(b.N) {
								return
							}
							lat[i] = one()
						}
					}()
				}
				wg.Wait()
				elapsed := time.Since(start)
				b.StopTimer()
				b.ReportMetric(stats.Median(stats.Milliseconds(lat)), "p50-ms")
				b.ReportMetric(float64(b.N)/elapsed.Seconds(), "act/s")
			})
		}
	}
}

// BenchmarkColdStart measures cold starts of hello per backend: each iteration updates the action
// (a new version never matches a warm container) and reports the record's waitTime + initTime.
func BenchmarkColdStart(b *testing.B) {
	for _, be := range benchBackends {
		b.Run(be.name, func(b *testing.B) {
			srv := startServer(b, be.make(b), nil)
			code := be.code(b, "./actions/hello")
			var total, wait, init int64
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				createAction(b, srv, "hello", map[string]any{"exec": map[string]any{"kind": be.kind, "code": code}})
				b.StartTimer()
				status, rec := invokeBlocking(b, srv, "hello", nil)
				if status != 200 {
					b.Fatalf("status %d", status)
				}
				w, _ := rec.annotation("waitTime")
				in, ok := rec.annotation("initTime")
				if !ok {
					b.Fatalf("not cold")
				}
				var wv, iv int64
				fmt.Sscan(string(w), &wv)
				fmt.Sscan(string(in), &iv)
				wait += wv
				init += iv
				total += wv + iv
			}
			b.ReportMetric(float64(total)/float64(b.N), "wait+init-ms")
			b.ReportMetric(float64(wait)/float64(b.N), "waitTime-ms")
			b.ReportMetric(float64(init)/float64(b.N), "initTime-ms")
		})
	}
}
