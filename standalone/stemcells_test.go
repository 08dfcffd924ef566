package standalone_test

import (
	"net/http"
	"testing"

	"github.com/wasmwhisk/wasmwhisk/standalone"
)

// TestDefaultStemCellsServeDefaultActions: with the default stem cells, an action created without
// limits (256 MB, OpenWhisk's default) starts in a prewarmed container, which is replaced; its
// next activation is warm; an action of another memory size starts cold, as OpenWhisk matches
// stem cells by exact kind and memory. The record says which (wasmwhisk.containerState).
func TestDefaultStemCellsServeDefaultActions(t *testing.T) {
	backends := []struct {
		name string
		make func(testing.TB) standalone.Backend
	}{
		{"wasmhost", newWasmHost},
		{"process", func(t testing.TB) standalone.Backend { return newProcessBackend(t) }},
	}
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			srv := startServer(t, b.make(t), func(c *standalone.Config) { c.Pool.StemCells = standalone.DefaultStemCells() })
			want := standalone.DefaultStemCells()[0].Count
			eventually(t, "the stem cells", func() bool { return srv.PoolStats().Prewarmed == want })
			code := wasmReactorCode(t, "./actions/hello")
			createAction(t, srv, "default", map[string]any{"exec": map[string]any{"kind": "wasm:0.1", "code": code}})
			createAction(t, srv, "small", map[string]any{"exec": map[string]any{"kind": "wasm:0.1", "code": code}, "limits": map[string]any{"memory": 128}})
			for _, c := range []struct {
				action, state string
				initTime      bool
			}{
				{"default", "prewarmed", true},
				{"default", "warm", false},
				{"small", "cold", true},
			} {
				status, rec := invokeBlocking(t, srv, c.action, map[string]any{"name": c.state})
				if status != http.StatusOK {
					t.Fatalf("%s: %d %+v", c.action, status, rec)
				}
				_, hasInit := rec.annotation("initTime")
				if got := annotationString(rec, standalone.AnnotationContainerState); got != c.state || hasInit != c.initTime {
					t.Fatalf("%s: container state %q, initTime %v; want %q, %v", c.action, got, hasInit, c.state, c.initTime)
				}
				if c.state == "prewarmed" {
					eventually(t, "the taken stem cell to be replaced", func() bool { return srv.PoolStats().Prewarmed == want })
				}
			}
		})
	}
}
