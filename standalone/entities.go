package standalone

import (
	"github.com/wasmwhisk/wasmwhisk/runtime/archive"

	"encoding/json"
	"regexp"
	"strings"
)

// KeyValue is an OpenWhisk parameter or annotation: {"key": k, "value": v} with, for
// parameters, an optional "init": true (exported as /init env instead of a /run argument).
type KeyValue struct {
	Key   string          `json:"key"`
	Value json.RawMessage `json:"value"`
	Init  bool            `json:"init,omitempty"`
}

// Exec is an action's executable part.
type Exec struct {
	Kind   string  `json:"kind"`
	Code   *string `json:"code,omitempty"`
	Image  string  `json:"image,omitempty"`
	Main   string  `json:"main,omitempty"`
	Binary bool    `json:"binary"`
	// Components are a sequence's actions as fully qualified names with a leading slash
	// ("/guest/a", "/guest/pkg/b"), in order.
	Components []string `json:"components,omitempty"`
}

// MarshalJSON writes a sequence's exec as OpenWhisk does: kind and components only.
func (e Exec) MarshalJSON() ([]byte, error) {
	type plain Exec
	if e.Kind == KindSequence {
		return json.Marshal(struct {
			Kind       string   `json:"kind"`
			Components []string `json:"components"`
		}{e.Kind, e.Components})
	}
	return json.Marshal(plain(e))
}

// Limits are an action's limits: timeout in ms, memory and logs in MB, concurrent activations per
// container.
type Limits struct {
	Timeout     int `json:"timeout"`
	Memory      int `json:"memory"`
	Logs        int `json:"logs"`
	Concurrency int `json:"concurrency"`
}

// Action is the stored action entity (SPEC §4.3).
type Action struct {
	Namespace   string     `json:"namespace"`
	Name        string     `json:"name"`
	Version     string     `json:"version"`
	Publish     bool       `json:"publish"`
	Exec        Exec       `json:"exec"`
	Parameters  []KeyValue `json:"parameters"`
	Limits      Limits     `json:"limits"`
	Annotations []KeyValue `json:"annotations"`
	Updated     int64      `json:"updated"`
}

// Annotation returns the value of annotation key and whether it is present.
func annotation(list []KeyValue, key string) (json.RawMessage, bool) {
	for _, kv := range list {
		if kv.Key == key {
			return kv.Value, true
		}
	}
	return nil, false
}

// setAnnotation replaces or appends annotation key.
func setAnnotation(list []KeyValue, key string, value any) []KeyValue {
	raw, _ := json.Marshal(value)
	for i := range list {
		if list[i].Key == key {
			list[i].Value = raw
			return list
		}
	}
	return append(list, KeyValue{Key: key, Value: raw})
}

// Response is an activation's result as stored: the internal status code 0-3, the result object
// (or array for status 0) and the size of the proxy's raw body when the result came from it.
type Response struct {
	StatusCode int             `json:"statusCode"`
	Result     json.RawMessage `json:"result,omitempty"`
	Size       *int            `json:"size,omitempty"`
}

// Activation is the stored activation record (SPEC §3.1).
type Activation struct {
	Namespace    string     `json:"namespace"`
	Name         string     `json:"name"`
	Subject      string     `json:"subject"`
	ActivationID string     `json:"activationId"`
	Start        int64      `json:"start"`
	End          int64      `json:"end"`
	Duration     int64      `json:"duration"`
	Cause        string     `json:"cause,omitempty"`
	Response     Response   `json:"response"`
	Logs         []string   `json:"logs"`
	Version      string     `json:"version"`
	Publish      bool       `json:"publish"`
	Annotations  []KeyValue `json:"annotations"`
}

// Activation status codes (SPEC §3.2).
const (
	StatusSuccess          = 0
	StatusApplicationError = 1
	StatusDeveloperError   = 2
	StatusWhiskError       = 3
)

var statusNames = [...]string{"success", "application error", "action developer error", "whisk internal error"}

// apiResponse is the API form of Response: status and success instead of statusCode.
type apiResponse struct {
	Status  string          `json:"status"`
	Success bool            `json:"success"`
	Result  json.RawMessage `json:"result,omitempty"`
	Size    *int            `json:"size,omitempty"`
}

func (r Response) api() apiResponse {
	name := "whisk internal error"
	if r.StatusCode >= 0 && r.StatusCode < len(statusNames) {
		name = statusNames[r.StatusCode]
	}
	return apiResponse{Status: name, Success: r.StatusCode == 0, Result: r.Result, Size: r.Size}
}

// apiActivation is the API form of a record (GET activation, blocking invoke, list with docs).
type apiActivation struct {
	Namespace    string      `json:"namespace"`
	Name         string      `json:"name"`
	Version      string      `json:"version"`
	Subject      string      `json:"subject"`
	ActivationID string      `json:"activationId"`
	Start        int64       `json:"start"`
	End          int64       `json:"end,omitempty"`
	Duration     *int64      `json:"duration,omitempty"`
	Cause        string      `json:"cause,omitempty"`
	Response     apiResponse `json:"response"`
	Logs         []string    `json:"logs"`
	Annotations  []KeyValue  `json:"annotations"`
	Publish      bool        `json:"publish"`
}

func (a *Activation) api(withLogs bool) apiActivation {
	out := apiActivation{
		Namespace: a.Namespace, Name: a.Name, Version: a.Version, Subject: a.Subject,
		ActivationID: a.ActivationID, Start: a.Start, End: a.End, Cause: a.Cause,
		Response: a.Response.api(), Logs: []string{}, Annotations: a.Annotations, Publish: false,
	}
	if a.End != 0 {
		d := a.Duration
		out.Duration = &d
	}
	if withLogs && a.Logs != nil {
		out.Logs = a.Logs
	}
	if out.Annotations == nil {
		out.Annotations = []KeyValue{}
	}
	return out
}

// summaryActivation is a list row without docs=true (SPEC §3.6).
type summaryActivation struct {
	Namespace    string     `json:"namespace"`
	Name         string     `json:"name"`
	Version      string     `json:"version"`
	Publish      bool       `json:"publish"`
	Annotations  []KeyValue `json:"annotations"`
	ActivationID string     `json:"activationId"`
	Start        int64      `json:"start"`
	End          int64      `json:"end,omitempty"`
	Duration     *int64     `json:"duration,omitempty"`
	Cause        string     `json:"cause,omitempty"`
	StatusCode   *int       `json:"statusCode,omitempty"`
}

func (a *Activation) summary() summaryActivation {
	out := summaryActivation{
		Namespace: a.Namespace, Name: a.Name, Version: a.Version, Annotations: a.Annotations,
		ActivationID: a.ActivationID, Start: a.Start, End: a.End, Cause: a.Cause,
	}
	if a.End != 0 {
		d := a.End - a.Start
		sc := a.Response.StatusCode
		out.Duration, out.StatusCode = &d, &sc
	}
	if out.Annotations == nil {
		out.Annotations = []KeyValue{}
	}
	return out
}

var entityNameRE = regexp.MustCompile(`\A([\w]|[\w][\w@ .&-]{0,254}[\w@.&-])\z`)

// isBinaryCode is the controller's rule for exec.binary (SPEC §1.2).
func isBinaryCode(code string) bool {
	return archive.IsBase64(code)
}

// bumpPatch returns version with its patch number incremented ("0.0.1" -> "0.0.2").
func bumpPatch(version string) string {
	parts := strings.Split(version, ".")
	if len(parts) != 3 {
		return "0.0.1"
	}
	n := 0
	for _, c := range parts[2] {
		if c < '0' || c > '9' {
			return "0.0.1"
		}
		n = n*10 + int(c-'0')
	}
	return parts[0] + "." + parts[1] + "." + itoa(n+1)
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// Package is the stored package or package binding entity (OpenWhisk's WhiskPackage). A binding
// refers to a package (its Binding is set) and adds parameters; it holds no actions itself.
type Package struct {
	Namespace   string     `json:"namespace"`
	Name        string     `json:"name"`
	Binding     Binding    `json:"binding"`
	Parameters  []KeyValue `json:"parameters"`
	Version     string     `json:"version"`
	Publish     bool       `json:"publish"`
	Annotations []KeyValue `json:"annotations"`
	Updated     int64      `json:"updated"`
}

// IsBinding says whether the package is a binding.
func (p *Package) IsBinding() bool { return p.Binding.Name != "" }

// Binding names the package a binding refers to; the zero value (no binding) is written as {}.
type Binding struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
}

// MarshalJSON writes the absent binding as {}, as OpenWhisk stores and serves it.
func (b Binding) MarshalJSON() ([]byte, error) {
	if b.Name == "" && b.Namespace == "" {
		return []byte("{}"), nil
	}
	type plain Binding
	return json.Marshal(plain(b))
}

// mergeParameters returns base with over laid on it by key (over wins), in base's order followed by
// over's new keys: OpenWhisk's `base ++ over` on parameter maps.
func mergeParameters(base, over []KeyValue) []KeyValue {
	out := make([]KeyValue, 0, len(base)+len(over))
	out = append(out, base...)
	for _, kv := range over {
		replaced := false
		for i := range out {
			if out[i].Key == kv.Key {
				out[i] = kv
				replaced = true
				break
			}
		}
		if !replaced {
			out = append(out, kv)
		}
	}
	return out
}
