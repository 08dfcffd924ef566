// Command wasmwhisk-compile precompiles a wasm:0.1 action for this project's runtime, so that
// /init only loads native code instead of compiling (see docs/wasm-abi.md, "Precompiled modules").
//
//	wasmwhisk-compile [-o out] [-zip] module.wasm|action.zip
//
// A module becomes module.cwasm (or, with -zip, module.zip holding main.cwasm); an archive becomes
// action.cwasm.zip with its module replaced by main.cwasm and its data files kept. The output only
// loads in a runtime built with the same wasmtime version and engine settings (-version prints
// them); any other runtime rejects it at /init with a clear error.
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/wasmwhisk/wasmwhisk/runtime/wasm"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "wasmwhisk-compile:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("wasmwhisk-compile", flag.ContinueOnError)
	out := fs.String("o", "", "output file (default: the input's name with .cwasm, .zip or .cwasm.zip)")
	asZip := fs.Bool("zip", false, "write a zip archive (main.cwasm inside) that /init and wsk accept")
	version := fs.Bool("version", false, "print the engine fingerprint precompiled modules are bound to")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: wasmwhisk-compile [-o out] [-zip] module.wasm|action.zip")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	eng, err := wasm.NewEngine(wasm.EngineConfig{DisableCache: true})
	if err != nil {
		return err
	}
	defer eng.Close()
	if *version {
		fmt.Println(eng.Fingerprint())
		return nil
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return errors.New("one input file expected")
	}
	in := fs.Arg(0)
	src, err := os.ReadFile(in)
	if err != nil {
		return err
	}
	base := strings.TrimSuffix(in, filepath.Ext(in))
	var result []byte
	switch {
	case bytes.HasPrefix(src, []byte("PK\x03\x04")):
		if result, err = eng.PrecompileArchive(src); err != nil {
			return err
		}
		if *out == "" {
			*out = base + ".cwasm.zip"
		}
	case bytes.HasPrefix(src, []byte("\x00asm")):
		if result, err = eng.Precompile(src); err != nil {
			return err
		}
		if *asZip {
			if result, err = wasm.PrecompiledZip(result); err != nil {
				return err
			}
		}
		if *out == "" {
			*out = base + ".cwasm"
			if *asZip {
				*out = base + ".zip"
			}
		}
	default:
		return fmt.Errorf("%s is neither a WebAssembly module nor a zip archive", in)
	}
	if *out == in {
		return fmt.Errorf("refusing to overwrite the input %s; choose another -o", in)
	}
	return os.WriteFile(*out, result, 0o644)
}
