package model

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wasmwhisk/wasmwhisk/nn/imageproc"
)

// sharedDir returns the shared model directory, failing under CI=true when it is missing.
func sharedDir(t testing.TB) string {
	t.Helper()
	dir, err := Resolve("")
	if err == nil {
		if _, err2 := os.Stat(filepath.Join(dir, "parrot.expected.json")); err2 != nil {
			err = err2
		}
	}
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("model fixtures: %v", err)
		}
		t.Skipf("model fixtures: %v", err)
	}
	return dir
}

var images = []struct{ name, file string }{
	{"parrot", "parrot.jpg"}, {"cat", "cat.bmp"}, {"bird", "bird.bmp"}, {"grace_hopper", "grace_hopper.bmp"},
}

type expected struct {
	Top5 []struct {
		Index int     `json:"index"`
		Label string  `json:"label"`
		Prob  float64 `json:"prob"`
	} `json:"top5"`
	Probs []float32 `json:"onnxruntime_probs"`
}

func readExpected(t *testing.T, dir, name string) expected {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name+".expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	var e expected
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatal(err)
	}
	return e
}

func readF32(t *testing.T, path string) []float32 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	x := make([]float32, len(b)/4)
	for i := range x {
		x[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return x
}

// TestPreprocessMatchesFixtures checks decode + resize + normalise bit for bit.
func TestPreprocessMatchesFixtures(t *testing.T) {
	dir := sharedDir(t)
	sc, _ := DefaultSidecar("mobilenetv2-1.0-224.onnx")
	norm := imageproc.Norm{Mean: sc.Mean, Std: sc.Std}
	for _, im := range images {
		t.Run(im.name, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(dir, im.file))
			if err != nil {
				t.Fatal(err)
			}
			img, err := imageproc.Decode(data)
			if err != nil {
				t.Fatal(err)
			}
			u8, err := imageproc.Resize(img, 224, 224)
			if err != nil {
				t.Fatal(err)
			}
			wantU8, err := os.ReadFile(filepath.Join(dir, im.name+".input.u8"))
			if err != nil {
				t.Fatal(err)
			}
			if string(u8) != string(wantU8) {
				t.Fatal("resized pixels differ from the .input.u8 fixture")
			}
			x, err := imageproc.Input(nil, img, 224, 224, norm)
			if err != nil {
				t.Fatal(err)
			}
			want := readF32(t, filepath.Join(dir, im.name+".input.f32"))
			for i := range want {
				if x[i] != want[i] {
					t.Fatalf("input %d: %v, want %v", i, x[i], want[i])
				}
			}
		})
	}
}

// TestClassifySharedImages: top-5 equal to onnxruntime's, all probabilities within 1e-4, for both
// model layouts, from the images (through preprocessing).
func TestClassifySharedImages(t *testing.T) {
	dir := sharedDir(t)
	for _, file := range []string{"mobilenetv2-1.0-224.onnx", "mobilenetv2-1.0-224-bn-gemm.onnx"} {
		sc, _ := DefaultSidecar(file)
		data, err := os.ReadFile(filepath.Join(dir, file))
		if err != nil {
			t.Fatal(err)
		}
		labels, err := ReadLabels(os.DirFS(dir), sc.Labels)
		if err != nil {
			t.Fatal(err)
		}
		c, err := New(data, labels, sc)
		if err != nil {
			t.Fatal(err)
		}
		for _, im := range images {
			t.Run(file+"/"+im.name, func(t *testing.T) {
				img, err := os.ReadFile(filepath.Join(dir, im.file))
				if err != nil {
					t.Fatal(err)
				}
				res, err := c.ClassifyImage(context.Background(), img, 5)
				if err != nil {
					t.Fatal(err)
				}
				checkResult(t, res, readExpected(t, dir, im.name))
			})
		}
	}
}

func checkResult(t *testing.T, res *Result, want expected) {
	t.Helper()
	if len(res.Top) != 5 || len(want.Top5) != 5 {
		t.Fatalf("top has %d entries, expected file %d", len(res.Top), len(want.Top5))
	}
	for i, p := range res.Top {
		if p.Index != want.Top5[i].Index || p.Label != want.Top5[i].Label {
			t.Errorf("top[%d] = %d %q, want %d %q", i, p.Index, p.Label, want.Top5[i].Index, want.Top5[i].Label)
		}
	}
	worst := 0.0
	for i, p := range want.Probs {
		if d := math.Abs(float64(res.Probs[i] - p)); d > worst {
			worst = d
		}
	}
	if worst > 1e-4 {
		t.Errorf("max |p - onnxruntime| = %g > 1e-4", worst)
	}
	t.Logf("top-1 %s %.5f, max abs diff %.2g", res.Top[0].Label, res.Top[0].Confidence, worst)
}

func TestOpenResolved(t *testing.T) {
	dir := sharedDir(t)
	c, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.ClassifyTensor(context.Background(), readF32(t, filepath.Join(dir, "cat.input.f32")), 3)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Top) != 3 || res.Top[0].Label != "Egyptian cat" {
		t.Fatalf("got %+v", res.Top)
	}
	if _, err := c.ClassifyTensor(context.Background(), make([]float32, 10), 3); err == nil {
		t.Fatal("a short input tensor was accepted")
	}
}

func TestResolve(t *testing.T) {
	tmp := t.TempDir()
	if _, err := Resolve(tmp); err == nil {
		t.Fatal("an empty directory was accepted as a model directory")
	}
	t.Setenv(EnvDir, tmp)
	if _, err := Resolve(""); err == nil {
		t.Fatalf("%s pointing at an empty directory was accepted", EnvDir)
	}
	if err := os.WriteFile(filepath.Join(tmp, SidecarFile), []byte(`{"model":"m.onnx","width":0}`), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := Resolve("")
	if err != nil || got != tmp {
		t.Fatalf("Resolve with %s: %q, %v", EnvDir, got, err)
	}
	if _, err := ReadSidecar(os.DirFS(tmp)); err == nil {
		t.Fatal("a sidecar with width 0 was accepted")
	}
	if err := os.WriteFile(filepath.Join(tmp, SidecarFile), []byte(`{"model":"m.onnx","bogus":1}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadSidecar(os.DirFS(tmp)); err == nil {
		t.Fatal("a sidecar with an unknown field was accepted")
	}
}

// engineFunc adapts a function to Engine, for the sad paths of the classifier around any engine.
type engineFunc func(ctx context.Context, x []float32) ([]float32, error)

func (f engineFunc) Infer(ctx context.Context, x []float32) ([]float32, error) { return f(ctx, x) }

func TestClassifierEngineErrors(t *testing.T) {
	sc, _ := DefaultSidecar("mobilenetv2-1.0-224.onnx")
	x := make([]float32, 3*224*224)
	boom := errors.New("boom")
	cases := []struct {
		name string
		e    Engine
		want string
	}{
		{"engine fails", engineFunc(func(context.Context, []float32) ([]float32, error) { return nil, boom }), "boom"},
		{"no output", engineFunc(func(context.Context, []float32) ([]float32, error) { return nil, nil }), "no output"},
	}
	for _, c := range cases {
		cl, err := NewWithEngine(c.e, nil, sc)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := cl.ClassifyTensor(context.Background(), x, 5); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want %q", c.name, err, c.want)
		}
	}
	// The engine's buffer is not kept: a result survives the next call.
	buf := make([]float32, 1001)
	cl, _ := NewWithEngine(engineFunc(func(_ context.Context, x []float32) ([]float32, error) {
		for i := range buf {
			buf[i] = x[0] * float32(i)
		}
		return buf, nil
	}), nil, sc)
	x[0] = 1
	first, err := cl.ClassifyTensor(context.Background(), x, 1)
	if err != nil {
		t.Fatal(err)
	}
	x[0] = -1
	if _, err := cl.ClassifyTensor(context.Background(), x, 1); err != nil {
		t.Fatal(err)
	}
	if first.Top[0].Index != 1000 || first.Probs[1000] != 1000 {
		t.Fatalf("the first result changed: top %+v, p[1000] %v", first.Top[0], first.Probs[1000])
	}
	if _, err := NewWithEngine(nil, nil, sc); err == nil {
		t.Fatal("a nil engine was accepted")
	}
}
