// Package ziptest builds zip archives for tests: action artifacts with their data files, and the
// hostile archives (escaping names, links, duplicates) that extraction must refuse. Entries are
// written in the order given, so a test can place a bad entry after a good one.
package ziptest

import (
	"archive/zip"
	"bytes"
	"io/fs"
	"strings"
	"testing"
)

// File is one entry of an archive.
type File struct {
	Name string
	Body []byte
	// Mode is the entry's type and permission bits. Zero means a regular file of mode 0644, or
	// a directory of mode 0755 when Name ends in "/".
	Mode fs.FileMode
	// Store writes the entry uncompressed (zip.Store) instead of deflating it: quicker for large
	// bodies such as models.
	Store bool
	// NoMode writes no Unix mode, as DOS tools and Java's jar do; readers then see 0666 (Mode is
	// ignored).
	NoMode bool
}

// Build returns the archive holding files, in order. It fails the test if writing fails.
func Build(tb testing.TB, files ...File) []byte {
	tb.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range files {
		h := &zip.FileHeader{Name: f.Name, Method: zip.Deflate}
		if f.Store {
			h.Method = zip.Store
		}
		mode := f.Mode
		if mode == 0 {
			mode = 0o644
			if strings.HasSuffix(f.Name, "/") {
				mode = fs.ModeDir | 0o755
			}
		}
		if !f.NoMode {
			h.SetMode(mode)
		}
		w, err := zw.CreateHeader(h)
		if err != nil {
			tb.Fatalf("ziptest: %s: %v", f.Name, err)
		}
		if _, err := w.Write(f.Body); err != nil {
			tb.Fatalf("ziptest: %s: %v", f.Name, err)
		}
	}
	if err := zw.Close(); err != nil {
		tb.Fatalf("ziptest: %v", err)
	}
	return buf.Bytes()
}
