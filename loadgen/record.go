package loadgen

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/apache/openwhisk-client-go/whisk"
)

// Outcomes of an attempt that are not an activation status (the activation
// statuses are the record's response.status strings of SPEC §3.2).
const (
	StatusSuccess    = "success"
	StatusThrottled  = "throttled"  // HTTP 429: namespace rate or concurrency limit
	StatusOverloaded = "overloaded" // HTTP 503: no invoker could take it
	StatusFailed     = "failed"     // no activation record: transport error, other HTTP error, gave up polling
)

// Row is one invocation attempt: normally one activation with the figures of
// its record beside the latency seen by the client. All times are milliseconds.
type Row struct {
	// Action is the action as named on the command line.
	Action string `json:"action"`
	// Invoked is the name actually invoked (a fresh copy with -cold).
	Invoked     string `json:"invoked"`
	Kind        string `json:"kind"`
	Concurrency int    `json:"concurrency"`
	Repeat      int    `json:"repeat"`
	// Warmup rows are excluded from statistics.
	Warmup       bool   `json:"warmup"`
	ActivationID string `json:"activationId"`
	// Cold is true when the record has an initTime annotation.
	Cold     bool  `json:"cold"`
	WaitTime int64 `json:"waitTime"`
	InitTime int64 `json:"initTime"`
	Duration int64 `json:"duration"`
	// Run is duration − initTime: the /run part of the activation.
	Run int64 `json:"run"`
	// ClientLatency is the end-to-end time seen by loadgen, from the send
	// (the intended send time in open loop) to holding the record.
	ClientLatency float64 `json:"clientLatency"`
	// Status is the record's response.status, or one of throttled, overloaded, failed.
	Status     string `json:"status"`
	HTTPStatus int    `json:"httpStatus"`
	// Polled is true when the record had to be fetched after a 202 or 500.
	Polled bool `json:"polled"`
	// Start is the record's start, epoch milliseconds.
	Start int64 `json:"start"`
	// ContainerID is the record's wasmwhisk.containerId annotation (a wasmwhisk standalone's
	// container; empty elsewhere).
	ContainerID string `json:"containerId,omitempty"`
	// Result is the activation's result, kept with Plan.KeepResults.
	Result json.RawMessage `json:"result,omitempty"`
	Error  string          `json:"error,omitempty"`
}

// Total is the seeds' total latency: waitTime + duration.
func (r Row) Total() int64 { return r.WaitTime + r.Duration }

// HasRecord says the row describes a completed activation.
func (r Row) HasRecord() bool {
	return r.ActivationID != "" && r.Status != StatusFailed && r.Status != StatusThrottled && r.Status != StatusOverloaded
}

// fillFromRecord copies the timing fields of an API-form activation record (SPEC §3.1, §3.3).
func (r *Row) fillFromRecord(rec *whisk.Activation, keepResult bool) {
	r.ActivationID = rec.ActivationID
	if id, ok := rec.Annotations.GetValue(annotationContainer).(string); ok {
		r.ContainerID = id
	}
	if keepResult {
		if b, err := json.Marshal(rec.Response.Result); err == nil {
			r.Result = b
		}
	}
	r.Status = rec.Response.Status
	r.Duration = rec.Duration
	r.Start = rec.Start
	if k, ok := rec.Annotations.GetValue("kind").(string); ok {
		r.Kind = k
	}
	r.WaitTime, _ = annotationInt(rec.Annotations, "waitTime")
	r.InitTime, r.Cold = annotationInt(rec.Annotations, "initTime")
	r.Run = r.Duration - r.InitTime
	if r.Status != StatusSuccess && r.Error == "" {
		r.Error = truncate(resultError(rec.Response.Result), 300)
	}
}

// resultError renders the "error" field of a failed activation's result.
func resultError(result any) string {
	m, ok := result.(map[string]any)
	if !ok {
		return ""
	}
	switch e := m["error"].(type) {
	case nil:
		return ""
	case string:
		return e
	default:
		b, err := json.Marshal(e)
		if err != nil {
			return fmt.Sprint(e)
		}
		return string(b)
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// annotationInt reads a numeric annotation; ok is false when it is absent.
func annotationInt(ann whisk.KeyValueArr, key string) (int64, bool) {
	i := ann.FindKeyValue(key)
	if i < 0 {
		return 0, false
	}
	switch v := ann[i].Value.(type) {
	case json.Number:
		if n, err := v.Int64(); err == nil {
			return n, true
		}
		f, err := v.Float64()
		return int64(f), err == nil
	case float64:
		return int64(v), true
	case int64:
		return v, true
	case int:
		return int64(v), true
	case string:
		n, err := strconv.ParseInt(v, 10, 64)
		return n, err == nil
	}
	return 0, true
}

// annotationContainer is the container id a wasmwhisk standalone writes into its records.
const annotationContainer = "wasmwhisk.containerId"

// Phase is the wall time of one measured level (warm-up excluded), from which throughput is
// computed: Invocations / Seconds.
type Phase struct {
	Action      string  `json:"action"`
	Concurrency int     `json:"concurrency"`
	Repeat      int     `json:"repeat"`
	Invocations int     `json:"invocations"`
	Seconds     float64 `json:"seconds"`
}

// Dropped counts open-loop sends that found every worker busy and the queue full.
type Dropped struct {
	Action      string `json:"action"`
	Concurrency int    `json:"concurrency"`
	Repeat      int    `json:"repeat"`
	Count       int    `json:"count"`
}

// Meta describes a run: what was asked, against what, and how it ended.
type Meta struct {
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
	APIHost  string    `json:"apihost"`
	// Namespace is the namespace as given (often _).
	Namespace string `json:"namespace"`
	Plan      Plan   `json:"plan"`
	// Command is the command line, for the report.
	Command     string    `json:"command,omitempty"`
	Dropped     []Dropped `json:"dropped,omitempty"`
	Interrupted bool      `json:"interrupted"`
	// CleanupErrors lists cold-start copies that could not be deleted.
	CleanupErrors []string `json:"cleanupErrors,omitempty"`
	// Phases is the wall time of each measured level.
	Phases []Phase `json:"phases,omitempty"`
	// InProcess says the system under test ran inside loadgen's own process (-standalone
	// started it): one garbage collector and scheduler for both.
	InProcess bool `json:"inProcess,omitempty"`
	// Memory is the API host's memory report at the end of the run (warm-idle).
	Memory *MemoryReport `json:"memory,omitempty"`
	// MemoryUnavailable says why there is no memory report (e.g. a real OpenWhisk).
	MemoryUnavailable string `json:"memoryUnavailable,omitempty"`
}

// Result is what a run collected; raw.json holds exactly this.
type Result struct {
	Meta Meta  `json:"meta"`
	Rows []Row `json:"rows"`
}
