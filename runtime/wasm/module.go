package wasm

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/bytecodealliance/wasmtime-go/v44"

	"github.com/wasmwhisk/wasmwhisk/runtime"
	"github.com/wasmwhisk/wasmwhisk/runtime/archive"
)

// Magic numbers that decide what /init code is.
var (
	magicWasm     = []byte("\x00asm")
	magicELF      = []byte("\x7fELF") // wasmtime serializes compiled modules as ELF objects
	magicZip      = []byte("PK\x03\x04")
	magicZipEmpty = []byte("PK\x05\x06")
)

// ModuleSource says where an executor's compiled module came from.
type ModuleSource string

// The module sources.
const (
	// SourceCompiled: the module was compiled at Init (and stored in the cache, when on).
	SourceCompiled ModuleSource = "compiled"
	// SourceCache: the module's compiled code was loaded from the on-disk cache.
	SourceCache ModuleSource = "cache"
	// SourcePrecompiled: the code was a module precompiled by wasmwhisk-compile.
	SourcePrecompiled ModuleSource = "precompiled"
	// SourceShared: another executor of the engine had loaded the same code; its compiled
	// module is shared.
	SourceShared ModuleSource = "shared"
)

// Names of the module inside a zip archive, in order of preference (after these: the only .wasm,
// then the only .cwasm file of the archive).
const (
	zipModule            = "main.wasm"
	zipPrecompiledModule = "main.cwasm"
)

// artifact is /init code decoded: the module bytes, and the directory of the archive's files.
type artifact struct {
	module      []byte
	precompiled bool
	filesDir    string   // "" when the code was a bare module
	files       []string // the archive's regular files, slash-separated, relative to filesDir
}

// badCode is the 502 for /init code the runtime cannot use.
func badCode(format string, args ...any) *runtime.Error {
	return runtime.Errorf(http.StatusBadGateway, fmt.Sprintf(format, args...), nil)
}

// decodeCode decides by its magic bytes what code is, and unpacks an archive into filesDir, or,
// when cacheDir is set, once per archive content into cacheDir (see extractCached).
func decodeCode(code []byte, filesDir, cacheDir string, lim archive.Limits, allowPrecompiled bool) (artifact, error) {
	switch {
	case bytes.HasPrefix(code, magicWasm):
		return artifact{module: code}, nil
	case bytes.HasPrefix(code, magicELF):
		if archive.ClassifyELF(code) == archive.Executable {
			return artifact{}, badCode("the code is a native executable, not a WebAssembly module: it runs as kind native:0.1")
		}
		if !allowPrecompiled {
			return artifact{}, badCode("this runtime does not accept precompiled modules; send the .wasm module instead")
		}
		return artifact{module: code, precompiled: true}, nil
	case bytes.HasPrefix(code, magicZip), bytes.HasPrefix(code, magicZipEmpty):
		return decodeZip(code, filesDir, cacheDir, lim, allowPrecompiled)
	case archive.Detect(code) == archive.WasmText:
		module, err := watToWasm(code)
		return artifact{module: module}, err
	}
	return artifact{}, badCode("the code is not a WebAssembly module (\\0asm or text starting with (module), a zip archive holding one, or a module precompiled by wasmwhisk-compile")
}

func decodeZip(code []byte, filesDir, cacheDir string, lim archive.Limits, allowPrecompiled bool) (artifact, error) {
	var files []string
	var err error
	if cacheDir != "" {
		filesDir, files, err = extractCached(code, cacheDir, lim)
	} else {
		if err := os.MkdirAll(filesDir, 0o700); err != nil {
			return artifact{}, fmt.Errorf("wasm: init: %w", err)
		}
		files, err = archive.ExtractZip(code, filesDir, lim)
	}
	if err != nil {
		return artifact{}, badCode("cannot unpack the zip archive: %v", err)
	}
	name, err := pickModule(files)
	if err != nil {
		return artifact{}, err
	}
	module, err := os.ReadFile(filepath.Join(filesDir, filepath.FromSlash(name)))
	if err != nil {
		return artifact{}, fmt.Errorf("wasm: init: read %s: %w", name, err)
	}
	a := artifact{module: module, filesDir: filesDir, files: files}
	switch {
	case bytes.HasPrefix(module, magicWasm):
	case bytes.HasPrefix(module, magicELF):
		if !allowPrecompiled {
			return artifact{}, badCode("%s in the zip archive is a precompiled module, which this runtime does not accept", name)
		}
		a.precompiled = true
	default:
		return artifact{}, badCode("%s in the zip archive is not a WebAssembly module", name)
	}
	return a, nil
}

// extractCached unpacks an archive once per content, into cacheDir/files-<sha256 of the archive>,
// and returns that directory and its regular files. Every later Init of the same archive (the
// next cold start of the same action, in this process or in another container sharing the cache)
// skips inflating it: for MobileNet's 14 MB model that is ~110 ms of initTime. The directory is
// made complete under a temporary name and renamed into place, so it is never seen half-written;
// guests see it read-only at /action, and the host never writes to it again.
func extractCached(code []byte, cacheDir string, lim archive.Limits) (string, []string, error) {
	// Unpacked before, perhaps under other limits: these are checked all the same.
	if err := archive.CheckLimits(code, lim); err != nil {
		return "", nil, err
	}
	sum := sha256.Sum256(code)
	dir := filepath.Join(cacheDir, "files-"+hex.EncodeToString(sum[:]))
	if files, err := listFiles(dir); err == nil {
		return dir, files, nil
	}
	tmp, err := os.MkdirTemp(cacheDir, "files-tmp-")
	if err != nil {
		return "", nil, err
	}
	files, err := archive.ExtractZip(code, tmp, lim)
	if err != nil {
		os.RemoveAll(tmp)
		return "", nil, err
	}
	if err := os.Rename(tmp, dir); err != nil {
		// Another Init got there first with the same content: use its copy.
		os.RemoveAll(tmp)
		if files, lerr := listFiles(dir); lerr == nil {
			return dir, files, nil
		}
		return "", nil, err
	}
	return dir, files, nil
}

// listFiles returns the slash-separated names of the regular files below dir, in walk order.
func listFiles(dir string) ([]string, error) {
	if _, err := os.Stat(dir); err != nil {
		return nil, err
	}
	var files []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			rel, err := filepath.Rel(dir, p)
			if err != nil {
				return err
			}
			files = append(files, filepath.ToSlash(rel))
		}
		return nil
	})
	return files, err
}

// pickModule chooses the module among an archive's files.
func pickModule(files []string) (string, error) {
	var wasms, cwasms []string
	for _, f := range files {
		switch {
		case f == zipModule, f == zipPrecompiledModule:
		case strings.HasSuffix(f, ".wasm"):
			wasms = append(wasms, f)
		case strings.HasSuffix(f, ".cwasm"):
			cwasms = append(cwasms, f)
		}
	}
	has := func(name string) bool {
		for _, f := range files {
			if f == name {
				return true
			}
		}
		return false
	}
	switch {
	case has(zipModule):
		return zipModule, nil
	case has(zipPrecompiledModule):
		return zipPrecompiledModule, nil
	case len(wasms) == 1:
		return wasms[0], nil
	case len(wasms) == 0 && len(cwasms) == 1:
		return cwasms[0], nil
	case len(wasms) > 1:
		sort.Strings(wasms)
		return "", badCode("the zip archive holds several .wasm files (%s) and no %s; name the action's module %s", strings.Join(wasms, ", "), zipModule, zipModule)
	}
	return "", badCode("the zip archive holds no WebAssembly module: expected %s, %s or a single .wasm file", zipModule, zipPrecompiledModule)
}

// loadModule compiles a WebAssembly module, or loads its compiled code from the cache. sum is
// the module's SHA-256.
func (e *Engine) loadModule(wasm []byte, sum [sha256.Size]byte) (*wasmtime.Module, ModuleSource, error) {
	var cached string
	if e.cacheDir != "" {
		key := sha256.New()
		key.Write(sum[:])
		key.Write([]byte(e.fingerprint))
		cached = filepath.Join(e.cacheDir, hex.EncodeToString(key.Sum(nil))+".cwasm")
		if _, err := os.Stat(cached); err == nil {
			if m, err := wasmtime.NewModuleDeserializeFile(e.engine, cached); err == nil {
				return m, SourceCache, nil
			}
			// A damaged or foreign entry: compile and replace it.
		}
	}
	m, err := wasmtime.NewModule(e.engine, wasm)
	if err != nil {
		return nil, "", badCode("the code is not a valid WebAssembly module: %v", err)
	}
	if cached != "" {
		if b, err := m.Serialize(); err == nil {
			// A cache that cannot be written only costs the next Init a compile.
			_ = writeFileAtomic(cached, b)
		}
	}
	return m, SourceCompiled, nil
}

// loadPrecompiled loads compiled code made by Precompile with the same engine settings.
func (e *Engine) loadPrecompiled(code []byte) (*wasmtime.Module, error) {
	m, err := wasmtime.NewModuleDeserialize(e.engine, code)
	if err != nil {
		return nil, badCode("the precompiled module was not made for this runtime (%s); rebuild it with this version of wasmwhisk-compile or send the .wasm module: %v", e.fingerprint, err)
	}
	return m, nil
}

// Precompile compiles a WebAssembly module into the engine's serialized form, which Init accepts
// from engines with the same Fingerprint (it is what cmd/wasmwhisk-compile writes).
func (e *Engine) Precompile(wasm []byte) ([]byte, error) {
	if !bytes.HasPrefix(wasm, magicWasm) {
		return nil, errors.New("wasm: precompile: the input is not a WebAssembly module (no \\0asm header)")
	}
	m, err := wasmtime.NewModule(e.engine, wasm)
	if err != nil {
		return nil, fmt.Errorf("wasm: precompile: %w", err)
	}
	defer m.Close()
	b, err := m.Serialize()
	if err != nil {
		return nil, fmt.Errorf("wasm: precompile: serialize: %w", err)
	}
	return b, nil
}

// writeFileAtomic writes b to name through a temporary file in the same directory and a rename,
// so that concurrent readers see the old file, the new file or none, never a partial one.
func writeFileAtomic(name string, b []byte) error {
	f, err := os.CreateTemp(filepath.Dir(name), "."+path.Base(filepath.ToSlash(name))+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(b)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, name)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}
