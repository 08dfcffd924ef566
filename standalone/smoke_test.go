package standalone_test

import (
	"net/http"
	"testing"

	"github.com/wasmwhisk/wasmwhisk/standalone"
)

func TestWasmHostHelloColdThenWarm(t *testing.T) {
	srv := startServer(t, newWasmHost(t), nil)
	base := srv.URL() + "/api/v1/namespaces/_/actions/hello"
	status, _, body := call(t, http.MethodPut, base, map[string]any{"exec": map[string]any{"kind": "wasm:0.1", "code": wasmCode(t, "./actions/hello")}}, standalone.GuestKey)
	if status != 200 {
		t.Fatalf("create: %d %s", status, body)
	}
	for i, wantCold := range []bool{true, false} {
		status, hdr, body := call(t, http.MethodPost, base+"?blocking=true", map[string]any{"name": "wasm"}, standalone.GuestKey)
		if status != 200 {
			t.Fatalf("invoke %d: %d %s", i, status, body)
		}
		rec := decodeRecord(t, body)
		if hdr.Get("x-openwhisk-activation-id") != rec.ActivationID {
			t.Errorf("header id %q, record id %q", hdr.Get("x-openwhisk-activation-id"), rec.ActivationID)
		}
		_, cold := rec.annotation("initTime")
		if cold != wantCold {
			t.Errorf("invoke %d: cold = %v, want %v (%s)", i, cold, wantCold, body)
		}
		t.Logf("%s", body)
		status, _, body = call(t, http.MethodGet, srv.URL()+"/api/v1/namespaces/_/activations/"+rec.ActivationID, nil, standalone.GuestKey)
		t.Logf("%d %s", status, body)
	}
}
