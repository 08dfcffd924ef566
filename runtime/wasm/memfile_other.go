//go:build !linux

package wasm

import (
	"errors"
	"os"
)

// memFile is unavailable outside Linux: stdio files are temporary files.
func memFile(name string) (*os.File, error) { return nil, errors.ErrUnsupported }
