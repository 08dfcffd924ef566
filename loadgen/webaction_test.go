package loadgen_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/wasmwhisk/wasmwhisk/internal/testbuild"
	"github.com/wasmwhisk/wasmwhisk/loadgen"
	"github.com/wasmwhisk/wasmwhisk/standalone"
	"github.com/wasmwhisk/wasmwhisk/standalone/wasmhost"
)

// TestWebActionTarget loads a web action by its URL (-actions web:guest/default/hello.json)
// against the embedded standalone OpenWhisk: every row carries the HTTP answer and the record
// named by its x-openwhisk-activation-id; a URL that names no web action fails its rows.
func TestWebActionTarget(t *testing.T) {
	wasmFile := testbuild.MustBuild(t, testbuild.Target{Pkg: "./actions/hello", WASM: true})
	code, err := os.ReadFile(wasmFile)
	if err != nil {
		t.Fatal(err)
	}
	backend, err := wasmhost.New(wasmhost.Config{WorkDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := standalone.New(standalone.Config{
		Listen: "127.0.0.1:0", DataDir: t.TempDir(), NoSync: true, Backend: backend,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := srv.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("close standalone: %v", err)
		}
	})
	body, _ := json.Marshal(map[string]any{
		"exec":        map[string]any{"kind": standalone.KindWasm, "code": base64.StdEncoding.EncodeToString(code)},
		"annotations": []any{map[string]any{"key": "web-export", "value": true}},
	})
	req, _ := http.NewRequest(http.MethodPut, srv.URL()+"/api/v1/namespaces/_/actions/hello", bytes.NewReader(body))
	user, pass, _ := strings.Cut(standalone.GuestKey, ":")
	req.SetBasicAuth(user, pass)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("create web action: HTTP %d", resp.StatusCode)
	}

	target := loadgen.Target{APIHost: srv.URL(), Auth: standalone.GuestKey, Namespace: "_"}
	plan := loadgen.Plan{
		Actions: []string{loadgen.WebPrefix + "guest/default/hello.json"}, Concurrency: []int{1, 2},
		Params: map[string]any{"name": "web"}, KeepResults: true, NoMemory: true, Timeout: time.Minute,
	}
	res, err := loadgen.Run(ctx, target, plan, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Rows) != 3 {
		t.Fatalf("%d rows, want 3: %+v", len(res.Rows), res.Rows)
	}
	for _, r := range res.Rows {
		var answer struct{ Greeting string }
		if r.Status != loadgen.StatusSuccess || r.HTTPStatus != 200 || len(r.ActivationID) != 32 || r.Kind != standalone.KindWasm {
			t.Errorf("row of a web invocation: %+v", r)
		}
		if json.Unmarshal(r.Result, &answer) != nil || answer.Greeting != "Hello, web!" {
			t.Errorf("answer kept in the row: %s", r.Result)
		}
		if r.ClientLatency < float64(r.Duration) {
			t.Errorf("client latency %.2f ms below the record's duration %d ms", r.ClientLatency, r.Duration)
		}
	}

	plan.Actions = []string{loadgen.WebPrefix + "guest/default/nope.json"}
	plan.Concurrency = []int{1}
	res, err = loadgen.Run(ctx, target, plan, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Rows) != 1 || res.Rows[0].Status != loadgen.StatusFailed || res.Rows[0].HTTPStatus != 404 ||
		!strings.Contains(res.Rows[0].Error, "HTTP 404 without an activation") {
		t.Errorf("row of a missing web action: %+v", res.Rows)
	}
}
