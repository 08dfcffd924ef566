package actionproxy_test

import (
	"os"
	"sync"
	"testing"

	"github.com/wasmwhisk/wasmwhisk/internal/conformance"
	"github.com/wasmwhisk/wasmwhisk/internal/testbuild"
)

// proxyBinary builds cmd/actionproxy once per test binary.
var proxyBinary = sync.OnceValues(func() (string, error) {
	return testbuild.Build(testbuild.Target{Pkg: "./cmd/actionproxy", CGO: true})
})

func mustProxy(t testing.TB) string {
	t.Helper()
	bin, err := proxyBinary()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// sampleCode builds a conformance sample for a target and returns it base64-encoded.
func sampleCode(t testing.TB, target testbuild.Target) string {
	t.Helper()
	b, err := os.ReadFile(testbuild.MustBuild(t, target))
	if err != nil {
		t.Fatal(err)
	}
	return conformance.B64(b)
}

func samplePkg(s conformance.Sample) string { return "./internal/conformance/testdata/" + string(s) }

func nativeSuite() conformance.Suite {
	return conformance.Suite{
		Start: func(t *testing.T, opts conformance.Options) *conformance.Container {
			return conformance.StartProcess(t, mustProxy(t), []string{"-executor", "native"}, opts.Env)
		},
		Code: func(t *testing.T, s conformance.Sample) string {
			return sampleCode(t, testbuild.Target{Pkg: samplePkg(s)})
		},
	}
}

func TestConformanceNative(t *testing.T) { nativeSuite().Run(t) }

// wasmCache is one module cache for every proxy a test binary starts, so that each sample is
// compiled once and later containers deserialize it, as on a real invoker host.
var wasmCache = sync.OnceValues(func() (string, error) {
	return os.MkdirTemp("", "wasmwhisk-test-modcache-")
})

func wasmArgs(t testing.TB) []string {
	dir, err := wasmCache()
	if err != nil {
		t.Fatal(err)
	}
	return []string{"-executor", "wasm", "-wasm-cache", dir}
}

func wasmSuite(reactor bool) conformance.Suite {
	return conformance.Suite{
		Start: func(t *testing.T, opts conformance.Options) *conformance.Container {
			return conformance.StartProcess(t, mustProxy(t), wasmArgs(t), opts.Env)
		},
		Code: func(t *testing.T, s conformance.Sample) string {
			return sampleCode(t, testbuild.Target{Pkg: samplePkg(s), WASM: true, Reactor: reactor})
		},
		Concurrent: !reactor,
	}
}

func TestConformanceWasmCommand(t *testing.T) { wasmSuite(false).Run(t) }

func TestConformanceWasmReactor(t *testing.T) { wasmSuite(true).Run(t) }
