package docker

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wasmwhisk/wasmwhisk/runtime"
	"github.com/wasmwhisk/wasmwhisk/standalone"
)

// Labels put on every container the backend creates, so that leftovers of a crashed server can
// be found and removed at the next start.
const (
	// LabelManaged marks containers made by wasmwhisk's docker backend.
	LabelManaged = "io.wasmwhisk.managed"
	// LabelInstance holds Config.Instance.
	LabelInstance = "io.wasmwhisk.instance"
	// LabelKind holds the exec kind the container was made for.
	LabelKind = "io.wasmwhisk.kind"
)

// WasmCacheDir is where the wasm runtime image keeps compiled modules (its -wasm-cache).
const WasmCacheDir = "/var/cache/wasmwhisk"

// ProxyPort is the port the action proxy listens on inside every container (SPEC §1.1).
const ProxyPort = 8080

// oomPollTime is how long a failed /run waits for the engine to report OOMKilled (as the
// invoker does, SPEC §1.8).
const oomPollTime = 2 * time.Second

// Config configures the docker backend. Zero values are usable defaults.
type Config struct {
	// Socket is the engine's unix socket ("" = $DOCKER_HOST or /var/run/docker.sock).
	Socket string
	// Network is the network containers join ("" = the default bridge); the server must be able
	// to reach container IPs on it.
	Network string
	// Instance names this server among others sharing the engine: standalone.Instance.ID, a hash
	// of its absolute data directory. Every container carries it in its name and its instance
	// label; New removes leftover containers carrying the same label, and containers of other
	// instances are never touched. "" means a random id (nothing of an earlier run is removed).
	Instance string
	// UserMemoryMB is the pool's memory budget; when set, containers get CPU shares as the
	// invoker gives them: max(1024 * memory / userMemory, 2).
	UserMemoryMB int
	// KeepLeftovers skips the startup cleanup.
	KeepLeftovers bool
	// WasmCacheVolume, when set, is a named volume mounted at WasmCacheDir in every wasm:0.1
	// container, so that a module compiled by one container's /init is only deserialized by
	// the next cold start (the engine creates the volume on first use). Real OpenWhisk mounts
	// nothing: there, ship precompiled modules in the action zip instead.
	WasmCacheVolume string
}

// Backend runs each action container as a Docker container reached over the bridge network at
// its IP and port 8080. It implements standalone.Backend.
type Backend struct {
	client   *Client
	cfg      Config
	mu       sync.Mutex
	live     map[string]*Container
	closed   bool
	instance string
}

var _ standalone.Backend = (*Backend)(nil)

// New connects to the engine, checks that it answers and removes containers left over by an
// earlier run of the same instance.
func New(ctx context.Context, cfg Config) (*Backend, error) {
	if cfg.Instance == "" {
		cfg.Instance = randomSuffix() + randomSuffix()
	}
	c := NewClient(cfg.Socket)
	if _, err := c.Negotiate(ctx); err != nil {
		c.Close()
		return nil, fmt.Errorf("docker backend: engine not reachable: %w", err)
	}
	b := &Backend{client: c, cfg: cfg, live: map[string]*Container{}, instance: cfg.Instance}
	if !cfg.KeepLeftovers {
		if err := b.RemoveLeftovers(ctx); err != nil {
			c.Close()
			return nil, err
		}
	}
	return b, nil
}

// Client returns the engine client the backend uses.
func (b *Backend) Client() *Client { return b.client }

// Name implements standalone.Backend.
func (b *Backend) Name() string { return "docker" }

// RemoveLeftovers force-removes every container labelled with this backend's instance.
func (b *Backend) RemoveLeftovers(ctx context.Context) error {
	list, err := b.client.ListContainers(ctx, map[string]string{LabelManaged: "true", LabelInstance: b.instance})
	if err != nil {
		return fmt.Errorf("docker backend: list leftovers: %w", err)
	}
	var errs []error
	for _, s := range list {
		if err := b.client.RemoveContainer(ctx, s.ID, true); err != nil && !IsNotFound(err) {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("docker backend: remove leftovers: %w", err)
	}
	return nil
}

var badNameChars = regexp.MustCompile(`[^a-zA-Z0-9_.-]+`)

// containerName turns a spec name into a valid Docker container name that carries the instance,
// "wsk_<instance>_<spec name>": spec names repeat between servers (and between runs of one), so
// without the instance a second server would collide with the first one's containers.
func (b *Backend) containerName(spec string) string {
	n := badNameChars.ReplaceAllString(spec, "_")
	n = strings.TrimLeft(n, "_.-")
	if len(n) > 160 {
		n = n[:160]
	}
	inst := badNameChars.ReplaceAllString(b.instance, "_")
	if len(inst) > 40 {
		inst = inst[:40]
	}
	if n == "" {
		return "wsk_" + inst
	}
	return "wsk_" + inst + "_" + n
}

// Create implements standalone.Backend: create and start a container for spec, then learn its
// address. It does not wait for the proxy to listen.
func (b *Backend) Create(ctx context.Context, spec standalone.ContainerSpec) (standalone.Container, error) {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil, errors.New("docker backend: closed")
	}
	b.mu.Unlock()

	cfg := ContainerConfig{
		Image:       spec.Image,
		Env:         spec.Env,
		MemoryBytes: int64(spec.MemoryMB) << 20,
		NetworkMode: b.cfg.Network,
		Labels: map[string]string{
			LabelManaged:  "true",
			LabelInstance: b.instance,
			LabelKind:     spec.Kind,
		},
	}
	if b.cfg.WasmCacheVolume != "" && spec.Kind == standalone.KindWasm {
		cfg.Binds = []string{b.cfg.WasmCacheVolume + ":" + WasmCacheDir}
	}
	if b.cfg.UserMemoryMB > 0 && spec.MemoryMB > 0 {
		cfg.CPUShares = max(int64(1024*spec.MemoryMB/b.cfg.UserMemoryMB), 2)
	}
	name := b.containerName(spec.Name)
	id, err := b.client.CreateContainer(ctx, name, cfg)
	if IsConflict(err) {
		// A container of that name survives from elsewhere: keep ours apart.
		id, err = b.client.CreateContainer(ctx, name+"_"+randomSuffix(), cfg)
	}
	if err != nil {
		return nil, b.createError(spec, err)
	}
	c := &Container{backend: b, id: id, logs: standalone.NewLogBuffer(), exited: make(chan struct{})}
	if err := b.client.StartContainer(ctx, id); err != nil {
		c.remove()
		return nil, b.createError(spec, err)
	}
	info, err := b.client.InspectContainer(ctx, id)
	if err != nil {
		c.remove()
		return nil, b.createError(spec, err)
	}
	if info.IP == "" {
		c.remove()
		return nil, b.createError(spec, fmt.Errorf("container %.12s has no IP address (state %s, exit code %d)", id, info.State.Status, info.State.ExitCode))
	}
	c.ip = info.IP
	c.proxy = standalone.NewProxyClient(fmt.Sprintf("http://%s:%d", info.IP, ProxyPort), max(spec.Concurrency, 1))
	c.startLogs()

	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		_ = c.Destroy(context.Background())
		return nil, errors.New("docker backend: closed")
	}
	b.live[id] = c
	b.mu.Unlock()
	return c, nil
}

// createError maps an engine failure to the record OpenWhisk would write (SPEC §1.6).
func (b *Backend) createError(spec standalone.ContainerSpec, err error) error {
	blackbox := spec.Kind == standalone.KindBlackbox
	var ae *APIError
	if errors.As(err, &ae) {
		msg := strings.ToLower(ae.Message)
		switch {
		case ae.Status == 404 && strings.Contains(msg, "image") && blackbox:
			// No registry is reachable, so a missing image is what a failed pull is in OpenWhisk.
			return runtime.Errorf(http.StatusBadGateway, fmt.Sprintf("Failed to pull container image '%s'.", spec.Image), err)
		case strings.Contains(msg, "executable file not found") || strings.Contains(msg, "no such file or directory") && strings.Contains(msg, "exec"):
			// The action's fault only when the image is the action's own (blackbox).
			status := http.StatusInternalServerError
			if blackbox {
				status = http.StatusBadGateway
			}
			return runtime.Errorf(status, fmt.Sprintf("executable file not found in image %s", spec.Image), err)
		}
	}
	return runtime.Errorf(http.StatusInternalServerError, "Failed to provision resources to run the action.", fmt.Errorf("docker backend: create %s: %w", spec.Name, err))
}

// Close implements standalone.Backend: it destroys every container still alive.
func (b *Backend) Close() error {
	b.mu.Lock()
	b.closed = true
	live := make([]*Container, 0, len(b.live))
	for _, c := range b.live {
		live = append(live, c)
	}
	b.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var errs []error
	for _, c := range live {
		if err := c.Destroy(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	b.client.Close()
	return errors.Join(errs...)
}

func randomSuffix() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Container is one Docker container running an action proxy. It implements
// standalone.Container.
type Container struct {
	backend *Backend
	id      string
	ip      string
	proxy   *standalone.ProxyClient
	logs    *standalone.LogBuffer

	stopLogs context.CancelFunc
	logsDone chan struct{}
	// exited is closed when the container is known to have stopped (its log stream ended and
	// the engine says it is not running), so that Init stops retrying a dead proxy.
	exited chan struct{}

	destroyOnce sync.Once
	destroyErr  error
	// destroyed is set before the container is removed: its IP may go to another container at
	// once, so nothing may be sent there afterwards.
	destroyed atomic.Bool
}

// errDestroyed is returned by calls on a destroyed container.
var errDestroyed = fmt.Errorf("container destroyed: %w", standalone.ErrNoResponse)

var _ standalone.Container = (*Container)(nil)

// ID implements standalone.Container: the full Docker container id.
func (c *Container) ID() string { return c.id }

// IP is the container's address on the bridge network.
func (c *Container) IP() string { return c.ip }

// startLogs follows the container's log stream into the log buffer until the container stops
// or Destroy cancels it.
func (c *Container) startLogs() {
	ctx, cancel := context.WithCancel(context.Background())
	c.stopLogs = cancel
	c.logsDone = make(chan struct{})
	go func() {
		defer close(c.logsDone)
		defer c.logs.CloseInput()
		rc, err := c.backend.client.Logs(ctx, c.id, true)
		if err != nil {
			return
		}
		defer rc.Close()
		_ = DemuxLogs(rc, func(stream string, t time.Time, text string) {
			c.logs.Add(stream, text, t)
		})
		if ctx.Err() != nil {
			return // Destroy stopped us
		}
		info, err := c.backend.client.InspectContainer(ctx, c.id)
		if IsNotFound(err) || err == nil && !info.State.Running && !info.State.Paused {
			close(c.exited)
		}
	}()
}

// Init implements standalone.Container. It stops retrying as soon as the container has exited
// (a proxy that crashed at start), answering ErrNoResponse or ErrOOM instead of waiting for
// the action's time limit.
func (c *Container) Init(ctx context.Context, body []byte) (int, []byte, error) {
	if c.destroyed.Load() {
		return 0, nil, fmt.Errorf("init: %w", errDestroyed)
	}
	initCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-c.exited:
			cancel()
		case <-initCtx.Done():
		}
	}()
	status, resp, err := c.proxy.Init(initCtx, body)
	if err == nil || ctx.Err() != nil {
		return status, resp, err
	}
	if c.oomKilled(ctx) {
		return status, resp, fmt.Errorf("init: %w", standalone.ErrOOM)
	}
	select {
	case <-c.exited:
		return status, resp, fmt.Errorf("init: container exited: %w", standalone.ErrNoResponse)
	default:
	}
	return status, resp, err
}

// Run implements standalone.Container. When the connection breaks it asks the engine, for up to
// two seconds, whether the container was killed for exceeding its memory.
func (c *Container) Run(ctx context.Context, body []byte) (int, []byte, error) {
	if c.destroyed.Load() {
		return 0, nil, fmt.Errorf("run: %w", errDestroyed)
	}
	status, resp, err := c.proxy.Run(ctx, body)
	if err != nil && errors.Is(err, standalone.ErrNoResponse) && ctx.Err() == nil && c.oomKilled(ctx) {
		return status, resp, fmt.Errorf("run: %w", standalone.ErrOOM)
	}
	return status, resp, err
}

// oomKilled polls the container state until it reports an OOM kill (true), the container is
// found stopped without one or gone (false), or oomPollTime passes.
func (c *Container) oomKilled(ctx context.Context) bool {
	ctx, cancel := context.WithTimeout(ctx, oomPollTime)
	defer cancel()
	for {
		info, err := c.backend.client.InspectContainer(ctx, c.id)
		if err != nil {
			return false
		}
		if info.State.OOMKilled {
			return true
		}
		if !info.State.Running {
			return false
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Logs implements standalone.Container. The engine copies stdout and stderr separately, so lines
// arrive interleaved arbitrarily; they are returned in the order of the engine's timestamps.
func (c *Container) Logs(ctx context.Context, waitForSentinels bool) ([]standalone.LogLine, error) {
	if !waitForSentinels {
		// The log stream lags the container a little: after a crash, wait for it to end (or
		// go quiet) so that the last lines the action wrote are not lost.
		c.logs.Settle(ctx, 100*time.Millisecond, time.Second)
	}
	lines, err := c.logs.Collect(ctx, waitForSentinels)
	sort.SliceStable(lines, func(i, j int) bool { return lines[i].Time.Before(lines[j].Time) })
	return lines, err
}

// Pause implements standalone.Container (docker pause); pausing a paused container is a no-op.
func (c *Container) Pause(ctx context.Context) error {
	err := c.backend.client.PauseContainer(ctx, c.id)
	if err != nil && strings.Contains(err.Error(), "already paused") {
		return nil
	}
	if err != nil {
		return fmt.Errorf("pause %.12s: %w", c.id, err)
	}
	return nil
}

// Resume implements standalone.Container (docker unpause); resuming a running container is a
// no-op.
func (c *Container) Resume(ctx context.Context) error {
	err := c.backend.client.UnpauseContainer(ctx, c.id)
	// Engines answer 409 or 500 here, depending on the version.
	if err != nil && strings.Contains(err.Error(), "is not paused") {
		return nil
	}
	if err != nil {
		return fmt.Errorf("resume %.12s: %w", c.id, err)
	}
	return nil
}

// Destroy implements standalone.Container: force-remove the container (killing it, paused or
// not) and stop following its logs. Idempotent.
func (c *Container) Destroy(ctx context.Context) error {
	c.destroyOnce.Do(func() {
		c.destroyed.Store(true)
		c.proxy.CloseIdle()
		err := c.backend.client.RemoveContainer(ctx, c.id, true)
		if err != nil && !IsNotFound(err) && !(IsConflict(err) && strings.Contains(err.Error(), "already in progress")) {
			c.destroyErr = fmt.Errorf("destroy %.12s: %w", c.id, err)
		}
		c.stopLogs()
		<-c.logsDone
		b := c.backend
		b.mu.Lock()
		delete(b.live, c.id)
		b.mu.Unlock()
	})
	return c.destroyErr
}

// remove cleans up a container that never became usable.
func (c *Container) remove() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = c.backend.client.RemoveContainer(ctx, c.id, true)
}
