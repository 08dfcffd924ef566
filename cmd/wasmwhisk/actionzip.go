package main

import (
	"archive/zip"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// Names the wasm:0.1 runtime looks for first in an action zip (runtime/wasm, docs/wasm-abi.md).
const (
	zipModuleName      = "main.wasm"
	zipPrecompiledName = "main.cwasm"
)

// maxExecBytes is OpenWhisk's limit on an action's exec (code included, base64-encoded by the
// wsk CLI for .zip files): 48 MB.
const maxExecBytes = 48 << 20

// zipEpoch is the modification time of every entry, so the same inputs give the same zip.
var zipEpoch = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)

// actionZipCmd implements `wasmwhisk action zip`: it packs a wasm module (or a module precompiled
// by wasmwhisk-compile) and optional data files into the zip that `wsk action create NAME
// out.zip --kind wasm:0.1` uploads. The wsk CLI base64-encodes only .zip (and .jar) files, so a
// raw .wasm would be sent as corrupted text (SPEC §4.7); zipped, it reaches /init as binary.
func actionZipCmd(args []string) error {
	if len(args) > 0 && args[0] == "zip" {
		args = args[1:]
	}
	fs := flag.NewFlagSet("action zip", flag.ContinueOnError)
	out := fs.String("o", "", "output zip (default: the module's name with .zip)")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: wasmwhisk action zip [-o out.zip] module.wasm|module.cwasm [file|dir ...]")
		fmt.Fprintln(fs.Output(), "\nThe module is stored as main.wasm (main.cwasm when precompiled by wasmwhisk-compile);")
		fmt.Fprintln(fs.Output(), "files keep their base name, directories their name and inner paths. The action sees them")
		fmt.Fprintln(fs.Output(), "read-only under /action. Upload with: wsk action create NAME out.zip --kind wasm:0.1")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() < 1 {
		fs.Usage()
		return errors.New("a module is required")
	}
	modulePath := fs.Arg(0)
	if *out == "" {
		*out = strings.TrimSuffix(modulePath, filepath.Ext(modulePath)) + ".zip"
	}
	module, err := os.ReadFile(modulePath)
	if err != nil {
		return err
	}
	entries, err := collectZipEntries(module, fs.Args()[1:])
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := writeActionZip(&buf, entries); err != nil {
		return err
	}
	if err := writeFileAtomic(*out, buf.Bytes()); err != nil {
		return err
	}
	b64 := (buf.Len() + 2) / 3 * 4
	fmt.Fprintf(os.Stderr, "wrote %s: %d bytes (%d as base64), %s + %d data file(s)\n", *out, buf.Len(), b64, entries[0].name, len(entries)-1)
	if b64 > maxExecBytes {
		fmt.Fprintf(os.Stderr, "warning: base64 size %d exceeds OpenWhisk's 48 MB exec limit; the controller will reject it (413)\n", b64)
	}
	fmt.Fprintf(os.Stderr, "upload: wsk action create NAME %s --kind wasm:0.1\n", *out)
	return nil
}

// zipEntry is one file of the action zip.
type zipEntry struct {
	name string // slash-separated path inside the zip
	data []byte
}

// collectZipEntries names the module by its magic bytes and gathers the data files: a file keeps
// its base name, a directory its own name and the paths below it. The module comes first.
func collectZipEntries(module []byte, dataPaths []string) ([]zipEntry, error) {
	var moduleName string
	switch {
	case bytes.HasPrefix(module, []byte("\x00asm")):
		moduleName = zipModuleName
	case bytes.HasPrefix(module, []byte("\x7fELF")):
		moduleName = zipPrecompiledName
	default:
		return nil, errors.New("the module is neither a WebAssembly module (\\0asm) nor a module precompiled by wasmwhisk-compile (ELF)")
	}
	entries := []zipEntry{{name: moduleName, data: module}}
	seen := map[string]string{moduleName: "the module"}
	add := func(name, from string) error {
		data, err := os.ReadFile(from)
		if err != nil {
			return err
		}
		if prev, dup := seen[name]; dup {
			return fmt.Errorf("%s and %s would both be %s in the zip", prev, from, name)
		}
		seen[name] = from
		entries = append(entries, zipEntry{name: name, data: data})
		return nil
	}
	for _, p := range dataPaths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		if !st.IsDir() {
			if err := add(filepath.Base(p), p); err != nil {
				return nil, err
			}
			continue
		}
		base := filepath.Base(filepath.Clean(p))
		if base == "." || base == "/" || base == ".." {
			base = ""
		}
		err = filepath.WalkDir(p, func(file string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				return nil
			}
			if !d.Type().IsRegular() {
				return fmt.Errorf("%s: only regular files can go into an action zip", file)
			}
			rel, err := filepath.Rel(p, file)
			if err != nil {
				return err
			}
			return add(path.Join(base, filepath.ToSlash(rel)), file)
		})
		if err != nil {
			return nil, err
		}
	}
	sort.SliceStable(entries[1:], func(i, j int) bool { return entries[1+i].name < entries[1+j].name })
	return entries, nil
}

// writeActionZip writes entries as a deflated zip with fixed times and modes, so that the same
// inputs give the same bytes.
func writeActionZip(w io.Writer, entries []zipEntry) error {
	zw := zip.NewWriter(w)
	for _, e := range entries {
		h := &zip.FileHeader{Name: e.name, Method: zip.Deflate, Modified: zipEpoch}
		h.SetMode(0o644)
		f, err := zw.CreateHeader(h)
		if err != nil {
			return fmt.Errorf("zip %s: %w", e.name, err)
		}
		if _, err := f.Write(e.data); err != nil {
			return fmt.Errorf("zip %s: %w", e.name, err)
		}
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("zip: %w", err)
	}
	return nil
}

// writeFileAtomic writes data to a temporary file beside name and renames it into place.
func writeFileAtomic(name string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(name), ".actionzip-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), name)
}
