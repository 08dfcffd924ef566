package cgroup

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wasmwhisk/wasmwhisk/internal/procfs"
)

// The test binary doubles as the processes the tests put into groups (CGROUP_TEST_HELPER).
func TestMain(m *testing.M) {
	switch os.Getenv("CGROUP_TEST_HELPER") {
	case "":
		os.Exit(m.Run())
	case "tree":
		// Start a child in a new session (it leaves our process group), print its pid, wait.
		cmd := exec.Command(os.Args[0])
		cmd.Env = append(os.Environ(), "CGROUP_TEST_HELPER=sleep")
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		if err := cmd.Start(); err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		fmt.Println(cmd.Process.Pid)
		time.Sleep(time.Minute)
	case "sleep":
		time.Sleep(time.Minute)
	case "hog":
		// Touches up to 1 GiB, far past the group's limit: the kernel kills it long before.
		var keep [][]byte
		for len(keep) < 1024 {
			b := make([]byte, 1<<20)
			for i := range b {
				b[i] = 1
			}
			keep = append(keep, b)
		}
		fmt.Fprintf(os.Stderr, "hog: still alive with %d MiB\n", len(keep))
		os.Exit(3)
	}
	os.Exit(0)
}

func requireRoots(t *testing.T) Roots {
	t.Helper()
	r := Probe()
	if !r.Any() {
		if os.Getuid() == 0 && os.Getenv("CI") == "true" {
			t.Fatal("no writable cgroup hierarchy for root in CI")
		}
		t.Skip("no writable cgroup hierarchy here")
	}
	t.Logf("roots: %+v", r)
	return r
}

func uniqueName(t *testing.T) string {
	var b [6]byte
	rand.Read(b[:])
	return "wasmwhisk-test-" + hex.EncodeToString(b[:])
}

// startIn starts the test binary in helper mode inside g, the way the backends start a container.
func startIn(t *testing.T, g *Group, mode string) (*exec.Cmd, *bufio.Reader) {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "CGROUP_TEST_HELPER="+mode)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	fd, born, err := g.UnifiedFD()
	if err != nil {
		t.Fatal(err)
	}
	if born {
		cmd.SysProcAttr.UseCgroupFD, cmd.SysProcAttr.CgroupFD = true, int(fd.Fd())
		defer fd.Close()
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if err := g.Add(cmd.Process.Pid, born); err != nil {
		t.Fatal(err)
	}
	go cmd.Wait()
	return cmd, bufio.NewReader(out)
}

// TestGroupKillsWholeTree: a child that started its own session is still in the group, and Kill
// takes it down with its parent; the directories go away.
func TestGroupKillsWholeTree(t *testing.T) {
	r := requireRoots(t)
	g, err := r.New(uniqueName(t), 64)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	t.Cleanup(func() { g.Destroy(context.Background()) })
	cmd, out := startIn(t, g, "tree")
	line, err := out.ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	child, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		t.Fatalf("helper said %q", line)
	}
	procs := g.Procs()
	if !contains(procs, cmd.Process.Pid) || !contains(procs, child) {
		t.Fatalf("group lists %v, want %d and its setsid child %d", procs, cmd.Process.Pid, child)
	}
	if err := g.Destroy(ctx); err != nil {
		t.Fatal(err)
	}
	for _, pid := range []int{cmd.Process.Pid, child} {
		for procfs.Alive(pid) {
			if ctx.Err() != nil {
				t.Fatalf("process %d survived", pid)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	for _, d := range g.Dirs() {
		if _, err := os.Stat(d); !os.IsNotExist(err) {
			t.Errorf("%s still there: %v", d, err)
		}
	}
}

func contains(list []int, v int) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// TestRemoveStale: the groups with the prefix are killed and removed, others are not touched.
func TestRemoveStale(t *testing.T) {
	r := requireRoots(t)
	prefix := uniqueName(t) + "-"
	stale, err := r.New(prefix+"a", 32)
	if err != nil {
		t.Fatal(err)
	}
	other, err := r.New(uniqueName(t), 32)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stale.Destroy(context.Background())
		other.Destroy(context.Background())
	})
	staleCmd, _ := startIn(t, stale, "sleep")
	otherCmd, _ := startIn(t, other, "sleep")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	names, err := r.RemoveStale(ctx, prefix)
	if err != nil {
		t.Fatal(err)
	}
	if len(names) != 1 || names[0] != prefix+"a" {
		t.Fatalf("removed %v", names)
	}
	for procfs.Alive(staleCmd.Process.Pid) {
		if ctx.Err() != nil {
			t.Fatal("the stale group's process survived")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if !procfs.Alive(otherCmd.Process.Pid) {
		t.Fatal("the other group's process was killed")
	}
	if len(other.Procs()) != 1 {
		t.Fatalf("other group lists %v", other.Procs())
	}
	if _, err := r.RemoveStale(ctx, ""); err == nil {
		t.Fatal("RemoveStale without a prefix succeeded")
	}
}

// TestOOMKills: a process past the memory limit is killed by the kernel and counted.
func TestOOMKills(t *testing.T) {
	r := requireRoots(t)
	if r.Memory == "" {
		t.Skip("no cgroup v1 memory hierarchy")
	}
	g, err := r.New(uniqueName(t), 16)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Destroy(context.Background()) })
	if !g.MemoryLimited() {
		t.Fatal("group without memory limit")
	}
	cmd, _ := startIn(t, g, "hog")
	deadline := time.Now().Add(20 * time.Second)
	for g.OOMKills() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no OOM kill counted")
		}
		time.Sleep(10 * time.Millisecond)
	}
	for procfs.Alive(cmd.Process.Pid) {
		if time.Now().After(deadline) {
			t.Fatal("the hog survived its OOM kill")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestBadNames(t *testing.T) {
	r := Roots{Unified: t.TempDir()}
	for _, name := range []string{"", ".", "..", "a/b", "a\x00"} {
		if _, err := r.New(name, 0); err == nil {
			t.Errorf("New(%q) succeeded", name)
		}
	}
}

func TestMountDir(t *testing.T) {
	m := mountTable{
		"":       {root: "/", point: "/sys/fs/cgroup/unified"},
		"memory": {root: "/docker/abc", point: "/sys/fs/cgroup/memory"},
	}
	tests := []struct{ ctrl, path, want string }{
		{"", "/", "/sys/fs/cgroup/unified"},
		{"", "/user.slice/x", "/sys/fs/cgroup/unified/user.slice/x"},
		{"memory", "/docker/abc", "/sys/fs/cgroup/memory"},
		{"memory", "/docker/abc/sub", "/sys/fs/cgroup/memory/sub"},
		{"memory", "/docker/abcdef", ""},
		{"memory", "/other", ""},
		{"freezer", "/", ""},
	}
	for _, tt := range tests {
		if got := m.dir(tt.ctrl, tt.path); got != tt.want {
			t.Errorf("dir(%q, %q) = %q, want %q", tt.ctrl, tt.path, got, tt.want)
		}
	}
	if got := unescapeMount(`/a\040b`); got != "/a b" {
		t.Errorf("unescape = %q", got)
	}
}

// TestNestedGroup: a group made inside another one's v2 directory (an actionproxy running as
// root makes one for its action) dies and goes away with the outer group.
func TestNestedGroup(t *testing.T) {
	r := requireRoots(t)
	if r.Unified == "" {
		t.Skip("no cgroup v2 hierarchy")
	}
	outer, err := r.New(uniqueName(t), 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { outer.Destroy(context.Background()) })
	inner, err := Roots{Unified: outer.Dirs()[0]}.New("inner", 0)
	if err != nil {
		t.Fatal(err)
	}
	cmd, _ := startIn(t, inner, "sleep")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if !outer.populated() || len(outer.Procs()) != 0 {
		t.Fatalf("outer group: populated %v, procs %v", outer.populated(), outer.Procs())
	}
	if err := outer.Destroy(ctx); err != nil {
		t.Fatal(err)
	}
	for procfs.Alive(cmd.Process.Pid) {
		if ctx.Err() != nil {
			t.Fatal("the nested group's process survived")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if _, err := os.Stat(outer.Dirs()[0]); !os.IsNotExist(err) {
		t.Fatalf("outer directory: %v", err)
	}
}

// TestKillFrozen: a paused (frozen) group is killed too.
func TestKillFrozen(t *testing.T) {
	r := requireRoots(t)
	g, err := r.New(uniqueName(t), 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Destroy(context.Background()) })
	cmd, _ := startIn(t, g, "sleep")
	if ok, err := g.Freeze(true); !ok || err != nil {
		t.Skipf("no freezer: %v %v", ok, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := g.Destroy(ctx); err != nil {
		t.Fatal(err)
	}
	for procfs.Alive(cmd.Process.Pid) {
		if ctx.Err() != nil {
			t.Fatal("the frozen process survived")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
