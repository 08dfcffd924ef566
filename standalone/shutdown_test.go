package standalone_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/wasmwhisk/wasmwhisk/standalone"
)

// TestShutdownRecords closes a server while one activation runs and another waits for the only
// container, then opens a new server on the same data directory: both have records that say the
// platform stopped (not that the action failed), with their real start, and the new server serves.
func TestShutdownRecords(t *testing.T) {
	dataDir := t.TempDir()
	cfg := func() standalone.Config {
		return standalone.Config{
			Listen: "127.0.0.1:0", DataDir: dataDir, Backend: newWasmHost(t), NoSync: true,
			Pool: standalone.PoolConfig{UserMemoryMB: 256, PauseGrace: time.Minute, IdleTimeout: time.Minute},
		}
	}
	srv, err := standalone.New(cfg())
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	closed := false
	t.Cleanup(func() {
		if !closed {
			srv.Close()
		}
	})
	createAction(t, srv, "cpuhash", map[string]any{"exec": map[string]any{"kind": "wasm:0.1", "code": wasmCode(t, "./actions/cpuhash")},
		"limits": map[string]any{"memory": 256, "timeout": 300000}})
	api := srv.URL() + "/api/v1/namespaces/_"
	var ids []string
	began := time.Now().UnixMilli()
	for i := 0; i < 2; i++ {
		status, hdr, body := call(t, http.MethodPost, api+"/actions/cpuhash", map[string]any{"rounds": 100_000_000}, standalone.GuestKey)
		if status != http.StatusAccepted {
			t.Fatalf("invoke: %d %s", status, body)
		}
		ids = append(ids, hdr.Get("x-openwhisk-activation-id"))
	}
	time.Sleep(500 * time.Millisecond) // the first runs, the second waits for the container
	closing := time.Now()
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	closed = true
	if d := time.Since(closing); d > 20*time.Second {
		t.Errorf("Close took %v with activations running", d)
	}

	srv, err = standalone.New(cfg())
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	api = srv.URL() + "/api/v1/namespaces/_"
	for _, id := range ids {
		status, _, body := call(t, http.MethodGet, api+"/activations/"+id, nil, standalone.GuestKey)
		if status != 200 {
			t.Fatalf("activation %s after restart: %d %s", id, status, body)
		}
		rec := decodeRecord(t, body)
		if rec.Response.Status != "whisk internal error" || !strings.Contains(string(rec.Response.Result), "the platform stopped") ||
			rec.Start < began || rec.End < rec.Start {
			t.Fatalf("activation %s: %s", id, body)
		}
	}
	status, _, body := call(t, http.MethodPost, api+"/actions/cpuhash?blocking=true&result=true", map[string]any{"rounds": 1}, standalone.GuestKey)
	if status != 200 {
		t.Fatalf("invoke after restart: %d %s", status, body)
	}
}
