// Package cgroup keeps a container's process tree in Linux control groups, so that the whole tree
// (children that left the process group or started a new session included) can be frozen,
// killed and accounted as one, and so that what a crashed server left behind can be found again
// by name.
//
// A Group is made of up to three directories, each below this process's own cgroup in a
// hierarchy that is mounted and writable: one in the unified (v2) hierarchy, which tracks every
// process of the tree and kills it atomically (cgroup.kill), and, where cgroup v1 is mounted, one
// in the memory hierarchy (the memory limit, no swap, and the OOM-kill count) and one in the
// freezer hierarchy (pause). Controllers are never enabled in v2, so groups can be made below a
// cgroup that holds processes, as a server's own cgroup does. Where no hierarchy is writable (an
// unprivileged user without delegation, a container with a read-only /sys/fs/cgroup) Probe finds
// nothing and callers fall back to process groups.
package cgroup

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Roots are the directories new groups are made under: this process's own cgroup in each
// hierarchy that is mounted and writable; "" where there is none.
type Roots struct {
	// Unified is the cgroup v2 directory.
	Unified string
	// Memory and Freezer are the cgroup v1 memory and freezer directories.
	Memory, Freezer string
}

// Probe finds this process's cgroups (/proc/self/cgroup, /proc/self/mountinfo) and keeps those
// where it may create groups.
func Probe() Roots {
	var r Roots
	mounts := cgroupMounts()
	f, err := os.Open("/proc/self/cgroup")
	if err != nil {
		return r
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) != 3 {
			continue
		}
		if parts[0] == "0" && parts[1] == "" {
			if dir := mounts.dir("", parts[2]); dir != "" && writableDir(dir) {
				r.Unified = dir
			}
			continue
		}
		for _, ctrl := range strings.Split(parts[1], ",") {
			if ctrl != "memory" && ctrl != "freezer" {
				continue
			}
			dir := mounts.dir(ctrl, parts[2])
			if dir == "" || !writableDir(dir) {
				continue
			}
			if ctrl == "memory" {
				r.Memory = dir
			} else {
				r.Freezer = dir
			}
		}
	}
	return r
}

// Any reports whether some hierarchy is usable.
func (r Roots) Any() bool { return r.Unified != "" || r.Memory != "" || r.Freezer != "" }

// mount is one cgroup file system mount: its hierarchy's root as seen here and its mount point.
type mount struct{ root, point string }

// mountTable maps "" (cgroup2) and v1 controller names to their mounts.
type mountTable map[string]mount

// cgroupMounts reads the cgroup mounts from /proc/self/mountinfo.
func cgroupMounts() mountTable {
	m := mountTable{}
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return m
	}
	for _, line := range strings.Split(string(data), "\n") {
		// ID parent major:minor root point options [optional...] - fstype source superoptions
		left, right, ok := strings.Cut(line, " - ")
		if !ok {
			continue
		}
		lf, rf := strings.Fields(left), strings.Fields(right)
		if len(lf) < 5 || len(rf) < 3 {
			continue
		}
		mt := mount{root: unescapeMount(lf[3]), point: unescapeMount(lf[4])}
		switch rf[0] {
		case "cgroup2":
			if _, seen := m[""]; !seen {
				m[""] = mt
			}
		case "cgroup":
			for _, opt := range strings.Split(rf[2], ",") {
				if _, seen := m[opt]; !seen {
					m[opt] = mt
				}
			}
		}
	}
	return m
}

// unescapeMount undoes mountinfo's octal escapes of space, tab, newline and backslash.
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// dir is the directory of cgroup path in the hierarchy of ctrl ("" for v2), or "" when that
// hierarchy is not mounted here or the path lies outside the mounted part.
func (m mountTable) dir(ctrl, path string) string {
	mt, ok := m[ctrl]
	if !ok {
		return ""
	}
	rel, ok := strings.CutPrefix(path, mt.root)
	if !ok || (rel != "" && !strings.HasPrefix(rel, "/") && mt.root != "/") {
		return ""
	}
	return filepath.Join(mt.point, rel)
}

func writableDir(dir string) bool {
	probe := filepath.Join(dir, fmt.Sprintf("wasmwhisk-probe-%d", os.Getpid()))
	if err := os.Mkdir(probe, 0o755); err != nil {
		return false
	}
	return os.Remove(probe) == nil
}

// Group is one container's cgroups; see the package documentation.
type Group struct {
	unified, memory, freezer string // "" when not in use
}

// New creates the group name under each root in use. The memory group is made only when
// memoryMB > 0; it limits memory and swap together to memoryMB, as docker --memory-swap does.
func (r Roots) New(name string, memoryMB int) (*Group, error) {
	if name == "" || strings.ContainsAny(name, "/\x00") || name == "." || name == ".." {
		return nil, fmt.Errorf("cgroup: bad group name %q", name)
	}
	g := &Group{}
	mk := func(root string) (string, error) {
		dir := filepath.Join(root, name)
		if err := os.Mkdir(dir, 0o755); err != nil {
			return "", fmt.Errorf("cgroup: %w", err)
		}
		return dir, nil
	}
	var err error
	if r.Unified != "" {
		if g.unified, err = mk(r.Unified); err != nil {
			return nil, err
		}
	}
	if r.Memory != "" && memoryMB > 0 {
		if g.memory, err = mk(r.Memory); err != nil {
			g.Remove()
			return nil, err
		}
		limit := strconv.FormatInt(int64(memoryMB)<<20, 10)
		if err := os.WriteFile(filepath.Join(g.memory, "memory.limit_in_bytes"), []byte(limit), 0o644); err != nil {
			g.Remove()
			return nil, fmt.Errorf("cgroup: memory limit: %w", err)
		}
		// Absent without swap accounting.
		_ = os.WriteFile(filepath.Join(g.memory, "memory.memsw.limit_in_bytes"), []byte(limit), 0o644)
	}
	if r.Freezer != "" {
		if g.freezer, err = mk(r.Freezer); err != nil {
			g.Remove()
			return nil, err
		}
	}
	return g, nil
}

// Open returns the group made of dirs (as Dirs returned them, e.g. from a record of a previous
// run). Directories that do not look like cgroups are ignored.
func Open(dirs []string) *Group {
	g := &Group{}
	for _, d := range dirs {
		switch {
		case fileExists(filepath.Join(d, "cgroup.kill")) || fileExists(filepath.Join(d, "cgroup.events")):
			g.unified = d
		case fileExists(filepath.Join(d, "memory.limit_in_bytes")):
			g.memory = d
		case fileExists(filepath.Join(d, "freezer.state")):
			g.freezer = d
		}
	}
	return g
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// Dirs lists the group's directories, for a record that Open reads back.
func (g *Group) Dirs() []string {
	var out []string
	for _, d := range []string{g.unified, g.memory, g.freezer} {
		if d != "" {
			out = append(out, d)
		}
	}
	return out
}

// Tracks reports whether the group holds every descendant of its processes (it has a v2 or a v1
// directory; v1 groups also keep children, but cannot be killed atomically).
func (g *Group) Tracks() bool { return g.unified != "" || g.memory != "" || g.freezer != "" }

// MemoryLimited reports whether the group has a memory limit.
func (g *Group) MemoryLimited() bool { return g.memory != "" }

// MemoryDir is the v1 memory directory, for reading its accounting; "" when there is none.
func (g *Group) MemoryDir() string { return g.memory }

// UnifiedFD opens the v2 directory for exec.Cmd's SysProcAttr.CgroupFD, so that a child is born
// inside the group (clone3 CLONE_INTO_CGROUP) instead of being moved there after it started. ok is
// false when the group has no v2 directory; close the file after the start.
func (g *Group) UnifiedFD() (f *os.File, ok bool, err error) {
	if g.unified == "" {
		return nil, false, nil
	}
	f, err = os.OpenFile(g.unified, os.O_RDONLY|syscall.O_DIRECTORY, 0)
	if err != nil {
		return nil, false, fmt.Errorf("cgroup: open %s: %w", g.unified, err)
	}
	return f, true, nil
}

// Add moves pid into the group's v1 directories, and into the v2 one unless bornInside says the
// process was started there already.
func (g *Group) Add(pid int, bornInside bool) error {
	dirs := []string{g.memory, g.freezer}
	if !bornInside {
		dirs = append(dirs, g.unified)
	}
	for _, dir := range dirs {
		if dir == "" {
			continue
		}
		if err := os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(strconv.Itoa(pid)), 0o644); err != nil {
			return fmt.Errorf("cgroup: add %d to %s: %w", pid, dir, err)
		}
	}
	return nil
}

// Freeze stops (frozen) or resumes every process of the group, through the v1 freezer or v2's
// cgroup.freeze; ok is false when the group can do neither.
func (g *Group) Freeze(frozen bool) (ok bool, err error) {
	switch {
	case g.freezer != "":
		state := "THAWED"
		if frozen {
			state = "FROZEN"
		}
		return true, os.WriteFile(filepath.Join(g.freezer, "freezer.state"), []byte(state), 0o644)
	case g.unified != "" && fileExists(filepath.Join(g.unified, "cgroup.freeze")):
		v := "0"
		if frozen {
			v = "1"
		}
		return true, os.WriteFile(filepath.Join(g.unified, "cgroup.freeze"), []byte(v), 0o644)
	}
	return false, nil
}

// OOMKills is how many processes of the group the kernel killed for exceeding its memory limit.
func (g *Group) OOMKills() int {
	if g.memory == "" {
		return 0
	}
	data, err := os.ReadFile(filepath.Join(g.memory, "memory.oom_control"))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "oom_kill "); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(v))
			return n
		}
	}
	return 0
}

// Procs lists the processes of the group.
func (g *Group) Procs() []int {
	seen := map[int]bool{}
	var out []int
	for _, dir := range []string{g.unified, g.memory, g.freezer} {
		if dir == "" {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
		if err != nil {
			continue
		}
		for _, f := range strings.Fields(string(data)) {
			if pid, err := strconv.Atoi(f); err == nil && !seen[pid] {
				seen[pid] = true
				out = append(out, pid)
			}
		}
	}
	return out
}

// Kill kills every process of the group (and of groups nested in its v2 directory, such as the
// one an actionproxy inside makes for its action) and waits until none is left or ctx ends. With
// v2 it writes cgroup.kill, which the kernel applies to the whole subtree at once, so a process
// forking in a loop cannot outrun it; otherwise it freezes the group (where it can), kills what
// cgroup.procs lists and thaws, until nothing is listed.
func (g *Group) Kill(ctx context.Context) error {
	for wait := time.Millisecond; ; wait = min(2*wait, 20*time.Millisecond) {
		procs := g.Procs()
		if len(procs) == 0 && !g.populated() {
			return nil
		}
		if g.unified == "" || os.WriteFile(filepath.Join(g.unified, "cgroup.kill"), []byte("1"), 0o644) != nil {
			_, _ = g.Freeze(true) // no forks between listing and killing
			for _, pid := range procs {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		// A task frozen by the v1 freezer (a paused container) cannot die until thawed.
		_, _ = g.Freeze(false)
		select {
		case <-ctx.Done():
			return fmt.Errorf("cgroup: kill: processes left (%v): %w", procs, ctx.Err())
		case <-time.After(wait):
		}
	}
}

// populated reads v2's cgroup.events, which counts the processes of nested groups too.
func (g *Group) populated() bool {
	if g.unified == "" {
		return false
	}
	data, err := os.ReadFile(filepath.Join(g.unified, "cgroup.events"))
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "populated "); ok {
			return strings.TrimSpace(v) != "0"
		}
	}
	return false
}

// Remove deletes the group's directories, groups nested in them first; it fails while processes
// are left (Kill first).
func (g *Group) Remove() error {
	var errs []error
	for _, dir := range []string{g.freezer, g.memory, g.unified} {
		if dir == "" {
			continue
		}
		if err := removeTree(dir); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, fmt.Errorf("cgroup: %w", err))
		}
	}
	return errors.Join(errs...)
}

// removeTree removes a cgroup directory and the groups below it, deepest first (cgroup files
// cannot be deleted, only empty group directories).
func removeTree(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.IsDir() {
			if err := removeTree(filepath.Join(dir, e.Name())); err != nil && !errors.Is(err, os.ErrNotExist) {
				return err
			}
		}
	}
	return os.Remove(dir)
}

// Destroy kills the group's processes and removes its directories, retrying the removal while
// the kernel still counts exiting tasks (EBUSY), until ctx ends.
func (g *Group) Destroy(ctx context.Context) error {
	if err := g.Kill(ctx); err != nil {
		return err
	}
	for {
		err := g.Remove()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(5 * time.Millisecond):
		}
		_ = g.Kill(ctx)
	}
}

// RemoveStale destroys every group directly under the roots whose name starts with prefix (the
// groups a crashed run of the same owner left) and returns the names it removed.
func (r Roots) RemoveStale(ctx context.Context, prefix string) ([]string, error) {
	if prefix == "" {
		return nil, errors.New("cgroup: RemoveStale needs a prefix")
	}
	names := map[string][]string{}
	var order []string
	for _, root := range []string{r.Unified, r.Memory, r.Freezer} {
		if root == "" {
			continue
		}
		entries, err := os.ReadDir(root)
		if err != nil {
			continue
		}
		for _, e := range entries {
			if e.IsDir() && strings.HasPrefix(e.Name(), prefix) {
				if _, seen := names[e.Name()]; !seen {
					order = append(order, e.Name())
				}
				names[e.Name()] = append(names[e.Name()], filepath.Join(root, e.Name()))
			}
		}
	}
	var errs []error
	for _, name := range order {
		if err := Open(names[name]).Destroy(ctx); err != nil {
			errs = append(errs, fmt.Errorf("stale group %s: %w", name, err))
		}
	}
	return order, errors.Join(errs...)
}
