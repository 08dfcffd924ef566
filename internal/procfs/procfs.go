// Package procfs answers questions about processes from Linux's /proc, for the code that must know
// whether a process it started (or a child of it) is really gone.
package procfs

import (
	"os"
	"strconv"
	"strings"
	"time"
)

// Alive reports whether pid exists and is not a zombie (state Z in /proc/<pid>/stat): a killed
// process that its parent has not reaped yet is dead for every purpose but its pid.
func Alive(pid int) bool {
	if pid <= 0 {
		return false
	}
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// The command name (field 2) is in parentheses and may hold spaces or ')': the state is the
	// field after the last ')'.
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

// WaitGone polls until pid is not Alive and says whether that happened within timeout.
func WaitGone(pid int, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for Alive(pid) {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
	return true
}
