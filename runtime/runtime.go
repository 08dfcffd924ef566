// Package runtime defines the contract between the OpenWhisk action proxy (package actionproxy) and
// the executors that host an action: natively over the actionloop protocol (runtime/native) or as a
// WebAssembly module under wasmtime (runtime/wasm). The proxy speaks HTTP and knows nothing of how an
// action runs; an executor knows nothing of HTTP.
package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"time"
)

// Sentinel is the line a proxy writes once to stdout and once to stderr after each activation's
// output: the invoker reads an activation's logs up to it (ACTIVATION_LOG_SENTINEL in
// apache/openwhisk common/scala/src/main/scala/org/apache/openwhisk/core/containerpool/Container.scala).
const Sentinel = "XXX_THE_END_OF_A_WHISK_ACTIVATION_XXX"

// InitRequest is a decoded /init payload.
type InitRequest struct {
	// Name is the action's simple name (may be empty: the conformance harness omits it).
	Name string
	// Main is the entry point; "main" when the action did not set one.
	Main string
	// Code is the artifact: base64-decoded when it decoded as base64, else the text as sent.
	// Executors decide what it is by its content (magic bytes), never by a flag. It is
	// read-only: a proxy may hand the same bytes to several executors (actionproxy.CodeCache).
	Code []byte
	// Env holds the init-time environment (init parameters and __OW_* context of the first
	// activation). It is already exported into the proxy's process environment.
	Env map[string]string
}

// RunRequest is one activation, as received on /run.
type RunRequest struct {
	// Value is the activation's parameters: a JSON object or array ("null" is already turned into {}).
	Value json.RawMessage
	// Context maps each top-level string key of the /run body other than "value" (namespace,
	// action_name, activation_id, deadline, api_key, ...) to its value.
	Context map[string]string
	// Env is the full environment this activation must see: init env, the proxy's own __OW_*
	// variables (such as __OW_API_HOST) and __OW_<KEY> for every key of Context.
	Env map[string]string
	// Deadline is when the activation must have answered: the /run "deadline" (epoch ms, string or
	// number). It is zero when the body has none, or one that had already passed when the run
	// arrived (a clock-skewed or synthetic value, such as the conformance suite's "123"), in which
	// case only the invoker's own timeout applies.
	Deadline time.Time
	// Line is the /run body re-encoded as one line of JSON without the trailing newline
	// ({"value":...,"activation_id":...}), as the actionloop protocol sends it.
	Line []byte
	// Stdout and Stderr receive the activation's log output. The proxy writes the sentinels after
	// Run returns, so everything an executor wants in this activation's logs must be written
	// before it returns.
	Stdout, Stderr io.Writer
}

// Executor hosts one action: Init once, then Run for each activation, possibly concurrently when
// the proxy allows concurrency. Close releases everything the executor holds.
type Executor interface {
	Init(ctx context.Context, req InitRequest) error
	// Run returns the action's result bytes as produced (the proxy validates that they are a JSON
	// object or array). An error means the activation failed (developer error, HTTP 502 or as the
	// error's Status says).
	Run(ctx context.Context, req RunRequest) (json.RawMessage, error)
	Close() error
}

// Error is an executor failure with the HTTP status the proxy should answer and the message that
// goes into {"error": Message}. Executors return it to choose the status; any other error is a 502.
type Error struct {
	Status  int
	Message string
	// Err is the underlying cause, for logs; it is not shown to the client.
	Err error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Message + ": " + e.Err.Error()
	}
	return e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with the given status and message.
func Errorf(status int, message string, cause error) *Error {
	return &Error{Status: status, Message: message, Err: cause}
}

// ErrNoCode is returned by Init when the payload has no code and the executor has no built-in
// action (code stub). The proxy answers it with the exact OpenWhisk message.
var ErrNoCode = errors.New("missing main/no code to execute")

// TimeoutError is returned by Run when the activation ran past its deadline.
type TimeoutError struct{ Err error }

func (e *TimeoutError) Error() string { return "activation deadline exceeded: " + e.Err.Error() }
func (e *TimeoutError) Unwrap() error { return e.Err }
