package standalone_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/wasmwhisk/wasmwhisk/standalone"
)

// helloKinds are the kinds of the log attribution matrix, each with the hello action's code.
var helloKinds = []struct {
	name, kind string
	code       func(testing.TB) string
}{
	{"wasm command", standalone.KindWasm, func(t testing.TB) string { return wasmCode(t, "./actions/hello") }},
	{"wasm reactor", standalone.KindWasm, func(t testing.TB) string { return wasmReactorCode(t, "./actions/hello") }},
	{"native", standalone.KindNative, func(t testing.TB) string { return nativeCode(t, "./actions/hello") }},
}

// TestLogAttribution runs the hello action cold, then warm twice, for every kind on the wasm host
// and process backends (deploy/docker does the docker backend): each stored record holds exactly
// the lines its own activation wrote, one on each stream, and no other activation's (issue 12:
// the wasm host backend put a native action's cold lines into the next warm record).
func TestLogAttribution(t *testing.T) {
	backends := []struct {
		name string
		make func(testing.TB) standalone.Backend
	}{
		{"wasmhost", newWasmHost},
		{"process", func(t testing.TB) standalone.Backend { return newProcessBackend(t) }},
	}
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			srv := startServer(t, b.make(t), nil)
			for _, k := range helloKinds {
				t.Run(k.name, func(t *testing.T) {
					action := "logs-" + strings.ReplaceAll(k.name, " ", "-")
					createAction(t, srv, action, map[string]any{"exec": map[string]any{"kind": k.kind, "code": k.code(t)}})
					for i, start := range []string{"cold", "warm", "warm"} {
						who := fmt.Sprintf("%s-%d", start, i)
						status, rec := invokeBlocking(t, srv, action, map[string]any{"name": who})
						if status != http.StatusOK {
							t.Fatalf("%s invoke: %d %+v", who, status, rec)
						}
						if _, cold := rec.annotation("initTime"); cold != (start == "cold") {
							t.Fatalf("%s: initTime present = %v", who, cold)
						}
						checkOwnLogs(t, storedRecord(t, srv, rec.ActivationID), who)
					}
				})
			}
		})
	}
}

// storedRecord reads an activation record with its logs.
func storedRecord(t testing.TB, srv *standalone.Server, id string) record {
	t.Helper()
	status, _, data := call(t, http.MethodGet, srv.URL()+"/api/v1/namespaces/_/activations/"+id, nil, standalone.GuestKey)
	if status != http.StatusOK {
		t.Fatalf("get activation %s: %d %s", id, status, data)
	}
	return decodeRecord(t, data)
}

// checkOwnLogs wants exactly hello's two lines for who, in OpenWhisk's stored form.
func checkOwnLogs(t testing.TB, rec record, who string) {
	t.Helper()
	want := []string{"stdout: hello stdout: Hello, " + who + "!", "stderr: hello stderr: Hello, " + who + "!"}
	var got []string
	for _, l := range rec.Logs {
		// "<timestamp padded to 30> <stream>: <text>"
		if len(l) < 31 {
			t.Fatalf("log line %q is not in the stored form", l)
		}
		if _, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(l[:30])); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		got = append(got, l[31:])
	}
	if len(got) != 2 || !(got[0] == want[0] && got[1] == want[1] || got[0] == want[1] && got[1] == want[0]) {
		t.Fatalf("%s: logs %q, want %q", who, got, want)
	}
}
