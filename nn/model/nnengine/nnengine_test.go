package nnengine

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/wasmwhisk/wasmwhisk/nn/model"
)

// sharedDir returns the shared model directory, failing under CI=true when it is missing.
func sharedDir(t testing.TB) string {
	t.Helper()
	dir, err := model.Resolve("")
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

// TestClassifySharedImages: top-5 equal to onnxruntime's, all probabilities within 1e-4, for both
// model layouts, from the images (through preprocessing).
func TestClassifySharedImages(t *testing.T) {
	dir := sharedDir(t)
	for _, file := range []string{"mobilenetv2-1.0-224.onnx", "mobilenetv2-1.0-224-bn-gemm.onnx"} {
		sc, _ := model.DefaultSidecar(file)
		data, err := os.ReadFile(filepath.Join(dir, file))
		if err != nil {
			t.Fatal(err)
		}
		labels, err := model.ReadLabels(os.DirFS(dir), sc.Labels)
		if err != nil {
			t.Fatal(err)
		}
		c, err := NewClassifier(data, labels, sc)
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

func checkResult(t *testing.T, res *model.Result, want expected) {
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
