package actionproxy_test

import (
	"bytes"
	"io"
	"net/http"
	"testing"

	"github.com/wasmwhisk/wasmwhisk/internal/conformance"
	"github.com/wasmwhisk/wasmwhisk/internal/testbuild"
)

// benchWarmRun measures a warm /run round trip of the hello action over loopback HTTP against the
// real proxy binary, with a keep-alive client.
func benchWarmRun(b *testing.B, executor string, target testbuild.Target) {
	args := []string{"-executor", executor}
	if executor == "wasm" {
		args = wasmArgs(b)
	}
	c := conformance.StartProcess(b, mustProxy(b), args, nil)
	cl := conformance.NewClient(b, c)
	if r := cl.Init(sampleCode(b, target), "main", nil); r.Status != http.StatusOK {
		b.Fatalf("init: %d %s", r.Status, r.Body)
	}
	body := []byte(`{"value":{"name":"bench"},"activation_id":"0123456789abcdef0123456789abcdef","namespace":"guest","action_name":"/guest/hello"}`)
	hc := &http.Client{}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		resp, err := hc.Post(c.URL+"/run", "application/json", bytes.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("run: %d", resp.StatusCode)
		}
	}
}

func BenchmarkWarmRunNative(b *testing.B) {
	benchWarmRun(b, "native", testbuild.Target{Pkg: "./actions/hello"})
}

func BenchmarkWarmRunWasmCommand(b *testing.B) {
	benchWarmRun(b, "wasm", testbuild.Target{Pkg: "./actions/hello", WASM: true})
}

func BenchmarkWarmRunWasmReactor(b *testing.B) {
	benchWarmRun(b, "wasm", testbuild.Target{Pkg: "./actions/hello", WASM: true, Reactor: true})
}
