package standalone

import (
	"context"
	"errors"
	"time"
)

// Backend contract
//
// A Backend makes the "containers" the invoker runs actions in: Docker containers (package
// standalone/docker), child actionproxy processes (NewProcessBackend) or wasm executors inside this
// process (NewWasmHostBackend). The invoker (pool.go) owns every Container it creates and calls its
// methods from at most one goroutine at a time, except Run, which it calls concurrently up to
// ContainerSpec.Concurrency times.
//
//   - Name returns the short name written into each activation's "backend" annotation
//     ("docker", "process", "wasmhost").
//   - Create provisions and starts one container for spec and returns once it exists; it does NOT
//     wait for the proxy inside to listen (Init retries, see below). The container costs
//     spec.MemoryMB of the pool's budget until Destroy. A failure the user caused (blackbox image
//     missing, executable not found) is a *CreateError with Developer=true and the exact OpenWhisk
//     message; any other failure is a plain error (recorded as status 3, "Failed to provision
//     resources to run the action.").
//   - Close destroys whatever containers are still alive and releases the backend.
//
// Container:
//
//   - ID is the backend's identifier (docker container id, pid, instance id); it is recorded in
//     the activation's "containerId" annotation.
//   - Init POSTs body (a complete /init payload, {"value":{...}}) to the proxy's /init and returns
//     the HTTP status and the full response body. It retries connection-refused (every ~10-50 ms)
//     until ctx is done, since the proxy may start listening after Create returned. ctx carries
//     the action's time limit; when it expires Init returns an error wrapping ctx.Err().
//   - Run POSTs body (a complete /run payload) to /run once (never retried) and returns status and
//     body. A response is valid only if it carries a Content-Length (SPEC §1.1); otherwise, or when
//     the connection breaks, Run returns an error (ErrNoResponse, or ErrOOM when the backend can tell
//     that the container was killed for exceeding its memory limit). Run must return promptly when
//     ctx is done.
//   - Logs returns the log lines the container wrote since the previous Logs call, in order, with
//     sentinel lines removed. With waitForSentinels it waits until it has seen the activation
//     sentinel (Sentinel) once on stdout and once on stderr and returns only the lines before them;
//     if they do not arrive before ctx is done (the invoker gives it LogIdleTimeout) it returns what
//     it has together with ErrLogsIncomplete. Without waitForSentinels it returns what is buffered
//     now (used after developer errors and for runtimes without sentinels). LogBuffer implements
//     this for any backend that can feed it the two streams.
//   - Pause suspends the container (docker pause, SIGSTOP/freezer); Resume undoes it. Both are
//     idempotent. The invoker never calls Init, Run or Logs on a paused container.
//   - Destroy stops and removes the container and frees its resources; it is idempotent and
//     safe to call while a Run is in flight (that Run then fails).
type Backend interface {
	Name() string
	Create(ctx context.Context, spec ContainerSpec) (Container, error)
	Close() error
}

// Container is one running action container; see the Backend contract above.
type Container interface {
	ID() string
	Init(ctx context.Context, body []byte) (status int, resp []byte, err error)
	Run(ctx context.Context, body []byte) (status int, resp []byte, err error)
	Logs(ctx context.Context, waitForSentinels bool) ([]LogLine, error)
	Pause(ctx context.Context) error
	Resume(ctx context.Context) error
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

// Sentinel is the line a proxy writes to stdout and stderr after every activation (SPEC §1.4).
const Sentinel = "XXX_THE_END_OF_A_WHISK_ACTIVATION_XXX"

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

// CreateError is a container creation failure with the message recorded in the activation.
type CreateError struct {
	// Developer marks failures caused by the action (status 2), e.g. "Failed to pull container
	// image '<image>'." or "executable file not found in image <image>"; otherwise status 3.
	Developer bool
	// Message is the exact text for the record's {"error": Message}.
	Message string
	// Err is the cause, for logs.
	Err error
}

func (e *CreateError) Error() string {
	if e.Err != nil {
		return e.Message + ": " + e.Err.Error()
	}
	return e.Message
}

func (e *CreateError) Unwrap() error { return e.Err }
