package archive

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wasmwhisk/wasmwhisk/internal/ziptest"
)

func TestExtractZipCases(t *testing.T) {
	lim := Limits{MaxBytes: 1 << 20, MaxFiles: 100}
	cases := []struct {
		name    string
		entries []ziptest.File
		files   string // the names extracted, space-separated; "" with want
		want    string // part of the error
	}{
		{"flat and nested", []ziptest.File{{Name: "a.txt", Body: []byte("a")}, {Name: "d/e/b.txt", Body: []byte("b")}}, "a.txt d/e/b.txt", ""},
		{"explicit dirs", []ziptest.File{{Name: "d/", Mode: fs.ModeDir | 0o755}, {Name: "d/x", Body: []byte("x")}}, "d/x", ""},
		{"no Unix modes (jar, DOS tools)", []ziptest.File{{Name: "d/", NoMode: true}, {Name: "d/x", Body: []byte("x"), NoMode: true}}, "d/x", ""},
		{"dot-dot", []ziptest.File{{Name: "../x"}}, "", "escapes the action directory"},
		{"inner dot-dot", []ziptest.File{{Name: "a/../x"}}, "", "escapes the action directory"},
		{"absolute", []ziptest.File{{Name: "/x"}}, "", "escapes the action directory"},
		{"dot", []ziptest.File{{Name: "./x"}}, "", "escapes the action directory"},
		{"backslash", []ziptest.File{{Name: `a\x`}}, "", "backslash"},
		{"symlink", []ziptest.File{{Name: "l", Body: []byte("/"), Mode: fs.ModeSymlink | 0o777}}, "", "symbolic link"},
		{"device", []ziptest.File{{Name: "dev", Mode: fs.ModeDevice | 0o644}}, "", "not a regular file"},
		{"file then dir", []ziptest.File{{Name: "a", Body: []byte("x")}, {Name: "a/b", Body: []byte("y")}}, "", "entry \"a/b\""},
		{"duplicate", []ziptest.File{{Name: "a"}, {Name: "a"}}, "", "appears twice"},
		{"too big", []ziptest.File{{Name: "a", Body: make([]byte, 1<<20+1)}}, "", "size limit"},
		{"too big together", []ziptest.File{{Name: "a", Body: make([]byte, 1<<19)}, {Name: "b", Body: make([]byte, 1<<19+1)}}, "", "size limit"},
		{"fails after nested dirs", []ziptest.File{{Name: "d/e/f/a", Body: []byte("a")}, {Name: "d/e/g/", Mode: fs.ModeDir | 0o755}, {Name: "d/e/f/a"}}, "", "appears twice"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			files, err := ExtractZip(ziptest.Build(t, c.entries...), dir, lim)
			if c.want != "" {
				if err == nil || !strings.Contains(err.Error(), c.want) {
					t.Fatalf("err = %v, want %q", err, c.want)
				}
				requireEmpty(t, dir)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(files, " "); got != c.files {
				t.Fatalf("files = %q, want %q", got, c.files)
			}
			for _, f := range files {
				if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
					t.Error(err)
				}
			}
		})
	}
}

// requireEmpty fails the test unless dir exists and holds nothing.
func requireEmpty(t testing.TB, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 0 {
		var names []string
		filepath.WalkDir(dir, func(p string, _ fs.DirEntry, _ error) error {
			names = append(names, p)
			return nil
		})
		t.Fatalf("a failed extraction left %v", names)
	}
}

// lyingZip is a zip bomb that claims each of its entries inflates to one byte: only inflating
// finds out, so the extractor has already written part of it when it refuses the archive.
func lyingZip(t testing.TB, entries map[string]int) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, size := range entries {
		var deflated bytes.Buffer
		fw, err := flate.NewWriter(&deflated, flate.BestCompression)
		if err != nil {
			t.Fatal(err)
		}
		fw.Write(make([]byte, size))
		fw.Close()
		w, err := zw.CreateRaw(&zip.FileHeader{Name: name, Method: zip.Deflate, CompressedSize64: uint64(deflated.Len()), UncompressedSize64: 1})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(deflated.Bytes())
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestExtractZipBombLeavesNothing: a bomb found out while inflating, and one refused by its
// claimed sizes alone, leave the directory as they found it, including what was there before.
func TestExtractZipBombLeavesNothing(t *testing.T) {
	lim := Limits{MaxBytes: 1 << 20}
	cases := []struct {
		name string
		data []byte
		want error
	}{
		{"lying sizes", lyingZip(t, map[string]int{"a/b/c/big": 4 << 20}), zip.ErrFormat},
		{"honest sizes", ziptest.Build(t, ziptest.File{Name: "x/small", Body: []byte("x")}, ziptest.File{Name: "x/big", Body: make([]byte, 2<<20)}), ErrTooLarge},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			keep := filepath.Join(dir, "kept")
			if err := os.WriteFile(keep, []byte("mine"), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := ExtractZip(c.data, dir, lim)
			if !errors.Is(err, c.want) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
			if err := os.Remove(keep); err != nil {
				t.Fatalf("the file that was there before: %v", err)
			}
			requireEmpty(t, dir)
		})
	}
}

// FuzzExtractZip feeds arbitrary bytes to the extractor: it must never panic, never write outside
// its directory, never leave a symlink, stay within its limits, and leave nothing when it fails.
func FuzzExtractZip(f *testing.F) {
	f.Add(ziptest.Build(f, ziptest.File{Name: "main.wasm", Body: []byte("\x00asm")}, ziptest.File{Name: "d/x.txt", Body: []byte("x")}))
	f.Add(ziptest.Build(f, ziptest.File{Name: "../escape", Body: []byte("x")}))
	f.Add(ziptest.Build(f, ziptest.File{Name: "l", Body: []byte("/etc"), Mode: fs.ModeSymlink | 0o777}))
	f.Add(ziptest.Build(f, ziptest.File{Name: "a"}, ziptest.File{Name: "a"}))
	f.Add([]byte("PK\x05\x06" + strings.Repeat("\x00", 18)))
	f.Add([]byte("PK\x03\x04"))
	const maxBytes = 1 << 16
	f.Fuzz(func(t *testing.T, data []byte) {
		parent := t.TempDir()
		dir := filepath.Join(parent, "x")
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		files, err := ExtractZip(data, dir, Limits{MaxBytes: maxBytes, MaxFiles: 50})
		// Nothing may appear next to dir, whatever happened.
		if entries, _ := os.ReadDir(parent); len(entries) != 1 {
			t.Fatalf("extraction wrote outside its directory: %v", entries)
		}
		var total int64
		filepath.WalkDir(dir, func(p string, d fs.DirEntry, werr error) error {
			if werr != nil {
				return werr
			}
			if d.Type()&fs.ModeSymlink != 0 {
				t.Errorf("symlink %s extracted", p)
			}
			if fi, err := d.Info(); err == nil && fi.Mode().IsRegular() {
				total += fi.Size()
			}
			return nil
		})
		if total > maxBytes {
			t.Fatalf("extracted %d bytes, limit %d", total, maxBytes)
		}
		if err != nil {
			requireEmpty(t, dir)
		} else {
			for _, name := range files {
				if !filepath.IsLocal(name) {
					t.Fatalf("non-local name %q returned", name)
				}
			}
		}
	})
}
