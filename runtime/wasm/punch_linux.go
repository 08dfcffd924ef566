package wasm

import (
	"os"

	"golang.org/x/sys/unix"
)

// punchHole frees the memory or disk behind bytes [off, off+n) of f without changing its size or
// the offsets of writers (the guest keeps writing at its own offset); the range reads as zeros
// afterwards. Best effort: where hole punching fails the bytes just stay.
func punchHole(f *os.File, off, n int64) {
	if n > 0 {
		_ = unix.Fallocate(int(f.Fd()), unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, off, n)
	}
}
