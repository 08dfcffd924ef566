package ziptest

import (
	"archive/zip"
	"bytes"
	"io"
	"io/fs"
	"testing"
)

func TestBuild(t *testing.T) {
	data := Build(t,
		File{Name: "exec", Body: []byte("#!/bin/sh\n"), Mode: 0o755},
		File{Name: "data/"},
		File{Name: "data/a.txt", Body: []byte("a")},
		File{Name: "link", Body: []byte("/etc/passwd"), Mode: fs.ModeSymlink | 0o777},
		File{Name: "model.onnx", Body: bytes.Repeat([]byte{7}, 1000), Store: true},
		File{Name: "../escape"},
		File{Name: "jar.txt", Body: []byte("j"), Mode: 0o755, NoMode: true},
	)
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		name   string
		mode   fs.FileMode
		method uint16
		body   string
	}{
		{"exec", 0o755, zip.Deflate, "#!/bin/sh\n"},
		{"data/", fs.ModeDir | 0o755, zip.Store, ""}, // archive/zip stores directories
		{"data/a.txt", 0o644, zip.Deflate, "a"},
		{"link", fs.ModeSymlink | 0o777, zip.Deflate, "/etc/passwd"},
		{"model.onnx", 0o644, zip.Store, string(bytes.Repeat([]byte{7}, 1000))},
		{"../escape", 0o644, zip.Deflate, ""},
		{"jar.txt", 0o666, zip.Deflate, "j"}, // no Unix mode: what readers make of DOS attributes
	}
	if len(zr.File) != len(want) {
		t.Fatalf("%d entries, want %d", len(zr.File), len(want))
	}
	for i, w := range want {
		f := zr.File[i]
		if f.Name != w.name || f.Mode() != w.mode || f.Method != w.method {
			t.Errorf("entry %d: %s %v method %d, want %s %v method %d", i, f.Name, f.Mode(), f.Method, w.name, w.mode, w.method)
			continue
		}
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(rc)
		rc.Close()
		if err != nil || string(body) != w.body {
			t.Errorf("entry %s: body %q (%v), want %q", f.Name, body, err, w.body)
		}
	}
}

func TestBuildEmpty(t *testing.T) {
	data := Build(t)
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil || len(zr.File) != 0 {
		t.Fatalf("empty archive: %v, %d entries", err, len(zr.File))
	}
}
