package openwhisk

import (
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/wasmwhisk/wasmwhisk/standalone/docker"
)

// openWhiskDefaults are the kinds and images of OpenWhisk's default manifest that runtimes.json
// must keep unchanged.
var openWhiskDefaults = map[string]string{
	"nodejs:18":   "openwhisk/action-nodejs-v18:nightly",
	"nodejs:20":   "openwhisk/action-nodejs-v20:nightly",
	"python:3.10": "openwhisk/action-python-v3.10:nightly",
	"python:3.11": "openwhisk/action-python-v3.11:nightly",
	"swift:5.3":   "openwhisk/action-swift-v5.3:nightly",
	"swift:5.7":   "openwhisk/action-swift-v5.7:nightly",
	"java:8":      "openwhisk/java8action:nightly",
	"php:8.1":     "openwhisk/action-php-v8.1:nightly",
	"ruby:2.5":    "openwhisk/action-ruby-v2.5:nightly",
	"go:1.20":     "openwhisk/action-golang-v1.20:nightly",
	"dotnet:3.1":  "openwhisk/action-dotnet-v3.1:nightly",
	"dotnet:6.0":  "openwhisk/action-dotnet-v6.0:nightly",
	"rust:1.34":   "openwhisk/action-rust-v1.34:nightly",
}

func TestRuntimesJSON(t *testing.T) {
	m, err := ParseManifest(RuntimesJSON)
	if err != nil {
		t.Fatal(err)
	}
	for kind, image := range openWhiskDefaults {
		r, ok := m.Kind(kind)
		if !ok || r.Image.Reference() != image || r.IsDeprecated() {
			t.Errorf("OpenWhisk default %s: %+v (found %v), want image %s", kind, r, ok, image)
		}
	}
	for fam, def := range map[string]string{"nodejs": "nodejs:20", "python": "python:3.10", "dotnet": "dotnet:3.1", "wasm": "wasm:0.1", "native": "native:0.1"} {
		if r, ok := m.Kind(fam + ":default"); !ok || r.Kind != def {
			t.Errorf("%s:default resolves to %q, want %s", fam, r.Kind, def)
		}
	}

	wasm, ok := m.Kind("wasm:0.1")
	if !ok {
		t.Fatal("no wasm:0.1")
	}
	if m.Runtimes["wasm"][0].Kind != "wasm:0.1" || len(m.Runtimes["wasm"]) != 1 {
		t.Errorf("family wasm = %+v", m.Runtimes["wasm"])
	}
	if wasm.Image.Reference() != docker.WasmRuntimeImage {
		t.Errorf("wasm:0.1 image %s, want %s (what build-images.sh tags)", wasm.Image.Reference(), docker.WasmRuntimeImage)
	}
	// A zip or module upload must reach the runtime as binary, not as text.
	if wasm.Attached == nil || wasm.Attached.AttachmentType != "application/octet-stream" {
		t.Errorf("wasm:0.1 attached = %+v, want application/octet-stream", wasm.Attached)
	}
	if wasm.SentinelledLogs != nil && !*wasm.SentinelledLogs {
		t.Error("wasm:0.1 prints sentinels; sentinelledLogs must not be false")
	}
	if len(wasm.StemCells) == 0 || wasm.StemCells[0].Memory != "256 MB" {
		t.Errorf("wasm:0.1 stem cells %+v, want some for the default 256 MB actions", wasm.StemCells)
	}
	if native, ok := m.Kind("native:0.1"); !ok || native.Image.Reference() != docker.NativeRuntimeImage {
		t.Errorf("native:0.1 = %+v, want image %s", native, docker.NativeRuntimeImage)
	}
	var boxes []string
	for _, b := range m.Blackboxes {
		boxes = append(boxes, b.Reference())
	}
	if got := strings.Join(boxes, " "); !strings.Contains(got, "openwhisk/dockerskeleton:nightly") || !strings.Contains(got, docker.MobileNetImage) {
		t.Errorf("blackboxes %s, want dockerskeleton and %s", got, docker.MobileNetImage)
	}
}

// TestDeployFilesAgree checks that the Helm values and the standalone jar config point at the
// manifest in this directory and raise the throttles docs/deploy.md tells users to raise.
func TestDeployFilesAgree(t *testing.T) {
	values, err := os.ReadFile("helm/values-wasmwhisk.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(values), `runtimes: "runtimes-wasmwhisk.json"`) {
		t.Error("helm values do not name runtimes-wasmwhisk.json")
	}
	for _, key := range []string{"actionsInvokesPerminute:", "actionsInvokesConcurrent:", "userMemory:"} {
		if !strings.Contains(string(values), key) {
			t.Errorf("helm values miss %s", key)
		}
	}
	conf, err := os.ReadFile("standalone/wasmwhisk-standalone.conf")
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{`include classpath("standalone.conf")`, "limits-actions-invokes-perMinute", "limits-actions-invokes-concurrent", "user-memory", "bypass-pull-for-local-images = true", `local-image-prefix = "wasmwhisk"`} {
		if !strings.Contains(string(conf), key) {
			t.Errorf("standalone conf misses %s", key)
		}
	}
	script, err := os.ReadFile("standalone/run-standalone-jar.sh")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(script), "-m ") || !strings.Contains(string(script), "runtimes.json") {
		t.Error("run-standalone-jar.sh does not pass -m runtimes.json")
	}
}

func TestParseManifestRejects(t *testing.T) {
	wasm := `{"kind":"wasm:0.1","image":{"name":"wasm-runtime"}}`
	tests := []struct {
		name, manifest, want string
	}{
		{"not JSON", `{`, "unexpected EOF"},
		{"unknown top-level field", `{"runtimes":{"wasm":[` + wasm + `]},"blackbox":[]}`, "unknown field"},
		{"unknown runtime field", `{"runtimes":{"wasm":[{"kind":"wasm:0.1","image":{"name":"x"},"stemcells":[]}]}}`, "unknown field"},
		{"trailing data", `{"runtimes":{"wasm":[` + wasm + `]}} {}`, "data after"},
		{"no runtimes", `{"runtimes":{}}`, "no runtime family"},
		{"empty family", `{"runtimes":{"wasm":[]}}`, "no kinds"},
		{"missing kind", `{"runtimes":{"wasm":[{"image":{"name":"x"}}]}}`, "kind is required"},
		{"kind of another family", `{"runtimes":{"wasm":[{"kind":"go:1.20","image":{"name":"x"}}]}}`, `kind must be "wasm:"`},
		{"empty version", `{"runtimes":{"wasm":[{"kind":"wasm:","image":{"name":"x"}}]}}`, `kind must be "wasm:"`},
		{"upper-case kind", `{"runtimes":{"Wasm":[{"kind":"Wasm:0.1","image":{"name":"x"}}]}}`, "lower case"},
		{"reserved kind", `{"runtimes":{"blackbox":[{"kind":"blackbox","image":{"name":"x"}}]}}`, "reserved"},
		{"duplicate kind", `{"runtimes":{"wasm":[` + wasm + `,` + wasm + `]}}`, "also defined"},
		{"no default among two", `{"runtimes":{"wasm":[` + wasm + `,{"kind":"wasm:0.2","image":{"name":"x"}}]}}`, "exactly one default"},
		{"two defaults", `{"runtimes":{"wasm":[{"kind":"wasm:0.1","default":true,"image":{"name":"x"}},{"kind":"wasm:0.2","default":true,"image":{"name":"x"}}]}}`, "exactly one default"},
		{"missing image name", `{"runtimes":{"wasm":[{"kind":"wasm:0.1","image":{"prefix":"p"}}]}}`, "image.name is required"},
		{"bad image name", `{"runtimes":{"wasm":[{"kind":"wasm:0.1","image":{"name":"Wasm Runtime"}}]}}`, "not a valid image name"},
		{"bad tag", `{"runtimes":{"wasm":[{"kind":"wasm:0.1","image":{"name":"x","tag":":latest"}}]}}`, "not a valid tag"},
		{"bad attachment type", `{"runtimes":{"wasm":[{"kind":"wasm:0.1","image":{"name":"x"},"attached":{"attachmentName":"codefile","attachmentType":"application/wasm"}}]}}`, "attachmentType"},
		{"attachment without name", `{"runtimes":{"wasm":[{"kind":"wasm:0.1","image":{"name":"x"},"attached":{"attachmentType":"text/plain"}}]}}`, "attachmentName is required"},
		{"stem cell without memory", `{"runtimes":{"wasm":[{"kind":"wasm:0.1","image":{"name":"x"},"stemCells":[{"initialCount":1}]}]}}`, "memory is required"},
		{"stem cell count zero", `{"runtimes":{"wasm":[{"kind":"wasm:0.1","image":{"name":"x"},"stemCells":[{"initialCount":0,"memory":"256 MB"}]}]}}`, "initialCount must be > 0"},
		{"stem cell memory without unit", `{"runtimes":{"wasm":[{"kind":"wasm:0.1","image":{"name":"x"},"stemCells":[{"initialCount":1,"memory":"256"}]}]}}`, "not a size"},
		{"count and initialCount", `{"runtimes":{"wasm":[{"kind":"wasm:0.1","image":{"name":"x"},"stemCells":[{"initialCount":1,"count":1,"memory":"256 MB"}]}]}}`, "both set"},
		{"reactive maxCount zero", `{"runtimes":{"wasm":[{"kind":"wasm:0.1","image":{"name":"x"},"stemCells":[{"initialCount":1,"memory":"256 MB","reactive":{"minCount":0,"maxCount":0,"ttl":"2 minutes","threshold":1,"increment":1}}]}]}}`, "maxCount must be > 0"},
		{"reactive bad ttl", `{"runtimes":{"wasm":[{"kind":"wasm:0.1","image":{"name":"x"},"stemCells":[{"initialCount":1,"memory":"256 MB","reactive":{"minCount":0,"maxCount":2,"ttl":"soon","threshold":1,"increment":1}}]}]}}`, "not a duration"},
		{"reactive increment over max", `{"runtimes":{"wasm":[{"kind":"wasm:0.1","image":{"name":"x"},"stemCells":[{"initialCount":1,"memory":"256 MB","reactive":{"minCount":0,"maxCount":2,"ttl":"2 minutes","threshold":1,"increment":3}}]}]}}`, "increment"},
		{"reactive threshold zero", `{"runtimes":{"wasm":[{"kind":"wasm:0.1","image":{"name":"x"},"stemCells":[{"initialCount":1,"memory":"256 MB","reactive":{"minCount":0,"maxCount":2,"ttl":"2 minutes","threshold":0,"increment":1}}]}]}}`, "threshold"},
		{"blackbox without name", `{"runtimes":{"wasm":[` + wasm + `]},"blackboxes":[{"prefix":"openwhisk"}]}`, "blackboxes[0]: image.name is required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseManifest([]byte(tt.manifest))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestParseManifestAccepts(t *testing.T) {
	tests := []struct{ name, manifest string }{
		{"single kind is its own default", `{"runtimes":{"wasm":[{"kind":"wasm:0.1","image":{"name":"wasm-runtime"}}]}}`},
		{"legacy kind without version", `{"runtimes":{"nodejs":[{"kind":"nodejs","image":{"name":"nodejsaction"},"deprecated":true},{"kind":"nodejs:6","default":true,"image":{"name":"nodejs6action"}}]}}`},
		{"count alias and size forms", `{"runtimes":{"wasm":[{"kind":"wasm:0.1","image":{"registry":"registry.local:5000","prefix":"my-org","name":"wasm-runtime","tag":"0.1"},"stemCells":[{"count":2,"memory":"128m"},{"initialCount":1,"memory":"1 GB","reactive":{"minCount":0,"maxCount":3,"ttl":"30 s","threshold":2,"increment":3}}]}]}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := ParseManifest([]byte(tt.manifest)); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestImageReference(t *testing.T) {
	tests := []struct {
		img  Image
		want string
	}{
		{Image{Name: "x"}, "x"},
		{Image{Prefix: "openwhisk", Name: "dockerskeleton", Tag: "nightly"}, "openwhisk/dockerskeleton:nightly"},
		{Image{Registry: "registry.local:5000/", Prefix: "wasmwhisk", Name: "wasm-runtime", Tag: "0.1"}, "registry.local:5000/wasmwhisk/wasm-runtime:0.1"},
	}
	for _, tt := range tests {
		if got := tt.img.Reference(); got != tt.want {
			t.Errorf("%+v.Reference() = %s, want %s", tt.img, got, tt.want)
		}
	}
}

func FuzzParseManifest(f *testing.F) {
	f.Add(RuntimesJSON)
	f.Add([]byte(`{"runtimes":{"wasm":[{"kind":"wasm:0.1","image":{"name":"x"},"stemCells":[{"initialCount":1,"memory":"256 MB"}]}]}}`))
	f.Add([]byte(`{"runtimes":null,"blackboxes":[{}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseManifest(data)
		if err != nil {
			return
		}
		// Whatever validates round-trips and validates again.
		out, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ParseManifest(out); err != nil {
			t.Fatalf("re-encoded manifest fails: %v\n%s", err, out)
		}
	})
}

// TestPrepareChart runs helm/prepare-chart.sh on a minimal chart directory, with and without a
// registry, and validates what it writes.
func TestPrepareChart(t *testing.T) {
	for _, registry := range []string{"", "registry.local:5000"} {
		chart := t.TempDir()
		if err := os.WriteFile(chart+"/Chart.yaml", []byte("name: openwhisk\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command("bash", "helm/prepare-chart.sh", chart)
		cmd.Env = append(os.Environ(), "IMAGE_REGISTRY="+registry)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("prepare-chart.sh: %v\n%s", err, out)
		}
		data, err := os.ReadFile(chart + "/runtimes-wasmwhisk.json")
		if err != nil {
			t.Fatal(err)
		}
		m, err := ParseManifest(data)
		if err != nil {
			t.Fatalf("registry %q: %v", registry, err)
		}
		want := docker.WasmRuntimeImage
		if registry != "" {
			want = registry + "/" + want
		}
		if r, _ := m.Kind("wasm:0.1"); r.Image.Reference() != want {
			t.Errorf("registry %q: wasm:0.1 image %s, want %s", registry, r.Image.Reference(), want)
		}
		if r, _ := m.Kind("nodejs:20"); r.Image.Reference() != openWhiskDefaults["nodejs:20"] {
			t.Errorf("registry %q: OpenWhisk's images must not change: %s", registry, r.Image.Reference())
		}
	}
	if err := exec.Command("bash", "helm/prepare-chart.sh", t.TempDir()).Run(); err == nil {
		t.Error("prepare-chart.sh accepted a directory without Chart.yaml")
	}
}
