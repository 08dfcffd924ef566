package standalone

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// Instance is one standalone's claim on its data directory. Its ID, derived from the directory's
// absolute path, names and labels everything the backends create (Docker containers, cgroups,
// working directories, user ids), so that two servers on one machine never take each other's
// containers for their own leftovers; its lock keeps a second server off the same directory, which
// would otherwise remove the first one's running containers at start-up.
type Instance struct {
	// ID is 12 hex digits of the SHA-256 of DataDir.
	ID string
	// DataDir is the absolute data directory, symbolic links resolved; mode 0700.
	DataDir string

	lock *os.File
}

// instanceLock is the file in the data directory that a running server holds locked.
const instanceLock = "wasmwhisk.lock"

// OpenInstance creates dataDir if needed, makes it private (0700: it holds every action's code and
// every record) and locks it. It fails when another process holds the lock.
func OpenInstance(dataDir string) (*Instance, error) {
	abs, err := filepath.Abs(dataDir)
	if err != nil {
		return nil, fmt.Errorf("standalone: data directory: %w", err)
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return nil, fmt.Errorf("standalone: data directory: %w", err)
	}
	if abs, err = filepath.EvalSymlinks(abs); err != nil {
		return nil, fmt.Errorf("standalone: data directory: %w", err)
	}
	if err := os.Chmod(abs, 0o700); err != nil {
		return nil, fmt.Errorf("standalone: data directory: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(abs, instanceLock), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("standalone: lock data directory: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		holder, _ := os.ReadFile(f.Name())
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("standalone: data directory %s is in use by another server (pid %s)", abs, strings.TrimSpace(string(holder)))
		}
		return nil, fmt.Errorf("standalone: lock data directory: %w", err)
	}
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	sum := sha256.Sum256([]byte(abs))
	return &Instance{ID: hex.EncodeToString(sum[:6]), DataDir: abs, lock: f}, nil
}

// StateDir returns a private directory for a backend's records (see Ledger), created if needed.
func (in *Instance) StateDir(backend string) (string, error) {
	if backend == "" || strings.ContainsAny(backend, `/\`) || backend == "." || backend == ".." {
		return "", fmt.Errorf("standalone: bad state directory name %q", backend)
	}
	dir := filepath.Join(in.DataDir, "run", backend)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("standalone: state directory: %w", err)
	}
	return dir, nil
}

// Close releases the lock; the lock file stays.
func (in *Instance) Close() error {
	if in.lock == nil {
		return nil
	}
	err := in.lock.Close() // closing the descriptor drops the flock
	in.lock = nil
	return err
}
