package demo

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wasmwhisk/wasmwhisk/internal/testbuild"
)

func TestVariantsTable(t *testing.T) {
	ids, labels := map[string]bool{}, map[string]bool{}
	for i, v := range Variants {
		if v.ID == "" || v.Label == "" || v.Artifact == nil || ids[v.ID] || labels[v.Label] {
			t.Errorf("variant %d %+v: empty, duplicate or without an artifact", i, v)
		}
		ids[v.ID], labels[v.Label] = true, true
		switch v.Backend {
		case "docker", "wasmhost", "process":
		default:
			t.Errorf("variant %s: unknown backend %q", v.ID, v.Backend)
		}
	}
	if Variants[0].ID != Baseline {
		t.Errorf("the baseline %q must be the first row", Baseline)
	}
	for _, w := range Workloads {
		n := 0
		for _, v := range Variants {
			if v.appliesTo(w) && !v.FullOnly {
				n++
			}
		}
		if n < 3 {
			t.Errorf("workload %s has %d quick variants", w.Name, n)
		}
		if w.MemoryMB == nil || w.MemoryMB("wasm:0.1")*max(Quick.WarmLevels[len(Quick.WarmLevels)-1], 1) > Quick.UserMemoryMB && !w.Verdict {
			t.Errorf("workload %s: the highest warm level does not fit the memory budget", w.Name)
		}
	}
	if Quick.ColdSamples < 5 || Quick.WarmSamples < 5 || Quick.LevelCount(1) < 5 || Quick.ExecSamples < 5 || Quick.BurstConcurrency*Quick.BurstRepeats < 5 {
		t.Errorf("quick mode takes fewer than 5 samples somewhere: %+v", Quick)
	}
}

func TestImportsWasiNN(t *testing.T) {
	dir := t.TempDir()
	withNN := filepath.Join(dir, "nn.wasm")
	// The import section's module name: its length byte, then the name.
	if err := os.WriteFile(withNN, append([]byte("\x00asm\x01\x00\x00\x00\x02\x1b\x01"), append(wasiNNImport, "\x07compute"...)...), 0o644); err != nil {
		t.Fatal(err)
	}
	if ok, err := importsWasiNN(withNN); !ok || err != nil {
		t.Errorf("module importing wasi_ephemeral_nn: %v %v", ok, err)
	}
	hello := testbuild.MustBuild(t, testbuild.Target{Pkg: "./actions/hello", WASM: true, Reactor: true})
	if ok, err := importsWasiNN(hello); ok || err != nil {
		t.Errorf("hello imports wasi-nn? %v %v", ok, err)
	}
	if _, err := importsWasiNN(filepath.Join(dir, "missing.wasm")); err == nil {
		t.Error("a missing module gave no error")
	}
	// Without the wasi-nn build the row says so instead of running the in-guest module.
	a := &Artifacts{Actions: filepath.Dir(hello), Work: dir}
	if err := os.Rename(hello, filepath.Join(dir, "mobilenet.reactor.wasm")); err != nil {
		t.Fatal(err)
	}
	a.Actions = dir
	if _, err := mobilenetWasiNN(a, Workloads[0]); err == nil || !strings.Contains(err.Error(), "not available") {
		t.Errorf("wasi-nn artifact without the wasi-nn build: %v", err)
	}
}

// TestWorkloadRowOnSeparateStandalone measures hello on a `wasmwhisk standalone` process of its
// own (wasm host backend) with a tiny plan, as the demo does, and checks it is gone afterwards.
func TestWorkloadRowOnSeparateStandalone(t *testing.T) {
	if testing.Short() {
		t.Skip("builds wasmwhisk and starts a standalone")
	}
	bin := t.TempDir()
	for _, pkg := range []string{"./cmd/wasmwhisk", "./cmd/actionproxy"} {
		built := testbuild.MustBuild(t, testbuild.Target{Pkg: pkg, CGO: true})
		if err := os.Symlink(built, filepath.Join(bin, filepath.Base(pkg))); err != nil {
			t.Fatal(err)
		}
	}
	actions := t.TempDir()
	module := testbuild.MustBuild(t, testbuild.Target{Pkg: "./actions/counter", WASM: true, Reactor: true})
	if err := os.Symlink(module, filepath.Join(actions, "counter.reactor.wasm")); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	plan := Quick
	plan.ColdSamples, plan.WarmLevels, plan.LevelCount = 2, []int{1, 2}, func(int) int { return 3 }
	r := &runner{plan: plan, out: out, began: time.Now(), art: &Artifacts{Bin: bin, Actions: actions, Work: out}}
	var counter Workload
	for _, w := range Workloads {
		if w.Name == "counter" {
			counter = w
		}
	}
	var host Variant
	for _, v := range Variants {
		if v.ID == "wasm-host" {
			host = v
		}
	}
	// The reactor as built, not precompiled (that needs wasmwhisk-compile, a third cgo binary).
	host.Artifact = func(a *Artifacts, w Workload) (Deploy, error) {
		return fileDeploy("module", filepath.Join(a.Actions, w.Name+".reactor.wasm"))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	row := r.workloadRow(ctx, host, counter)
	if row.Error != "" {
		t.Fatal(row.Error)
	}
	if row.Cold == nil || row.Cold.N != 2 || len(row.Warm) != 2 || row.Warm[1].Throughput == nil || row.Warm[1].Efficiency == nil {
		t.Fatalf("row %+v", row)
	}
	if row.State == nil || !row.State.Kept || len(row.State.FreshCounts) != 3 || row.State.FreshCounts[0] != 1 {
		t.Fatalf("counter state %+v", row.State)
	}
	log, err := os.ReadFile(filepath.Join(out, "raw", "counter", "wasm-host", "standalone.log"))
	if err != nil || !strings.Contains(string(log), "wasmwhisk standalone ready") || !strings.Contains(string(log), "shutting down") {
		t.Fatalf("standalone log: %v\n%s", err, log)
	}
	if _, err := os.Stat(filepath.Join(out, "raw", "counter", "wasm-host", "cold-c1.json")); err != nil {
		t.Error(err)
	}

	// A Docker variant without Docker is a row with the reason, not a crash.
	r.art.DockerErr = notAvailable("no Docker engine (test)")
	if row := r.workloadRow(ctx, Variants[0], counter); !strings.Contains(row.Error, "not available: no Docker engine") {
		t.Fatalf("docker variant without Docker: %+v", row)
	}
	// A standalone that cannot start is a row with the reason.
	broken := host
	broken.Backend = "nonsense"
	if row := r.workloadRow(ctx, broken, counter); !strings.Contains(row.Error, "wasmwhisk standalone") {
		t.Fatalf("broken backend: %+v", row)
	}
}
