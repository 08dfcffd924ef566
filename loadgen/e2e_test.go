package loadgen_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wasmwhisk/wasmwhisk/internal/testbuild"
	"github.com/wasmwhisk/wasmwhisk/loadgen"
	"github.com/wasmwhisk/wasmwhisk/standalone"
	"github.com/wasmwhisk/wasmwhisk/standalone/wasmhost"
)

// TestColdSweepAgainstStandalone runs a tiny -cold sweep through the real
// client-go path against the embedded standalone OpenWhisk (wasm-host
// backend): the hello action built for wasm:0.1 and natively (native:0.1).
func TestColdSweepAgainstStandalone(t *testing.T) {
	if testing.Short() {
		t.Skip("builds actions and starts cold containers")
	}
	wasmFile := testbuild.MustBuild(t, testbuild.Target{Pkg: "./actions/hello", WASM: true})
	nativeFile := testbuild.MustBuild(t, testbuild.Target{Pkg: "./actions/hello"})

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
	target := loadgen.Target{APIHost: srv.URL(), Auth: standalone.GuestKey, Namespace: "_"}
	err = loadgen.DeployAll(ctx, target, []loadgen.DeploySpec{
		{Name: "hello-native", Kind: standalone.KindNative, Source: nativeFile},
		{Name: "hello-wasm", Kind: standalone.KindWasm, Source: wasmFile},
	})
	if err != nil {
		t.Fatal(err)
	}

	plan := loadgen.Plan{
		Actions: []string{"hello-native", "hello-wasm"}, Concurrency: []int{1, 2}, Cold: true,
		Params: map[string]any{"name": "loadgen"}, Timeout: 2 * time.Minute,
	}
	res, err := loadgen.Run(ctx, target, plan, nil)
	if err != nil {
		t.Fatal(err)
	}
	// count = level (the seeds' convention): 1 + 2 per action.
	if len(res.Rows) != 6 {
		t.Fatalf("%d rows, want 6: %+v", len(res.Rows), res.Rows)
	}
	for _, r := range res.Rows {
		if !r.Cold || r.InitTime <= 0 || r.Status != loadgen.StatusSuccess || r.HTTPStatus != 200 {
			t.Errorf("row not a successful cold start: %+v", r)
		}
		wantKind := map[string]string{"hello-native": standalone.KindNative, "hello-wasm": standalone.KindWasm}[r.Action]
		if r.Kind != wantKind || r.Run != r.Duration-r.InitTime || r.ClientLatency < float64(r.Duration) {
			t.Errorf("row figures inconsistent: %+v", r)
		}
	}
	dir := t.TempDir()
	sum, _, err := loadgen.WriteReport(dir, res)
	if err != nil {
		t.Fatal(err)
	}
	if len(sum.Levels) != 4 {
		t.Fatalf("%d table rows, want 4", len(sum.Levels))
	}
	for _, l := range sum.Levels {
		if l.Count != l.Concurrency || l.Cold != l.Count || l.NonCold+l.Errors+l.Failed+l.Throttled+l.Overloaded != 0 {
			t.Errorf("table row %+v", l)
		}
	}
	if len(sum.Comparisons) != 2 {
		t.Errorf("comparisons %+v", sum.Comparisons)
	}
	md, err := os.ReadFile(filepath.Join(dir, "summary.md"))
	if err != nil || !strings.Contains(string(md), "## hello-wasm (wasm:0.1)") {
		t.Fatalf("summary.md: %v\n%s", err, md)
	}
	// The standalone reports its memory: the wasm host's server process, measured by the OS.
	if m := res.Meta.Memory; m == nil || m.Backend != "wasmhost" || m.Server.PSSBytes <= 0 || res.Meta.MemoryUnavailable != "" {
		t.Errorf("memory report %+v (unavailable: %q)", m, res.Meta.MemoryUnavailable)
	}
	for _, r := range res.Rows {
		if r.ContainerID == "" {
			t.Errorf("row without the record's container id: %+v", r)
		}
	}

	// Results are kept on request: the counter's warm instance keeps its count.
	if err := loadgen.DeployAll(ctx, target, []loadgen.DeploySpec{{Name: "counter", Kind: standalone.KindWasm,
		Source: testbuild.MustBuild(t, testbuild.Target{Pkg: "./actions/counter", WASM: true, Reactor: true})}}); err != nil {
		t.Fatal(err)
	}
	counted, err := loadgen.Run(ctx, target, loadgen.Plan{Actions: []string{"counter"}, Concurrency: []int{1}, Count: 3, KeepResults: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range counted.Rows {
		var out struct{ Count int }
		if err := json.Unmarshal(r.Result, &out); err != nil || out.Count != i+1 {
			t.Errorf("activation %d of the counter: result %s (%v), want count %d", i, r.Result, err, i+1)
		}
	}
	if err := loadgen.ResetMemoryPeak(ctx, target); err != nil {
		t.Errorf("reset peak: %v", err)
	}

	// The copies are gone: only the deployed actions remain.
	if names := listActions(t, target); len(names) != 3 {
		t.Fatalf("actions left: %v, want the 3 deployed", names)
	}
}

// listActions lists the namespace's actions over the REST API (GET …/actions?limit=0).
func listActions(t *testing.T, target loadgen.Target) []string {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, target.APIHost+"/api/v1/namespaces/_/actions?limit=0", nil)
	if err != nil {
		t.Fatal(err)
	}
	user, pass, _ := strings.Cut(target.Auth, ":")
	req.SetBasicAuth(user, pass)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var list []struct {
		Name string `json:"name"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil || resp.StatusCode != 200 {
		t.Fatalf("list actions: %d %v", resp.StatusCode, err)
	}
	var names []string
	for _, a := range list {
		names = append(names, a.Name)
	}
	return names
}
