package standalone

import (
	"context"
	"errors"
	"time"
)

// Backend makes the containers the invoker runs actions in: Docker containers
// (standalone/docker), child actionproxy processes (standalone/process) or proxies and executors
// inside this process (standalone/wasmhost). The invoker (pool.go) owns every Container it
// creates and calls its methods from one goroutine at a time, except Run, which it calls
// concurrently up to ContainerSpec.Concurrency times.
type Backend interface {
	// Name is written into each activation's "backend" annotation: "docker", "process", "wasmhost".
	Name() string
	// Create provisions and starts one container and returns once it exists, without waiting
	// for the proxy inside to listen (Init retries). The container costs spec.MemoryMB of the
	// pool's budget until Destroy. A failure the action caused (blackbox image missing,
	// executable not found, a kind this backend cannot run) is a *runtime.Error with Status
	// http.StatusBadGateway and OpenWhisk's exact message, recorded as status 2 (action developer
	// error); a *runtime.Error with another status is recorded as status 3 with its message; any
	// other error as status 3 with "Failed to provision resources to run the action.".
	Create(ctx context.Context, spec ContainerSpec) (Container, error)
	// Close destroys the containers still alive and releases the backend.
	Close() error
}

// Container is one running action container, as a Backend made it.
type Container interface {
	// ID is the backend's identifier (docker container id, pid, instance id), recorded in the
	// activation's "containerId" annotation.
	ID() string
	// Init POSTs body (a complete /init payload, {"value":{...}}) to the proxy's /init and
	// returns the HTTP status and the whole response body. It retries a refused connection
	// (every ~10-50 ms) until ctx, which carries the action's time limit, is done; then it
	// returns an error wrapping ctx.Err().
	Init(ctx context.Context, body []byte) (status int, resp []byte, err error)
	// Run POSTs body (a complete /run payload) to /run once, never retried, and returns status
	// and body. A response without Content-Length is not valid (the action proxy contract in
	// apache/openwhisk docs/actions-new.md); then, or when the connection breaks, Run returns
	// ErrNoResponse, or ErrOOM when the backend can tell the container was killed for exceeding
	// its memory limit. It returns promptly when ctx is done.
	Run(ctx context.Context, body []byte) (status int, resp []byte, err error)
	// Logs returns the lines the container wrote since the previous call, in order, without
	// sentinel lines. With waitForSentinels it waits for runtime.Sentinel once on stdout and once
	// on stderr and returns the lines before them, or, when ctx (the invoker's LogIdleTimeout)
	// ends first, what it has with ErrLogsIncomplete. Without it, it returns what is buffered now
	// (after developer errors, and for runtimes without sentinels). LogBuffer implements this for
	// any backend that can feed it the two streams.
	Logs(ctx context.Context, waitForSentinels bool) ([]LogLine, error)
	// Pause suspends the container (docker pause, SIGSTOP, freezer); Resume undoes it. Both are
	// idempotent; the invoker never calls Init, Run or Logs on a paused container.
	Pause(ctx context.Context) error
	// Resume undoes Pause.
	Resume(ctx context.Context) error
	// Destroy stops and removes the container and frees its resources. It is idempotent and
	// safe while a Run is in flight (that Run then fails).
	Destroy(ctx context.Context) error
}

// ContainerSpec describes the container to create.
type ContainerSpec struct {
	// Name is unique per server run, e.g. "wsk0_12_guest_hello" or "wsk0_3_prewarm_wasm"; docker
	// uses it as the container name.
	Name string
	// Kind is the exec kind: "wasm:0.1", KindNative or "blackbox".
	Kind string
	// Image is the image to run: the manifest's image for managed kinds, the user's exec.image for
	// blackbox. Backends without images (process, wasmhost) ignore it.
	Image string
	// Executor is the actionproxy executor for managed kinds: "wasm" or "native"; empty for
	// blackbox.
	Executor string
	// MemoryMB is the memory limit (the action's limits.memory, or the stem cell's memory).
	MemoryMB int
	// Concurrency is the action's limits.concurrency (1 for stem cells); when > 1 the proxy must be
	// started with __OW_ALLOW_CONCURRENT=true (already in Env).
	Concurrency int
	// Env is the container environment, including __OW_API_HOST.
	Env map[string]string
}

// LogLine is one line of container output.
type LogLine struct {
	// Time is when the line was written (or read, when the backend cannot tell).
	Time time.Time
	// Stream is "stdout" or "stderr".
	Stream string
	// Text is the line without its trailing newline.
	Text string
}

var (
	// ErrNoResponse means the proxy closed the connection or answered without a valid entity:
	// "The action did not produce a valid response and exited unexpectedly."
	ErrNoResponse = errors.New("no valid response from the container")
	// ErrOOM means the container was killed for exceeding its memory limit:
	// "The action exhausted its memory and was aborted."
	ErrOOM = errors.New("container exhausted its memory")
	// ErrLogsIncomplete means the sentinels did not arrive in time; the invoker appends
	// "There was an issue while collecting your logs. Data might be missing." and destroys the
	// container.
	ErrLogsIncomplete = errors.New("log sentinels not seen")
)
