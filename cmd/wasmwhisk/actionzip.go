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

	"github.com/wasmwhisk/wasmwhisk/runtime/archive"
)

// Names the runtimes look for first in an action zip: the wasm:0.1 runtime's module
// (runtime/wasm, docs/wasm-abi.md) and the native actionloop executable (runtime/native, as
// OpenWhisk's dockerskeleton and openwhisk-runtime-go name it).
const (
	zipModuleName      = "main.wasm"
	zipPrecompiledName = "main.cwasm"
	zipExecName        = "exec"
)

// maxExecBytes is OpenWhisk's limit on an action's exec (code included, base64-encoded by the
// wsk CLI for .zip files): 48 MB.
const maxExecBytes = 48 << 20

// zipEpoch is the modification time of every entry, so the same inputs give the same zip.
var zipEpoch = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)

// actionZipCmd implements `wasmwhisk action zip`: it packs an action's binary — a wasm module, a
// module precompiled by wasmwhisk-compile, or a native actionloop executable, told apart by their
// bytes — and optional data files into the zip that `wsk action create NAME out.zip --kind KIND`
// uploads. The wsk CLI base64-encodes only .zip, .jar and .balx files and sends any other file as
// text (apache/openwhisk-cli commands/action.go, getExec), which corrupts a binary; zipped, it
// reaches /init intact.
func actionZipCmd(args []string) error {
	if len(args) > 0 && args[0] == "zip" {
		args = args[1:]
	}
	fs := flag.NewFlagSet("action zip", flag.ContinueOnError)
	out := fs.String("o", "", "output zip (default: the module's name with .zip)")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: wasmwhisk action zip [-o out.zip] module.wasm|module.cwasm|executable [file|dir ...]")
		fmt.Fprintln(fs.Output(), "\nThe first file is recognised by its bytes: a WebAssembly module is stored as main.wasm, one")
		fmt.Fprintln(fs.Output(), "precompiled by wasmwhisk-compile as main.cwasm (both kind wasm:0.1; the action sees the other")
		fmt.Fprintln(fs.Output(), "files read-only under /action), a native executable as exec (kind native:0.1; the other files")
		fmt.Fprintln(fs.Output(), "beside it). Files keep their base name, directories their name and inner paths.")
		fmt.Fprintln(fs.Output(), "Upload with: wsk action create NAME out.zip --kind wasm:0.1 (or native:0.1)")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() < 1 {
		fs.Usage()
		return errors.New("a module or an executable is required")
	}
	modulePath := fs.Arg(0)
	if *out == "" {
		*out = strings.TrimSuffix(modulePath, filepath.Ext(modulePath)) + ".zip"
	}
	module, err := os.ReadFile(modulePath)
	if err != nil {
		return err
	}
	entries, kind, err := collectZipEntries(module, fs.Args()[1:])
	if err != nil {
		return fmt.Errorf("%s: %w", modulePath, err)
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
	fmt.Fprintf(os.Stderr, "upload: wsk action create NAME %s --kind %s\n", *out, kind)
	return nil
}

// zipEntry is one file of the action zip.
type zipEntry struct {
	name string // slash-separated path inside the zip
	data []byte
}

// binaryEntry names an action's binary in the zip by its bytes and says the kind that runs it.
func binaryEntry(b []byte) (name, kind string, err error) {
	switch archive.Detect(b) {
	case archive.Wasm:
		return zipModuleName, "wasm:0.1", nil
	case archive.ELF:
		switch archive.ClassifyELF(b) {
		case archive.Precompiled:
			return zipPrecompiledName, "wasm:0.1", nil
		case archive.Executable:
			return zipExecName, "native:0.1", nil
		}
		return "", "", fmt.Errorf("it is an %v; want a WebAssembly module, one precompiled by wasmwhisk-compile, or an executable", archive.ClassifyELF(b))
	case archive.WasmText:
		return "", "", errors.New("it is WebAssembly text, which needs no zip: wsk sends it intact (wsk action create NAME FILE.wat --kind wasm:0.1)")
	case archive.Zip:
		return "", "", errors.New("it is a zip already: upload it as it is")
	}
	return "", "", errors.New("it is neither a WebAssembly module (\\0asm), a module precompiled by wasmwhisk-compile, nor an ELF executable")
}

// collectZipEntries names the action's binary by its bytes and gathers the data files: a file
// keeps its base name, a directory its own name and the paths below it. The binary comes first.
func collectZipEntries(module []byte, dataPaths []string) ([]zipEntry, string, error) {
	moduleName, kind, err := binaryEntry(module)
	if err != nil {
		return nil, "", err
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
			return nil, "", err
		}
		if !st.IsDir() {
			if err := add(filepath.Base(p), p); err != nil {
				return nil, "", err
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
			return nil, "", err
		}
	}
	sort.SliceStable(entries[1:], func(i, j int) bool { return entries[1+i].name < entries[1+j].name })
	return entries, kind, nil
}

// writeActionZip writes entries as a deflated zip with fixed times and modes, so that the same
// inputs give the same bytes.
func writeActionZip(w io.Writer, entries []zipEntry) error {
	zw := zip.NewWriter(w)
	for _, e := range entries {
		h := &zip.FileHeader{Name: e.name, Method: zip.Deflate, Modified: zipEpoch}
		h.SetMode(0o644)
		if e.name == zipExecName {
			h.SetMode(0o755)
		}
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
