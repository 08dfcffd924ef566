//go:build !linux

package wasm

import (
	"errors"
	"os"
)

// memFilesWork reports that memory files are unavailable outside Linux.
func memFilesWork() bool { return false }

// memFile is unavailable outside Linux: stdio files are temporary files.
func memFile(name string) (*os.File, error) { return nil, errors.ErrUnsupported }
