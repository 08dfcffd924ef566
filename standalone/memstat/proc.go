package memstat

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// ProcessMemory is one reading of a process or a process tree, in bytes.
type ProcessMemory struct {
	// PSS is the proportional set size: private pages plus each shared page divided by the
	// number of processes mapping it (/proc/<pid>/smaps_rollup).
	PSS int64
	// RSS is the resident set size (VmRSS).
	RSS int64
	// PeakRSS is the resident high-water mark (VmHWM) since the process started or the last
	// ResetPeakRSS; for a tree, the sum of its processes' marks.
	PeakRSS int64
	// Processes is how many processes were read.
	Processes int
}

// ProcessMethod describes how ReadProcess measures, for reports.
const ProcessMethod = "PSS from /proc/<pid>/smaps_rollup; peak: VmHWM (resident high-water mark, reset through clear_refs)"

// ReadProcess reads one process.
func ReadProcess(pid int) (ProcessMemory, error) {
	var m ProcessMemory
	rollup, err := readKeyed(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	if err != nil {
		return m, err
	}
	status, err := readKeyed(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return m, err
	}
	pss, ok := rollup["Pss"]
	if !ok {
		return m, fmt.Errorf("memstat: /proc/%d/smaps_rollup has no Pss line", pid)
	}
	m.PSS, m.RSS, m.PeakRSS, m.Processes = pss<<10, status["VmRSS"]<<10, status["VmHWM"]<<10, 1
	return m, nil
}

// ReadTree reads pid and all its descendants and sums them. A descendant that exits while it is
// read is skipped; the root must be readable.
func ReadTree(pid int) (ProcessMemory, error) {
	sum, err := ReadProcess(pid)
	if err != nil {
		return sum, err
	}
	for _, child := range Descendants(pid) {
		m, err := ReadProcess(child)
		if err != nil {
			continue
		}
		sum.PSS += m.PSS
		sum.RSS += m.RSS
		sum.PeakRSS += m.PeakRSS
		sum.Processes++
	}
	return sum, nil
}

// ResetPeakRSS restarts VmHWM of pid and its descendants at their current RSS.
func ResetPeakRSS(pid int) error {
	var errs []error
	for _, p := range append([]int{pid}, Descendants(pid)...) {
		if err := os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", p), []byte("5"), 0o644); err != nil && p == pid {
			errs = append(errs, fmt.Errorf("memstat: reset peak RSS of %d: %w", p, err))
		}
	}
	return errors.Join(errs...)
}

// Descendants lists the processes below pid, from the parent pids in /proc/*/stat.
func Descendants(pid int) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	children := map[int][]int{}
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil || !e.IsDir() {
			continue
		}
		if pp, ok := parentOf(p); ok {
			children[pp] = append(children[pp], p)
		}
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

// parentOf reads the parent pid from /proc/<pid>/stat, whose second field (the command name in
// parentheses) may itself hold spaces and parentheses.
func parentOf(pid int) (int, bool) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0, false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 2 {
		return 0, false
	}
	pp, err := strconv.Atoi(f[1])
	return pp, err == nil
}

// Available says whether this system has the files ReadProcess needs.
func Available() bool {
	_, err := os.Stat("/proc/self/smaps_rollup")
	return err == nil
}
