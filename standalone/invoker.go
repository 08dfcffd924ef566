package standalone

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/wasmwhisk/wasmwhisk/runtime"
)

// maxResultBytes is activation.payload.max: larger /run bodies are truncated (SPEC §1.3).
const maxResultBytes = 1 << 20

// Runtime is one managed kind of the runtimes manifest (SPEC §5.1) and how this platform runs it.
type Runtime struct {
	// Kind is the exec kind, e.g. "wasm:0.1".
	Kind string
	// Image is the Docker image for the docker backend.
	Image string
	// Executor is the actionproxy executor: "wasm" or "native".
	Executor string
	// Sentinelled says whether the runtime writes the log sentinels (true for this project's proxy).
	Sentinelled bool
}

// DefaultRuntimes are the kinds this platform serves besides blackbox, with the images that
// `make images` builds (standalone/docker checks that the two agree).
func DefaultRuntimes() []Runtime {
	return []Runtime{
		{Kind: KindWasm, Image: "wasmwhisk/wasm-runtime:0.1", Executor: "wasm", Sentinelled: true},
		{Kind: KindNative, Image: "wasmwhisk/native-runtime:0.1", Executor: "native", Sentinelled: true},
	}
}

// invocation is one activation request as the controller hands it to the invoker.
type invocation struct {
	action       *Action
	namespace    string // invoking namespace
	subject      string
	apiKey       string
	activationID string
	transID      string
	t0           time.Time
	value        json.RawMessage // merged parameters, a JSON object
	cause        string          // activation id of the enclosing sequence, if any
	binding      string          // "ns/binding" when the action was reached through a binding
}

// invoker runs activations in pool containers and builds their records (SPEC §3.4, §5.3).
type invoker struct {
	backend     Backend
	pool        *Pool
	runtimes    map[string]Runtime
	sentinelled []string // blackbox image prefixes whose proxies write sentinels
	apiHost     string
	logIdle     time.Duration
	log         *slog.Logger
	seq         atomic.Int64
	precompile  *precompiler // nil when precompilation is off
}

var unsafeNameChars = regexp.MustCompile(`[^a-zA-Z0-9_.-]`)

func (iv *invoker) containerSpec(inv *invocation) ContainerSpec {
	a := inv.action
	n := iv.seq.Add(1)
	spec := ContainerSpec{
		Name:        unsafeNameChars.ReplaceAllString(fmt.Sprintf("wsk0_%d_%s_%s", n, inv.namespace, a.Name), "_"),
		Kind:        a.Exec.Kind,
		MemoryMB:    a.Limits.Memory,
		Concurrency: max(a.Limits.Concurrency, 1),
		Env:         map[string]string{"__OW_API_HOST": iv.apiHost},
	}
	if spec.Concurrency > 1 {
		spec.Env["__OW_ALLOW_CONCURRENT"] = "true"
	}
	if a.Exec.Kind == KindBlackbox {
		spec.Image = a.Exec.Image
	} else if rt, ok := iv.runtimes[a.Exec.Kind]; ok {
		spec.Image, spec.Executor = rt.Image, rt.Executor
	}
	return spec
}

func (iv *invoker) stemSpec(cell StemCell, seq int) ContainerSpec {
	rt := iv.runtimes[cell.Kind]
	return ContainerSpec{
		Name: unsafeNameChars.ReplaceAllString(fmt.Sprintf("wsk0_prewarm_%d_%s", seq, cell.Kind), "_"),
		Kind: cell.Kind, Image: rt.Image, Executor: rt.Executor, MemoryMB: cell.MemoryMB,
		Concurrency: 1, Env: map[string]string{"__OW_API_HOST": iv.apiHost},
	}
}

func (iv *invoker) sentinelledKind(a *Action) bool {
	if a.Exec.Kind == KindBlackbox {
		for _, p := range iv.sentinelled {
			if strings.HasPrefix(a.Exec.Image, p) {
				return true
			}
		}
		return false
	}
	rt, ok := iv.runtimes[a.Exec.Kind]
	return ok && rt.Sentinelled
}

// warmKey identifies containers that may serve an activation warm: same invoking namespace and
// structurally the same action (name, version, exec, limits).
func warmKey(namespace string, a *Action) string {
	code := ""
	if a.Exec.Code != nil {
		code = strconv.Itoa(len(*a.Exec.Code))
	}
	return fmt.Sprintf("%s|%s/%s@%s|%s|%s|%s|%s|%d/%d/%d/%d", namespace, a.Namespace, a.Name, a.Version,
		a.Exec.Kind, a.Exec.Image, a.Exec.Main, code, a.Limits.Timeout, a.Limits.Memory, a.Limits.Logs, a.Limits.Concurrency)
}

// result of one try; retry asks the caller to schedule the activation again (503 from the
// proxy, resume failure).
type attemptResult struct {
	rec   *Activation
	retry bool
}

// invoke runs inv to completion and returns its record; it never returns nil.
func (iv *invoker) invoke(ctx context.Context, inv *invocation) *Activation {
	spec := iv.containerSpec(inv)
	key := warmKey(inv.namespace, inv.action)
	for attempt := 0; ; attempt++ {
		r := iv.attempt(ctx, inv, spec, key)
		if !r.retry || attempt >= 2 {
			if ctx.Err() != nil && r.rec.Response.StatusCode >= StatusDeveloperError {
				// ctx is the server's: it failed because the platform is stopping.
				return stoppedRecord(r.rec)
			}
			return r.rec
		}
	}
}

// timing collects the clock marks of SPEC §3.4.
type timing struct {
	t0, ti0, ti1, tr0, tr1 time.Time
	inited                 bool
}

func ms(d time.Duration) int64 { return int64(d / time.Millisecond) }

func (iv *invoker) attempt(ctx context.Context, inv *invocation, spec ContainerSpec, key string) attemptResult {
	a := inv.action
	timeout := time.Duration(a.Limits.Timeout) * time.Millisecond
	tm := timing{t0: inv.t0}
	pc, how, err := iv.pool.acquire(ctx, key, spec)
	if err != nil {
		return attemptResult{rec: iv.zeroRecord(inv, Response{StatusCode: StatusWhiskError, Result: errorResult(msgProvision)}, nil)}
	}
	state := "warm"
	switch how {
	case leaseCold:
		state = "cold"
		c, err := iv.backend.Create(ctx, spec)
		if err != nil {
			resp := Response{StatusCode: StatusWhiskError, Result: errorResult(msgProvision)}
			var re *runtime.Error
			if errors.As(err, &re) {
				resp.Result = errorResult(re.Message)
				if re.Status == http.StatusBadGateway {
					resp.StatusCode = StatusDeveloperError
				}
			}
			iv.log.Warn("invoker: create container", "action", a.Name, "err", err)
			iv.pool.initialized(pc, &resp)
			iv.pool.release(pc, true)
			return attemptResult{rec: iv.zeroRecord(inv, resp, nil)}
		}
		if !iv.pool.attach(pc, c, spec) {
			_ = c.Destroy(context.WithoutCancel(ctx))
			resp := Response{StatusCode: StatusWhiskError, Result: errorResult(msgProvision)}
			iv.pool.initialized(pc, &resp)
			iv.pool.release(pc, true)
			return attemptResult{rec: iv.zeroRecord(inv, resp, nil)}
		}
	case leasePrewarm:
		state = "prewarmed"
	case leaseJoin:
		select {
		case <-pc.initDone:
		case <-ctx.Done():
			iv.pool.release(pc, false)
			return attemptResult{rec: iv.zeroRecord(inv, Response{StatusCode: StatusWhiskError, Result: errorResult(msgRunExited)}, nil)}
		}
		if pc.initFail != nil {
			iv.pool.release(pc, true)
			return attemptResult{rec: iv.zeroRecord(inv, *pc.initFail, pc)}
		}
	case leaseWarm:
		pc.opMu.Lock()
		wasPaused := pc.paused
		pc.opMu.Unlock()
		if wasPaused {
			state = "resumed"
		}
		if err := iv.pool.resume(ctx, pc); err != nil {
			iv.log.Warn("invoker: resume container; rescheduling", "container", pc.c.ID(), "err", err)
			iv.pool.release(pc, true)
			return attemptResult{retry: true, rec: iv.zeroRecord(inv, Response{StatusCode: StatusWhiskError, Result: errorResult(msgRunExited)}, pc)}
		}
	}

	if how == leaseCold || how == leasePrewarm {
		// A compile of this code still running since the action was created: its end is worth
		// waiting for (in waitTime), as this /init would otherwise compile the module itself.
		iv.precompile.wait(ctx, a, timeout)
		tm.inited = true
		tm.ti0 = time.Now()
		ictx, cancel := context.WithTimeout(ctx, timeout)
		status, body, err := pc.c.Init(ictx, iv.initPayload(inv, wireDeadline(tm.ti0, timeout)))
		cancel()
		tm.ti1 = time.Now()
		if err != nil || status != 200 {
			resp, timedOut := classifyInit(status, body, err, tm.ti1.Sub(tm.ti0), a.Limits.Timeout)
			if timedOut {
				iv.precompile.retry(a) // so that the next cold start loads compiled code
			}
			lines := iv.collectLogs(ctx, pc)
			iv.pool.initialized(pc, &resp)
			iv.pool.release(pc, true)
			rec := iv.record(inv, resp, tm, pc, state, timedOut)
			rec.Start, rec.End = tm.ti0.UnixMilli(), tm.ti1.UnixMilli()
			rec.Duration = rec.End - rec.Start
			rec.Logs = formatLogs(lines, a.Limits.Logs)
			return attemptResult{rec: rec}
		}
		iv.pool.initialized(pc, nil)
	}

	tm.tr0 = time.Now()
	rctx, cancel := context.WithTimeout(ctx, timeout)
	status, body, err := pc.c.Run(rctx, iv.runPayload(inv, wireDeadline(tm.tr0, timeout)))
	cancel()
	tm.tr1 = time.Now()
	if err == nil && status == 503 {
		iv.log.Warn("invoker: proxy answered 503; rescheduling", "container", pc.c.ID())
		iv.pool.release(pc, true)
		return attemptResult{retry: true, rec: iv.zeroRecord(inv, Response{StatusCode: StatusWhiskError, Result: errorResult(msgRunExited)}, pc)}
	}
	resp, timedOut := classifyRun(status, body, err, tm.tr1.Sub(tm.tr0), a.Limits.Timeout)
	var lines []LogLine
	destroy := resp.StatusCode >= StatusDeveloperError
	if destroy {
		lines = iv.collectLogs(ctx, pc)
	} else {
		var logErr error
		lines, logErr = iv.collectLogsWait(ctx, pc, a)
		if logErr != nil {
			destroy = true
			lines = append(lines, LogLine{Time: time.Now().UTC(), Stream: "stderr", Text: msgLogsCollectFailed})
		}
	}
	iv.pool.release(pc, destroy)
	rec := iv.record(inv, resp, tm, pc, state, timedOut)
	rec.Logs = formatLogs(lines, a.Limits.Logs)
	return attemptResult{rec: rec}
}

// wireDeadline is the deadline sent to the proxy, start + timeout rounded up to the millisecond
// the payload carries: a proxy that enforces it (this project's does) then never stops the action
// before the invoker's own timeout has passed, which would record a timeout as an ordinary error
// with "timeout": false.
func wireDeadline(start time.Time, timeout time.Duration) time.Time {
	d := start.Add(timeout)
	if r := d.Sub(d.Truncate(time.Millisecond)); r > 0 {
		d = d.Add(time.Millisecond - r)
	}
	return d
}

// collectLogs reads what the container has written, without waiting for sentinels, after a
// developer error.
func (iv *invoker) collectLogs(ctx context.Context, pc *pooled) []LogLine {
	lctx, cancel := context.WithTimeout(ctx, iv.logIdle)
	defer cancel()
	lines, _ := pc.c.Logs(lctx, false)
	return append(lines, LogLine{Time: time.Now().UTC(), Stream: "stderr", Text: msgLogsDeveloperError})
}

func (iv *invoker) collectLogsWait(ctx context.Context, pc *pooled, a *Action) ([]LogLine, error) {
	lctx, cancel := context.WithTimeout(ctx, iv.logIdle)
	defer cancel()
	return pc.c.Logs(lctx, iv.sentinelledKind(a))
}

// zeroRecord is the record of an activation that never reached /run: start = end = now.
func (iv *invoker) zeroRecord(inv *invocation, resp Response, pc *pooled) *Activation {
	now := time.Now()
	rec := iv.record(inv, resp, timing{t0: inv.t0, tr0: now, tr1: now}, pc, "", false)
	return rec
}

// record builds the activation record from the clock marks (SPEC §3.4).
func (iv *invoker) record(inv *invocation, resp Response, tm timing, pc *pooled, state string, timedOut bool) *Activation {
	a := inv.action
	var initMs int64
	waitFrom := tm.tr0
	if tm.inited {
		initMs = ms(tm.ti1.Sub(tm.ti0))
		waitFrom = tm.ti0
	}
	rec := &Activation{
		Namespace: inv.namespace, Name: a.Name, Subject: inv.subject, ActivationID: inv.activationID,
		Start: tm.tr0.UnixMilli() - initMs, End: tm.tr1.UnixMilli(), Response: resp,
		Logs: []string{}, Version: a.Version,
	}
	rec.Duration = rec.End - rec.Start
	rec.Cause = inv.cause
	ann := []KeyValue{}
	ann = setAnnotation(ann, "path", a.Namespace+"/"+a.Name)
	ann = setAnnotation(ann, "waitTime", max(ms(waitFrom.Sub(tm.t0)), 0))
	ann = setAnnotation(ann, "kind", a.Exec.Kind)
	ann = setAnnotation(ann, "timeout", timedOut)
	ann = setAnnotation(ann, "limits", map[string]int{
		"concurrency": a.Limits.Concurrency, "logs": a.Limits.Logs, "memory": a.Limits.Memory, "timeout": a.Limits.Timeout,
	})
	if tm.inited {
		ann = setAnnotation(ann, "initTime", initMs)
	}
	if inv.cause != "" {
		ann = setAnnotation(ann, "causedBy", KindSequence)
	}
	if inv.binding != "" {
		ann = setAnnotation(ann, "binding", inv.binding)
	}
	ann = setAnnotation(ann, AnnotationBackend, iv.backend.Name())
	if pc != nil && pc.c != nil {
		ann = setAnnotation(ann, AnnotationContainer, pc.c.ID())
	}
	if state != "" {
		ann = setAnnotation(ann, AnnotationContainerState, state)
	}
	rec.Annotations = ann
	return rec
}

// Annotations this platform adds to activation records, namespaced so that they cannot clash with
// OpenWhisk's own.
const (
	// AnnotationBackend names the backend that ran the activation: docker, process or wasmhost.
	AnnotationBackend = "wasmwhisk.backend"
	// AnnotationContainer is the backend's container id.
	AnnotationContainer = "wasmwhisk.containerId"
	// AnnotationContainerState is how the container was obtained: cold, prewarmed, warm or resumed
	// (warm after unpause).
	AnnotationContainerState = "wasmwhisk.containerState"
)

func errorResult(msg string) json.RawMessage {
	b, _ := json.Marshal(map[string]string{"error": msg})
	return b
}

func errorValueResult(v json.RawMessage) json.RawMessage {
	var buf bytes.Buffer
	buf.WriteString(`{"error":`)
	buf.Write(v)
	buf.WriteByte('}')
	return buf.Bytes()
}

// javaLength is the length of b as a Java String (UTF-16 code units), which response.size
// counts; a byte that is not UTF-8 decodes to U+FFFD, one unit, as Java's decoder makes it.
func javaLength(b []byte) int {
	n := 0
	for _, r := range string(b) {
		n += utf16.RuneLen(r)
	}
	return n
}

// classifyInit maps a failed /init to the record response (SPEC §1.2).
func classifyInit(status int, body []byte, err error, elapsed time.Duration, timeoutMs int) (Response, bool) {
	timedOut := elapsed >= time.Duration(timeoutMs)*time.Millisecond
	switch {
	case err != nil && errors.Is(err, ErrOOM):
		return Response{StatusCode: StatusDeveloperError, Result: errorResult(msgOOM)}, timedOut
	case timedOut || (err != nil && errors.Is(err, context.DeadlineExceeded)):
		return Response{StatusCode: StatusDeveloperError, Result: errorResult(fmt.Sprintf(msgInitTimeLimit, timeoutMs))}, true
	case err != nil:
		return Response{StatusCode: StatusDeveloperError, Result: errorResult(msgInitExited)}, false
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(body, &obj) == nil {
		if e, ok := obj["error"]; ok {
			return Response{StatusCode: StatusDeveloperError, Result: errorValueResult(compact(e))}, false
		}
	}
	if len(body) == 0 {
		return Response{StatusCode: StatusDeveloperError, Result: errorResult(msgInitFailed)}, false
	}
	return Response{StatusCode: StatusDeveloperError, Result: errorResult(fmt.Sprintf(msgInitFailedBody, body))}, false
}

func compact(raw json.RawMessage) json.RawMessage {
	var buf bytes.Buffer
	if json.Compact(&buf, raw) != nil {
		return raw
	}
	return buf.Bytes()
}

// classifyRun maps a /run exchange to the record response (SPEC §1.3 table).
func classifyRun(status int, body []byte, err error, elapsed time.Duration, timeoutMs int) (Response, bool) {
	timedOut := elapsed >= time.Duration(timeoutMs)*time.Millisecond
	switch {
	case err != nil && errors.Is(err, ErrOOM):
		return Response{StatusCode: StatusDeveloperError, Result: errorResult(msgOOM)}, timedOut
	case timedOut || (err != nil && errors.Is(err, context.DeadlineExceeded)):
		return Response{StatusCode: StatusDeveloperError, Result: errorResult(fmt.Sprintf(msgTimeLimit, timeoutMs))}, true
	case err != nil:
		return Response{StatusCode: StatusDeveloperError, Result: errorResult(msgRunExited)}, false
	}
	size := javaLength(body)
	if len(body) > maxResultBytes {
		cut := body[:maxResultBytes]
		for len(cut) > 0 && !utf8.Valid(cut) {
			cut = cut[:len(cut)-1]
		}
		return Response{StatusCode: StatusApplicationError, Size: &size,
			Result: errorResult(fmt.Sprintf(msgTruncatedResponse, len(body), maxResultBytes, cut))}, false
	}
	invalid := Response{StatusCode: StatusDeveloperError, Size: &size, Result: errorResult(fmt.Sprintf(msgInvalidResponse, body))}
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return invalid, false
	}
	switch trimmed[0] {
	case '{':
		var obj map[string]json.RawMessage
		if json.Unmarshal(trimmed, &obj) != nil {
			return invalid, false
		}
		if e, ok := obj["error"]; ok {
			code := StatusApplicationError
			if status != 200 {
				code = StatusDeveloperError
			}
			return Response{StatusCode: code, Size: &size, Result: errorValueResult(compact(e))}, false
		}
		if status != 200 {
			return invalid, false
		}
		return Response{StatusCode: StatusSuccess, Size: &size, Result: compact(trimmed)}, false
	case '[':
		if status != 200 || !json.Valid(trimmed) {
			return invalid, false
		}
		return Response{StatusCode: StatusSuccess, Size: &size, Result: compact(trimmed)}, false
	}
	return invalid, false
}

// providesAPIKey applies the provide-api-key rule (SPEC §1.3): absent means provide; a falsy
// value (false, 0, "", null) means do not.
func providesAPIKey(a *Action) bool {
	v, ok := annotation(a.Annotations, "provide-api-key")
	if !ok {
		return true
	}
	switch strings.TrimSpace(string(v)) {
	case "false", "0", `""`, "null", "":
		return false
	}
	return true
}

// envString stringifies a parameter for /init env (SPEC §1.2).
func envString(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	t := strings.TrimSpace(string(raw))
	if t == "null" {
		return ""
	}
	return string(compact(json.RawMessage(t)))
}

func (iv *invoker) initPayload(inv *invocation, deadline time.Time) []byte {
	a := inv.action
	env := map[string]string{}
	for _, p := range a.Parameters {
		if p.Init {
			env[p.Key] = envString(p.Value)
		}
	}
	env["__OW_NAMESPACE"] = inv.namespace
	env["__OW_ACTION_NAME"] = "/" + a.Namespace + "/" + a.Name
	env["__OW_ACTION_VERSION"] = a.Version
	env["__OW_ACTIVATION_ID"] = inv.activationID
	env["__OW_TRANSACTION_ID"] = inv.transID
	env["__OW_DEADLINE"] = strconv.FormatInt(deadline.UnixMilli(), 10)
	if providesAPIKey(a) {
		env["__OW_API_KEY"] = inv.apiKey
	}
	return initBody(a, env)
}

// initBody is the /init body of action a with env.
func initBody(a *Action, env map[string]string) []byte {
	main := a.Exec.Main
	if main == "" {
		main = "main"
	}
	value := map[string]any{"name": a.Name, "main": main, "binary": a.Exec.Binary, "env": env}
	code := ""
	if a.Exec.Code != nil {
		code = *a.Exec.Code
	}
	if a.Exec.Binary {
		// Binary means base64 after trimming (isBinaryCode): what remains needs no JSON escapes.
		code = strings.TrimSpace(code)
	}
	if code == "" || !a.Exec.Binary {
		if code != "" {
			value["code"] = code
		}
		b, _ := json.Marshal(map[string]any{"value": value})
		return b
	}
	// Binary code is base64, which JSON carries without escapes: splice it in rather than have
	// encoding/json scan megabytes of it on every cold start.
	head, _ := json.Marshal(value)
	b := make([]byte, 0, len(head)+len(code)+20)
	b = append(b, `{"value":{"code":"`...)
	b = append(b, code...)
	b = append(b, `",`...)
	b = append(b, head[1:]...)
	return append(b, '}')
}

func (iv *invoker) runPayload(inv *invocation, deadline time.Time) []byte {
	a := inv.action
	body := map[string]any{
		"value":          inv.value,
		"namespace":      inv.namespace,
		"action_name":    "/" + a.Namespace + "/" + a.Name,
		"action_version": a.Version,
		"activation_id":  inv.activationID,
		"transaction_id": inv.transID,
		"deadline":       strconv.FormatInt(deadline.UnixMilli(), 10),
	}
	if providesAPIKey(a) {
		body["api_key"] = inv.apiKey
	}
	b, _ := json.Marshal(body)
	return b
}

// formatLogs renders lines in OpenWhisk's stored form (SPEC §1.4) and applies the logs limit
// (MB).
func formatLogs(lines []LogLine, limitMB int) []string {
	out := make([]string, 0, len(lines))
	limit := limitMB << 20
	if limit <= 0 {
		return out
	}
	total := 0
	for _, l := range lines {
		if total+len(l.Text) > limit {
			out = append(out, formatLogLine(time.Now().UTC(), "stderr", fmt.Sprintf(msgLogsTruncated, limit)))
			break
		}
		total += len(l.Text)
		out = append(out, formatLogLine(l.Time, l.Stream, l.Text))
	}
	return out
}

// formatLogLine is "<timestamp padded to 30> <stream>: <text>" with Java Instant's fraction style
// (0, 3, 6 or 9 digits).
func formatLogLine(t time.Time, stream, text string) string {
	t = t.UTC()
	frac := t.Nanosecond()
	ts := t.Format("2006-01-02T15:04:05")
	switch {
	case frac == 0:
	case frac%1_000_000 == 0:
		ts += fmt.Sprintf(".%03d", frac/1_000_000)
	case frac%1_000 == 0:
		ts += fmt.Sprintf(".%06d", frac/1_000)
	default:
		ts += fmt.Sprintf(".%09d", frac)
	}
	ts += "Z"
	return fmt.Sprintf("%-30s %s: %s", ts, stream, text)
}
