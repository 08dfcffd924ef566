package standalone_test

import (
	"archive/zip"
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/wasmwhisk/wasmwhisk/internal/stats"
	"github.com/wasmwhisk/wasmwhisk/internal/testbuild"
	"github.com/wasmwhisk/wasmwhisk/standalone"
)

// bigActionCode is a valid wasm:0.1 action of the largest size the API accepts (exec up to
// 48 MiB = 50.3 MB as base64): hello's module zipped with incompressible data.
func bigActionCode(tb testing.TB) string {
	tb.Helper()
	module, err := os.ReadFile(testbuild.MustBuild(tb, testbuild.Target{Pkg: "./actions/hello", WASM: true}))
	if err != nil {
		tb.Fatal(err)
	}
	const maxB64 = 48<<20 - 64 // JSON quotes and slack under the exec limit
	blob := make([]byte, maxB64*3/4-len(module)-1024)
	rng := rand.NewChaCha8([32]byte{1})
	rng.Read(blob)
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range []struct {
		name string
		data []byte
	}{{"main.wasm", module}, {"blob.bin", blob}} {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: f.name, Method: zip.Store})
		if err != nil {
			tb.Fatal(err)
		}
		w.Write(f.data)
	}
	if err := zw.Close(); err != nil {
		tb.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(buf.Bytes())
}

// storeBenchServer is one server of BenchmarkBigActionInStore with a warm hello.
type storeBenchServer struct {
	srv    *standalone.Server
	client *http.Client
}

func (s *storeBenchServer) do(tb testing.TB, method, path string, body []byte, want int) {
	req, _ := http.NewRequest(method, s.srv.URL()+"/api/v1/namespaces/_"+path, bytes.NewReader(body))
	user, pass, _ := cut(standalone.GuestKey)
	req.SetBasicAuth(user, pass)
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		tb.Error(err)
		return
	}
	data, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != want {
		tb.Errorf("%s %s: %d %s", method, path, resp.StatusCode, data)
	}
}

// putDelete creates and deletes a small action and returns the time the pair took.
func (s *storeBenchServer) putDelete(tb testing.TB, small []byte) time.Duration {
	t := time.Now()
	s.do(tb, http.MethodPut, "/actions/small", small, 200)
	s.do(tb, http.MethodDelete, "/actions/small", nil, 200)
	return time.Since(t)
}

// invokes runs n blocking invokes of hello by conc clients and returns the time they took.
func (s *storeBenchServer) invokes(tb testing.TB, n, conc int) time.Duration {
	var wg sync.WaitGroup
	next := make(chan struct{}, n)
	for i := 0; i < n; i++ {
		next <- struct{}{}
	}
	close(next)
	t := time.Now()
	for w := 0; w < conc; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range next {
				s.do(tb, http.MethodPost, "/actions/hello?blocking=true&result=true", nil, 200)
			}
		}()
	}
	wg.Wait()
	return time.Since(t)
}

// BenchmarkBigActionInStore measures, through the API on the wasm host backend, blocking invokes
// of a warm hello by 10 clients while one more client creates and deletes a small action in a
// loop, on two servers that differ only in one holding a 50 MB action. The two are measured in
// alternation so that the machine's load falls on both alike; it reports the PUT+DELETE time, the
// invoke throughput and the ratios big/without of the PUT+DELETE time and of the time of the
// invokes (goal <= 1.2). sync=true is the standalone's default
// (fsync on every commit), sync=false its -nosync.
func BenchmarkBigActionInStore(b *testing.B) {
	big := bigActionCode(b)
	hello, err := os.ReadFile(testbuild.MustBuild(b, testbuild.Target{Pkg: "./actions/hello", WASM: true, Reactor: true}))
	if err != nil {
		b.Fatal(err)
	}
	helloBody := []byte(fmt.Sprintf(`{"exec":{"kind":"wasm:0.1","code":%q},"limits":{"memory":128}}`, base64.StdEncoding.EncodeToString(hello)))
	small := []byte(`{"exec":{"kind":"wasm:0.1","code":"AGFzbQEAAAABBAFgAAADAgEABwoBBl9zdGFydAAACgQBAgAL"}}`) // (module (func (export "_start")))
	bigBody := []byte(fmt.Sprintf(`{"exec":{"kind":"wasm:0.1","code":%q}}`, big))
	const conc, perRound = 10, 40
	for _, synced := range []bool{true, false} {
		b.Run(fmt.Sprintf("sync=%v", synced), func(b *testing.B) {
			var servers [2]*storeBenchServer // 0: without, 1: with the big action
			for i := range servers {
				srv := startServer(b, newWasmHost(b), func(c *standalone.Config) {
					c.NoSync = !synced
					c.Pool.UserMemoryMB = 2 * conc * 128
				})
				client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: conc + 1}}
				// Before the server's Close (cleanups run last first): a connection the transport
				// dialled and never used would hold Shutdown for its 5 s grace of new connections.
				b.Cleanup(client.CloseIdleConnections)
				servers[i] = &storeBenchServer{srv: srv, client: client}
				servers[i].do(b, http.MethodPut, "/actions/hello", helloBody, 200)
				servers[i].invokes(b, 4*conc, conc) // one warm container per client
			}
			servers[1].do(b, http.MethodPut, "/actions/big", bigBody, 200)
			servers[1].do(b, http.MethodPost, "/actions/big?blocking=true", nil, 200)
			var putDel, inv [2]time.Duration
			var pairs [2]int
			putDelRatios, invRatios := make([]float64, b.N), make([]float64, b.N)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				var roundPD, roundInv [2]time.Duration
				var roundPairs [2]int
				for k := range servers {
					j := (k + i) % 2 // alternate which goes first
					stop := make(chan struct{})
					churned := make(chan struct{})
					go func() {
						defer close(churned)
						for {
							roundPD[j] += servers[j].putDelete(b, small)
							roundPairs[j]++
							select {
							case <-stop:
								return
							default:
							}
						}
					}()
					roundInv[j] = servers[j].invokes(b, perRound, conc)
					close(stop)
					<-churned
				}
				for j := range servers {
					putDel[j] += roundPD[j]
					pairs[j] += roundPairs[j]
					inv[j] += roundInv[j]
				}
				putDelRatios[i] = (float64(roundPD[1]) / float64(roundPairs[1])) / (float64(roundPD[0]) / float64(roundPairs[0]))
				invRatios[i] = float64(roundInv[1]) / float64(roundInv[0])
			}
			b.StopTimer()
			n := float64(b.N)
			b.ReportMetric(float64(putDel[0].Microseconds())/1000/float64(pairs[0]), "putdel-ms")
			b.ReportMetric(float64(putDel[1].Microseconds())/1000/float64(pairs[1]), "putdel-big-ms")
			b.ReportMetric(perRound*n/inv[0].Seconds(), "invoke/s")
			b.ReportMetric(perRound*n/inv[1].Seconds(), "invoke-big/s")
			// Each round measures both servers back to back: the median of the rounds' ratios is
			// what the big action costs, whatever the rest of the machine did meanwhile.
			b.ReportMetric(stats.Median(putDelRatios), "putdel-ratio")
			b.ReportMetric(stats.Median(invRatios), "invoke-time-ratio")
		})
	}
}
