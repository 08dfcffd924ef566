package dockerimages_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/wasmwhisk/wasmwhisk/internal/testbuild"
	"github.com/wasmwhisk/wasmwhisk/standalone"
)

// TestStandaloneDockerLogAttribution is the docker column of standalone's TestLogAttribution: the
// hello action cold, then warm twice, as a wasm command, a wasm reactor and a native executable;
// each stored record holds exactly its own activation's two lines.
func TestStandaloneDockerLogAttribution(t *testing.T) {
	e := startE2E(t, standalone.PoolConfig{PauseGrace: time.Minute})
	for _, k := range []struct {
		name, kind string
		target     testbuild.Target
	}{
		{"wasm-command", standalone.KindWasm, testbuild.Target{Pkg: "./actions/hello", WASM: true}},
		{"wasm-reactor", standalone.KindWasm, testbuild.Target{Pkg: "./actions/hello", WASM: true, Reactor: true}},
		{"native", standalone.KindNative, testbuild.Target{Pkg: "./actions/hello"}},
	} {
		t.Run(k.name, func(t *testing.T) {
			e.create("logs-"+k.name, map[string]any{"kind": k.kind, "code": codeOf(t, k.target)})
			for i, start := range []string{"cold", "warm", "warm"} {
				who := fmt.Sprintf("%s-%d", start, i)
				status, rec := e.invoke("logs-"+k.name, map[string]any{"name": who})
				if status != 200 || rec.Response.Status != "success" {
					t.Fatalf("%s: %d %+v", who, status, rec)
				}
				if _, cold := rec.annotation("initTime"); cold != (start == "cold") {
					t.Fatalf("%s: initTime present = %v", who, cold)
				}
				stored := e.activation(rec.ActivationID, 10*time.Second)
				want := []string{"stdout: hello stdout: Hello, " + who + "!", "stderr: hello stderr: Hello, " + who + "!"}
				var got []string
				for _, l := range stored.Logs {
					if len(l) > 31 {
						got = append(got, l[31:]) // after "<timestamp padded to 30> "
					}
				}
				if len(got) != 2 || !(got[0] == want[0] && got[1] == want[1] || got[0] == want[1] && got[1] == want[0]) {
					t.Fatalf("%s: logs %q, want %q", who, strings.Join(stored.Logs, " | "), want)
				}
			}
		})
	}
}

// TestStandaloneDockerStemCells: with the default stem cells an action created without limits
// starts in a prewarmed container (standalone's TestDefaultStemCellsServeDefaultActions covers
// the other backends).
func TestStandaloneDockerStemCells(t *testing.T) {
	e := startE2E(t, standalone.PoolConfig{StemCells: standalone.DefaultStemCells(), PauseGrace: time.Minute})
	deadline := time.Now().Add(time.Minute)
	for e.srv.PoolStats().Prewarmed < standalone.DefaultStemCells()[0].Count {
		if time.Now().After(deadline) {
			t.Fatalf("stem cells not ready: %+v", e.srv.PoolStats())
		}
		time.Sleep(100 * time.Millisecond)
	}
	e.create("default", map[string]any{"kind": "wasm:0.1", "code": codeOf(t, testbuild.Target{Pkg: "./actions/hello", WASM: true, Reactor: true})})
	for _, want := range []string{"prewarmed", "warm"} {
		_, rec := e.invoke("default", map[string]any{"name": want})
		if got, _ := rec.annotation(standalone.AnnotationContainerState); got != want || rec.Response.Status != "success" {
			t.Fatalf("container state %q, want %q: %+v", got, want, rec)
		}
	}
}
