package process

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wasmwhisk/wasmwhisk/internal/procfs"
	"github.com/wasmwhisk/wasmwhisk/internal/testbuild"
	"github.com/wasmwhisk/wasmwhisk/internal/ziptest"
	"github.com/wasmwhisk/wasmwhisk/standalone"
)

// testBackend is a backend on real actionproxy processes with its working directory and ledger
// in the test's temporary directory.
func testBackend(t *testing.T, mutate func(*Config)) (*Backend, Config) {
	t.Helper()
	// Not t.TempDir(): the containers' users must pass through every directory above WorkDir.
	tmp, err := os.MkdirTemp("", "wasmwhisk-processtest-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(tmp) })
	if err := os.Chmod(tmp, 0o711); err != nil {
		t.Fatal(err)
	}
	cfg := Config{
		ProxyBinary: testbuild.MustBuild(t, testbuild.Target{Pkg: "./cmd/actionproxy", CGO: true}),
		Instance:    "test" + strconv.FormatInt(time.Now().UnixNano(), 36),
		StateDir:    filepath.Join(tmp, "state"),
		WorkDir:     filepath.Join(tmp, "work"),
	}
	if mutate != nil {
		mutate(&cfg)
	}
	b, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b, cfg // as given: a restart is configured as the first start was
}

func probeCode(t *testing.T) []byte {
	t.Helper()
	code, err := os.ReadFile(testbuild.MustBuild(t, testbuild.Target{Pkg: "./standalone/process/testdata/probe"}))
	if err != nil {
		t.Fatal(err)
	}
	return code
}

func initBody(code []byte) []byte {
	b, _ := json.Marshal(map[string]any{"value": map[string]any{
		"name": "probe", "main": "main", "binary": true, "code": base64.StdEncoding.EncodeToString(code),
	}})
	return b
}

func runBody(params map[string]any) []byte {
	b, _ := json.Marshal(map[string]any{"value": params, "deadline": strconv.FormatInt(time.Now().Add(time.Minute).UnixMilli(), 10)})
	return b
}

func nativeSpec(name string) standalone.ContainerSpec {
	return standalone.ContainerSpec{Name: name, Kind: standalone.KindNative, Executor: "native", MemoryMB: 256, Concurrency: 1}
}

func waitDead(t *testing.T, pid int, what string) {
	t.Helper()
	if !procfs.WaitGone(pid, 15*time.Second) {
		syscall.Kill(pid, syscall.SIGKILL)
		t.Fatalf("%s (pid %d) survived", what, pid)
	}
}

// leftovers lists what the instance still has on the machine: files in its working directory
// (but the proxy copy), ledger entries and cgroups.
func leftovers(t *testing.T, b *Backend) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(b.workDir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && p != b.workDir && p != b.proxyBin {
			out = append(out, p)
		}
		return nil
	})
	entries, _ := b.ledger.Entries()
	for name := range entries {
		out = append(out, "ledger entry "+name)
	}
	for _, root := range []string{b.roots.Unified, b.roots.Memory, b.roots.Freezer} {
		if root == "" {
			continue
		}
		list, _ := os.ReadDir(root)
		for _, e := range list {
			if strings.HasPrefix(e.Name(), b.groupPrefix()) {
				out = append(out, filepath.Join(root, e.Name()))
			}
		}
	}
	return out
}

func mustRun(t *testing.T, c standalone.Container, params map[string]any) map[string]any {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	status, body, err := c.Run(ctx, runBody(params))
	if err != nil || status != 200 {
		t.Fatalf("run: %d %s %v", status, body, err)
	}
	var out map[string]any
	if err := json.Unmarshal(body, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func mustInit(t *testing.T, c standalone.Container, code []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if status, body, err := c.Init(ctx, initBody(code)); err != nil || status != 200 {
		t.Fatalf("init: %d %s %v", status, body, err)
	}
}

// TestDestroyKillsTheTree: a child the action started in a new session dies with the container,
// whose directory, cgroups and ledger entry go too.
func TestDestroyKillsTheTree(t *testing.T) {
	b, _ := testBackend(t, nil)
	ctx := context.Background()
	c, err := b.Create(ctx, nativeSpec("daemon"))
	if err != nil {
		t.Fatal(err)
	}
	mustInit(t, c, probeCode(t))
	out := mustRun(t, c, map[string]any{"daemon": true})
	child := int(out["child"].(float64))
	if !procfs.Alive(child) {
		t.Fatal("the daemon is not running")
	}
	if b.users.enabled {
		if uid := int(out["uid"].(float64)); uid < int(b.users.base) {
			t.Errorf("the action ran as uid %d, not one of the instance's", uid)
		}
	}
	if err := c.Destroy(ctx); err != nil {
		t.Fatal(err)
	}
	waitDead(t, child, "the setsid child")
	if left := leftovers(t, b); len(left) != 0 {
		t.Fatalf("left after Destroy: %v", left)
	}
}

// TestFailedInitLeavesNothing: a native init that fails, in the proxy's extraction or at the
// action's start, leaves nothing on disk once the invoker destroys the container.
func TestFailedInitLeavesNothing(t *testing.T) {
	b, _ := testBackend(t, nil)
	cases := []struct {
		name string
		code []byte
	}{
		{"zip refused after its exec", ziptest.Build(t, ziptest.File{Name: "exec", Body: []byte("#!/bin/sh\n"), Mode: 0o755}, ziptest.File{Name: "lib/data", Body: []byte("x")}, ziptest.File{Name: "../escape"})},
		{"action exits at start", ziptest.Build(t, ziptest.File{Name: "exec", Body: []byte("#!/bin/sh\nexit 3\n"), Mode: 0o755}, ziptest.File{Name: "lib/data", Body: []byte("x")})},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			c, err := b.Create(ctx, nativeSpec("bad"))
			if err != nil {
				t.Fatal(err)
			}
			status, body, err := c.Init(ctx, initBody(tc.code))
			if err == nil && status == 200 {
				t.Fatalf("init succeeded: %s", body)
			}
			if err := c.Destroy(ctx); err != nil {
				t.Fatal(err)
			}
			if left := leftovers(t, b); len(left) != 0 {
				t.Fatalf("left after a failed init: %v", left)
			}
		})
	}
}

// TestRecoversWhatACrashLeft: a second backend of the same instance (a restart after the first
// one's server died without destroying anything) kills and removes the first one's containers
// before it serves, and serves.
func TestRecoversWhatACrashLeft(t *testing.T) {
	first, cfg := testBackend(t, nil)
	ctx := context.Background()
	code := probeCode(t)
	var pids []int
	for i := 0; i < 2; i++ {
		c, err := first.Create(ctx, nativeSpec("left"))
		if err != nil {
			t.Fatal(err)
		}
		mustInit(t, c, code)
		out := mustRun(t, c, map[string]any{"daemon": true})
		pids = append(pids, int(out["child"].(float64)), int(out["pid"].(float64)))
		id, _ := strconv.Atoi(c.ID())
		pids = append(pids, id)
	}
	if _, err := first.Create(ctx, standalone.ContainerSpec{Name: "wasm", Kind: standalone.KindWasm, Executor: "wasm", MemoryMB: 128, Concurrency: 1}); err != nil {
		t.Fatal(err)
	}
	if entries, _ := first.ledger.Entries(); len(entries) != 3 {
		t.Fatalf("ledger holds %d entries, want 3", len(entries))
	}
	if first.claim != nil {
		first.claim.lock.Close() // as the kernel does for a process that died
		first.claim = nil        // and a dead server releases nothing at Close
	}

	second, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	for _, pid := range pids {
		waitDead(t, pid, "a process of the crashed run")
	}
	if left := leftovers(t, second); len(left) != 0 {
		t.Fatalf("left after recovery: %v", left)
	}
	c, err := second.Create(ctx, nativeSpec("after"))
	if err != nil {
		t.Fatal(err)
	}
	mustInit(t, c, code)
	mustRun(t, c, map[string]any{})
	if err := c.Destroy(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestOtherInstancesUntouched: recovery only ever takes what carries the instance's own name.
func TestOtherInstancesUntouched(t *testing.T) {
	other, _ := testBackend(t, nil)
	ctx := context.Background()
	c, err := other.Create(ctx, nativeSpec("other"))
	if err != nil {
		t.Fatal(err)
	}
	mustInit(t, c, probeCode(t))
	_, _ = testBackend(t, nil) // a new instance recovers at start
	mustRun(t, c, map[string]any{})
	if err := c.Destroy(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestUsers(t *testing.T) {
	u := newUsers(true, 1<<30)
	a, _ := u.take()
	b, _ := u.take()
	if a == b || a == u.wasm() || b == u.wasm() {
		t.Fatalf("users %d %d, wasm %d", a, b, u.wasm())
	}
	u.give(a)
	if c, _ := u.take(); c != a {
		t.Fatalf("freed user %d not reused (got %d)", a, c)
	}
	if !u.owns(uint32(a)) || u.owns(1<<30-1) || u.owns(1<<30+userRange) {
		t.Fatal("owns")
	}
	off := newUsers(false, 1<<30)
	if id, _ := off.take(); id != -1 || off.wasm() != -1 {
		t.Fatal("disabled users hand out ids")
	}
	for _, inst := range []string{"a", "b", "0123456789ab"} {
		base := defaultUserBase(inst)
		if base < 1<<30 || uint64(base)+userRange > 1<<31 || base%userRange != 0 {
			t.Errorf("base %d of %q", base, inst)
		}
	}
	if defaultUserBase("a") == defaultUserBase("b") {
		t.Error("two instances share a range")
	}
}

// TestClaimUsers: a range of user ids is never shared: not with a live server, not with an
// instance that crashed and may have leftovers in it; an instance finds its own range again.
func TestClaimUsers(t *testing.T) {
	dir := func(base uint32) string {
		d := t.TempDir()
		if base != 0 {
			os.WriteFile(filepath.Join(d, "users"), []byte(strconv.FormatUint(uint64(base), 10)), 0o600)
		}
		return d
	}
	suffix := strconv.FormatInt(time.Now().UnixNano(), 36)
	xDir := dir(0)
	x, err := claimUsers("x"+suffix, xDir)
	if err != nil {
		t.Fatal(err)
	}
	y, err := claimUsers("y"+suffix, dir(x.base)) // wants x's range
	if err != nil {
		t.Fatal(err)
	}
	defer y.release()
	if y.base == x.base {
		t.Fatal("a live server's range was claimed again")
	}
	x.lock.Close() // x crashes: its lock goes, its ownership stays
	zDir := dir(x.base)
	z, err := claimUsers("z"+suffix, zDir)
	if err != nil {
		t.Fatal(err)
	}
	if z.base == x.base {
		t.Fatal("a crashed instance's range was taken by another")
	}
	z.release()
	x2, err := claimUsers("x"+suffix, xDir)
	if err != nil {
		t.Fatal(err)
	}
	if x2.base != x.base {
		t.Fatalf("the instance restarted in range %d, not its own %d", x2.base, x.base)
	}
	x2.release() // a clean stop gives the range up
	os.WriteFile(filepath.Join(zDir, "users"), []byte(strconv.FormatUint(uint64(x.base), 10)), 0o600)
	z2, err := claimUsers("z"+suffix, zDir)
	if err != nil {
		t.Fatal(err)
	}
	defer z2.release()
	if z2.base != x.base {
		t.Fatalf("a released range was not reused: %d, want %d", z2.base, x.base)
	}
}
