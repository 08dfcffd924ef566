package main

import (
	"slices"
	"strings"
	"testing"
	"testing/fstest"
)

const sidecar = `{"model": "net.onnx", "layout": "NCHW", "width": 224, "height": 224,
  "mean": [128, 128, 128], "std": [128, 128, 128], "labels": "classes.txt"}`

func TestModelFiles(t *testing.T) {
	file := func(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s)} }
	cases := []struct {
		name    string
		dir     fstest.MapFS
		want    []string
		wantErr string
	}{
		{"sidecar on several lines", fstest.MapFS{"model.json": file(sidecar), "net.onnx": file("m")},
			[]string{"model.json", "net.onnx", "classes.txt"}, ""},
		// sed read the labels only from a one-line file, and the image shipped without its model.
		{"sidecar on one line", fstest.MapFS{"model.json": file(strings.ReplaceAll(sidecar, "\n", ""))},
			[]string{"model.json", "net.onnx", "classes.txt"}, ""},
		{"sidecar without labels", fstest.MapFS{"model.json": file(strings.Replace(sidecar, `, "labels": "classes.txt"`, "", 1))},
			[]string{"model.json", "net.onnx"}, ""},
		{"known model without sidecar", fstest.MapFS{"mobilenetv2-7.onnx": file("m"), "other.onnx": file("m")},
			[]string{"mobilenetv2-7.onnx", "imagenet_labels.txt"}, ""},
		{"preferred known model first", fstest.MapFS{"mobilenetv2-7.onnx": file("m"), "mobilenetv2-1.0-224.onnx": file("m")},
			[]string{"mobilenetv2-1.0-224.onnx", "imagenet_labels.txt"}, ""},
		{"no model", fstest.MapFS{"README": file("x")}, nil, "no model.json"},
		{"sidecar not JSON", fstest.MapFS{"model.json": file(`model = "net.onnx"`)}, nil, "model.json"},
		{"sidecar with an unknown field", fstest.MapFS{"model.json": file(strings.Replace(sidecar, `"layout"`, `"lay_out"`, 1))}, nil, "unknown field"},
		{"sidecar without a model", fstest.MapFS{"model.json": file(strings.Replace(sidecar, `"model": "net.onnx", `, "", 1))}, nil, "model is required"},
	}
	for _, c := range cases {
		got, err := modelFiles(c.dir)
		if c.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("%s: error %v, want one containing %q", c.name, err, c.wantErr)
			}
			continue
		}
		if err != nil || !slices.Equal(got, c.want) {
			t.Errorf("%s: %q, %v; want %q", c.name, got, err, c.want)
		}
	}
}
