// Package process is the standalone's backend for machines without Docker: each container is a
// child actionproxy process (cmd/actionproxy) serving /init and /run on its own loopback port.
// Where cgroup v1 is writable, a container gets a memory cgroup with the action's limit (no swap,
// like docker --memory-swap) and a freezer cgroup for pause; otherwise pause falls back to
// SIGSTOP/SIGCONT of the process group and memory is not limited (documented in
// docs/standalone.md).
package process

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/wasmwhisk/wasmwhisk/standalone"
)

// Config configures the backend.
type Config struct {
	// ProxyBinary is the path of the actionproxy executable (required).
	ProxyBinary string
	// NoCgroups disables cgroup memory limits and the freezer even where available.
	NoCgroups bool
	// ExtraArgs are appended to every actionproxy command line.
	ExtraArgs []string
}

// Backend starts actionproxy processes.
type Backend struct {
	cfg                 Config
	memRoot, freezeRoot string

	live standalone.LiveSet[*container]
}

// New checks the proxy binary and probes cgroups.
func New(cfg Config) (*Backend, error) {
	if cfg.ProxyBinary == "" {
		return nil, errors.New("process: Config.ProxyBinary is required")
	}
	if _, err := os.Stat(cfg.ProxyBinary); err != nil {
		return nil, fmt.Errorf("process: actionproxy binary: %w", err)
	}
	b := &Backend{cfg: cfg}
	if !cfg.NoCgroups {
		b.memRoot, b.freezeRoot = cgroupRoots()
	}
	return b, nil
}

// Name implements standalone.Backend.
func (b *Backend) Name() string { return "process" }

// MemoryLimited reports whether containers get a memory cgroup.
func (b *Backend) MemoryLimited() bool { return b.memRoot != "" }

// Create implements standalone.Backend.
func (b *Backend) Create(ctx context.Context, spec standalone.ContainerSpec) (standalone.Container, error) {
	if spec.Executor == "" {
		return nil, &standalone.CreateError{Developer: true,
			Message: fmt.Sprintf("The process backend cannot run kind '%s'; use the docker backend.", spec.Kind)}
	}
	port, err := freePort()
	if err != nil {
		return nil, fmt.Errorf("process: %w", err)
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	args := append([]string{"-listen", addr, "-executor", spec.Executor}, b.cfg.ExtraArgs...)
	cmd := exec.Command(b.cfg.ProxyBinary, args...)
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.TempDir(), "TMPDIR=" + os.TempDir()}
	keys := make([]string, 0, len(spec.Env))
	for k := range spec.Env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		env = append(env, k+"="+spec.Env[k])
	}
	cmd.Env = env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// A grandchild that left the process group may hold the log pipes open after the proxy died.
	cmd.WaitDelay = time.Second
	logs := standalone.NewLogBuffer()
	cmd.Stdout, cmd.Stderr = logs.Writer("stdout"), logs.Writer("stderr")

	cg, err := newCgroup(b.memRoot, b.freezeRoot, spec.Name, spec.MemoryMB)
	if err != nil {
		return nil, fmt.Errorf("process: %w", err)
	}
	if err := cmd.Start(); err != nil {
		cg.remove()
		return nil, fmt.Errorf("process: start actionproxy: %w", err)
	}
	if err := cg.add(cmd.Process.Pid); err != nil {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
		cg.remove()
		return nil, fmt.Errorf("process: %w", err)
	}
	c := &container{
		id: strconv.Itoa(cmd.Process.Pid), cmd: cmd, cg: cg, logs: logs, backend: b,
		client: standalone.NewProxyClient("http://"+addr, max(spec.Concurrency, 1)),
		exited: make(chan struct{}),
	}
	go func() {
		c.waitErr = cmd.Wait()
		logs.CloseInput()
		close(c.exited)
	}()
	b.live.Add(c)
	return c, nil
}

// Close kills every live container.
func (b *Backend) Close() error {
	return b.live.DestroyAll(context.Background())
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
	id      string
	cmd     *exec.Cmd
	cg      *cgroup
	logs    *standalone.LogBuffer
	client  *standalone.ProxyClient
	backend *Backend

	exited  chan struct{}
	waitErr error
	once    sync.Once
}

func (c *container) ID() string { return c.id }

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
	if err != nil {
		return status, resp, c.explain(ctx, err)
	}
	return status, resp, nil
}

func (c *container) Run(ctx context.Context, body []byte) (int, []byte, error) {
	status, resp, err := c.client.Run(ctx, body)
	if err != nil {
		return status, resp, c.explain(ctx, err)
	}
	return status, resp, nil
}

// explain turns a failed call into ErrOOM when the memory cgroup killed the container, and into
// ErrNoResponse when the process is gone.
func (c *container) explain(ctx context.Context, err error) error {
	if context.Cause(ctx) == standalone.ErrNoResponse || errors.Is(err, standalone.ErrNoResponse) {
		select {
		case <-c.exited:
		case <-time.After(500 * time.Millisecond):
		}
		if c.cg.oomKilled() {
			return fmt.Errorf("process %s: %w", c.id, standalone.ErrOOM)
		}
		if !errors.Is(err, standalone.ErrNoResponse) {
			return fmt.Errorf("process %s exited: %w", c.id, standalone.ErrNoResponse)
		}
	}
	return err
}

func (c *container) Logs(ctx context.Context, waitForSentinels bool) ([]standalone.LogLine, error) {
	return c.logs.Collect(ctx, waitForSentinels)
}

func (c *container) Pause(context.Context) error {
	if ok, err := c.cg.freeze(true); ok {
		return err
	}
	return syscall.Kill(-c.cmd.Process.Pid, syscall.SIGSTOP)
}

func (c *container) Resume(context.Context) error {
	if ok, err := c.cg.freeze(false); ok {
		return err
	}
	return syscall.Kill(-c.cmd.Process.Pid, syscall.SIGCONT)
}

func (c *container) Destroy(ctx context.Context) error {
	var err error
	c.once.Do(func() {
		c.client.CloseIdle()
		pid := c.cmd.Process.Pid
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		// Children that left the process group are still in the cgroup: kill them too.
		killCgroupTasks(c.cg)
		_, _ = c.cg.freeze(false) // a frozen task cannot die
		_ = syscall.Kill(-pid, syscall.SIGCONT)
		select {
		case <-c.exited:
		case <-ctx.Done():
			err = fmt.Errorf("process %s: wait for exit: %w", c.id, ctx.Err())
		}
		killCgroupTasks(c.cg)
		for i := 0; i < 50; i++ {
			if rmErr := c.cg.remove(); rmErr == nil {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		c.backend.live.Remove(c)
	})
	return err
}

func killCgroupTasks(cg *cgroup) {
	for _, dir := range []string{cg.memory, cg.freezer} {
		if dir == "" {
			continue
		}
		data, err := os.ReadFile(dir + "/cgroup.procs")
		if err != nil {
			continue
		}
		for _, f := range splitFields(string(data)) {
			if pid, err := strconv.Atoi(f); err == nil {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	}
}

func splitFields(s string) []string {
	var out []string
	start := -1
	for i, r := range s {
		if r == '\n' || r == ' ' || r == '\t' {
			if start >= 0 {
				out = append(out, s[start:i])
				start = -1
			}
		} else if start < 0 {
			start = i
		}
	}
	if start >= 0 {
		out = append(out, s[start:])
	}
	return out
}
