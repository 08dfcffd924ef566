package main

import (
	"errors"
	"flag"

	"github.com/wasmwhisk/wasmwhisk/runtime"
)

type wasmOptions struct{}

func registerWasmFlags(fs *flag.FlagSet) *wasmOptions { return &wasmOptions{} }

func newWasmExecutor(o *wasmOptions) (runtime.Executor, error) {
	return nil, errors.New("the wasm executor is not wired yet")
}
