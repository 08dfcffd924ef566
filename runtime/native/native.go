// Package native hosts an action as a long-lived native child process speaking OpenWhisk's
// actionloop protocol (../shared/openwhisk/SPEC.md §1.7): one JSON activation per line on the
// child's stdin, one JSON result per line on its file descriptor 3; its stdout and stderr are the
// container's logs. Executables built for apache/openwhisk-runtime-go work unchanged.
//
// The child and everything it starts die with the executor (Close, a timed-out run, a failed
// start): the child leads its own process group, and where this process may create cgroups the
// child is born in a cgroup of its own (package internal/cgroup), which also holds descendants
// that left the process group or started a new session. Files the executor unpacked are removed
// on the same paths, a failed Init included.
package native

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/wasmwhisk/wasmwhisk/internal/cgroup"
	"github.com/wasmwhisk/wasmwhisk/runtime"
	"github.com/wasmwhisk/wasmwhisk/runtime/archive"
)

// Messages of openwhisk-runtime-go that clients may compare.
const (
	msgCommandExited = "command exited"
	msgNoBinary      = "The action failed to generate or locate a binary. See logs for details."
)

// Config configures an Executor. Zero values are usable.
type Config struct {
	// Dir is where actions are unpacked (default: a new directory under os.TempDir()).
	Dir string
	// Stub is a built-in executable run when /init carries no code (a blackbox image's code stub).
	Stub string
	// Stdout and Stderr receive the child's output (default os.Stdout and os.Stderr). An *os.File
	// is given to the child as is; any other writer gets the child's output through a pipe that
	// Init and Run drain before they return, so that an activation's lines always precede the
	// proxy's sentinels and land in that activation's log.
	Stdout, Stderr io.Writer
	// NoAck starts children without asking for the {"ok":true} acknowledgement on fd 3 (for plain
	// actionloop scripts); the executor then only checks that the child survives its first 5 ms.
	NoAck bool
	// AckTimeout bounds the wait for the acknowledgement (default 30 s).
	AckTimeout time.Duration
	// Environ is the proxy's environment; its __OW_* variables reach the child (default os.Environ()).
	Environ []string
	// MaxResultBytes caps one result line (default 64 MiB).
	MaxResultBytes int
	// CgroupName names the cgroup made for the child's process tree below this process's own
	// cgroup (default "wasmwhisk-native-<pid>-<random>"). A server that runs executors in its own
	// process names them so that, after a crash, it can find and remove their groups
	// (cgroup.Roots.RemoveStale). Where no cgroup can be made (an unprivileged proxy, a
	// container's read-only cgroup file system) the process group is all that is killed.
	CgroupName string
	// NoCgroup kills only the process group, even where a cgroup could be made.
	NoCgroup bool
}

// Executor is a runtime.Executor for native actionloop executables. Runs are serialised: one child
// answers one activation at a time.
type Executor struct {
	cfg Config

	mu      sync.Mutex // serialises Init, Run and Close
	child   *child
	workDir string
	running atomic.Pointer[child] // lets Close kill a child that a Run is waiting on
}

// New returns an Executor for cfg.
func New(cfg Config) *Executor {
	if cfg.Stdout == nil {
		cfg.Stdout = os.Stdout
	}
	if cfg.Stderr == nil {
		cfg.Stderr = os.Stderr
	}
	if cfg.AckTimeout <= 0 {
		cfg.AckTimeout = 30 * time.Second
	}
	if cfg.Environ == nil {
		cfg.Environ = os.Environ()
	}
	if cfg.MaxResultBytes <= 0 {
		cfg.MaxResultBytes = 64 << 20
	}
	return &Executor{cfg: cfg}
}

// Init unpacks the executable and starts it.
func (e *Executor) Init(ctx context.Context, req runtime.InitRequest) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.child != nil {
		return runtime.Errorf(http.StatusForbidden, "Cannot initialize the action more than once.", nil)
	}
	exe, dir, err := e.prepare(req.Code)
	if err != nil {
		e.removeWorkDir()
		return err
	}
	c, err := e.start(ctx, exe, dir, req.Env)
	if err != nil {
		e.removeWorkDir()
		return err
	}
	e.child = c
	e.running.Store(c)
	return nil
}

// prepare writes or unpacks the code and returns the executable to start and its directory.
func (e *Executor) prepare(code []byte) (exe, dir string, err error) {
	if len(code) == 0 {
		if e.cfg.Stub == "" {
			return "", "", runtime.ErrNoCode
		}
		return e.cfg.Stub, filepath.Dir(e.cfg.Stub), nil
	}
	root := e.cfg.Dir
	if root == "" {
		root = os.TempDir()
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return "", "", fmt.Errorf("native: %w", err)
	}
	dir, err = os.MkdirTemp(root, "action-")
	if err != nil {
		return "", "", fmt.Errorf("native: %w", err)
	}
	e.workDir = dir
	kind := archive.Detect(code)
	if kind == archive.ELF {
		if ek := archive.ClassifyELF(code); ek != archive.Executable {
			return "", "", runtime.Errorf(http.StatusBadGateway, msgNoBinary, fmt.Errorf("code is a %v, not an executable%s", ek, kindHint(ek == archive.Precompiled)))
		}
	}
	switch kind {
	case archive.ELF, archive.Script:
		exe = filepath.Join(dir, "exec")
		if err := os.WriteFile(exe, code, 0o755); err != nil {
			return "", "", fmt.Errorf("native: write executable: %w", err)
		}
		return exe, dir, nil
	case archive.Zip:
		if _, err := archive.ExtractZip(code, dir, archive.Limits{}); err != nil {
			return "", "", runtime.Errorf(http.StatusBadGateway, "cannot start action: "+err.Error(), err)
		}
		for _, candidate := range []string{"exec", "bin/exec"} {
			p := filepath.Join(dir, candidate)
			if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
				os.Chmod(p, st.Mode()|0o111)
				return p, dir, nil
			}
		}
		return "", "", runtime.Errorf(http.StatusBadGateway, "cannot start action: the zip has no executable named exec at its root", nil)
	default:
		return "", "", runtime.Errorf(http.StatusBadGateway, msgNoBinary,
			fmt.Errorf("code is a %v, not an ELF executable, a #! script or a zip with exec%s", kind, kindHint(kind == archive.Wasm || kind == archive.WasmText)))
	}
}

// kindHint points WebAssembly code sent to the native kind at the right one.
func kindHint(wasm bool) string {
	if wasm {
		return " (WebAssembly code runs as kind wasm:0.1)"
	}
	return ""
}

// removeWorkDir deletes what prepare unpacked (never the stub's directory, which is not ours).
func (e *Executor) removeWorkDir() {
	if e.workDir != "" {
		os.RemoveAll(e.workDir)
		e.workDir = ""
	}
}

// child is a running actionloop process.
type child struct {
	cmd     *exec.Cmd
	group   *cgroup.Group // nil when the process group is all there is
	stdin   io.WriteCloser
	logs    []*logPipe    // the output streams that are not files
	results chan []byte   // lines read from fd 3
	exited  chan struct{} // closed when the process has exited
	waitErr error
}

// newGroup makes the cgroup for a child, or returns nil where none can be made.
func (e *Executor) newGroup() *cgroup.Group {
	if e.cfg.NoCgroup {
		return nil
	}
	roots := cgroup.Probe()
	if roots.Unified == "" {
		return nil
	}
	name := e.cfg.CgroupName
	if name == "" {
		prefix := defaultGroupPrefix()
		sweepOrphans(roots.Unified, prefix)
		var b [4]byte
		_, _ = rand.Read(b[:])
		name = fmt.Sprintf("%s%d-%s", prefix, os.Getpid(), hex.EncodeToString(b[:]))
	}
	g, err := cgroup.Roots{Unified: roots.Unified}.New(name, 0)
	if err != nil {
		return nil
	}
	return g
}

// defaultGroupPrefix starts the names of groups made without Config.CgroupName:
// "wasmwhisk-native-<pid namespace>-", followed by the creating process's pid.
func defaultGroupPrefix() string {
	ns, _ := os.Readlink("/proc/self/ns/pid") // "pid:[4026531836]"
	ns = strings.TrimSuffix(strings.TrimPrefix(ns, "pid:["), "]")
	return "wasmwhisk-native-" + ns + "-"
}

// sweepOrphans destroys the default-named groups whose creating process is gone: a proxy killed
// without closing (SIGKILL) leaves its action's tree to nobody else. The pid namespace in the
// prefix keeps a process from judging pids it cannot see.
func sweepOrphans(root, prefix string) {
	entries, err := os.ReadDir(root)
	if err != nil {
		return
	}
	for _, ent := range entries {
		rest, ok := strings.CutPrefix(ent.Name(), prefix)
		if !ok || !ent.IsDir() {
			continue
		}
		pidText, _, _ := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(pidText)
		if err != nil || pid <= 0 {
			continue
		}
		if _, err := os.Stat("/proc/" + pidText); err == nil {
			continue // the creator lives (or its pid was reused: the group waits for it)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = cgroup.Open([]string{filepath.Join(root, ent.Name())}).Destroy(ctx)
		cancel()
	}
}

// logPipeWait bounds how long closing a log pipe waits for its end after the child is gone.
const logPipeWait = 100 * time.Millisecond

func (e *Executor) start(ctx context.Context, exe, dir string, initEnv map[string]string) (_ *child, err error) {
	group := e.newGroup()
	cmd, stdin, resultsR, logs, err := e.spawn(ctx, exe, dir, initEnv, group)
	if err != nil {
		if group != nil {
			_ = group.Remove()
		}
		return nil, err
	}
	c := &child{cmd: cmd, group: group, stdin: stdin, logs: logs, results: make(chan []byte, 1), exited: make(chan struct{})}
	for _, p := range logs {
		go p.pump()
	}
	// What the child wrote while starting is in the log before Init returns.
	defer c.flushLogs()
	go func() {
		defer resultsR.Close()
		r := bufio.NewReaderSize(resultsR, 1<<16)
		for {
			line, err := readLine(r, e.cfg.MaxResultBytes)
			if err != nil {
				close(c.results)
				return
			}
			c.results <- line
		}
	}()
	go func() {
		c.waitErr = cmd.Wait()
		close(c.exited)
	}()

	if e.cfg.NoAck {
		select {
		case <-c.exited:
			c.release()
			return nil, runtime.Errorf(http.StatusBadGateway, "cannot start action: "+msgCommandExited, c.waitErr)
		case <-time.After(5 * time.Millisecond):
			return c, nil
		}
	}
	timer := time.NewTimer(e.cfg.AckTimeout)
	defer timer.Stop()
	select {
	case line, ok := <-c.results:
		if !ok {
			c.release()
			return nil, runtime.Errorf(http.StatusBadGateway, "cannot start action: "+msgCommandExited, c.waitErr)
		}
		var ack struct {
			OK bool `json:"ok"`
		}
		if json.Unmarshal(line, &ack) != nil || !ack.OK {
			c.release()
			return nil, runtime.Errorf(http.StatusBadGateway, "cannot start action: bad acknowledgement "+strconv.Quote(string(line)), nil)
		}
		return c, nil
	case <-timer.C:
		c.release()
		return nil, runtime.Errorf(http.StatusBadGateway, "cannot start action: no acknowledgement on fd 3 within "+e.cfg.AckTimeout.String(), nil)
	case <-ctx.Done():
		c.release()
		return nil, ctx.Err()
	}
}

// spawn starts the executable with a pipe on fd 3 and returns the read end of that pipe.
//
// exec can fail with ETXTBSY right after the executable was written: a child forked at that
// moment by another goroutine (another container's cold start) briefly holds the file open for
// writing until it calls exec itself (golang/go#22315). That passes within milliseconds, so spawn
// tries again for a while instead of failing the activation.
func (e *Executor) spawn(ctx context.Context, exe, dir string, initEnv map[string]string, group *cgroup.Group) (*exec.Cmd, io.WriteCloser, *os.File, []*logPipe, error) {
	for attempt := 0; ; attempt++ {
		cmd, stdin, resultsR, logs, err := e.spawnOnce(exe, dir, initEnv, group)
		if err == nil {
			return cmd, stdin, resultsR, logs, nil
		}
		if !errors.Is(err, syscall.ETXTBSY) || attempt >= 50 {
			return nil, nil, nil, nil, err
		}
		select {
		case <-ctx.Done():
			return nil, nil, nil, nil, ctx.Err()
		case <-time.After(time.Duration(attempt+1) * 2 * time.Millisecond):
		}
	}
}

// spawnOnce makes the child's pipes and starts it once; on failure it closes what it made.
func (e *Executor) spawnOnce(exe, dir string, initEnv map[string]string, group *cgroup.Group) (_ *exec.Cmd, _ io.WriteCloser, _ *os.File, _ []*logPipe, err error) {
	var closeAfterStart, closeOnFail []io.Closer
	var logs []*logPipe
	defer func() {
		for _, c := range closeAfterStart {
			c.Close()
		}
		if err != nil {
			for _, c := range closeOnFail {
				c.Close()
			}
		}
	}()
	resultsR, resultsW, err := os.Pipe()
	if err != nil {
		return nil, nil, nil, nil, fmt.Errorf("native: pipe: %w", err)
	}
	closeAfterStart, closeOnFail = append(closeAfterStart, resultsW), append(closeOnFail, resultsR)
	cmd := exec.Command(exe)
	cmd.Dir = dir
	cmd.Env = e.childEnv(initEnv)
	for _, s := range []struct {
		dst  io.Writer
		into *io.Writer
	}{{e.cfg.Stdout, &cmd.Stdout}, {e.cfg.Stderr, &cmd.Stderr}} {
		if f, ok := s.dst.(*os.File); ok {
			*s.into = f
			continue
		}
		p, w, err := newLogPipe(s.dst)
		if err != nil {
			return nil, nil, nil, nil, fmt.Errorf("native: log pipe: %w", err)
		}
		closeAfterStart, closeOnFail = append(closeAfterStart, w), append(closeOnFail, p.r)
		logs = append(logs, p)
		*s.into = w
	}
	cmd.ExtraFiles = []*os.File{resultsW} // fd 3
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// A descendant that escaped the kill could hold the output pipes open: Wait must not
	// wait for it forever.
	cmd.WaitDelay = time.Second
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, nil, nil, nil, fmt.Errorf("native: stdin: %w", err)
	}
	closeOnFail = append(closeOnFail, stdin)
	if err := startIn(cmd, group); err != nil {
		return nil, nil, nil, nil, runtime.Errorf(http.StatusBadGateway, "cannot start action: "+err.Error(), err)
	}
	return cmd, stdin, resultsR, logs, nil
}

// startIn starts cmd inside group: born there (clone3 CLONE_INTO_CGROUP), so that not even its
// first instructions run outside it, or moved there at once where the kernel cannot do that.
func startIn(cmd *exec.Cmd, group *cgroup.Group) error {
	if group == nil {
		return cmd.Start()
	}
	fd, ok, err := group.UnifiedFD()
	if err != nil || !ok {
		return cmd.Start()
	}
	defer fd.Close()
	cmd.SysProcAttr.UseCgroupFD, cmd.SysProcAttr.CgroupFD = true, int(fd.Fd())
	if err := cmd.Start(); err == nil || errors.Is(err, syscall.ETXTBSY) {
		return err
	}
	// Kernels before 5.7 have no CLONE_INTO_CGROUP: start, then move.
	cmd.SysProcAttr.UseCgroupFD = false
	if err := cmd.Start(); err != nil {
		return err
	}
	return group.Add(cmd.Process.Pid, false)
}

// childEnv is the proxy's __OW_* variables plus the init env; nothing else is inherited.
func (e *Executor) childEnv(initEnv map[string]string) []string {
	var env []string
	for _, kv := range e.cfg.Environ {
		if strings.HasPrefix(kv, "__OW_") {
			env = append(env, kv)
		}
	}
	if !e.cfg.NoAck {
		env = append(env, "__OW_WAIT_FOR_ACK=1")
	}
	for k, v := range initEnv {
		env = append(env, k+"="+v)
	}
	return env
}

func readLine(r *bufio.Reader, max int) ([]byte, error) {
	var line []byte
	for {
		chunk, isPrefix, err := r.ReadLine()
		if err != nil {
			return nil, err
		}
		line = append(line, chunk...)
		if len(line) > max {
			return nil, fmt.Errorf("result line longer than %d bytes", max)
		}
		if !isPrefix {
			return line, nil
		}
	}
}

// kill ends the child's process group and cgroup and waits for the child to be reaped.
func (c *child) kill() {
	if c.cmd.Process != nil {
		syscall.Kill(-c.cmd.Process.Pid, syscall.SIGKILL)
	}
	if c.group != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_ = c.group.Kill(ctx)
		cancel()
	}
	<-c.exited
}

// release kills the child and removes its cgroup and log pipes: the child is not used again.
func (c *child) release() {
	c.kill()
	if c.group != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_ = c.group.Destroy(ctx)
		cancel()
	}
	for _, p := range c.logs {
		p.close(logPipeWait)
	}
}

// flushLogs moves what the child has written so far into the configured writers.
func (c *child) flushLogs() {
	for _, p := range c.logs {
		p.flush()
	}
}

// Run sends one activation line and waits for the result line, the child's exit, the deadline or
// the caller giving up. After a timeout or a cancelled call the child is killed: a late answer
// would be taken for the next activation's.
func (e *Executor) Run(ctx context.Context, req runtime.RunRequest) (json.RawMessage, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	c := e.child
	if c == nil {
		return nil, runtime.Errorf(http.StatusInternalServerError, "no action defined yet", nil)
	}
	select {
	case <-c.exited:
		return nil, runtime.Errorf(http.StatusInternalServerError, msgCommandExited, c.waitErr)
	default:
	}
	// Whatever the outcome, the activation's output is in its log before Run returns.
	defer c.flushLogs()
	var deadline <-chan time.Time
	if !req.Deadline.IsZero() {
		timer := time.NewTimer(time.Until(req.Deadline))
		defer timer.Stop()
		deadline = timer.C
	}
	line := append(append([]byte(nil), req.Line...), '\n')
	if _, err := c.stdin.Write(line); err != nil {
		return nil, runtime.Errorf(http.StatusBadRequest, msgCommandExited, err)
	}
	select {
	case result, ok := <-c.results:
		if !ok {
			<-c.exited
			return nil, runtime.Errorf(http.StatusBadRequest, msgCommandExited, c.waitErr)
		}
		return result, nil
	case <-c.exited:
		return nil, runtime.Errorf(http.StatusBadRequest, msgCommandExited, c.waitErr)
	case <-deadline:
		c.kill()
		return nil, &runtime.TimeoutError{Err: errors.New("the deadline passed before the action answered")}
	case <-ctx.Done():
		c.kill()
		return nil, ctx.Err()
	}
}

// Close kills the child and removes the unpacked action.
func (e *Executor) Close() error {
	if c := e.running.Swap(nil); c != nil {
		c.kill()
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.child != nil {
		e.child.stdin.Close()
		e.child.release()
		e.child = nil
	}
	e.removeWorkDir()
	return nil
}
