package process

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// userRange is how many user ids an instance owns: its wasm user and one per live native
// container.
const userRange = 1 << 16

// users hands out the unprivileged user ids containers run as. Every native container gets a
// user of its own while it lives, so that actions cannot read each other's files or signal each
// other's processes; every wasm:0.1 container runs as the instance's wasm user (its guests cannot
// touch files or processes, and the proxies share the compiled-module cache it owns). The range
// is the instance's own, derived from its id, so that the processes of a crashed run can be
// found by their user even without cgroups.
type users struct {
	enabled bool
	base    uint32 // the wasm user; native users are base+1 ...

	mu    sync.Mutex
	next  uint32
	freed []uint32
	inUse map[uint32]bool
}

// defaultUserBase derives an instance's range: 2^30 + k*2^16 for k < 2^14, above the ids of
// real accounts and below 2^31 (some tools treat user ids as signed).
func defaultUserBase(instance string) uint32 {
	sum := sha256.Sum256([]byte(instance))
	k := binary.BigEndian.Uint32(sum[:4]) % (1 << 14)
	return 1<<30 + k*userRange
}

func newUsers(enabled bool, base uint32) *users {
	return &users{enabled: enabled, base: base, next: base + 1, inUse: map[uint32]bool{}}
}

// wasm returns the wasm user, or -1 when containers run as this process's user.
func (u *users) wasm() int {
	if !u.enabled {
		return -1
	}
	return int(u.base)
}

// take returns an unused native user, or -1 when containers run as this process's user.
func (u *users) take() (int, error) {
	if !u.enabled {
		return -1, nil
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	var id uint32
	switch {
	case len(u.freed) > 0:
		id, u.freed = u.freed[len(u.freed)-1], u.freed[:len(u.freed)-1]
	case u.next < u.base+userRange:
		id = u.next
		u.next++
	default:
		return 0, fmt.Errorf("process: all %d user ids of this instance are in use", userRange-1)
	}
	u.inUse[id] = true
	return int(id), nil
}

// give returns a native user whose processes are all gone.
func (u *users) give(id int) {
	if id < 0 || !u.enabled || uint32(id) == u.base {
		return
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.inUse[uint32(id)] {
		delete(u.inUse, uint32(id))
		u.freed = append(u.freed, uint32(id))
	}
}

// owns reports whether uid lies in the instance's range.
func (u *users) owns(uid uint32) bool {
	return u.enabled && uid >= u.base && uid < u.base+userRange
}

// procUID is the real user id of pid, from /proc/<pid>/status (not the owner of /proc/<pid>,
// which a process can make root's by turning itself non-dumpable).
func procUID(pid int) (uint32, bool) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, false
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "Uid:"); ok {
			f := strings.Fields(v)
			if len(f) == 0 {
				return 0, false
			}
			n, err := strconv.ParseUint(f[0], 10, 32)
			return uint32(n), err == nil
		}
	}
	return 0, false
}

// pids lists the processes now running.
func pids() []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var out []int
	for _, e := range entries {
		if pid, err := strconv.Atoi(e.Name()); err == nil {
			out = append(out, pid)
		}
	}
	return out
}

// killUsers SIGKILLs every process whose real user matches, until none is left or ctx ends. It is
// how a container without a cgroup loses the children that left its process group, and how the
// processes of a crashed run are found.
func killUsers(ctx context.Context, match func(uid uint32) bool) error {
	for {
		n := 0
		for _, pid := range pids() {
			if uid, ok := procUID(pid); ok && match(uid) && procAlive(pid) {
				_ = syscall.Kill(pid, syscall.SIGKILL)
				n++
			}
		}
		if n == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("process: %d processes of the container users left: %w", n, ctx.Err())
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// procAlive reports whether pid exists and is not a zombie.
func procAlive(pid int) bool {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

// procStart is pid's start time in clock ticks after boot (/proc/<pid>/stat field 22): with the
// pid it identifies a process across pid reuse.
func procStart(pid int) (uint64, bool) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false
	}
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (state); field 22 is f[19].
	if len(f) < 20 {
		return 0, false
	}
	n, err := strconv.ParseUint(f[19], 10, 64)
	return n, err == nil
}
