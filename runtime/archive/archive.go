// Package archive recognises action artifacts by their content and extracts zip archives safely:
// no entry may leave the target directory, links are refused, and entry count and total size are
// capped, so that a hostile /init payload cannot write outside the action's directory or fill the
// disk.
package archive

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// Kind is what an artifact is, judged by its first bytes.
type Kind int

// Artifact kinds.
const (
	Unknown Kind = iota
	Wasm         // a WebAssembly binary module (\0asm)
	Zip          // a zip archive (PK\x03\x04, or PK\x05\x06 for an empty one)
	ELF          // an ELF executable or shared object (also wasmtime's precompiled modules)
	Script       // a #! script
)

func (k Kind) String() string {
	switch k {
	case Wasm:
		return "wasm module"
	case Zip:
		return "zip archive"
	case ELF:
		return "ELF file"
	case Script:
		return "#! script"
	}
	return "unknown"
}

// Detect returns the kind of an artifact from its magic bytes.
func Detect(b []byte) Kind {
	switch {
	case bytes.HasPrefix(b, []byte("\x00asm")):
		return Wasm
	case bytes.HasPrefix(b, []byte("PK\x03\x04")), bytes.HasPrefix(b, []byte("PK\x05\x06")):
		return Zip
	case bytes.HasPrefix(b, []byte("\x7fELF")):
		return ELF
	case bytes.HasPrefix(b, []byte("#!")):
		return Script
	}
	return Unknown
}

// Limits bound an extraction. Zero fields take the defaults.
type Limits struct {
	// MaxFiles is the most entries an archive may hold (default 10000).
	MaxFiles int
	// MaxBytes is the most bytes all entries may expand to (default 1 GiB).
	MaxBytes int64
}

func (l Limits) withDefaults() Limits {
	if l.MaxFiles <= 0 {
		l.MaxFiles = 10000
	}
	if l.MaxBytes <= 0 {
		l.MaxBytes = 1 << 30
	}
	return l
}

// ErrUnsafePath reports an entry that would land outside the target directory.
var ErrUnsafePath = errors.New("unsafe path in archive")

// ExtractZip unpacks the zip archive data into dir, which must exist. It returns the cleaned,
// slash-separated names of the regular files written.
func ExtractZip(data []byte, dir string, lim Limits) ([]string, error) {
	lim = lim.withDefaults()
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, fmt.Errorf("not a valid zip archive: %w", err)
	}
	if len(zr.File) > lim.MaxFiles {
		return nil, fmt.Errorf("zip archive has %d entries, more than the limit of %d", len(zr.File), lim.MaxFiles)
	}
	var names []string
	var total int64
	for _, f := range zr.File {
		name, err := safeName(f.Name)
		if err != nil {
			return nil, err
		}
		mode := f.Mode()
		switch {
		case mode&os.ModeSymlink != 0:
			return nil, fmt.Errorf("%w: %q is a symbolic link", ErrUnsafePath, f.Name)
		case f.FileInfo().IsDir():
			if name != "" {
				if err := os.MkdirAll(filepath.Join(dir, filepath.FromSlash(name)), 0o755); err != nil {
					return nil, err
				}
			}
			continue
		case !mode.IsRegular():
			return nil, fmt.Errorf("%w: %q is not a regular file", ErrUnsafePath, f.Name)
		case name == "":
			return nil, fmt.Errorf("%w: empty file name", ErrUnsafePath)
		}
		n, err := extractFile(f, filepath.Join(dir, filepath.FromSlash(name)), lim.MaxBytes-total)
		total += n
		if err != nil {
			return nil, err
		}
		names = append(names, name)
	}
	return names, nil
}

// safeName cleans an entry name and refuses absolute paths and parent references.
func safeName(name string) (string, error) {
	if strings.ContainsRune(name, '\\') || strings.ContainsRune(name, 0) {
		return "", fmt.Errorf("%w: %q", ErrUnsafePath, name)
	}
	if path.IsAbs(name) || filepath.IsAbs(name) {
		return "", fmt.Errorf("%w: %q is absolute", ErrUnsafePath, name)
	}
	for _, part := range strings.Split(name, "/") {
		if part == ".." {
			return "", fmt.Errorf("%w: %q leaves the action directory", ErrUnsafePath, name)
		}
	}
	clean := path.Clean(name)
	if clean == "." {
		return "", nil
	}
	return clean, nil
}

func extractFile(f *zip.File, dst string, budget int64) (int64, error) {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return 0, err
	}
	rc, err := f.Open()
	if err != nil {
		return 0, fmt.Errorf("open %q in zip: %w", f.Name, err)
	}
	defer rc.Close()
	perm := os.FileMode(0o644)
	if f.Mode()&0o111 != 0 {
		perm = 0o755
	}
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return 0, fmt.Errorf("extract %q: %w", f.Name, err)
	}
	// Count what is really inflated, not what the header claims.
	n, err := io.Copy(out, io.LimitReader(rc, budget+1))
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return n, fmt.Errorf("extract %q: %w", f.Name, err)
	}
	if n > budget {
		return n, fmt.Errorf("zip archive expands past the limit")
	}
	return n, nil
}
