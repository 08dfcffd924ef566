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
)

func TestExtractZipCases(t *testing.T) {
	lim := Limits{MaxBytes: 1 << 20, MaxFiles: 100}
	cases := []struct {
		name    string
		entries []zipEntry
		files   string // the names extracted, space-separated; "" with want
		want    string // part of the error
	}{
		{"flat and nested", []zipEntry{{name: "a.txt", body: []byte("a")}, {name: "d/e/b.txt", body: []byte("b")}}, "a.txt d/e/b.txt", ""},
		{"explicit dirs", []zipEntry{{name: "d/", mode: fs.ModeDir | 0o755}, {name: "d/x", body: []byte("x")}}, "d/x", ""},
		{"dot-dot", []zipEntry{{name: "../x"}}, "", "escapes the action directory"},
		{"inner dot-dot", []zipEntry{{name: "a/../x"}}, "", "escapes the action directory"},
		{"absolute", []zipEntry{{name: "/x"}}, "", "escapes the action directory"},
		{"dot", []zipEntry{{name: "./x"}}, "", "escapes the action directory"},
		{"backslash", []zipEntry{{name: `a\x`}}, "", "backslash"},
		{"symlink", []zipEntry{{name: "l", body: []byte("/"), mode: fs.ModeSymlink | 0o777}}, "", "symbolic link"},
		{"device", []zipEntry{{name: "dev", mode: fs.ModeDevice | 0o644}}, "", "not a regular file"},
		{"file then dir", []zipEntry{{name: "a", body: []byte("x")}, {name: "a/b", body: []byte("y")}}, "", "entry \"a/b\""},
		{"duplicate", []zipEntry{{name: "a"}, {name: "a"}}, "", "appears twice"},
		{"too big", []zipEntry{{name: "a", body: make([]byte, 1<<20+1)}}, "", "size limit"},
		{"too big together", []zipEntry{{name: "a", body: make([]byte, 1<<19)}, {name: "b", body: make([]byte, 1<<19+1)}}, "", "size limit"},
		{"fails after nested dirs", []zipEntry{{name: "d/e/f/a", body: []byte("a")}, {name: "d/e/g/", mode: fs.ModeDir | 0o755}, {name: "d/e/f/a"}}, "", "appears twice"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			files, err := ExtractZip(makeZip(t, c.entries...), dir, lim)
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
		{"honest sizes", makeZip(t, zipEntry{name: "x/small", body: []byte("x")}, zipEntry{name: "x/big", body: make([]byte, 2<<20)}), ErrTooLarge},
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
	f.Add(makeZip(f, zipEntry{name: "main.wasm", body: []byte("\x00asm")}, zipEntry{name: "d/x.txt", body: []byte("x")}))
	f.Add(makeZip(f, zipEntry{name: "../escape", body: []byte("x")}))
	f.Add(makeZip(f, zipEntry{name: "l", body: []byte("/etc"), mode: fs.ModeSymlink | 0o777}))
	f.Add(makeZip(f, zipEntry{name: "a"}, zipEntry{name: "a"}))
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
