package process

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/wasmwhisk/wasmwhisk/internal/procfs"
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

// userRanges is how many ranges there are: 2^30 + k*2^16 for k < 2^14, above the ids of real
// accounts and below 2^31 (some tools treat user ids as signed).
const userRanges = 1 << 14

// defaultUserBase derives an instance's first choice of range from its id.
func defaultUserBase(instance string) uint32 {
	sum := sha256.Sum256([]byte(instance))
	k := binary.BigEndian.Uint32(sum[:4]) % userRanges
	return 1<<30 + k*userRange
}

// userClaim holds an instance's range of user ids: a lock file per range in os.TempDir(), locked
// while the server runs and naming the instance that owns the range. Recovery kills every process
// of the range, so a range must never be shared: one held by a live server, or owned by another
// instance that may still have leftovers in it (it crashed and has not restarted), is passed
// over for the next one.
type userClaim struct {
	base uint32
	path string
	lock *os.File
}

// claimUsers finds and locks the instance's range, starting with the one recorded in stateDir by
// an earlier run ("" keeps no record), then the one derived from the id.
func claimUsers(instance, stateDir string) (*userClaim, error) {
	first := defaultUserBase(instance)
	record := ""
	if stateDir != "" {
		record = filepath.Join(stateDir, "users")
		if data, err := os.ReadFile(record); err == nil {
			if n, err := strconv.ParseUint(strings.TrimSpace(string(data)), 10, 32); err == nil && n >= 1<<30 && (n-1<<30)%userRange == 0 && n < 1<<31 {
				first = uint32(n)
			}
		}
	}
	for i := uint32(0); i < userRanges; i++ {
		base := 1<<30 + ((first-1<<30)/userRange+i)%userRanges*userRange
		path := filepath.Join(os.TempDir(), fmt.Sprintf("wasmwhisk-users-%d.lock", base))
		f, ok := tryClaim(path, instance)
		if !ok {
			continue
		}
		if record != "" {
			if err := os.WriteFile(record, []byte(strconv.FormatUint(uint64(base), 10)+"\n"), 0o600); err != nil {
				f.Close()
				return nil, fmt.Errorf("process: record the user range: %w", err)
			}
		}
		return &userClaim{base: base, path: path, lock: f}, nil
	}
	return nil, errors.New("process: every range of user ids is held by another instance")
}

// tryClaim locks the range's file at path and makes the instance its owner, unless another
// server holds it or another instance owns it.
func tryClaim(path, instance string) (*os.File, bool) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|syscall.O_NOFOLLOW, 0o644)
	if err != nil {
		return nil, false
	}
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() || st.Sys().(*syscall.Stat_t).Uid != uint32(os.Geteuid()) {
		f.Close() // not ours: somebody else's file at this name
		return nil, false
	}
	if syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) != nil {
		f.Close()
		return nil, false
	}
	// A releasing server removes the file before it unlocks: a lock on a file no longer at the
	// path is no claim.
	if now, err := os.Lstat(path); err != nil || !os.SameFile(st, now) {
		f.Close()
		return nil, false
	}
	owner, _ := io.ReadAll(f)
	if o := strings.TrimSpace(string(owner)); o != "" && o != instance {
		f.Close()
		return nil, false
	}
	if f.Truncate(0) != nil {
		f.Close()
		return nil, false
	}
	if _, err := f.WriteAt([]byte(instance+"\n"), 0); err != nil {
		f.Close()
		return nil, false
	}
	return f, true
}

// release gives the range up: called after every container is destroyed, when the instance has
// nothing left in it. The file is removed while still locked (see tryClaim).
func (c *userClaim) release() {
	if c == nil || c.lock == nil {
		return
	}
	_ = os.Remove(c.path)
	c.lock.Close()
	c.lock = nil
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
			if uid, ok := procUID(pid); ok && match(uid) && procfs.Alive(pid) {
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
