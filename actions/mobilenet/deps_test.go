//go:build !wasip1

package main

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/wasmwhisk/wasmwhisk/internal/testbuild"
)

// TestWasiNNBuildLinksNoEngine: the wasi-nn build hands inference to the host, so it must not
// carry the nn engine and the ONNX decoder, whose package initialisation alone made its /init
// about three times slower (BenchmarkColdInit); the in-guest build must carry them.
func TestWasiNNBuildLinksNoEngine(t *testing.T) {
	root, err := testbuild.Root()
	if err != nil {
		t.Fatal(err)
	}
	engine := []string{"github.com/wasmwhisk/wasmwhisk/nn", "github.com/wasmwhisk/wasmwhisk/nn/onnx", "github.com/owulveryck/onnx-go"}
	for _, c := range []struct {
		tags string
		want bool
	}{{"", false}, {"nn_inguest", true}} {
		// "go" from PATH is the toolchain running the tests (go test puts its GOROOT/bin first).
		cmd := exec.Command("go", "list", "-deps", "-tags", c.tags, "./actions/mobilenet")
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("go list: %v", err)
		}
		deps := map[string]bool{}
		for _, p := range strings.Fields(string(out)) {
			deps[p] = true
		}
		for _, p := range engine {
			if deps[p] != c.want {
				t.Errorf("tags %q: links %s = %v, want %v", c.tags, p, deps[p], c.want)
			}
		}
	}
}
