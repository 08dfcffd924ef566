package wasm

import (
	"archive/zip"
	"bytes"
	"fmt"
	"io"
	"strings"

	"github.com/wasmwhisk/wasmwhisk/runtime/archive"
)

// PrecompileArchive turns an action archive holding a module (main.wasm, or its only .wasm
// file) into one holding the module precompiled as main.cwasm, with the other files unchanged:
// what cmd/wasmwhisk-compile -zip writes for an archive. The archive must pass the same checks as
// at Init (no escaping names, no links).
func (e *Engine) PrecompileArchive(zipData []byte) ([]byte, error) {
	zr, err := zip.NewReader(bytes.NewReader(zipData), int64(len(zipData)))
	if err != nil {
		return nil, fmt.Errorf("wasm: precompile archive: %w", err)
	}
	var names []string
	for _, f := range zr.File {
		name, isDir, err := archive.EntryName(f)
		if err != nil {
			return nil, fmt.Errorf("wasm: precompile archive: %w", err)
		}
		if !isDir {
			names = append(names, name)
		}
	}
	moduleName, err := pickModule(names)
	if err != nil {
		return nil, fmt.Errorf("wasm: precompile archive: %w", err)
	}
	if strings.HasSuffix(moduleName, ".cwasm") {
		return nil, fmt.Errorf("wasm: precompile archive: %s is already precompiled", moduleName)
	}
	var out bytes.Buffer
	zw := zip.NewWriter(&out)
	for _, f := range zr.File {
		name, _, _ := archive.EntryName(f)
		if name == moduleName {
			module, err := readEntry(f)
			if err != nil {
				return nil, fmt.Errorf("wasm: precompile archive: %s: %w", name, err)
			}
			compiled, err := e.Precompile(module)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			w, err := zw.CreateHeader(&zip.FileHeader{Name: zipPrecompiledModule, Method: zip.Deflate})
			if err != nil {
				return nil, err
			}
			if _, err := w.Write(compiled); err != nil {
				return nil, err
			}
			continue
		}
		if err := zw.Copy(f); err != nil {
			return nil, fmt.Errorf("wasm: precompile archive: copy %s: %w", name, err)
		}
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// PrecompiledZip wraps a precompiled module (from Precompile) in an archive as main.cwasm.
func PrecompiledZip(compiled []byte) ([]byte, error) {
	var out bytes.Buffer
	zw := zip.NewWriter(&out)
	w, err := zw.CreateHeader(&zip.FileHeader{Name: zipPrecompiledModule, Method: zip.Deflate})
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(compiled); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

func readEntry(f *zip.File) ([]byte, error) {
	rc, err := f.Open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(io.LimitReader(rc, DefaultMaxArchiveBytes))
}
