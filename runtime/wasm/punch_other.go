//go:build !linux

package wasm

import "os"

// punchHole is a no-op where hole punching is not available: output files keep their bytes until
// they are closed.
func punchHole(f *os.File, off, n int64) {}
