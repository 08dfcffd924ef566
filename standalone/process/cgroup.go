package process

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// cgroupRoots finds the cgroup v1 memory and freezer directories of this process, when mounted
// and writable; either may be "". Containers get child cgroups below them, so they stay inside
// whatever limits this process already runs under.
func cgroupRoots() (memory, freezer string) {
	f, err := os.Open("/proc/self/cgroup")
	if err != nil {
		return "", ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) != 3 {
			continue
		}
		for _, ctrl := range strings.Split(parts[1], ",") {
			dir := filepath.Join("/sys/fs/cgroup", ctrl, parts[2])
			if !writableDir(dir) {
				continue
			}
			switch ctrl {
			case "memory":
				memory = dir
			case "freezer":
				freezer = dir
			}
		}
	}
	return memory, freezer
}

func writableDir(dir string) bool {
	probe := filepath.Join(dir, "wasmwhisk-probe")
	if err := os.Mkdir(probe, 0o755); err != nil {
		return false
	}
	return os.Remove(probe) == nil
}

// cgroup is one container's memory and/or freezer cgroup.
type cgroup struct {
	memory, freezer string // "" when not in use
}

func newCgroup(memRoot, freezerRoot, name string, memoryMB int) (*cgroup, error) {
	cg := &cgroup{}
	if memRoot != "" && memoryMB > 0 {
		dir := filepath.Join(memRoot, "wasmwhisk-"+name)
		if err := os.Mkdir(dir, 0o755); err != nil {
			return nil, fmt.Errorf("cgroup: %w", err)
		}
		cg.memory = dir
		limit := strconv.FormatInt(int64(memoryMB)<<20, 10)
		if err := os.WriteFile(filepath.Join(dir, "memory.limit_in_bytes"), []byte(limit), 0o644); err != nil {
			cg.remove()
			return nil, fmt.Errorf("cgroup: memory limit: %w", err)
		}
		// memory = swap, as docker --memory-swap: no swap. Absent without swap accounting.
		_ = os.WriteFile(filepath.Join(dir, "memory.memsw.limit_in_bytes"), []byte(limit), 0o644)
	}
	if freezerRoot != "" {
		dir := filepath.Join(freezerRoot, "wasmwhisk-"+name)
		if err := os.Mkdir(dir, 0o755); err != nil {
			cg.remove()
			return nil, fmt.Errorf("cgroup: %w", err)
		}
		cg.freezer = dir
	}
	return cg, nil
}

func (cg *cgroup) add(pid int) error {
	for _, dir := range []string{cg.memory, cg.freezer} {
		if dir == "" {
			continue
		}
		if err := os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(strconv.Itoa(pid)), 0o644); err != nil {
			return fmt.Errorf("cgroup: add %d to %s: %w", pid, dir, err)
		}
	}
	return nil
}

// freeze sets the freezer state; ok is false when there is no freezer cgroup.
func (cg *cgroup) freeze(frozen bool) (bool, error) {
	if cg.freezer == "" {
		return false, nil
	}
	state := "THAWED"
	if frozen {
		state = "FROZEN"
	}
	return true, os.WriteFile(filepath.Join(cg.freezer, "freezer.state"), []byte(state), 0o644)
}

// oomKilled reports whether the kernel OOM-killed a task of the memory cgroup.
func (cg *cgroup) oomKilled() bool {
	if cg.memory == "" {
		return false
	}
	data, err := os.ReadFile(filepath.Join(cg.memory, "memory.oom_control"))
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "oom_kill "); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(v))
			return n > 0
		}
	}
	return false
}

func (cg *cgroup) remove() error {
	var errs []error
	for _, dir := range []string{cg.freezer, cg.memory} {
		if dir == "" {
			continue
		}
		if err := os.Remove(dir); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
