//go:build !wasip1

package main

import (
	"archive/zip"
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"

	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wasmwhisk/wasmwhisk/internal/testbuild"
	"github.com/wasmwhisk/wasmwhisk/nn/model"
	"github.com/wasmwhisk/wasmwhisk/runtime"
	"github.com/wasmwhisk/wasmwhisk/runtime/wasm"
)

// modelDir returns the shared model directory; under CI=true a missing model fails the test.
func modelDir(t *testing.T) string {
	t.Helper()
	dir, err := model.Resolve("")
	if err == nil {
		_, err = os.Stat(filepath.Join(dir, "parrot.expected.json"))
	}
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("model fixtures: %v", err)
		}
		t.Skipf("model fixtures: %v", err)
	}
	return dir
}

// runner sends one activation value and returns the result line.
type runner func(t *testing.T, value string) map[string]any

// nativeRunner starts the actionloop executable and returns a runner over its stdin/stdout.
func nativeRunner(t *testing.T, tags []string, dir string) runner {
	bin := testbuild.MustBuild(t, testbuild.Target{Pkg: "./actions/mobilenet", Tags: tags})
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), model.EnvDir+"="+dir)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	// The actionloop protocol returns results on file descriptor 3.
	stdout, fd3, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.ExtraFiles = []*os.File{fd3}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	fd3.Close()
	t.Cleanup(func() { stdin.Close(); cmd.Wait(); stdout.Close() })
	r := bufio.NewReaderSize(stdout, 1<<20)
	return func(t *testing.T, value string) map[string]any {
		t.Helper()
		if _, err := fmt.Fprintf(stdin, "{\"value\":%s}\n", value); err != nil {
			t.Fatal(err)
		}
		line, err := r.ReadBytes('\n')
		if err != nil {
			t.Fatal(err)
		}
		return decode(t, line)
	}
}

func decode(t *testing.T, line []byte) map[string]any {
	t.Helper()
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("result %q: %v", line, err)
	}
	return m
}

// actionZip is the archive a wasm action is deployed with: the module and the model files.
func actionZip(t *testing.T, module []byte, dir string) []byte {
	sc, _ := model.DefaultSidecar("mobilenetv2-1.0-224.onnx")
	side, _ := json.Marshal(sc)
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	add := func(name string, data []byte) {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Store})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(data)
	}
	add("main.wasm", module)
	add(model.SidecarFile, side)
	for _, f := range []string{sc.Model, sc.Labels} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		add(f, b)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func wasmRunner(t *testing.T, eng *wasm.Engine, reactor bool, tags []string, dir string) runner {
	path := testbuild.MustBuild(t, testbuild.Target{Pkg: "./actions/mobilenet", WASM: true, Reactor: reactor, Tags: tags})
	module, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	x := eng.NewExecutor(wasm.Config{})
	t.Cleanup(func() { x.Close() })
	if err := x.Init(context.Background(), runtime.InitRequest{Name: "mobilenet", Main: "main", Code: actionZip(t, module, dir)}); err != nil {
		t.Fatal(err)
	}
	return func(t *testing.T, value string) map[string]any {
		t.Helper()
		line := []byte(fmt.Sprintf(`{"value":%s}`, value))
		var stdout, stderr bytes.Buffer
		res, err := x.Run(context.Background(), runtime.RunRequest{Value: json.RawMessage(value), Context: map[string]string{},
			Env: map[string]string{}, Line: line, Stdout: &stdout, Stderr: &stderr})
		if err != nil {
			t.Fatalf("run: %v (stderr %s)", err, stderr.String())
		}
		return decode(t, res)
	}
}

// bmpHeader is a 24-bit BMP header claiming w×h pixels, with no pixel data after it.
func bmpHeader(w, h int32) []byte {
	var b bytes.Buffer
	b.WriteString("BM")
	for _, v := range []any{uint32(54), uint16(0), uint16(0), uint32(54), uint32(40), w, h, uint16(1), uint16(24),
		uint32(0), uint32(0), int32(2835), int32(2835), uint32(0), uint32(0)} {
		binary.Write(&b, binary.LittleEndian, v)
	}
	return b.Bytes()
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

var images = []struct{ name, file string }{
	{"parrot", "parrot.jpg"}, {"cat", "cat.bmp"}, {"bird", "bird.bmp"}, {"grace_hopper", "grace_hopper.bmp"},
}

// exercise runs the same activations on one build and returns the full-length sample result.
func exercise(t *testing.T, run runner, dir string, full bool) []any {
	for i, im := range images {
		if !full && i > 0 {
			break // the command ABI reloads the model on every run: keep it short
		}
		data, err := os.ReadFile(filepath.Join(dir, im.file))
		if err != nil {
			t.Fatal(err)
		}
		res := run(t, fmt.Sprintf(`{"image":%q,"top":5}`, b64(data)))
		var want struct {
			Top5 []struct {
				Index int     `json:"index"`
				Prob  float64 `json:"prob"`
			} `json:"top5"`
		}
		b, _ := os.ReadFile(filepath.Join(dir, im.name+".expected.json"))
		if err := json.Unmarshal(b, &want); err != nil {
			t.Fatal(err)
		}
		top, _ := res["top"].([]any)
		if len(top) != 5 {
			t.Fatalf("%s: result %v", im.name, res)
		}
		for i, p := range top {
			pm := p.(map[string]any)
			idx, _ := pm["index"].(json.Number).Int64()
			conf, _ := pm["confidence"].(json.Number).Float64()
			if int(idx) != want.Top5[i].Index || math.Abs(conf-want.Top5[i].Prob) > 1e-4 {
				t.Errorf("%s: top[%d] = %d %.6f, want %d %.6f", im.name, i, idx, conf, want.Top5[i].Index, want.Top5[i].Prob)
			}
		}
	}
	bad := []struct{ name, value, want string }{
		{"not base64", `{"image":"***"}`, "base64"},
		{"not an image", `{"image":"` + b64([]byte("hello, world")) + `"}`, "not a supported image"},
		{"20000x20000", `{"image":"` + b64(bmpHeader(20000, 20000)) + `"}`, "too large"},
		{"zero size", `{"image":"` + b64(bmpHeader(0, 0)) + `"}`, "image"},
		{"truncated", `{"image":"` + b64(bmpHeader(64, 64)) + `"}`, "image"},
		{"bad top", `{"top":"x"}`, "top"},
		{"image not a string", `{"image":5}`, "base64"},
	}
	for i, c := range bad {
		if !full && i > 2 {
			break
		}
		res := run(t, c.value)
		msg, _ := res["error"].(string)
		if !strings.Contains(msg, c.want) {
			t.Errorf("%s: result %v, want an error mentioning %q", c.name, res, c.want)
		}
	}
	res := run(t, `{"top":1000}`)
	if res["label"] != "military uniform" {
		t.Errorf("sample: %v", res["label"])
	}
	top, _ := res["top"].([]any)
	return top
}

// TestActionNativeAndWasm runs the action's builds: native (nn with its assembly kernels and in
// pure Go), and as wasm command and reactor modules under the project's wasmtime runtime, with
// inference by the host through wasi-nn and inside the guest (-tags nn_inguest). All must match
// onnxruntime's top-5 and answer bad input alike; the wasi-nn builds run the host's native nn,
// so their 1000 sample probabilities are the native build's bit for bit, and the in-guest
// builds run pure Go, so theirs are the pure-Go build's.
func TestActionNativeAndWasm(t *testing.T) {
	dir := modelDir(t)
	eng, err := wasm.NewEngine(wasm.EngineConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	inguest := []string{"nn_inguest"}
	builds := []struct {
		name string
		run  func(t *testing.T) runner
		full bool
		same string // the build whose sample probabilities this one must equal
	}{
		{"native", func(t *testing.T) runner { return nativeRunner(t, nil, dir) }, true, ""},
		{"native-purego", func(t *testing.T) runner { return nativeRunner(t, []string{"purego"}, dir) }, true, ""},
		{"wasm-reactor-wasinn", func(t *testing.T) runner { return wasmRunner(t, eng, true, nil, dir) }, true, "native"},
		{"wasm-command-wasinn", func(t *testing.T) runner { return wasmRunner(t, eng, false, nil, dir) }, true, "native"},
		{"wasm-reactor-inguest", func(t *testing.T) runner { return wasmRunner(t, eng, true, inguest, dir) }, true, "native-purego"},
		// The command ABI loads the model at every activation, which in the guest takes seconds.
		{"wasm-command-inguest", func(t *testing.T) runner { return wasmRunner(t, eng, false, inguest, dir) }, false, "native-purego"},
	}
	results := map[string][]any{}
	for _, b := range builds {
		t.Run(b.name, func(t *testing.T) { results[b.name] = exercise(t, b.run(t), dir, b.full) })
	}
	for _, b := range builds {
		if b.same == "" {
			continue
		}
		got, _ := json.Marshal(results[b.name])
		want, _ := json.Marshal(results[b.same])
		if len(results[b.name]) != 1000 || !bytes.Equal(got, want) {
			t.Errorf("%s: the 1000 sample probabilities differ from the %s build's", b.name, b.same)
		}
	}
}
