package wasm

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// zipLimits bound what an archive may expand to.
type zipLimits struct {
	maxBytes   int64 // total uncompressed bytes of all files
	maxEntries int   // entries, directories included
}

// extractZip unpacks the zip archive data into dir, which must exist and be empty, and returns the
// slash-separated names of the regular files it wrote. It refuses anything that could write
// outside dir or surprise a reader of dir: absolute names, "..", backslashes, symlinks and other
// non-regular files, duplicate names, and archives past the limits (counted on the bytes actually
// inflated, not on the sizes the archive claims).
func extractZip(data []byte, dir string, lim zipLimits) ([]string, error) {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, fmt.Errorf("not a readable zip archive: %w", err)
	}
	if len(zr.File) > lim.maxEntries {
		return nil, fmt.Errorf("the archive has %d entries, more than the limit of %d", len(zr.File), lim.maxEntries)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	defer root.Close()

	var files []string
	budget := lim.maxBytes
	for _, f := range zr.File {
		name, isDir, err := entryName(f)
		if err != nil {
			return nil, err
		}
		if isDir {
			if err := root.MkdirAll(name, 0o755); err != nil {
				return nil, fmt.Errorf("entry %q: %w", f.Name, err)
			}
			continue
		}
		if d := path.Dir(name); d != "." {
			if err := root.MkdirAll(d, 0o755); err != nil {
				return nil, fmt.Errorf("entry %q: %w", f.Name, err)
			}
		}
		n, err := extractFile(root, f, name, budget)
		if err != nil {
			return nil, fmt.Errorf("entry %q: %w", f.Name, err)
		}
		budget -= n
		files = append(files, name)
	}
	return files, nil
}

// entryName validates an entry's name and type and returns its clean slash-separated name.
func entryName(f *zip.File) (name string, isDir bool, err error) {
	raw := f.Name
	mode := f.Mode()
	isDir = strings.HasSuffix(raw, "/") || mode.IsDir()
	if mode&fs.ModeSymlink != 0 {
		return "", false, fmt.Errorf("entry %q is a symbolic link; links are not allowed", raw)
	}
	if !isDir && !mode.IsRegular() {
		return "", false, fmt.Errorf("entry %q is not a regular file (%v)", raw, mode.Type())
	}
	if strings.ContainsAny(raw, "\\\x00") {
		return "", false, fmt.Errorf("entry %q has a backslash or NUL in its name", raw)
	}
	name = strings.TrimSuffix(raw, "/")
	if name == "" || !filepath.IsLocal(name) || path.Clean(name) != name {
		return "", false, fmt.Errorf("entry %q escapes the action directory or is not a clean relative path", raw)
	}
	return name, isDir, nil
}

// extractFile writes one entry into root and returns how many bytes it wrote, at most budget.
func extractFile(root *os.Root, f *zip.File, name string, budget int64) (int64, error) {
	if f.UncompressedSize64 > uint64(budget) {
		return 0, errTooBig
	}
	rc, err := f.Open()
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	out, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			return 0, errors.New("the name appears twice in the archive")
		}
		return 0, err
	}
	n, err := io.Copy(out, io.LimitReader(rc, budget+1))
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return n, err
	}
	if n > budget {
		return n, errTooBig
	}
	return n, nil
}

var errTooBig = errors.New("the archive expands past the size limit")
