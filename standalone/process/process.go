// Package process is the standalone's backend for machines without Docker: each container is a
// child actionproxy process (cmd/actionproxy) serving /init and /run on its own loopback port.
//
// Isolation, where the server runs as root: every native container runs as an unprivileged user
// of its own (wasm:0.1 containers as the instance's wasm user, see users.go), with a private
// working directory (mode 0700, also its HOME and TMPDIR) and an environment of PATH and the
// container's __OW_* variables only. Actions therefore cannot read the data directory (0700), the
// server's environment, other actions' files, or signal the server or each other. Without root,
// containers run as the server's user (documented in docs/standalone.md).
//
// Containment: every container gets a cgroup (package internal/cgroup) where the machine allows:
// a v2 group it is born in, which holds the whole process tree (setsid children included) and
// kills it atomically, and cgroup v1 memory (the action's limit, no swap, like docker
// --memory-swap; OOM kills are recorded as OpenWhisk's "The action exhausted its memory and was
// aborted.") and freezer (pause) groups. Without a freezer, pause is SIGSTOP of the process group;
// without v1 memory, memory is not limited.
//
// Recovery: with Config.StateDir, each container is entered in a standalone.Ledger before it
// starts and removed after it is destroyed; New kills and removes whatever a crashed run of the
// same instance left (processes, cgroups, working directories) before the server serves.
package process

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/wasmwhisk/wasmwhisk/internal/cgroup"
	"github.com/wasmwhisk/wasmwhisk/runtime"
	"github.com/wasmwhisk/wasmwhisk/standalone"
)

// Config configures the backend.
type Config struct {
	// ProxyBinary is the path of the actionproxy executable (required). When the containers'
	// users could not execute it where it is, New copies it into the working directory.
	ProxyBinary string
	// NoCgroups disables cgroups (memory limits, freezer, tree tracking) even where available.
	NoCgroups bool
	// ExtraArgs are appended to every actionproxy command line.
	ExtraArgs []string
	// Instance names this server's containers among others on the machine (cgroup names, the
	// working directory, the range of user ids); standalone.Instance.ID. "" means a random name:
	// nothing of an earlier run is found again.
	Instance string
	// StateDir is the private directory of the backend's ledger (standalone.Instance.StateDir);
	// "" keeps no ledger, so a crash is only recovered from by the cgroup, user and directory
	// names of Instance.
	StateDir string
	// WorkDir is where the instance's working directory, wasmwhisk-<Instance>, is made (default
	// os.TempDir()); it holds the containers' private directories. New empties the instance's
	// directory, never WorkDir itself. Every directory above it must be searchable by others.
	WorkDir string
	// WasmCacheDir is the compiled-module cache of wasm:0.1 containers (default
	// $TMPDIR/wasmwhisk-modcache-<uid> of the wasm user). It must be owned by that user.
	WasmCacheDir string
	// NoUserSwitch runs containers as the server's user even when it is root.
	NoUserSwitch bool
	// UserBase is the first of the 65536 user ids the instance uses when it runs as root. Zero
	// means a range between 2^30 and 2^31 derived from Instance and claimed for it (see
	// claimUsers: never one another instance holds or may have leftovers in).
	UserBase uint32
}

// Backend starts actionproxy processes.
type Backend struct {
	cfg      Config
	workDir  string // the instance's own directory in cfg.WorkDir
	proxyBin string
	roots    cgroup.Roots
	users    *users
	claim    *userClaim // nil when the range was given or users are not switched
	ledger   *standalone.Ledger
	seq      atomic.Int64

	live standalone.LiveSet[*container]
}

// entry is what the ledger keeps of a container: enough to find everything it holds again.
type entry struct {
	Spec      string   `json:"spec"`
	Dir       string   `json:"dir"`
	Cgroups   []string `json:"cgroups,omitempty"`
	UID       int      `json:"uid"`
	PID       int      `json:"pid,omitempty"`
	PIDStart  uint64   `json:"pidStart,omitempty"`
	CreatedAt int64    `json:"createdAt"`
}

// New checks the proxy binary, probes cgroups, removes what a crashed run of the same instance
// left, and prepares the working directory.
func New(cfg Config) (*Backend, error) {
	if cfg.ProxyBinary == "" {
		return nil, errors.New("process: Config.ProxyBinary is required")
	}
	if _, err := os.Stat(cfg.ProxyBinary); err != nil {
		return nil, fmt.Errorf("process: actionproxy binary: %w", err)
	}
	if cfg.Instance == "" {
		var b [6]byte
		_, _ = rand.Read(b[:])
		cfg.Instance = hex.EncodeToString(b[:])
	}
	if cfg.WorkDir == "" {
		cfg.WorkDir = os.TempDir()
	}
	var ledger *standalone.Ledger
	if cfg.StateDir != "" {
		l, err := standalone.OpenLedger(cfg.StateDir)
		if err != nil {
			return nil, fmt.Errorf("process: %w", err)
		}
		ledger = l
	}
	switchUsers := os.Geteuid() == 0 && !cfg.NoUserSwitch
	var claim *userClaim
	if switchUsers && cfg.UserBase == 0 {
		var err error
		if claim, err = claimUsers(cfg.Instance, cfg.StateDir); err != nil {
			return nil, err
		}
		cfg.UserBase = claim.base
	}
	b := &Backend{cfg: cfg, users: newUsers(switchUsers, cfg.UserBase), claim: claim, ledger: ledger,
		workDir: filepath.Join(cfg.WorkDir, "wasmwhisk-"+cfg.Instance)}
	ok := false
	defer func() {
		if !ok {
			claim.release()
		}
	}()
	if !cfg.NoCgroups {
		b.roots = cgroup.Probe()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := b.recover(ctx); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.WorkDir, 0o711); err != nil {
		return nil, fmt.Errorf("process: work directory: %w", err)
	}
	if err := os.Mkdir(b.workDir, 0o711); err != nil {
		return nil, fmt.Errorf("process: work directory: %w", err)
	}
	// Mkdir's mode passes through the umask; the containers' users must be able to enter.
	if err := os.Chmod(b.workDir, 0o711); err != nil {
		return nil, fmt.Errorf("process: work directory: %w", err)
	}
	if b.users.enabled && !searchableByOthers(cfg.WorkDir) {
		os.Remove(b.workDir)
		return nil, fmt.Errorf("process: work directory %s: the containers' users cannot reach it (a directory on its path is not searchable by others)", cfg.WorkDir)
	}
	bin, err := b.reachableProxy()
	if err != nil {
		return nil, err
	}
	b.proxyBin = bin
	if err := b.prepareWasmCache(); err != nil {
		return nil, err
	}
	ok = true
	return b, nil
}

// Name implements standalone.Backend.
func (b *Backend) Name() string { return "process" }

// MemoryLimited reports whether containers get a memory cgroup.
func (b *Backend) MemoryLimited() bool { return b.roots.Memory != "" }

// SwitchesUser reports whether containers run as unprivileged users of their own.
func (b *Backend) SwitchesUser() bool { return b.users.enabled }

// groupPrefix starts the name of every cgroup of this instance.
func (b *Backend) groupPrefix() string { return "wasmwhisk-" + b.cfg.Instance + "-" }

// recover removes what an earlier run of this instance left: the containers of its ledger, any
// cgroup carrying the instance's prefix, any process of its users, and its working directory.
func (b *Backend) recover(ctx context.Context) error {
	var errs []error
	entries, err := b.ledger.Entries()
	if err != nil {
		errs = append(errs, err)
	}
	for name, data := range entries {
		var e entry
		if err := json.Unmarshal(data, &e); err != nil {
			errs = append(errs, fmt.Errorf("ledger entry %s: %w", name, err))
			continue
		}
		if e.PID > 0 {
			// Without a cgroup the process group is all that identifies the tree; only signal it
			// while its leader is the process recorded (pids are reused).
			if start, ok := procStart(e.PID); ok && start == e.PIDStart {
				_ = syscall.Kill(-e.PID, syscall.SIGKILL)
			}
		}
		if len(e.Cgroups) > 0 {
			if err := cgroup.Open(e.Cgroups).Destroy(ctx); err != nil {
				errs = append(errs, fmt.Errorf("container %s: %w", name, err))
			}
		}
		if e.Dir != "" {
			_ = os.RemoveAll(e.Dir)
		}
		if err := b.ledger.Delete(name); err != nil {
			errs = append(errs, err)
		}
	}
	if _, err := b.roots.RemoveStale(ctx, b.groupPrefix()); err != nil {
		errs = append(errs, err)
	}
	if b.users.enabled {
		if err := killUsers(ctx, b.users.owns); err != nil {
			errs = append(errs, err)
		}
	}
	if err := os.RemoveAll(b.workDir); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("process: remove what an earlier run left: %w", err)
	}
	return nil
}

// reachableProxy returns a path of the proxy binary that the containers' users can execute:
// the binary itself when every directory above it is searchable and the file is executable by
// others, else a copy in the working directory.
func (b *Backend) reachableProxy() (string, error) {
	abs, err := filepath.Abs(b.cfg.ProxyBinary)
	if err != nil {
		return "", fmt.Errorf("process: actionproxy binary: %w", err)
	}
	if !b.users.enabled || executableByOthers(abs) {
		return abs, nil
	}
	src, err := os.Open(abs)
	if err != nil {
		return "", fmt.Errorf("process: actionproxy binary: %w", err)
	}
	defer src.Close()
	dst := filepath.Join(b.workDir, "actionproxy")
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o755)
	if err != nil {
		return "", fmt.Errorf("process: copy actionproxy: %w", err)
	}
	if _, err := io.Copy(out, src); err != nil {
		out.Close()
		return "", fmt.Errorf("process: copy actionproxy: %w", err)
	}
	if err := out.Close(); err != nil {
		return "", fmt.Errorf("process: copy actionproxy: %w", err)
	}
	return dst, os.Chmod(dst, 0o755)
}

func executableByOthers(path string) bool {
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm()&0o005 != 0o005 {
		return false
	}
	return searchableByOthers(filepath.Dir(path))
}

// searchableByOthers reports whether dir and every directory above it may be entered by any user.
func searchableByOthers(dir string) bool {
	for ; ; dir = filepath.Dir(dir) {
		st, err := os.Stat(dir)
		if err != nil || st.Mode().Perm()&0o001 == 0 {
			return false
		}
		if dir == filepath.Dir(dir) {
			return true
		}
	}
}

// prepareWasmCache makes the module cache of wasm:0.1 containers, owned by the wasm user.
func (b *Backend) prepareWasmCache() error {
	uid := b.users.wasm()
	if uid < 0 {
		uid = os.Geteuid()
	}
	if b.cfg.WasmCacheDir == "" {
		b.cfg.WasmCacheDir = filepath.Join(os.TempDir(), fmt.Sprintf("wasmwhisk-modcache-%d", uid))
	}
	dir := b.cfg.WasmCacheDir
	if err := os.Mkdir(dir, 0o700); err == nil {
		if err := os.Chown(dir, uid, uid); err != nil {
			return fmt.Errorf("process: wasm module cache: %w", err)
		}
		return nil
	} else if !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("process: wasm module cache: %w", err)
	}
	st, err := os.Lstat(dir)
	if err != nil {
		return fmt.Errorf("process: wasm module cache: %w", err)
	}
	// Its files are loaded as native code: it must be the wasm user's alone.
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !st.IsDir() || !ok || int(sys.Uid) != uid || st.Mode().Perm()&0o022 != 0 {
		return fmt.Errorf("process: wasm module cache %s must be a directory owned by uid %d and writable by nobody else", dir, uid)
	}
	return nil
}

// Create implements standalone.Backend.
func (b *Backend) Create(ctx context.Context, spec standalone.ContainerSpec) (standalone.Container, error) {
	if spec.Executor == "" {
		return nil, runtime.Errorf(http.StatusBadGateway,
			fmt.Sprintf("The process backend cannot run kind '%s'; use the docker backend.", spec.Kind), nil)
	}
	c := &container{backend: b, uid: -1, exited: make(chan struct{})}
	ok := false
	defer func() {
		if !ok {
			c.cleanup(context.WithoutCancel(ctx))
		}
	}()
	if err := c.provision(spec); err != nil {
		return nil, err
	}
	if err := c.start(spec); err != nil {
		return nil, err
	}
	ok = true
	b.live.Add(c)
	return c, nil
}

// Close kills every live container and removes the working directory.
func (b *Backend) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := b.live.DestroyAll(ctx)
	if rmErr := os.RemoveAll(b.workDir); rmErr != nil {
		err = errors.Join(err, fmt.Errorf("process: %w", rmErr))
	}
	if err == nil {
		b.claim.release() // nothing of the instance is left in its range
	}
	return err
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

type container struct {
	backend *Backend
	name    string // ledger entry and cgroup name
	id      string
	uid     int // -1: the server's user
	dir     string
	cmd     *exec.Cmd
	group   *cgroup.Group // nil without cgroups
	logs    *standalone.LogBuffer
	client  *standalone.ProxyClient
	entry   entry

	exited  chan struct{}
	waitErr error
	once    sync.Once
}

// provision makes the container's user, directory and cgroup, and enters it in the ledger.
func (c *container) provision(spec standalone.ContainerSpec) error {
	b := c.backend
	c.name = b.groupPrefix() + strconv.FormatInt(b.seq.Add(1), 10)
	var err error
	if spec.Executor == "wasm" {
		c.uid = b.users.wasm()
	} else if c.uid, err = b.users.take(); err != nil {
		return err
	}
	c.dir = filepath.Join(b.workDir, c.name)
	if err := os.Mkdir(c.dir, 0o700); err != nil {
		return fmt.Errorf("process: %w", err)
	}
	if c.uid >= 0 {
		if err := os.Chown(c.dir, c.uid, c.uid); err != nil {
			return fmt.Errorf("process: %w", err)
		}
	}
	if b.roots.Any() {
		if c.group, err = b.roots.New(c.name, spec.MemoryMB); err != nil {
			return fmt.Errorf("process: %w", err)
		}
	}
	c.entry = entry{Spec: spec.Name, Dir: c.dir, UID: c.uid, CreatedAt: time.Now().UnixMilli()}
	if c.group != nil {
		c.entry.Cgroups = c.group.Dirs()
	}
	return b.ledger.Put(c.name, c.entry)
}

// start starts the proxy inside the container's cgroup, as its user, in its directory.
func (c *container) start(spec standalone.ContainerSpec) error {
	b := c.backend
	port, err := freePort()
	if err != nil {
		return fmt.Errorf("process: %w", err)
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	args := []string{"-listen", addr, "-executor", spec.Executor}
	if spec.Executor == "wasm" {
		args = append(args, "-wasm-cache", b.cfg.WasmCacheDir)
	}
	cmd := exec.Command(b.proxyBin, append(args, b.cfg.ExtraArgs...)...)
	cmd.Dir = c.dir
	cmd.Env = containerEnv(c.dir, spec.Env)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if c.uid >= 0 {
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: uint32(c.uid), Gid: uint32(c.uid), Groups: []uint32{}}
	}
	// A grandchild that escaped the kill may hold the log pipes open after the proxy died.
	cmd.WaitDelay = time.Second
	c.logs = standalone.NewLogBuffer()
	cmd.Stdout, cmd.Stderr = c.logs.Writer("stdout"), c.logs.Writer("stderr")

	born := false
	if c.group != nil {
		fd, ok, err := c.group.UnifiedFD()
		if err != nil {
			return fmt.Errorf("process: %w", err)
		}
		if ok {
			defer fd.Close()
			cmd.SysProcAttr.UseCgroupFD, cmd.SysProcAttr.CgroupFD = true, int(fd.Fd())
			born = true
		}
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("process: start actionproxy: %w", err)
	}
	c.cmd = cmd
	c.id = strconv.Itoa(cmd.Process.Pid)
	go func() {
		c.waitErr = cmd.Wait()
		c.logs.CloseInput()
		close(c.exited)
	}()
	if c.group != nil {
		if err := c.group.Add(cmd.Process.Pid, born); err != nil {
			return fmt.Errorf("process: %w", err)
		}
	}
	c.entry.PID = cmd.Process.Pid
	c.entry.PIDStart, _ = procStart(cmd.Process.Pid)
	if err := b.ledger.Put(c.name, c.entry); err != nil {
		return fmt.Errorf("process: %w", err)
	}
	c.client = standalone.NewProxyClient("http://"+addr, max(spec.Concurrency, 1))
	return nil
}

// containerEnv is all a proxy inherits: a PATH, its private directory as HOME and TMPDIR, and the
// container's own variables (__OW_API_HOST, ...); nothing of the server's environment.
func containerEnv(dir string, vars map[string]string) []string {
	env := []string{"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=" + dir, "TMPDIR=" + dir}
	keys := make([]string, 0, len(vars))
	for k := range vars {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		env = append(env, k+"="+vars[k])
	}
	return env
}

func (c *container) ID() string { return c.id }

// memoryCgroup is the directory of the container's memory cgroup, "" when it has none.
func (c *container) memoryCgroup() string {
	if c.group == nil {
		return ""
	}
	return c.group.MemoryDir()
}

// Init implements standalone.Container; it gives up early when the proxy exited.
func (c *container) Init(ctx context.Context, body []byte) (int, []byte, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	go func() {
		select {
		case <-c.exited:
			cancel(standalone.ErrNoResponse)
		case <-ctx.Done():
		}
	}()
	status, resp, err := c.client.Init(ctx, body)
	return status, resp, c.explain(ctx, status, err)
}

// Run implements standalone.Container.
func (c *container) Run(ctx context.Context, body []byte) (int, []byte, error) {
	status, resp, err := c.client.Run(ctx, body)
	return status, resp, c.explain(ctx, status, err)
}

// explain turns a failed call into ErrOOM when the memory cgroup killed a process of the
// container — the proxy itself (the connection breaks) or only the action (the proxy survives
// and answers "command exited") — and into ErrNoResponse when the proxy is gone.
func (c *container) explain(ctx context.Context, status int, err error) error {
	if err == nil && status == 200 {
		return nil
	}
	proxyGone := err != nil && (context.Cause(ctx) == standalone.ErrNoResponse || errors.Is(err, standalone.ErrNoResponse))
	if proxyGone {
		select {
		case <-c.exited:
		case <-time.After(500 * time.Millisecond):
		}
	}
	if c.group != nil && c.group.OOMKills() > 0 {
		return fmt.Errorf("process %s: %w", c.id, standalone.ErrOOM)
	}
	if proxyGone && !errors.Is(err, standalone.ErrNoResponse) {
		return fmt.Errorf("process %s exited: %w", c.id, standalone.ErrNoResponse)
	}
	return err
}

func (c *container) Logs(ctx context.Context, waitForSentinels bool) ([]standalone.LogLine, error) {
	return c.logs.Collect(ctx, waitForSentinels)
}

func (c *container) Pause(context.Context) error {
	if c.group != nil {
		if ok, err := c.group.Freeze(true); ok {
			return err
		}
	}
	return syscall.Kill(-c.cmd.Process.Pid, syscall.SIGSTOP)
}

func (c *container) Resume(context.Context) error {
	if c.group != nil {
		if ok, err := c.group.Freeze(false); ok {
			return err
		}
	}
	return syscall.Kill(-c.cmd.Process.Pid, syscall.SIGCONT)
}

// Destroy kills the container's whole process tree and removes its cgroup, directory and ledger
// entry.
func (c *container) Destroy(ctx context.Context) error {
	var err error
	c.once.Do(func() {
		if c.client != nil {
			c.client.CloseIdle()
		}
		err = c.cleanup(ctx)
		c.backend.live.Remove(c)
	})
	return err
}

// cleanup releases everything provision and start made, whatever state they reached.
func (c *container) cleanup(ctx context.Context) error {
	b := c.backend
	var errs []error
	if c.cmd != nil {
		pid := c.cmd.Process.Pid
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		if c.group == nil {
			_ = syscall.Kill(-pid, syscall.SIGCONT) // a stopped process group dies once continued
		}
	}
	treeGone := true
	if c.group != nil {
		if err := c.group.Kill(ctx); err != nil {
			errs = append(errs, err)
			treeGone = false
		}
	} else if c.uid >= 0 {
		// No cgroup: the container's user finds the children that left the process group.
		uid := uint32(c.uid)
		if err := killUsers(ctx, func(u uint32) bool { return u == uid && uid != b.users.base }); err != nil {
			errs = append(errs, err)
			treeGone = false
		}
	}
	if c.cmd != nil {
		select {
		case <-c.exited:
		case <-ctx.Done():
			errs = append(errs, fmt.Errorf("process %s: wait for exit: %w", c.id, ctx.Err()))
			treeGone = false
		}
	}
	if c.group != nil {
		if err := c.group.Destroy(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	if c.dir != "" {
		if err := os.RemoveAll(c.dir); err != nil {
			errs = append(errs, fmt.Errorf("process: %w", err))
		}
	}
	if treeGone {
		// Only a user none of whose processes is left may serve another container.
		b.users.give(c.uid)
		if c.name != "" {
			if err := b.ledger.Delete(c.name); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}
