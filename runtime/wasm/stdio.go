package wasm

import (
	"fmt"
	"os"
	"path/filepath"
)

// stdioFile is one of a guest's standard streams: a file the host reads and writes through f,
// and a path through which wasmtime opens the same file for the guest (wasmtime-go's WASI
// configuration only takes paths). On Linux it is an anonymous memory file (memfd) named by its
// /proc/self/fd path: no directory entry, no disk, nothing to clean up but the descriptor.
// Elsewhere it is a temporary file in the action's private directory.
type stdioFile struct {
	f      *os.File
	path   string
	remove bool // path is a directory entry to delete on close
}

// newStdioFile makes an empty stdio file; dir is used when memory files are unavailable.
func newStdioFile(dir, name string) (*stdioFile, error) {
	if f, err := memFile(name); err == nil {
		return &stdioFile{f: f, path: fmt.Sprintf("/proc/self/fd/%d", f.Fd())}, nil
	}
	f, err := os.CreateTemp(dir, name+"-*")
	if err != nil {
		return nil, err
	}
	return &stdioFile{f: f, path: filepath.Clean(f.Name()), remove: true}, nil
}

// size is the file's current size.
func (s *stdioFile) size() (int64, error) {
	fi, err := s.f.Stat()
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

func (s *stdioFile) close() {
	s.f.Close()
	if s.remove {
		os.Remove(s.path)
	}
}
