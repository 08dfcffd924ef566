package demo

import (
	"github.com/wasmwhisk/wasmwhisk/report"
)

// Variant is one way of running a workload: a backend, a kind and the artifact it deploys. A new
// variant is one entry in Variants; the verdict table and the workload tables get its row.
type Variant struct {
	// ID names the variant in summary.json and on the command line (-only).
	ID string
	// Label is the row's name in the tables.
	Label string
	// Backend is the standalone's backend: docker, wasmhost or process.
	Backend string
	// Kind is the action kind: blackbox, native:0.1 or wasm:0.1.
	Kind string
	// Workloads lists the workloads the variant applies to; nil means all.
	Workloads []string
	// FullOnly keeps the variant out of the quick mode (make demo) and in make demo-full.
	FullOnly bool
	// Artifact returns what to deploy for a workload, or why the variant cannot run it (the row
	// then shows the error and the other variants still run).
	Artifact func(a *Artifacts, w Workload) (Deploy, error)
}

// Deploy is a variant's artifact for one workload: a file (code kinds) or an image (blackbox).
type Deploy struct {
	Source   string
	Artifact report.Artifact
}

// Baseline is the variant every verdict row is compared with: the user's blackbox image.
const Baseline = "blackbox"

var (
	mobilenetOnly = []string{"mobilenet"}
	otherOnly     = []string{"hello", "cpuhash", "counter"}
)

// Variants are every way the demo runs its workloads, in table order.
var Variants = []Variant{
	{ID: Baseline, Label: "blackbox image on Docker", Backend: "docker", Kind: "blackbox", Artifact: blackboxImage},
	{ID: "native-docker", Label: "native:0.1 on Docker", Backend: "docker", Kind: "native:0.1", Artifact: nativeArtifact},
	{ID: "wasm-docker", Label: "wasm:0.1 on Docker", Backend: "docker", Kind: "wasm:0.1", Workloads: otherOnly, Artifact: wasmReactor},
	{ID: "wasm-docker-inguest", Label: "wasm:0.1 on Docker, in-guest inference", Backend: "docker", Kind: "wasm:0.1",
		Workloads: mobilenetOnly, Artifact: mobilenetInGuest},
	{ID: "wasm-docker-wasinn", Label: "wasm:0.1 on Docker, wasi-nn", Backend: "docker", Kind: "wasm:0.1",
		Workloads: mobilenetOnly, Artifact: mobilenetWasiNN},
	{ID: "wasm-host", Label: "wasm:0.1 on the wasm host", Backend: "wasmhost", Kind: "wasm:0.1", Workloads: otherOnly, Artifact: wasmReactor},
	{ID: "wasm-host-inguest", Label: "wasm:0.1 on the wasm host, in-guest inference", Backend: "wasmhost", Kind: "wasm:0.1",
		Workloads: mobilenetOnly, Artifact: mobilenetInGuest},
	{ID: "wasm-host-wasinn", Label: "wasm:0.1 on the wasm host, wasi-nn", Backend: "wasmhost", Kind: "wasm:0.1",
		Workloads: mobilenetOnly, Artifact: mobilenetWasiNN},
	{ID: "native-process", Label: "native:0.1 on the process backend", Backend: "process", Kind: "native:0.1", FullOnly: true,
		Artifact: nativeArtifact},
}

// Workload is an action the demo measures with every variant that applies.
type Workload struct {
	Name        string
	Description string
	// Params are the invocation parameters.
	Params map[string]any
	// Verdict marks the workload of the verdict table (MobileNet).
	Verdict bool
	// Stateful marks the counter: its results are kept to show warm state against fresh.
	Stateful bool
	// MemoryMB is the action's memory limit per kind.
	MemoryMB func(kind string) int
}

// Workloads are measured in this order.
var Workloads = []Workload{
	{Name: "mobilenet", Verdict: true, Params: map[string]any{},
		Description: "MobileNetV2 classification of the action's bundled 224×224 sample image (no image parameter).",
		// The user's comparison: blackbox containers get 512 MB, wasm 256 MB.
		MemoryMB: func(kind string) int {
			if kind == "wasm:0.1" {
				return 256
			}
			return 512
		}},
	{Name: "hello", Params: map[string]any{"name": "demo"}, MemoryMB: small,
		Description: "The smallest action (a greeting and two log lines): start-up is all the work."},
	{Name: "cpuhash", Params: map[string]any{"rounds": 20000}, MemoryMB: small,
		Description: "CPU-bound: SHA-256 applied 20 000 times."},
	{Name: "counter", Stateful: true, Params: map[string]any{}, MemoryMB: small,
		Description: "Stateful: counts the activations its process or instance served."},
}

// small is the memory of the small workloads: 16 warm containers fit the 2048 MB budget.
func small(string) int { return 128 }

// appliesTo says whether v runs w.
func (v Variant) appliesTo(w Workload) bool {
	if v.Workloads == nil {
		return true
	}
	for _, n := range v.Workloads {
		if n == w.Name {
			return true
		}
	}
	return false
}
