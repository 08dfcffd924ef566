package wasm

import (
	"os"
	"syscall"
)

// punchHole frees the disk space of the first n bytes of f without changing its size or the
// offsets of writers (the guest keeps writing at its own offset). Best effort: a file system
// without hole punching just keeps the bytes until the instance is closed.
func punchHole(f *os.File, n int64) {
	const punchHoleKeepSize = 0x02 | 0x01 // FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE
	_ = syscall.Fallocate(int(f.Fd()), punchHoleKeepSize, 0, n)
}
