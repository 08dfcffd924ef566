package model

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

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
		cl, err := New(c.e, nil, sc)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := cl.ClassifyTensor(context.Background(), x, 5); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want %q", c.name, err, c.want)
		}
	}
	// The engine's buffer is not kept: a result survives the next call.
	buf := make([]float32, 1001)
	cl, _ := New(engineFunc(func(_ context.Context, x []float32) ([]float32, error) {
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
	if _, err := New(nil, nil, sc); err == nil {
		t.Fatal("a nil engine was accepted")
	}
}
