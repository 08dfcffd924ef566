package wasm

import (
	"errors"
	"os"
	"strconv"
	"sync"

	"golang.org/x/sys/unix"
)

// memFilesWork records whether a memfd can be reopened through /proc/self/fd (it cannot when
// /proc is not mounted): checked once per process.
var memFilesWork = sync.OnceValue(func() bool {
	fd, err := unix.MemfdCreate("wasmwhisk-probe", unix.MFD_CLOEXEC)
	if err != nil {
		return false
	}
	defer unix.Close(fd)
	f, err := os.OpenFile("/proc/self/fd/"+strconv.Itoa(fd), os.O_RDWR, 0)
	if err != nil {
		return false
	}
	f.Close()
	return true
})

// memFile creates an anonymous memory file.
func memFile(name string) (*os.File, error) {
	if !memFilesWork() {
		return nil, errors.ErrUnsupported
	}
	fd, err := unix.MemfdCreate(name, unix.MFD_CLOEXEC)
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), name), nil
}
