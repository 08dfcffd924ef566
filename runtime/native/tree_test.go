package native

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wasmwhisk/wasmwhisk/internal/cgroup"
	"github.com/wasmwhisk/wasmwhisk/internal/conformance"
	"github.com/wasmwhisk/wasmwhisk/internal/procfs"
	"github.com/wasmwhisk/wasmwhisk/internal/ziptest"
	"github.com/wasmwhisk/wasmwhisk/runtime"
)

// The test binary doubles as an actionloop action (NATIVE_TEST_HELPER=action) whose every
// activation starts a child in a new session, as a daemonising action does, and answers with the
// child's pid; {"hang":true} prints the pid to stderr and never answers.
func TestMain(m *testing.M) {
	switch os.Getenv("NATIVE_TEST_HELPER") {
	case "":
		os.Exit(m.Run())
	case "sleep":
		time.Sleep(5 * time.Minute)
	case "action":
		helperAction()
	}
	os.Exit(0)
}

func helperAction() {
	results := os.NewFile(3, "results")
	fmt.Fprintln(results, `{"ok":true}`)
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		self, _ := os.Executable()
		cmd := exec.Command(self)
		cmd.Env = []string{"NATIVE_TEST_HELPER=sleep"}
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		if err := cmd.Start(); err != nil {
			fmt.Fprintf(results, "{\"error\":%q}\n", err.Error())
			continue
		}
		if strings.Contains(in.Text(), `"hang":true`) {
			fmt.Fprintf(os.Stderr, "child %d\n", cmd.Process.Pid)
			select {}
		}
		fmt.Fprintf(results, "{\"child\":%d}\n", cmd.Process.Pid)
	}
}

func selfCode(t *testing.T) []byte {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	code, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	return code
}

func waitDead(t *testing.T, pid int, what string) {
	t.Helper()
	if !procfs.WaitGone(pid, 10*time.Second) {
		syscall.Kill(pid, syscall.SIGKILL)
		t.Fatalf("%s (pid %d) survived", what, pid)
	}
}

// requireCgroup skips where the executor cannot make cgroups (it then kills only the process
// group, as documented), except in CI as root, where it must.
func requireCgroup(t *testing.T) {
	t.Helper()
	if cgroup.Probe().Unified == "" {
		if os.Getuid() == 0 && os.Getenv("CI") == "true" {
			t.Fatal("no writable cgroup v2 hierarchy for root in CI")
		}
		t.Skip("no writable cgroup v2 hierarchy: only the process group can be killed here")
	}
}

// TestDescendantsDieWithTheAction: children that started their own session die when the
// executor closes and when a run times out, and the executor's cgroup and files are gone.
func TestDescendantsDieWithTheAction(t *testing.T) {
	requireCgroup(t)
	code := selfCode(t)
	env := map[string]string{"NATIVE_TEST_HELPER": "action"}

	t.Run("close", func(t *testing.T) {
		dir := t.TempDir()
		name := fmt.Sprintf("wasmwhisk-test-%d-close", os.Getpid())
		x := New(Config{Dir: dir, Environ: []string{}, CgroupName: name})
		if err := x.Init(context.Background(), runtime.InitRequest{Code: code, Env: env}); err != nil {
			t.Fatal(err)
		}
		var pids []int
		for i := 0; i < 3; i++ {
			res, err := x.Run(context.Background(), runtime.RunRequest{Line: []byte(`{"value":{}}`)})
			if err != nil {
				t.Fatal(err)
			}
			var out struct{ Child int }
			if err := json.Unmarshal(res, &out); err != nil || out.Child == 0 {
				t.Fatalf("result %s", res)
			}
			pids = append(pids, out.Child)
		}
		for _, pid := range pids {
			if !procfs.Alive(pid) {
				t.Fatalf("child %d is not running before Close", pid)
			}
		}
		x.Close()
		for _, pid := range pids {
			waitDead(t, pid, "a setsid child after Close")
		}
		requireEmptyDir(t, dir)
		if names, _ := cgroup.Probe().RemoveStale(context.Background(), name); len(names) != 0 {
			t.Fatalf("Close left cgroup %v", names)
		}
	})

	t.Run("timeout", func(t *testing.T) {
		stderr := &conformance.SyncBuffer{}
		x := New(Config{Dir: t.TempDir(), Environ: []string{}, Stderr: stderr})
		defer x.Close()
		if err := x.Init(context.Background(), runtime.InitRequest{Code: code, Env: env}); err != nil {
			t.Fatal(err)
		}
		_, err := x.Run(context.Background(), runtime.RunRequest{Line: []byte(`{"value":{"hang":true}}`), Deadline: time.Now().Add(300 * time.Millisecond)})
		var timeout *runtime.TimeoutError
		if !errors.As(err, &timeout) {
			t.Fatalf("err = %v, want a timeout", err)
		}
		var pid int
		if _, err := fmt.Sscanf(stderr.String(), "child %d", &pid); err != nil {
			t.Fatalf("stderr %q", stderr.String())
		}
		waitDead(t, pid, "a setsid child after the timeout")
	})
}

func requireEmptyDir(t *testing.T, dir string) {
	t.Helper()
	var left []string
	filepath.WalkDir(dir, func(p string, _ fs.DirEntry, err error) error {
		if p != dir {
			left = append(left, p)
		}
		return nil
	})
	if len(left) != 0 {
		t.Fatalf("left on disk: %v", left)
	}
}

// TestFailedInitLeavesNothing: whatever makes /init fail, nothing the executor wrote stays on
// disk, even before Close.
func TestFailedInitLeavesNothing(t *testing.T) {
	cases := []struct {
		name string
		code []byte
		cfg  Config
		want string
	}{
		{"zip refused after its exec", ziptest.Build(t, ziptest.File{Name: "exec", Body: []byte("#!/bin/sh\n"), Mode: 0o755}, ziptest.File{Name: "lib/a", Body: []byte("a")}, ziptest.File{Name: "../escape"}), Config{}, "escapes"},
		{"zip without exec", ziptest.Build(t, ziptest.File{Name: "bin/other", Body: []byte("x"), Mode: 0o755}), Config{}, "no executable named exec"},
		{"exits at start", []byte("#!/bin/sh\nexit 3\n"), Config{}, msgCommandExited},
		{"bad acknowledgement", []byte("#!/bin/sh\necho nope >&3\nsleep 5\n"), Config{}, "bad acknowledgement"},
		{"no acknowledgement", []byte("#!/bin/sh\nsleep 5\n"), Config{AckTimeout: 100 * time.Millisecond}, "no acknowledgement"},
		{"not an executable", []byte("just text"), Config{}, msgNoBinary},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := c.cfg
			cfg.Dir, cfg.Environ = t.TempDir(), []string{}
			x := New(cfg)
			err := x.Init(context.Background(), runtime.InitRequest{Code: c.code})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want %q", err, c.want)
			}
			requireEmptyDir(t, cfg.Dir)
			x.Close()
		})
	}
}

// TestOrphanGroupsSwept: the group of a proxy that was killed without closing (its creator's pid
// is gone) is destroyed, with the tree in it, by the next executor that makes a default group.
func TestOrphanGroupsSwept(t *testing.T) {
	requireCgroup(t)
	roots := cgroup.Probe()
	orphan, err := cgroup.Roots{Unified: roots.Unified}.New(defaultGroupPrefix()+"999999999-test", 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { orphan.Destroy(context.Background()) })
	self, _ := os.Executable()
	cmd := exec.Command(self)
	cmd.Env = []string{"NATIVE_TEST_HELPER=sleep"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go cmd.Wait()
	if err := orphan.Add(cmd.Process.Pid, false); err != nil {
		t.Fatal(err)
	}
	x := New(Config{Dir: t.TempDir(), Environ: []string{}})
	defer x.Close()
	if err := x.Init(context.Background(), runtime.InitRequest{Code: []byte(script)}); err != nil {
		t.Fatal(err)
	}
	waitDead(t, cmd.Process.Pid, "the orphaned group's process")
	if _, err := os.Stat(orphan.Dirs()[0]); !os.IsNotExist(err) {
		t.Fatalf("orphaned group: %v", err)
	}
}
