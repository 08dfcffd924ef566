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
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"unsafe"
)

// Kind is what an artifact is, judged by its first bytes.
type Kind int

// Artifact kinds.
const (
	Unknown  Kind = iota
	Wasm          // a WebAssembly binary module (\0asm)
	Zip           // a zip archive (PK\x03\x04, or PK\x05\x06 for an empty one)
	ELF           // an ELF executable or shared object (also wasmtime's precompiled modules; see ClassifyELF)
	Script        // a #! script
	WasmText      // a module in the WebAssembly text format: "(module" after white space and comments
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
	case WasmText:
		return "WebAssembly text module"
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
	case isWasmText(b):
		return WasmText
	}
	return Unknown
}

// isWasmText reports whether b starts, after white space and comments (";; line", "(; block ;)",
// which may nest), with a text-format module: "(module" followed by a space, "(", ")" or a comment.
func isWasmText(b []byte) bool {
	for depth := 0; len(b) > 0; {
		switch {
		case depth > 0 && bytes.HasPrefix(b, []byte(";)")):
			depth, b = depth-1, b[2:]
		case bytes.HasPrefix(b, []byte("(;")):
			depth, b = depth+1, b[2:]
		case depth > 0:
			b = b[1:]
		case bytes.HasPrefix(b, []byte(";;")):
			i := bytes.IndexByte(b, '\n')
			if i < 0 {
				return false
			}
			b = b[i+1:]
		case b[0] == ' ' || b[0] == '\t' || b[0] == '\n' || b[0] == '\r':
			b = b[1:]
		default:
			rest, ok := bytes.CutPrefix(b, []byte("(module"))
			return ok && (len(rest) == 0 || bytes.IndexByte([]byte(" \t\n\r();$"), rest[0]) >= 0)
		}
	}
	return false
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

// ErrUnsafePath reports an entry that could land outside the target directory or surprise a reader
// of it: an absolute or unclean name, "..", a backslash or NUL, a link or another non-regular file.
var ErrUnsafePath = errors.New("unsafe entry in archive")

// ErrTooLarge reports an archive past its limits.
var ErrTooLarge = errors.New("archive past its limits")

// ExtractZip unpacks the zip archive data into dir, which must exist and should be empty. It
// returns the clean, slash-separated names of the regular files written. All writes go through an
// os.Root, so even a name that slipped past the checks cannot leave dir; sizes are counted on the
// bytes really inflated, not on what the archive claims (an archive whose claimed sizes already
// exceed the limit is refused before anything is written); a name that appears twice is refused.
// Executable bits of entries are kept (an actionloop zip carries its exec). On error, every file
// and directory the extraction created is removed again, so a refused archive (a zip bomb cut off
// at the size limit, say) leaves dir as it found it.
func ExtractZip(data []byte, dir string, lim Limits) (names []string, err error) {
	lim = lim.withDefaults()
	zr, err := openChecked(data, lim)
	if err != nil {
		return nil, err
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", dir, err)
	}
	defer root.Close()
	x := &extraction{root: root}
	defer func() {
		if err != nil {
			x.undo()
		}
	}()

	budget := lim.MaxBytes
	for _, f := range zr.File {
		name, isDir, err := EntryName(f)
		if err != nil {
			return nil, err
		}
		if isDir {
			if err := x.mkdirAll(name); err != nil {
				return nil, fmt.Errorf("entry %q: %w", f.Name, err)
			}
			continue
		}
		if d := path.Dir(name); d != "." {
			if err := x.mkdirAll(d); err != nil {
				return nil, fmt.Errorf("entry %q: %w", f.Name, err)
			}
		}
		n, err := x.extractFile(f, name, budget)
		if err != nil {
			return nil, fmt.Errorf("entry %q: %w", f.Name, err)
		}
		budget -= n
		names = append(names, name)
	}
	return names, nil
}

// CheckLimits checks what a zip archive's directory claims against the limits, as ExtractZip does
// before it writes anything: for an archive unpacked before under other limits.
func CheckLimits(data []byte, lim Limits) error {
	_, err := openChecked(data, lim.withDefaults())
	return err
}

// openChecked opens a zip archive whose claimed entry count and sizes are within lim.
func openChecked(data []byte, lim Limits) (*zip.Reader, error) {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, fmt.Errorf("not a valid zip archive: %w", err)
	}
	if len(zr.File) > lim.MaxFiles {
		return nil, fmt.Errorf("%w: %d entries, more than the limit of %d", ErrTooLarge, len(zr.File), lim.MaxFiles)
	}
	var claimed uint64
	for _, f := range zr.File {
		if claimed += f.UncompressedSize64; claimed > uint64(lim.MaxBytes) || claimed < f.UncompressedSize64 {
			return nil, fmt.Errorf("%w: its entries claim more than the size limit of %d bytes", ErrTooLarge, lim.MaxBytes)
		}
	}
	return zr, nil
}

// extraction is one ExtractZip in progress: the root it writes through and what it created there,
// in order, so that a failure can remove exactly that.
type extraction struct {
	root    *os.Root
	created []string
}

// mkdirAll creates name and its missing parents, remembering each directory it made.
func (x *extraction) mkdirAll(name string) error {
	for i := 0; i <= len(name); i++ {
		if i < len(name) && name[i] != '/' {
			continue
		}
		p := name[:i]
		err := x.root.Mkdir(p, 0o755)
		switch {
		case err == nil:
			x.created = append(x.created, p)
		case errors.Is(err, fs.ErrExist):
			if fi, serr := x.root.Lstat(p); serr != nil || !fi.IsDir() {
				return fmt.Errorf("mkdir %s: not a directory", p)
			}
		default:
			return err
		}
	}
	return nil
}

// undo removes what the extraction created, newest first (files before their directories).
func (x *extraction) undo() {
	for i := len(x.created) - 1; i >= 0; i-- {
		_ = x.root.Remove(x.created[i])
	}
	x.created = nil
}

// EntryName validates a zip entry's name and type and returns its clean slash-separated name.
func EntryName(f *zip.File) (name string, isDir bool, err error) {
	raw := f.Name
	mode := f.Mode()
	isDir = strings.HasSuffix(raw, "/") || mode.IsDir()
	switch {
	case mode&fs.ModeSymlink != 0:
		return "", false, fmt.Errorf("%w: %q is a symbolic link", ErrUnsafePath, raw)
	case !isDir && !mode.IsRegular():
		return "", false, fmt.Errorf("%w: %q is not a regular file (%v)", ErrUnsafePath, raw, mode.Type())
	case strings.ContainsAny(raw, "\\\x00"):
		return "", false, fmt.Errorf("%w: %q has a backslash or NUL in its name", ErrUnsafePath, raw)
	}
	name = strings.TrimSuffix(raw, "/")
	if name == "" || !filepath.IsLocal(name) || path.Clean(name) != name {
		return "", false, fmt.Errorf("%w: %q escapes the action directory or is not a clean relative path", ErrUnsafePath, raw)
	}
	return name, isDir, nil
}

// extractFile writes one entry into the root and returns how many bytes it wrote, at most budget.
func (x *extraction) extractFile(f *zip.File, name string, budget int64) (int64, error) {
	if f.UncompressedSize64 > uint64(budget) {
		return 0, fmt.Errorf("%w: it expands past the size limit", ErrTooLarge)
	}
	rc, err := f.Open()
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	perm := os.FileMode(0o644)
	if f.Mode()&0o111 != 0 {
		perm = 0o755
	}
	out, err := x.root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			return 0, errors.New("the name appears twice in the archive")
		}
		return 0, err
	}
	x.created = append(x.created, name)
	n, err := io.Copy(out, io.LimitReader(rc, budget+1))
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return n, err
	}
	if n > budget {
		return n, fmt.Errorf("%w: it expands past the size limit", ErrTooLarge)
	}
	return n, nil
}

// IsBase64 is OpenWhisk's rule for "binary" code (SPEC §1.2): after trimming white space, the code
// is non-empty, its length is a multiple of 4 and it is standard base64 with padding, that is
// ^([A-Za-z0-9+/]{4})*([A-Za-z0-9+/]{4}|[A-Za-z0-9+/]{3}=|[A-Za-z0-9+/]{2}==)$. It is written out by
// hand because a regular expression takes hundreds of milliseconds on a multi-megabyte module.
func IsBase64(code string) bool {
	return IsBase64Bytes(unsafe.Slice(unsafe.StringData(code), len(code)))
}

// IsBase64Bytes is IsBase64 for a byte slice, without copying it.
func IsBase64Bytes(code []byte) bool {
	t := bytes.TrimSpace(code)
	n := len(t)
	if n == 0 || n%4 != 0 {
		return false
	}
	body := n
	switch {
	case t[n-2] == '=' && t[n-1] == '=':
		body = n - 2
	case t[n-1] == '=':
		body = n - 1
	}
	for _, c := range t[:body] {
		if !base64Alphabet[c] {
			return false
		}
	}
	return true
}

// base64Alphabet marks the bytes of the standard base64 alphabet.
var base64Alphabet = func() (a [256]bool) {
	for _, c := range []byte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/") {
		a[c] = true
	}
	return a
}()
