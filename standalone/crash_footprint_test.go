package standalone_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/wasmwhisk/wasmwhisk/internal/cgroup"
	"github.com/wasmwhisk/wasmwhisk/internal/procfs"
	"github.com/wasmwhisk/wasmwhisk/internal/testbuild"
	"github.com/wasmwhisk/wasmwhisk/standalone"
)

// footprint is what a standalone of one instance has on the machine besides its data
// directory: its descendant processes, its cgroups, the files in its working directories and its
// Docker containers. A crash test takes it before the kill and checks that the restarted server
// removed all of it before serving.
type footprint struct {
	pids       []int
	cgroups    []string
	files      []string
	containers []string
}

func (f footprint) empty() bool {
	return len(f.pids)+len(f.cgroups)+len(f.files)+len(f.containers) == 0
}

// instanceID is the id the standalone will derive from dataDir (it names everything the backends
// make); OpenInstance creates the directory, as the server would.
func instanceID(t *testing.T, dataDir string) string {
	t.Helper()
	inst, err := standalone.OpenInstance(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	defer inst.Close()
	return inst.ID
}

// takeFootprint lists what the instance holds now; root is the standalone's pid (0: none).
func takeFootprint(t *testing.T, root int, id string) footprint {
	t.Helper()
	var f footprint
	if root > 0 {
		f.pids = descendants(root)
	}
	roots := cgroup.Probe()
	prefix := "wasmwhisk-" + id + "-"
	for _, dir := range []string{roots.Unified, roots.Memory, roots.Freezer} {
		if dir == "" {
			continue
		}
		list, _ := os.ReadDir(dir)
		for _, e := range list {
			if e.IsDir() && strings.HasPrefix(e.Name(), prefix) {
				f.cgroups = append(f.cgroups, filepath.Join(dir, e.Name()))
			}
		}
	}
	for _, dir := range []string{filepath.Join(os.TempDir(), "wasmwhisk-"+id), filepath.Join(os.TempDir(), "wasmwhisk-"+id+"-wasmhost")} {
		list, _ := os.ReadDir(dir)
		for _, e := range list {
			if e.Name() != "actionproxy" { // the process backend's copy of the proxy binary
				f.files = append(f.files, filepath.Join(dir, e.Name()))
			}
		}
	}
	if _, err := exec.LookPath("docker"); err == nil {
		out, _ := exec.Command("docker", "ps", "-aq", "--filter", "label=io.wasmwhisk.instance="+id).Output()
		f.containers = strings.Fields(string(out))
	}
	return f
}

// leftAfter is what of before is still there (processes alive, the rest existing).
func leftAfter(t *testing.T, before footprint, id string) footprint {
	t.Helper()
	now := takeFootprint(t, 0, id)
	var left footprint
	for _, pid := range before.pids {
		if procfs.Alive(pid) {
			left.pids = append(left.pids, pid)
		}
	}
	// Right after the restart the new server has made nothing yet (no stem cells): whatever
	// carries the instance's names now is a leftover.
	left.cgroups, left.files, left.containers = now.cgroups, now.files, now.containers
	return left
}

// descendants lists every process below pid (by parent pid), alive now.
func descendants(pid int) []int {
	children := map[int][]int{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		data, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		s := string(data)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) < 2 {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		children[ppid] = append(children[ppid], p)
	}
	var out []int
	queue := []int{pid}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, c := range children[p] {
			out = append(out, c)
			queue = append(queue, c)
		}
	}
	return out
}

// processBackendArgs are the flags of a standalone on the process backend: its actionproxy.
func processBackendArgs(t *testing.T) []string {
	return []string{"-backend", "process", "-actionproxy", testbuild.MustBuild(t, testbuild.Target{Pkg: "./cmd/actionproxy", CGO: true})}
}

// dockerBackendArgs are the flags of a standalone on the docker backend, whose wasm:0.1 runtime
// image (the one `make images` builds, FROM scratch) is built when missing.
func dockerBackendArgs(t *testing.T) []string {
	t.Helper()
	if err := exec.Command("docker", "info").Run(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("Docker is required in CI (deploy/docker/ensure-dockerd.sh): %v", err)
		}
		t.Skipf("no Docker engine: %v", err)
	}
	var image string
	for _, rt := range standalone.DefaultRuntimes() {
		if rt.Kind == standalone.KindWasm {
			image = rt.Image
		}
	}
	if exec.Command("docker", "image", "inspect", image).Run() != nil {
		root, err := testbuild.Root()
		if err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command("bash", filepath.Join(root, "deploy/docker/build-images.sh"), "wasm-runtime").CombinedOutput()
		if err != nil {
			t.Fatalf("build %s: %v\n%s", image, err, out)
		}
	}
	return []string{"-backend", "docker"}
}
