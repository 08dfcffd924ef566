// Package testbuild builds the project's own Go packages (actions, binaries) for tests and
// benchmarks, natively or for wasip1, into a per-user cache directory, so that every test runs the
// real artifacts that `make` would produce without depending on `make` having been run first.
package testbuild

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// Target says how to build a package.
type Target struct {
	// Pkg is the import path relative to the module root, e.g. "./actions/hello".
	Pkg string
	// WASM builds for GOOS=wasip1 GOARCH=wasm; otherwise the host platform.
	WASM bool
	// Reactor builds a WASI reactor (-buildmode=c-shared); only with WASM.
	Reactor bool
	// Tags are extra build tags.
	Tags []string
	// CGO enables cgo for native builds (default off, so native actions are static executables).
	CGO bool
}

var (
	mu sync.Mutex
	// built remembers what this process already built: linking a cgo binary again for every
	// test that asks costs seconds, and the sources do not change while tests run.
	built = map[string]string{}
)

// Root returns the module root (the directory holding go.mod), found from the working directory.
func Root() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("testbuild: no go.mod above the working directory")
		}
		dir = parent
	}
}

// Build builds t and returns the artifact's path. Builds are serialised and cached by the Go build
// cache, so calling it from many tests is cheap after the first time.
func Build(t Target) (string, error) {
	mu.Lock()
	defer mu.Unlock()
	root, err := Root()
	if err != nil {
		return "", err
	}
	key := sha256.Sum256([]byte(fmt.Sprintf("%s|%v|%v|%v|%v|%s", t.Pkg, t.WASM, t.Reactor, t.Tags, t.CGO, root)))
	if out, ok := built[string(key[:])]; ok {
		if _, err := os.Stat(out); err == nil {
			return out, nil
		}
	}
	dir := filepath.Join(os.TempDir(), "wasmwhisk-testbuild", hex.EncodeToString(key[:8]))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	name := filepath.Base(t.Pkg)
	if t.WASM {
		name += ".wasm"
	}
	out := filepath.Join(dir, name)
	tmp := fmt.Sprintf("%s.tmp%d", out, os.Getpid())
	args := []string{"build", "-trimpath", "-o", tmp}
	if t.Reactor {
		args = append(args, "-buildmode=c-shared")
	}
	if len(t.Tags) > 0 {
		args = append(args, "-tags", strings.Join(t.Tags, ","))
	}
	args = append(args, t.Pkg)
	// "go" from PATH is the toolchain running the tests: go test puts its own GOROOT/bin first.
	cmd := exec.Command("go", args...)
	cmd.Dir = root
	cmd.Env = os.Environ()
	if t.WASM {
		cmd.Env = append(cmd.Env, "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
	} else if !t.CGO {
		cmd.Env = append(cmd.Env, "CGO_ENABLED=0")
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("testbuild: go %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	// Rename so that concurrent test binaries never see a half-written artifact.
	if err := os.Rename(tmp, out); err != nil {
		return "", err
	}
	built[string(key[:])] = out
	return out, nil
}

// MustBuild is Build for tests: it fails the test on error.
func MustBuild(tb testing.TB, t Target) string {
	tb.Helper()
	path, err := Build(t)
	if err != nil {
		tb.Fatal(err)
	}
	return path
}
