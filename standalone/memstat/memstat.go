// Package memstat reads what the Linux kernel says a container or a process tree uses, for the
// standalone's memory report (docs/benchmarking.md, "Memory"): a memory cgroup's usage minus its
// page cache (cgroup v1 and v2) with a resettable peak, and a process tree's PSS and peak RSS.
//
// Page cache here means file-backed pages: the cgroup's cache (v1 total_cache, v2 file) minus its
// shared memory (tmpfs, memfd), which is the process's own memory even though the kernel files
// it under cache. Everything else (anonymous memory, kernel stacks, page tables) counts.
package memstat

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Root is where cgroup file systems are mounted.
const Root = "/sys/fs/cgroup"

// Cgroup is one memory cgroup directory.
type Cgroup struct {
	// Dir is the directory holding the memory.* files.
	Dir string
	// V2 says the directory is on the unified (v2) hierarchy.
	V2 bool
}

// CgroupMemory is one reading of a memory cgroup, in bytes.
type CgroupMemory struct {
	// Usage is memory.usage_in_bytes (v1) or memory.current (v2).
	Usage int64
	// PageCache is the file-backed part of Usage (cache minus shmem).
	PageCache int64
	// Peak is the high-water mark of Usage since the last ResetPeak (v1 max_usage_in_bytes, v2
	// memory.peak); 0 when the kernel keeps none.
	Peak int64
}

// Bytes is the memory the cgroup's processes use: usage minus page cache.
func (m CgroupMemory) Bytes() int64 { return max(m.Usage-m.PageCache, 0) }

// PeakBytes is the peak minus the page cache as read now: the page cache of a warm action does
// not change during an activation, so this is the high-water mark of Bytes. 0 when unknown.
func (m CgroupMemory) PeakBytes() int64 {
	if m.Peak == 0 {
		return 0
	}
	return max(m.Peak-m.PageCache, m.Bytes())
}

// CgroupOf finds the memory cgroup of a process from /proc/<pid>/cgroup: the v1 memory
// controller's directory when mounted, else the unified hierarchy's.
func CgroupOf(pid int) (Cgroup, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		return Cgroup{}, fmt.Errorf("memstat: cgroup of %d: %w", pid, err)
	}
	var unified string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		id, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		ctrls, path, ok := strings.Cut(rest, ":")
		if !ok {
			continue
		}
		if id == "0" && ctrls == "" {
			unified = path
			continue
		}
		for _, c := range strings.Split(ctrls, ",") {
			if c == "memory" {
				dir := filepath.Join(Root, "memory", path)
				if exists(filepath.Join(dir, "memory.usage_in_bytes")) {
					return Cgroup{Dir: dir}, nil
				}
			}
		}
	}
	if unified != "" {
		for _, dir := range []string{filepath.Join(Root, unified), filepath.Join(Root, "unified", unified)} {
			if exists(filepath.Join(dir, "memory.current")) {
				return Cgroup{Dir: dir, V2: true}, nil
			}
		}
	}
	return Cgroup{}, fmt.Errorf("memstat: process %d has no readable memory cgroup", pid)
}

// Open checks that dir is a memory cgroup and tells its version.
func Open(dir string) (Cgroup, error) {
	switch {
	case exists(filepath.Join(dir, "memory.usage_in_bytes")):
		return Cgroup{Dir: dir}, nil
	case exists(filepath.Join(dir, "memory.current")):
		return Cgroup{Dir: dir, V2: true}, nil
	}
	return Cgroup{}, fmt.Errorf("memstat: %s is not a memory cgroup", dir)
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// Method describes how Read measures, for reports.
func (c Cgroup) Method() string {
	if c.V2 {
		return "cgroup v2: memory.current − (file − shmem); peak: memory.peak"
	}
	return "cgroup v1: memory.usage_in_bytes − (total_cache − total_shmem); peak: memory.max_usage_in_bytes"
}

// Read reads usage, page cache and peak.
func (c Cgroup) Read() (CgroupMemory, error) {
	var m CgroupMemory
	usageFile, peakFile := "memory.usage_in_bytes", "memory.max_usage_in_bytes"
	cacheKey, shmemKey := "total_cache", "total_shmem"
	if c.V2 {
		usageFile, peakFile, cacheKey, shmemKey = "memory.current", "memory.peak", "file", "shmem"
	}
	var err error
	if m.Usage, err = readInt(filepath.Join(c.Dir, usageFile)); err != nil {
		return m, err
	}
	stat, err := readKeyed(filepath.Join(c.Dir, "memory.stat"))
	if err != nil {
		return m, err
	}
	cache, ok := stat[cacheKey]
	if !ok && !c.V2 {
		cache = stat["cache"] // a v1 kernel without hierarchical figures
	}
	shmem, ok := stat[shmemKey]
	if !ok && !c.V2 {
		shmem = stat["shmem"]
	}
	m.PageCache = max(cache-shmem, 0)
	if p, err := readInt(filepath.Join(c.Dir, peakFile)); err == nil {
		m.Peak = p
	}
	return m, nil
}

// ResetPeak restarts the peak at the current usage. cgroup v1 resets memory.max_usage_in_bytes;
// cgroup v2 (Linux 6.12 and later) resets memory.peak, where a reset made through one open file
// only shows through that file, so v2 peaks are only reset where the kernel makes it global:
// ErrPeakNotResettable otherwise.
func (c Cgroup) ResetPeak() error {
	if c.V2 {
		return ErrPeakNotResettable
	}
	if err := os.WriteFile(filepath.Join(c.Dir, "memory.max_usage_in_bytes"), []byte("0"), 0o644); err != nil {
		return fmt.Errorf("memstat: reset peak of %s: %w", c.Dir, err)
	}
	return nil
}

// ErrPeakNotResettable means the kernel keeps a peak that cannot be restarted for every reader.
var ErrPeakNotResettable = errors.New("memstat: the cgroup's peak cannot be reset")

func readInt(path string) (int64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("memstat: %w", err)
	}
	s := strings.TrimSpace(string(b))
	if s == "max" {
		return 0, fmt.Errorf("memstat: %s: no value (max)", path)
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("memstat: %s: %w", path, err)
	}
	return n, nil
}

// readKeyed reads a "key value" file such as memory.stat or /proc/<pid>/status (values may carry
// a trailing unit, which is dropped).
func readKeyed(path string) (map[string]int64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("memstat: %w", err)
	}
	out := map[string]int64{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(strings.Replace(sc.Text(), ":", " ", 1))
		if len(f) < 2 {
			continue
		}
		if n, err := strconv.ParseInt(f[1], 10, 64); err == nil {
			out[f[0]] = n
		}
	}
	return out, sc.Err()
}
