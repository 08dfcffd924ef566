package standalone_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/wasmwhisk/wasmwhisk/standalone"
)

func memoryReport(t *testing.T, srv *standalone.Server) standalone.MemoryReport {
	t.Helper()
	status, _, data := call(t, http.MethodGet, srv.URL()+"/wasmwhisk/v1/memory?settle=true", nil, standalone.GuestKey)
	if status != 200 {
		t.Fatalf("GET memory: %d %s", status, data)
	}
	var rep standalone.MemoryReport
	if err := json.Unmarshal(data, &rep); err != nil {
		t.Fatalf("memory report %s: %v", data, err)
	}
	return rep
}

func TestMemoryReport(t *testing.T) {
	tests := []struct {
		name    string
		backend func(testing.TB) standalone.Backend
		exec    func(testing.TB) map[string]any
		check   func(t *testing.T, m *standalone.ContainerMemory)
	}{
		{
			name:    "wasm host: linear memory, the rest is the server's",
			backend: newWasmHost,
			exec: func(t testing.TB) map[string]any {
				return map[string]any{"kind": "wasm:0.1", "code": wasmReactorCode(t, "./actions/counter"), "binary": true}
			},
			check: func(t *testing.T, m *standalone.ContainerMemory) {
				if m.Bytes != nil || m.LinearMemoryBytes == nil || *m.LinearMemoryBytes <= 0 {
					t.Fatalf("wasm host container memory %+v: want no own bytes and a linear memory size", m)
				}
			},
		},
		{
			name:    "process: the child's own memory",
			backend: func(t testing.TB) standalone.Backend { return newProcessBackend(t) },
			exec: func(t testing.TB) map[string]any {
				return map[string]any{"kind": "native:0.1", "code": nativeCode(t, "./actions/counter"), "binary": true}
			},
			check: func(t *testing.T, m *standalone.ContainerMemory) {
				if m.Bytes == nil || *m.Bytes < 1<<20 || m.PeakBytes == nil || m.Method == "" {
					t.Fatalf("process container memory %+v", m)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := startServer(t, tt.backend(t), nil)
			empty := memoryReport(t, srv)
			if empty.Server.PSSBytes <= 0 || empty.Server.PID <= 0 || len(empty.Containers) != 0 || empty.UserMemoryMB <= 0 {
				t.Fatalf("report of an empty server: %+v", empty)
			}
			createAction(t, srv, "counter", map[string]any{"exec": tt.exec(t), "limits": map[string]any{"memory": 128}})
			status, rec := invokeBlocking(t, srv, "counter", nil)
			if status != 200 {
				t.Fatalf("invoke: %d %+v", status, rec)
			}
			rep := memoryReport(t, srv)
			if len(rep.Containers) != 1 {
				t.Fatalf("containers %+v", rep.Containers)
			}
			c := rep.Containers[0]
			if c.ID != annotationString(rec, standalone.AnnotationContainer) || c.Action != "guest/counter" ||
				c.State != "warm" || c.Busy || c.MemoryMB != 128 || c.Error != "" || c.Memory == nil {
				t.Fatalf("container %+v, record's container %q", c, annotationString(rec, standalone.AnnotationContainer))
			}
			tt.check(t, c.Memory)
			if status, _, data := call(t, http.MethodPost, srv.URL()+"/wasmwhisk/v1/memory/peak", nil, standalone.GuestKey); status != 204 {
				t.Fatalf("POST peak: %d %s", status, data)
			}
		})
	}
}

func TestMemoryReportRefusals(t *testing.T) {
	srv := startServer(t, newWasmHost(t), nil)
	for _, tt := range []struct {
		method, path, key string
		want              int
	}{
		{http.MethodGet, "/wasmwhisk/v1/memory", "", 401},
		{http.MethodGet, "/wasmwhisk/v1/memory", "nobody:nothing", 401},
		{http.MethodPost, "/wasmwhisk/v1/memory/peak", "", 401},
		{http.MethodGet, "/wasmwhisk/v1/memory/peak", standalone.GuestKey, 405},
		{http.MethodDelete, "/wasmwhisk/v1/memory", standalone.GuestKey, 405},
	} {
		if status, _, data := call(t, tt.method, srv.URL()+tt.path, nil, tt.key); status != tt.want {
			t.Errorf("%s %s with key %q: %d %s, want %d", tt.method, tt.path, tt.key, status, data, tt.want)
		}
	}
}
