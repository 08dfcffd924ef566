package wasm

import (
	"os"
	"syscall"
)

// punchHole frees the memory or disk behind bytes [off, off+n) of f without changing its size or
// the offsets of writers (the guest keeps writing at its own offset); the range reads as zeros
// afterwards. Best effort: where hole punching fails the bytes just stay.
func punchHole(f *os.File, off, n int64) {
	const punchHoleKeepSize = 0x02 | 0x01 // FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE
	if n > 0 {
		_ = syscall.Fallocate(int(f.Fd()), punchHoleKeepSize, off, n)
	}
}
