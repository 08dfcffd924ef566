// Package actionproxy serves OpenWhisk's action runtime contract, POST /init and POST /run
// (apache/openwhisk docs/actions-new.md, "Action Interface"), in front of a runtime.Executor. It decodes and validates
// payloads, manages the init-once state, the per-activation __OW_* context, log sentinels and
// response framing; it knows nothing of how the action runs.
package actionproxy

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/mux"

	"github.com/wasmwhisk/wasmwhisk/runtime"
	"github.com/wasmwhisk/wasmwhisk/runtime/archive"
)

// DefaultMaxBodyBytes bounds /init and /run bodies: OpenWhisk's largest action (48 MiB) base64-encoded
// fits, with room for the JSON around it.
const DefaultMaxBodyBytes = 72 << 20

// Config configures a Proxy. The zero value of every field but Executor is usable.
type Config struct {
	// Executor hosts the action.
	Executor runtime.Executor
	// Stdout and Stderr are the container's log streams (default os.Stdout and os.Stderr).
	Stdout, Stderr io.Writer
	// AllowConcurrent serves several /run calls at once (the action's limits.concurrency > 1);
	// otherwise runs are serialised.
	AllowConcurrent bool
	// AllowReinit accepts a second /init (local debugging only; OpenWhisk never allows it).
	AllowReinit bool
	// MaxBodyBytes caps request bodies (default DefaultMaxBodyBytes).
	MaxBodyBytes int64
	// Environ is the proxy's own environment in "K=V" form, from which __OW_* variables set on the
	// container (such as __OW_API_HOST) reach every activation (default os.Environ()).
	Environ []string
	// Setenv exports the init env into the process before the action loads (default os.Setenv;
	// set it to a no-op when several proxies share one process).
	Setenv func(key, value string) error
	// CodeCache, shared by the proxies of a process, keeps decoded /init code for the next /init
	// of the same code (nil: every /init decodes its code).
	CodeCache *CodeCache
}

// Proxy is the HTTP side of an action container.
type Proxy struct {
	cfg  Config
	logs *logSink

	initMu      sync.Mutex
	initialized bool
	initEnv     map[string]string

	runMu sync.Mutex // serialises runs unless AllowConcurrent
}

// New returns a Proxy for cfg.
func New(cfg Config) *Proxy {
	if cfg.Stdout == nil {
		cfg.Stdout = os.Stdout
	}
	if cfg.Stderr == nil {
		cfg.Stderr = os.Stderr
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if cfg.Environ == nil {
		cfg.Environ = os.Environ()
	}
	if cfg.Setenv == nil {
		cfg.Setenv = os.Setenv
	}
	return &Proxy{cfg: cfg, logs: newLogSink(cfg.Stdout, cfg.Stderr)}
}

// Handler returns the HTTP handler with exactly the two routes of the contract.
func (p *Proxy) Handler() http.Handler {
	r := mux.NewRouter()
	r.HandleFunc("/init", p.handleInit).Methods(http.MethodPost)
	r.HandleFunc("/run", p.handleRun).Methods(http.MethodPost)
	r.NotFoundHandler = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		writeError(w, http.StatusNotFound, "not found: the action proxy serves POST /init and POST /run")
	})
	r.MethodNotAllowedHandler = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		writeError(w, http.StatusMethodNotAllowed, "method not allowed: use POST")
	})
	return r
}

// Close releases the executor.
func (p *Proxy) Close() error { return p.cfg.Executor.Close() }

// initMessage is the /init body. Fields are raw so that null, missing and odd types are tolerated.
type initMessage struct {
	Value *struct {
		Name   string                     `json:"name"`
		Main   string                     `json:"main"`
		Binary bool                       `json:"binary"`
		Code   *string                    `json:"code"`
		Env    map[string]json.RawMessage `json:"env"`
	} `json:"value"`
}

func (p *Proxy) handleInit(w http.ResponseWriter, r *http.Request) {
	body, status, err := readBody(w, r, p.cfg.MaxBodyBytes)
	if err != nil {
		p.initFailed(w, status, err.Error(), "")
		return
	}
	var msg initMessage
	// Fast path: base64 code is decoded from the request bytes as they are (see splitCode). The
	// decoder checks the alphabet and the padding; line breaks, which it would skip but JSON
	// forbids in a string, send the body down the ordinary path.
	var decoded []byte
	if rest, code, ok := splitCode(body); ok && len(code) > 0 && bytes.IndexByte(code, '\n') < 0 && bytes.IndexByte(code, '\r') < 0 {
		if err := json.Unmarshal(rest, &msg); err == nil && msg.Value != nil {
			decoded, err = p.cfg.CodeCache.decode(code)
			if err != nil {
				decoded = nil
			}
		}
		if decoded == nil {
			msg = initMessage{}
		}
	}
	if decoded == nil {
		if err := json.Unmarshal(body, &msg); err != nil {
			p.initFailed(w, http.StatusBadRequest, msgUnmarshal+err.Error(), "")
			return
		}
	}

	p.initMu.Lock()
	defer p.initMu.Unlock()
	if p.initialized && !p.cfg.AllowReinit {
		// Logged, but no sentinels: the conformance suite counts none for a rejected re-init.
		p.logs.line(streamStderr, msgReinit)
		writeError(w, http.StatusForbidden, msgReinit)
		return
	}

	req := runtime.InitRequest{Main: "main", Env: map[string]string{}}
	if v := msg.Value; v != nil {
		req.Name = v.Name
		if v.Main != "" {
			req.Main = v.Main
		}
		for k, raw := range v.Env {
			req.Env[k] = envString(raw)
		}
		switch {
		case decoded != nil:
			req.Code = decoded
		case v.Code != nil:
			code, err := decodeCode(*v.Code, v.Binary)
			if err != nil {
				p.initFailed(w, http.StatusBadRequest, msgDecode+err.Error(), "")
				return
			}
			req.Code = code
		}
	}
	// Exported before the action loads, so that code reading its environment at load time sees it.
	for k, v := range req.Env {
		if err := p.cfg.Setenv(k, v); err != nil {
			p.initFailed(w, http.StatusBadRequest, fmt.Sprintf("cannot export %q: %v", k, err), "")
			return
		}
	}
	if err := p.cfg.Executor.Init(r.Context(), req); err != nil {
		if errors.Is(err, runtime.ErrNoCode) {
			writeError(w, http.StatusForbidden, msgNoCode)
			return
		}
		status, message := classify(err)
		p.initFailed(w, status, message, err.Error())
		return
	}
	p.initialized = true
	p.initEnv = req.Env
	writeJSON(w, http.StatusOK, []byte(`{"ok":true}`))
}

// initFailed answers a failed /init as OpenWhisk's runtimes do: a line saying why in the log
// (detail, or the message when detail is empty), one sentinel on each stream, then the error.
func (p *Proxy) initFailed(w http.ResponseWriter, status int, message, detail string) {
	if detail == "" {
		detail = message
	}
	p.logs.line(streamStderr, "init: "+detail)
	p.logs.sentinels()
	writeError(w, status, message)
}

func (p *Proxy) handleRun(w http.ResponseWriter, r *http.Request) {
	arrival := time.Now()
	stdout, stderr := p.logs.activation()
	status, body := p.run(r.Context(), r, w, arrival, stdout, stderr)
	stdout.Close()
	stderr.Close()
	p.logs.sentinels()
	writeJSON(w, status, body)
}

func (p *Proxy) run(ctx context.Context, r *http.Request, w http.ResponseWriter, arrival time.Time, stdout, stderr *lineWriter) (int, []byte) {
	raw, status, err := readBody(w, r, p.cfg.MaxBodyBytes)
	if err != nil {
		return status, errorBody(err.Error())
	}
	var msg map[string]json.RawMessage
	if err := json.Unmarshal(raw, &msg); err != nil {
		return http.StatusBadRequest, errorBody(msgUnmarshal + err.Error())
	}
	p.initMu.Lock()
	initialized, initEnv := p.initialized, p.initEnv
	p.initMu.Unlock()
	if !initialized {
		return http.StatusInternalServerError, errorBody(msgNotInitialized)
	}

	value := bytes.TrimSpace(msg["value"])
	if len(value) == 0 || string(value) == "null" {
		value = []byte("{}")
	}
	if value[0] != '{' && value[0] != '[' {
		return http.StatusNotFound, errorBody(msgBadArgument)
	}
	req := runtime.RunRequest{
		Value:   json.RawMessage(value),
		Context: map[string]string{},
		Env:     map[string]string{},
		Stdout:  stdout,
		Stderr:  stderr,
	}
	line := map[string]json.RawMessage{"value": req.Value}
	for k, v := range msg {
		if k == "value" {
			continue
		}
		line[k] = v
		var s string
		if json.Unmarshal(v, &s) == nil {
			req.Context[k] = s
		} else if k == "deadline" {
			// The invoker sends a string; the docs say number. Accept both.
			req.Context[k] = string(bytes.TrimSpace(v))
		}
	}
	if ms, err := strconv.ParseInt(req.Context["deadline"], 10, 64); err == nil && ms > arrival.UnixMilli() {
		req.Deadline = time.UnixMilli(ms)
	}
	for k, v := range initEnv {
		req.Env[k] = v
	}
	for _, kv := range p.cfg.Environ {
		if k, v, ok := strings.Cut(kv, "="); ok && strings.HasPrefix(k, "__OW_") {
			req.Env[k] = v
		}
	}
	for k, v := range req.Context {
		req.Env["__OW_"+strings.ToUpper(k)] = v
	}
	if req.Line, err = json.Marshal(line); err != nil {
		return http.StatusBadRequest, errorBody(msgUnmarshal + err.Error())
	}

	if !p.cfg.AllowConcurrent {
		p.runMu.Lock()
		defer p.runMu.Unlock()
	}
	result, err := p.cfg.Executor.Run(ctx, req)
	if err != nil {
		var timeout *runtime.TimeoutError
		if errors.As(err, &timeout) {
			fmt.Fprintf(stderr, "%v\n", err)
			return http.StatusBadGateway, errorBody(timeLimitMessage(req.Context["deadline"], arrival))
		}
		status, message := classify(err)
		fmt.Fprintf(stderr, "%v\n", err)
		return status, errorBody(message)
	}
	result = bytes.TrimSpace(result)
	if len(result) == 0 || (result[0] != '{' && result[0] != '[') || !json.Valid(result) {
		// The message goes in the response only: OpenWhisk's BasicActionRunnerTests ("run and
		// report an error for function not returning a json object") require both streams to be
		// empty but for the sentinels.
		return http.StatusBadGateway, errorBody(msgNotDictionary)
	}
	return http.StatusOK, result
}

// timeLimitMessage is OpenWhisk's timeout text. The proxy is not told limits.timeout; the invoker
// sets deadline = now + timeout just before the call, so deadline − arrival recovers it.
func timeLimitMessage(deadline string, arrival time.Time) string {
	ms, err := strconv.ParseInt(deadline, 10, 64)
	if err != nil || ms <= 0 {
		return "The action exceeded its time limits."
	}
	limit := time.UnixMilli(ms).Sub(arrival).Round(time.Millisecond)
	if limit < 0 {
		limit = 0
	}
	return fmt.Sprintf(msgTimeLimitFormat, limit.Milliseconds())
}

// classify maps an executor error to the HTTP status and the client-visible message.
func classify(err error) (int, string) {
	var rerr *runtime.Error
	if errors.As(err, &rerr) {
		status := rerr.Status
		if status == 0 {
			status = http.StatusBadGateway
		}
		return status, rerr.Message
	}
	return http.StatusBadGateway, err.Error()
}

// decodeCode decides by content whether code is base64, as the controller does, rather than
// trusting the flag; code flagged binary that is not base64 is an error.
func decodeCode(code string, binary bool) ([]byte, error) {
	trimmed := strings.TrimSpace(code)
	if archive.IsBase64(trimmed) {
		return decodeBase64([]byte(trimmed))
	}
	if binary && trimmed != "" {
		return nil, errors.New("code is flagged binary but is not standard base64")
	}
	return []byte(code), nil
}

// decodeBase64 decodes standard base64 (white space around it allowed).
func decodeBase64(b []byte) ([]byte, error) {
	return decodeBase64Strict(bytes.TrimSpace(b))
}

// decodeBase64Strict decodes standard base64 with nothing around it.
func decodeBase64Strict(b []byte) ([]byte, error) {
	out := make([]byte, base64.StdEncoding.DecodedLen(len(b)))
	n, err := base64.StdEncoding.Decode(out, b)
	if err != nil {
		return nil, err
	}
	return out[:n], nil
}

// envString stringifies an init env value as the invoker does: strings as is, null as "", other
// JSON as its compact text.
func envString(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	trimmed := bytes.TrimSpace(raw)
	if string(trimmed) == "null" {
		return ""
	}
	var buf bytes.Buffer
	if json.Compact(&buf, trimmed) == nil {
		return buf.String()
	}
	return string(trimmed)
}

// readBody reads a request body under the size limit, into one buffer of the announced length
// (io.ReadAll would grow its buffer some twenty times, copying, for a 14 MB /init).
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, int, error) {
	var buf bytes.Buffer
	if n := r.ContentLength; n > 0 && n <= limit {
		buf.Grow(int(n) + bytes.MinRead) // ReadFrom wants MinRead bytes free to see the end
	}
	_, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, limit))
	body := buf.Bytes()
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, http.StatusRequestEntityTooLarge, fmt.Errorf(msgBodyTooLarge, limit)
		}
		return nil, http.StatusBadRequest, fmt.Errorf("cannot read the request: %w", err)
	}
	return body, 0, nil
}

func errorBody(message string) []byte {
	b, _ := json.Marshal(map[string]string{"error": message})
	return b
}

func writeError(w http.ResponseWriter, status int, message string) {
	writeJSON(w, status, errorBody(message))
}

// writeJSON always sets Content-Length: the invoker treats a chunked response as no response.
func writeJSON(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	w.Write(body)
}
