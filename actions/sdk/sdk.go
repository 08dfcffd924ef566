// Package sdk is the tiny SDK every wasmwhisk action is written against. One handler source builds
// to three targets with no change:
//
//   - natively: an OpenWhisk actionloop executable (one JSON line in on stdin, one line out on fd 3),
//     runnable by wasmwhisk's native executor and by apache/openwhisk-runtime-go;
//   - GOOS=wasip1, default build mode: a WASI command (docs/wasm-abi.md, "command" ABI);
//   - GOOS=wasip1 -buildmode=c-shared: a WASI reactor (docs/wasm-abi.md, "reactor" ABI).
//
// An action registers its handler in init, so that the reactor build (where main never runs)
// sees it too, and calls Serve from main:
//
//	func init() { sdk.Handle(hello) }
//	func main() { sdk.Serve() }
package sdk

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"time"
)

// Handler is an action that takes its parameters as a JSON object. The result must marshal to a
// JSON object or array; a returned error becomes the application error {"error": err.Error()}.
type Handler func(ctx context.Context, params map[string]any) (any, error)

// RawHandler is an action that takes its parameters as raw JSON (an object or an array).
type RawHandler func(ctx context.Context, value json.RawMessage) (any, error)

// handler is the registered action: one of params and raw is set.
type handler struct {
	params Handler
	raw    RawHandler
}

var registered handler

// Handle registers h as the action's handler.
func Handle(h Handler) { registered = handler{params: h} }

// HandleRaw registers h as the action's handler.
func HandleRaw(h RawHandler) { registered = handler{raw: h} }

// Main registers h and serves activations; for actions that need no reactor build.
func Main(h Handler) {
	Handle(h)
	Serve()
}

// Activation is what the platform tells an action about the current activation.
type Activation struct {
	ID            string
	Namespace     string
	ActionName    string
	ActionVersion string
	TransactionID string
	APIHost       string
	APIKey        string
	// Deadline is when the platform stops waiting for the result (zero if unknown).
	Deadline time.Time
}

type activationKey struct{}

// FromContext returns the activation a handler is running for.
func FromContext(ctx context.Context) (Activation, bool) {
	a, ok := ctx.Value(activationKey{}).(Activation)
	return a, ok
}

// activationFromEnv reads the __OW_* variables of the process environment.
func activationFromEnv() Activation {
	a := Activation{
		ID:            os.Getenv("__OW_ACTIVATION_ID"),
		Namespace:     os.Getenv("__OW_NAMESPACE"),
		ActionName:    os.Getenv("__OW_ACTION_NAME"),
		ActionVersion: os.Getenv("__OW_ACTION_VERSION"),
		TransactionID: os.Getenv("__OW_TRANSACTION_ID"),
		APIHost:       os.Getenv("__OW_API_HOST"),
		APIKey:        os.Getenv("__OW_API_KEY"),
	}
	if ms, err := strconv.ParseInt(os.Getenv("__OW_DEADLINE"), 10, 64); err == nil && ms > 0 {
		a.Deadline = time.UnixMilli(ms)
	}
	return a
}

// setContextEnv exports __OW_<KEY> for every top-level string key of a /run line other than value,
// as OpenWhisk's launchers do, and returns the value.
func setContextEnv(line []byte) (json.RawMessage, error) {
	var msg map[string]json.RawMessage
	if err := json.Unmarshal(line, &msg); err != nil {
		return nil, fmt.Errorf("bad activation line: %w", err)
	}
	for k, raw := range msg {
		if k == "value" {
			continue
		}
		var s string
		if json.Unmarshal(raw, &s) == nil {
			os.Setenv("__OW_"+strings.ToUpper(k), s)
		} else if k == "deadline" {
			os.Setenv("__OW_DEADLINE", string(bytes.TrimSpace(raw)))
		}
	}
	value := msg["value"]
	if len(bytes.TrimSpace(value)) == 0 || string(bytes.TrimSpace(value)) == "null" {
		value = json.RawMessage("{}")
	}
	return value, nil
}

// runLine runs the registered handler on one /run line (actionloop and reactor) and returns the
// result line. A Handler's line is decoded once, by decodeJSON (fast for large string
// parameters), with the same exports as setContextEnv.
func runLine(line []byte) []byte {
	if registered.params == nil {
		value, err := setContextEnv(line)
		if err != nil {
			return errorResult(err)
		}
		return invoke(value)
	}
	v, err := decodeJSON(line)
	msg, ok := v.(map[string]any)
	if err == nil && !ok {
		err = errors.New("not a JSON object")
	}
	if err != nil {
		return errorResult(fmt.Errorf("bad activation line: %w", err))
	}
	for k, x := range msg {
		if k == "value" {
			continue
		}
		if s, ok := x.(string); ok {
			os.Setenv("__OW_"+strings.ToUpper(k), s)
		} else if k == "deadline" {
			b, _ := json.Marshal(x) // a json.Number marshals to its literal
			os.Setenv("__OW_DEADLINE", string(b))
		}
	}
	return invokeParams(msg["value"])
}

// invoke runs the registered handler on one activation's value and returns the result as one line
// of JSON (no trailing newline).
func invoke(value json.RawMessage) []byte {
	switch {
	case registered.raw != nil:
		return call(func(ctx context.Context) (any, error) { return registered.raw(ctx, value) })
	case registered.params != nil:
		v, err := decodeJSON(value)
		if err != nil {
			return errorResult(fmt.Errorf("parameters must be a JSON object: %w", err))
		}
		return invokeParams(v)
	}
	return errorResult(errors.New("no handler registered: call sdk.Handle in the action's init"))
}

// invokeParams runs the registered Handler on a decoded value (nil for none).
func invokeParams(value any) []byte {
	if value == nil {
		value = map[string]any{}
	}
	params, ok := value.(map[string]any)
	if !ok {
		return errorResult(fmt.Errorf("parameters must be a JSON object, not %s", jsonKind(value)))
	}
	return call(func(ctx context.Context) (any, error) { return registered.params(ctx, params) })
}

func jsonKind(v any) string {
	switch v.(type) {
	case []any:
		return "an array"
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	}
	return "null"
}

// call runs f with the activation's context and returns its result as one line of JSON. It never
// panics: a panic becomes an application error.
func call(f func(ctx context.Context) (any, error)) (out []byte) {
	act := activationFromEnv()
	ctx := context.WithValue(context.Background(), activationKey{}, act)
	if !act.Deadline.IsZero() {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, act.Deadline)
		defer cancel()
	}
	defer func() {
		if p := recover(); p != nil {
			fmt.Fprintf(os.Stderr, "action panicked: %v\n%s", p, debug.Stack())
			out = errorResult(fmt.Errorf("action panicked: %v", p))
		}
	}()
	result, err := f(ctx)
	if err != nil {
		return errorResult(err)
	}
	if raw, ok := result.(json.RawMessage); ok {
		return compact(raw)
	}
	b, err := json.Marshal(result)
	if err != nil {
		return errorResult(fmt.Errorf("cannot encode the result: %w", err))
	}
	return b
}

// compact removes newlines so the result stays one line, as the protocols require.
func compact(raw []byte) []byte {
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return bytes.ReplaceAll(raw, []byte("\n"), nil)
	}
	return buf.Bytes()
}

func errorResult(err error) []byte {
	b, _ := json.Marshal(map[string]string{"error": err.Error()})
	return b
}
