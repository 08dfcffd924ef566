package standalone_test

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wasmwhisk/wasmwhisk/internal/testbuild"
	"github.com/wasmwhisk/wasmwhisk/standalone"
	"github.com/wasmwhisk/wasmwhisk/standalone/process"
)

func newProcessBackend(t testing.TB) *process.Backend {
	t.Helper()
	bin := testbuild.MustBuild(t, testbuild.Target{Pkg: "./cmd/actionproxy", CGO: true})
	b, err := process.New(process.Config{ProxyBinary: bin})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// eventually polls cond until it holds or the deadline passes (no timing assertion: the deadline
// only bounds a hang).
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func createAction(t testing.TB, srv *standalone.Server, name string, body map[string]any) {
	t.Helper()
	status, _, data := call(t, http.MethodPut, srv.URL()+"/api/v1/namespaces/_/actions/"+name+"?overwrite=true", body, standalone.GuestKey)
	if status != 200 {
		t.Fatalf("create %s: %d %s", name, status, data)
	}
}

func invokeBlocking(t testing.TB, srv *standalone.Server, name string, params any) (int, record) {
	t.Helper()
	status, _, data := call(t, http.MethodPost, srv.URL()+"/api/v1/namespaces/_/actions/"+name+"?blocking=true", params, standalone.GuestKey)
	return status, decodeRecord(t, data)
}

func annotationString(r record, key string) string {
	v, _ := r.annotation(key)
	var s string
	_ = json.Unmarshal(v, &s)
	return s
}

func TestProcessBackendLifecycle(t *testing.T) {
	b := newProcessBackend(t)
	t.Logf("memory cgroup: %v", b.MemoryLimited())
	srv := startServer(t, b, func(c *standalone.Config) {
		c.Pool.PauseGrace = 100 * time.Millisecond
		c.Pool.IdleTimeout = 400 * time.Millisecond
	})
	createAction(t, srv, "hello", map[string]any{"exec": map[string]any{"kind": "native:0.1", "code": nativeCode(t, "./actions/hello")}})

	status, cold := invokeBlocking(t, srv, "hello", map[string]any{"name": "process"})
	if status != 200 {
		t.Fatalf("cold invoke: %d %+v", status, cold)
	}
	if _, ok := cold.annotation("initTime"); !ok {
		t.Errorf("cold record has no initTime: %+v", cold.Annotations)
	}
	if got := annotationString(cold, standalone.AnnotationBackend); got != "process" {
		t.Errorf("backend annotation %q", got)
	}
	status, warm := invokeBlocking(t, srv, "hello", map[string]any{"name": "again"})
	if status != 200 {
		t.Fatalf("warm invoke: %d %+v", status, warm)
	}
	if _, ok := warm.annotation("initTime"); ok {
		t.Errorf("warm record has initTime")
	}
	if annotationString(warm, standalone.AnnotationContainer) != annotationString(cold, standalone.AnnotationContainer) {
		t.Errorf("warm invoke used another container")
	}

	// Pause after the grace period, unpause on reuse.
	eventually(t, "the idle container to be paused", func() bool { return srv.PoolStats().Paused == 1 })
	status, resumed := invokeBlocking(t, srv, "hello", nil)
	if status != 200 || annotationString(resumed, standalone.AnnotationContainerState) != "resumed" {
		t.Fatalf("invoke after pause: %d, state %q", status, annotationString(resumed, standalone.AnnotationContainerState))
	}
	// Removal after the idle timeout: the process is gone.
	pid, _ := strconv.Atoi(annotationString(resumed, standalone.AnnotationContainer))
	eventually(t, "the idle container to be removed", func() bool { return srv.PoolStats().Containers == 0 })
	eventually(t, "the proxy process to exit", func() bool { return syscall.Kill(pid, 0) != nil })
}

func TestProcessContainerKilledMidRun(t *testing.T) {
	srv := startServer(t, newProcessBackend(t), nil)
	createAction(t, srv, "cpuhash", map[string]any{"exec": map[string]any{"kind": "native:0.1", "code": nativeCode(t, "./actions/cpuhash")}})
	status, first := invokeBlocking(t, srv, "cpuhash", map[string]any{"rounds": 1})
	if status != 200 {
		t.Fatalf("warm-up: %d %+v", status, first)
	}
	pid, err := strconv.Atoi(annotationString(first, standalone.AnnotationContainer))
	if err != nil {
		t.Fatal(err)
	}
	status, hdr, _ := call(t, http.MethodPost, srv.URL()+"/api/v1/namespaces/_/actions/cpuhash", map[string]any{"rounds": 100_000_000}, standalone.GuestKey)
	if status != 202 {
		t.Fatalf("non-blocking invoke: %d", status)
	}
	id := hdr.Get("x-openwhisk-activation-id")
	time.Sleep(300 * time.Millisecond) // let the run start; the record is right either way
	if err := syscall.Kill(-pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	var rec record
	eventually(t, "the record of the killed activation", func() bool {
		st, _, data := call(t, http.MethodGet, srv.URL()+"/api/v1/namespaces/_/activations/"+id, nil, standalone.GuestKey)
		if st == 200 {
			rec = decodeRecord(t, data)
		}
		return st == 200
	})
	if rec.Response.Status != "action developer error" && rec.Response.Status != "whisk internal error" {
		t.Fatalf("status %q, want a developer or whisk error: %s", rec.Response.Status, rec.Response.Result)
	}
	if !strings.Contains(string(rec.Response.Result), "exited unexpectedly") {
		t.Errorf("result %s", rec.Response.Result)
	}
	t.Logf("record after %v", time.Since(killed))
	// The broken container is gone and the next activation gets a fresh one.
	status, next := invokeBlocking(t, srv, "cpuhash", map[string]any{"rounds": 1})
	if status != 200 {
		t.Fatalf("after kill: %d %+v", status, next)
	}
	if _, ok := next.annotation("initTime"); !ok {
		t.Errorf("activation after the kill was not cold")
	}
}
