package standalone

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/mux"
)

const (
	maxInvokePayload = 1 << 20
	maxExecBytes     = 48 << 20
	maxParamBytes    = 1 << 20
	maxListLimit     = 200
	defaultListLimit = 30
)

type ctxKey int

const (
	keyT0 ctxKey = iota
	keyTransID
	keyIdentity
)

// Handler returns the controller's HTTP handler.
func (s *Server) Handler() http.Handler {
	r := mux.NewRouter()
	r.StrictSlash(false)
	r.HandleFunc("/", s.handleInfo).Methods(http.MethodGet)
	r.HandleFunc("/api/v1", s.handleAPIInfo).Methods(http.MethodGet)
	r.HandleFunc("/api/v1/", s.handleAPIInfo).Methods(http.MethodGet)
	r.PathPrefix(webPrefix).HandlerFunc(s.handleWeb)
	api := &authRoutes{r: r, s: s}
	api.HandleFunc("", s.handleNamespaces).Methods(http.MethodGet)
	api.HandleFunc("/", s.handleNamespaces).Methods(http.MethodGet)
	api.HandleFunc("/{ns}/limits", s.withNamespace(s.handleLimits)).Methods(http.MethodGet)
	api.HandleFunc("/{ns}/actions", s.withNamespace(s.handleListActions)).Methods(http.MethodGet)
	api.HandleFunc("/{ns}/actions/", s.withNamespace(s.handleListActions)).Methods(http.MethodGet)
	for _, path := range []string{"/{ns}/actions/{name}", "/{ns}/actions/{pkg}/{name}"} {
		api.HandleFunc(path, s.withNamespace(s.handlePutAction)).Methods(http.MethodPut)
		api.HandleFunc(path, s.withNamespace(s.handleGetAction)).Methods(http.MethodGet)
		api.HandleFunc(path, s.withNamespace(s.handleDeleteAction)).Methods(http.MethodDelete)
		api.HandleFunc(path, s.withNamespace(s.handleInvoke)).Methods(http.MethodPost)
	}
	api.HandleFunc("/{ns}/actions/{pkg}/", s.withNamespace(s.handleListPackageActions)).Methods(http.MethodGet)
	api.HandleFunc("/{ns}/packages", s.withNamespace(s.handleListPackages)).Methods(http.MethodGet)
	api.HandleFunc("/{ns}/packages/", s.withNamespace(s.handleListPackages)).Methods(http.MethodGet)
	api.HandleFunc("/{ns}/packages/{name}", s.withNamespace(s.handlePutPackage)).Methods(http.MethodPut)
	api.HandleFunc("/{ns}/packages/{name}", s.withNamespace(s.handleGetPackage)).Methods(http.MethodGet)
	api.HandleFunc("/{ns}/packages/{name}", s.withNamespace(s.handleDeletePackage)).Methods(http.MethodDelete)
	for _, collection := range []string{"triggers", "rules"} {
		api.HandleFunc("/{ns}/"+collection, s.withNamespace(emptyCollection(collection))).Methods(http.MethodGet)
		api.HandleFunc("/{ns}/"+collection+"/", s.withNamespace(emptyCollection(collection))).Methods(http.MethodGet)
		api.HandleFunc("/{ns}/"+collection+"/{name}", s.withNamespace(notStored)).Methods(http.MethodGet, http.MethodPut, http.MethodPost, http.MethodDelete)
	}
	api.HandleFunc("/{ns}/activations", s.withNamespace(s.handleListActivations)).Methods(http.MethodGet)
	api.HandleFunc("/{ns}/activations/", s.withNamespace(s.handleListActivations)).Methods(http.MethodGet)
	api.HandleFunc("/{ns}/activations/{id}", s.withNamespace(s.handleGetActivation)).Methods(http.MethodGet)
	api.HandleFunc("/{ns}/activations/{id}/", s.withNamespace(s.handleGetActivation)).Methods(http.MethodGet)
	api.HandleFunc("/{ns}/activations/{id}/result", s.withNamespace(s.handleActivationResult)).Methods(http.MethodGet)
	api.HandleFunc("/{ns}/activations/{id}/logs", s.withNamespace(s.handleActivationLogs)).Methods(http.MethodGet)
	r.Handle(memoryPathPrefix, s.authenticate(http.HandlerFunc(s.handleMemory))).Methods(http.MethodGet) // memory.go
	r.Handle(memoryPathPrefix+"/peak", s.authenticate(http.HandlerFunc(s.handleMemoryPeak))).Methods(http.MethodPost)
	notFound := s.stamp(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		writeError(w, req, http.StatusNotFound, msgNoResource)
	}))
	notAllowed := s.stamp(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		writeError(w, req, http.StatusMethodNotAllowed, fmt.Sprintf(msgMethodNotAllowed, "GET, PUT, POST, DELETE"))
	}))
	r.NotFoundHandler = notFound
	r.MethodNotAllowedHandler = notAllowed
	return s.stamp(r)
}

// authRoutes registers authenticated routes under /api/v1/namespaces (one router, so that a
// method mismatch is a 405, not a 404).
type authRoutes struct {
	r *mux.Router
	s *Server
}

func (a *authRoutes) HandleFunc(path string, h http.HandlerFunc) *mux.Route {
	return a.r.Handle("/api/v1/namespaces"+path, a.s.authenticate(h))
}

// stamp records T0 and the transaction id at request arrival, sets CORS headers and answers
// OPTIONS.
func (s *Server) stamp(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Web actions set their own CORS headers and may answer OPTIONS themselves.
		web := strings.HasPrefix(r.URL.Path, webPrefix)
		ctx := r.Context()
		if _, ok := ctx.Value(keyT0).(time.Time); !ok {
			ctx = context.WithValue(ctx, keyT0, time.Now())
			tid := r.Header.Get("X-Request-ID")
			if tid == "" || strings.HasPrefix(tid, "sid_") {
				tid = newID()
			}
			ctx = context.WithValue(ctx, keyTransID, tid)
			h := w.Header()
			h.Set("X-Request-ID", tid)
			if !web {
				h.Set("Access-Control-Allow-Origin", "*")
				h.Set("Access-Control-Allow-Methods", "GET, DELETE, POST, PUT, HEAD")
				h.Set("Access-Control-Allow-Headers", "Authorization, Origin, X-Requested-With, Content-Type, Accept, User-Agent")
			}
			r = r.WithContext(ctx)
		}
		if r.Method == http.MethodOptions && !web {
			w.WriteHeader(http.StatusOK)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func transID(r *http.Request) string {
	tid, _ := r.Context().Value(keyTransID).(string)
	return tid
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		status = http.StatusInternalServerError
		buf.Reset()
		buf.WriteString(`{"error":"cannot encode response"}`)
	}
	b := bytes.TrimRight(buf.Bytes(), "\n")
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// errorBody is OpenWhisk's ErrorResponse, its fields in OpenWhisk's order.
type errorBody struct {
	Error string `json:"error"`
	Code  string `json:"code"`
}

func writeError(w http.ResponseWriter, r *http.Request, status int, msg string) {
	writeJSON(w, status, errorBody{Error: msg, Code: transID(r)})
}

func (s *Server) handleInfo(w http.ResponseWriter, r *http.Request) {
	runtimes := map[string][]map[string]any{}
	kinds := make([]string, 0, len(s.runtimes))
	for k := range s.runtimes {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for _, k := range kinds {
		rt := s.runtimes[k]
		family, _, _ := strings.Cut(k, ":")
		runtimes[family] = append(runtimes[family], map[string]any{
			"kind": k, "image": rt.Image, "deprecated": false, "default": len(runtimes[family]) == 0,
			"attached": false, "requireMain": false,
		})
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"description": "OpenWhisk",
		"support":     map[string]string{"github": "https://github.com/apache/openwhisk/issues", "slack": "http://slack.openwhisk.org"},
		"api_paths":   []string{"/api/v1"},
		"limits": map[string]int{
			"actions_per_minute": 60, "triggers_per_minute": 60, "concurrent_actions": 30, "sequence_length": 50,
			"default_min_action_duration": 100, "default_max_action_duration": 300000,
			"default_min_action_memory": 128 << 20, "default_max_action_memory": 512 << 20,
			"default_min_action_logs": 0, "default_max_action_logs": 10 << 20,
			"min_action_duration": 100, "max_action_duration": 300000, "min_action_memory": 128 << 20,
			"max_action_memory": 512 << 20, "min_action_logs": 0, "max_action_logs": 10 << 20,
		},
		"runtimes": runtimes,
	})
}

func (s *Server) handleAPIInfo(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{
		"description": "OpenWhisk API", "api_version": "1.0.0", "api_version_path": "v1",
		"build": "wasmwhisk-standalone", "buildno": "0",
		"swagger_paths": map[string]string{"ui": "/docs", "api-docs": "/api-docs"},
	})
}

// authenticate checks HTTP Basic uuid:key against the identities.
func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, pass, ok := r.BasicAuth()
		if !ok {
			w.Header().Set("WWW-Authenticate", `Basic realm="OpenWhisk secure realm"`)
			writeError(w, r, http.StatusUnauthorized, msgAuthMissing)
			return
		}
		id, found := s.identities[user+":"+pass]
		if !found {
			w.Header().Set("WWW-Authenticate", `Basic realm="OpenWhisk secure realm"`)
			writeError(w, r, http.StatusUnauthorized, msgAuthInvalid)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), keyIdentity, id)))
	})
}

func identity(r *http.Request) Identity {
	id, _ := r.Context().Value(keyIdentity).(Identity)
	return id
}

// withNamespace resolves "_" and rejects other namespaces than the caller's.
func (s *Server) withNamespace(h func(w http.ResponseWriter, r *http.Request, ns string)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ns := mux.Vars(r)["ns"]
		id := identity(r)
		if ns == "_" {
			ns = id.Namespace
		}
		if !entityNameRE.MatchString(ns) {
			writeError(w, r, http.StatusBadRequest, msgIllegalNamespace)
			return
		}
		if ns != id.Namespace {
			target := ns
			if pkg := mux.Vars(r)["pkg"]; pkg != "" {
				target += "/" + pkg
			}
			if name := mux.Vars(r)["name"]; name != "" {
				target += "/" + name
			}
			writeError(w, r, http.StatusForbidden, fmt.Sprintf(msgNotAuthorized, target))
			return
		}
		h(w, r, ns)
	}
}

func (s *Server) handleNamespaces(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, []string{identity(r).Namespace})
}

func (s *Server) handleLimits(w http.ResponseWriter, r *http.Request, _ string) {
	writeJSON(w, http.StatusOK, map[string]any{
		"invocationsPerMinute": 60, "concurrentInvocations": 30, "firesPerMinute": 60,
		"minActionMemory": 128, "maxActionMemory": 512, "minActionLogs": 0, "maxActionLogs": 10,
		"minActionTimeout": 100, "maxActionTimeout": 300000, "minActionConcurrency": 1,
		"maxActionConcurrency": s.cfg.Limits.MaxConcurrency, "maxParameterSize": "1 MB", "maxActionInstances": 30,
	})
}

// readBody reads at most limit bytes; an empty body reads as "{}".
func readBody(r *http.Request, limit int64) ([]byte, int64, error) {
	data, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return nil, 0, err
	}
	if int64(len(data)) > limit {
		n := r.ContentLength
		if n < int64(len(data)) {
			n = int64(len(data))
		}
		return nil, n, errTooLarge
	}
	if len(bytes.TrimSpace(data)) == 0 {
		data = []byte("{}")
	}
	return data, int64(len(data)), nil
}

var errTooLarge = errors.New("body too large")

// actionPut is the PUT body; fields are pointers or raw so that "absent" differs from "empty".
type actionPut struct {
	Exec           *execPut        `json:"exec"`
	Parameters     *[]KeyValue     `json:"parameters"`
	Limits         *map[string]any `json:"limits"`
	Version        *string         `json:"version"`
	Publish        *bool           `json:"publish"`
	Annotations    []KeyValue      `json:"annotations"`
	DelAnnotations []string        `json:"delAnnotations"`
	Extra          map[string]any  `json:"-"`
}

type execPut struct {
	Kind       string          `json:"kind"`
	Code       json.RawMessage `json:"code"`
	Image      string          `json:"image"`
	Main       string          `json:"main"`
	Components json.RawMessage `json:"components"`
}

type httpError struct {
	status int
	msg    string
}

func (e *httpError) Error() string { return e.msg }

func badRequest(format string, args ...any) *httpError {
	return &httpError{status: http.StatusBadRequest, msg: fmt.Sprintf(format, args...)}
}

func malformed(detail string) *httpError {
	return &httpError{status: http.StatusBadRequest, msg: fmt.Sprintf(msgMalformed, detail)}
}

func (s *Server) validKinds() string {
	kinds := []string{KindBlackbox, KindSequence}
	for k := range s.runtimes {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	return "'" + strings.Join(kinds, "', '") + "'"
}

// buildExec validates exec and returns the stored form.
func (s *Server) buildExec(e *execPut) (Exec, *httpError) {
	kind := strings.ToLower(strings.TrimSpace(e.Kind))
	if strings.HasSuffix(kind, ":default") {
		family := strings.TrimSuffix(kind, ":default")
		for k := range s.runtimes {
			if strings.HasPrefix(k, family+":") {
				kind = k
				break
			}
		}
	}
	out := Exec{Kind: kind, Main: e.Main}
	var code *string
	if len(e.Code) > 0 && string(e.Code) != "null" {
		var c string
		if err := json.Unmarshal(e.Code, &c); err != nil {
			return out, malformed(fmt.Sprintf(msgCodeRequired, kind))
		}
		code = &c
	}
	switch {
	case kind == KindSequence:
		components, herr := parseComponents(e.Components)
		if herr != nil {
			return out, herr
		}
		out.Components = components
		return out, nil
	case kind == KindBlackbox:
		if strings.TrimSpace(e.Image) == "" {
			return out, malformed(msgImageRequired)
		}
		out.Image = strings.TrimSpace(e.Image)
	case s.runtimes[kind].Kind != "":
		if code == nil {
			return out, malformed(fmt.Sprintf(msgCodeRequired, kind))
		}
	default:
		return out, malformed(fmt.Sprintf(msgUnsupportedKind, kind, s.validKinds()))
	}
	out.Code = code
	if code != nil {
		out.Binary = isBinaryCode(*code)
	}
	return out, checkCode(out)
}

// applyLimits sets each given limit after checking it (SPEC §4.3).
func (s *Server) applyLimits(l *Limits, given map[string]any) *httpError {
	type bound struct {
		field    *int
		min, max int
		name     string
		below    string
		above    string
	}
	bounds := map[string]bound{
		"timeout":     {&l.Timeout, 100, 300000, "time", "duration %d milliseconds below allowed threshold of %d milliseconds", "duration %d milliseconds exceeds allowed threshold of %d milliseconds"},
		"memory":      {&l.Memory, 128, 512, "memory", "memory size %d MB below allowed threshold of %d MB", "memory size %d MB exceeds allowed threshold of %d MB"},
		"logs":        {&l.Logs, 0, 10, "log", "log size %d MB below allowed threshold of %d MB", "log size %d MB exceeds allowed threshold of %d MB"},
		"concurrency": {&l.Concurrency, 1, s.cfg.Limits.MaxConcurrency, "concurrency", "concurrency %d below allowed threshold of %d", "concurrency %d exceeds allowed threshold of %d"},
	}
	keys := make([]string, 0, len(given))
	for k := range given {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		b, ok := bounds[k]
		if !ok || given[k] == nil {
			continue
		}
		f, isNum := given[k].(float64)
		if !isNum || f != float64(int(f)) {
			return malformed(b.name + " limit must be whole number")
		}
		v := int(f)
		if v < b.min {
			return badRequest("requirement failed: "+b.below, v, b.min)
		}
		if v > b.max {
			return badRequest("requirement failed: "+b.above, v, b.max)
		}
		*b.field = v
	}
	return nil
}

func defaultLimits() Limits {
	return Limits{Timeout: 60000, Memory: DefaultActionMemoryMB, Logs: 10, Concurrency: 1}
}

func (s *Server) handlePutAction(w http.ResponseWriter, r *http.Request, userNS string) {
	pkg, name := actionVars(r)
	if !entityNameRE.MatchString(name) {
		writeError(w, r, http.StatusBadRequest, msgIllegalName)
		return
	}
	ns, err := s.writableActionPath(userNS, pkg)
	if err != nil {
		s.failure(w, r, err)
		return
	}
	body, n, err := readBody(r, maxExecBytes+2*maxParamBytes)
	if err != nil {
		if errors.Is(err, errTooLarge) {
			writeError(w, r, http.StatusRequestEntityTooLarge, fmt.Sprintf(msgRequestTooLarge, n, maxExecBytes+2*maxParamBytes))
			return
		}
		writeError(w, r, http.StatusBadRequest, fmt.Sprintf(msgMalformed, err.Error()))
		return
	}
	var put actionPut
	if err := json.Unmarshal(body, &put); err != nil {
		writeError(w, r, http.StatusBadRequest, fmt.Sprintf(msgMalformed, err.Error()))
		return
	}
	for field, v := range map[string]any{"parameters": put.Parameters, "annotations": put.Annotations} {
		if b, _ := json.Marshal(v); len(b) > maxParamBytes {
			writeError(w, r, http.StatusRequestEntityTooLarge, fmt.Sprintf("%s larger than allowed: %d > %d bytes.", field, len(b), maxParamBytes))
			return
		}
	}
	var exec *Exec
	if put.Exec != nil {
		if len(put.Exec.Code) > maxExecBytes {
			writeError(w, r, http.StatusRequestEntityTooLarge, fmt.Sprintf("exec larger than allowed: %d > %d bytes.", len(put.Exec.Code), maxExecBytes))
			return
		}
		e, herr := s.buildExec(put.Exec)
		if herr != nil {
			writeError(w, r, herr.status, herr.msg)
			return
		}
		if e.Kind == KindSequence {
			if err := s.checkSequence(userNS, "/"+ns+"/"+name, &e); err != nil {
				s.failure(w, r, err)
				return
			}
		}
		exec = &e
	}
	overwrite := r.URL.Query().Get("overwrite") == "true"
	now := time.Now().UnixMilli()
	var herr *httpError
	a, err := s.store.UpdateAction(ns, name, func(old *Action) (*Action, error) {
		var a Action
		if old == nil {
			if exec == nil {
				herr = badRequest(msgExecUndefined)
				return nil, herr
			}
			a = Action{Namespace: ns, Name: name, Version: "0.0.1", Limits: defaultLimits(), Parameters: []KeyValue{}, Annotations: []KeyValue{}}
		} else {
			if !overwrite {
				herr = &httpError{status: http.StatusConflict, msg: msgExists}
				return nil, herr
			}
			a = *old
			a.Version = bumpPatch(old.Version)
			kept := a.Annotations[:0:0]
			for _, kv := range old.Annotations {
				del := false
				for _, d := range put.DelAnnotations {
					del = del || d == kv.Key
				}
				if !del {
					kept = append(kept, kv)
				}
			}
			a.Annotations = kept
		}
		if exec != nil {
			a.Exec = *exec
		}
		switch {
		case exec != nil && exec.Kind == KindSequence:
			// OpenWhisk keeps a sequence's components as its only parameter; given parameters
			// are dropped.
			a.Parameters = sequenceParameters(exec.Components)
		case old != nil && old.Exec.Kind == KindSequence && exec == nil:
		case put.Parameters != nil:
			a.Parameters = *put.Parameters
		case old != nil && old.Exec.Kind == KindSequence:
			a.Parameters = []KeyValue{}
		}
		if put.Publish != nil {
			a.Publish = *put.Publish
		}
		if put.Version != nil && *put.Version != "" {
			a.Version = *put.Version
		}
		if put.Limits != nil {
			if e := s.applyLimits(&a.Limits, *put.Limits); e != nil {
				herr = e
				return nil, e
			}
		}
		_, hadKey := annotation(put.Annotations, "provide-api-key")
		for _, kv := range put.Annotations {
			a.Annotations = setAnnotation(a.Annotations, kv.Key, kv.Value)
		}
		if old == nil && !hadKey {
			a.Annotations = setAnnotation(a.Annotations, "provide-api-key", false)
		}
		a.Annotations = setAnnotation(a.Annotations, "exec", a.Exec.Kind)
		a.Updated = now
		if a.Parameters == nil {
			a.Parameters = []KeyValue{}
		}
		return &a, nil
	})
	if err != nil {
		if herr != nil {
			writeError(w, r, herr.status, herr.msg)
			return
		}
		writeError(w, r, http.StatusInternalServerError, err.Error())
		return
	}
	s.inv.precompile.schedule(a)
	writeJSON(w, http.StatusOK, a)
}

// actionView renders an action without code when withCode is false.
func actionView(a *Action, withCode bool) *Action {
	if withCode {
		return a
	}
	c := *a
	c.Exec.Code = nil
	return &c
}

func (s *Server) handleGetAction(w http.ResponseWriter, r *http.Request, ns string) {
	pkg, name := actionVars(r)
	a, _, err := s.resolveAction(ns, ns, pkg, name)
	if err != nil {
		s.failure(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, actionView(a, r.URL.Query().Get("code") != "false"))
}

func (s *Server) handleDeleteAction(w http.ResponseWriter, r *http.Request, userNS string) {
	pkg, name := actionVars(r)
	ns, err := s.writableActionPath(userNS, pkg)
	if err != nil {
		s.failure(w, r, err)
		return
	}
	a, err := s.store.DeleteAction(ns, name)
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, a)
}

func (s *Server) storeError(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, ErrNotFound) {
		writeError(w, r, http.StatusNotFound, msgNotFound)
		return
	}
	s.log.Error("store", "err", err)
	writeError(w, r, http.StatusInternalServerError, msgInternal)
}

// listParams parses limit, skip and count for collection (SPEC §4.4).
func listParams(r *http.Request, collection string) (limit, skip int, count bool, herr *httpError) {
	q := r.URL.Query()
	limit, skip = defaultListLimit, 0
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return 0, 0, false, badRequest(msgNotInteger, v, collection)
		}
		if n < 0 || n > maxListLimit {
			return 0, 0, false, badRequest(msgNotInRange, v, collection)
		}
		limit = n
		if n == 0 {
			limit = maxListLimit
		}
	}
	if v := q.Get("skip"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return 0, 0, false, badRequest(msgNotInteger, v, collection)
		}
		if n < 0 {
			return 0, 0, false, badRequest(msgNotNonNegative, v, collection)
		}
		skip = n
	}
	return limit, skip, q.Get("count") == "true", nil
}

type actionSummary struct {
	Namespace   string         `json:"namespace"`
	Name        string         `json:"name"`
	Version     string         `json:"version"`
	Publish     bool           `json:"publish"`
	Annotations []KeyValue     `json:"annotations"`
	Limits      Limits         `json:"limits"`
	Exec        map[string]any `json:"exec"`
	Updated     int64          `json:"updated"`
}

func (s *Server) handleListActions(w http.ResponseWriter, r *http.Request, ns string) {
	limit, skip, count, herr := listParams(r, "actions")
	if herr != nil {
		writeError(w, r, herr.status, herr.msg)
		return
	}
	actions, err := s.store.ListActions(ns)
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	if count {
		writeJSON(w, http.StatusOK, map[string]int{"actions": len(actions)})
		return
	}
	writeJSON(w, http.StatusOK, actionSummaries(actions, skip, limit))
}

// actionSummaries are the list rows of actions[skip:skip+limit].
func actionSummaries(actions []*Action, skip, limit int) []actionSummary {
	out := []actionSummary{}
	for i := skip; i < len(actions) && len(out) < limit; i++ {
		a := actions[i]
		out = append(out, actionSummary{Namespace: a.Namespace, Name: a.Name, Version: a.Version, Publish: a.Publish,
			Annotations: a.Annotations, Limits: a.Limits, Exec: map[string]any{"binary": a.Exec.Binary}, Updated: a.Updated})
	}
	return out
}

func (s *Server) handleInvoke(w http.ResponseWriter, r *http.Request, ns string) {
	t0, _ := r.Context().Value(keyT0).(time.Time)
	q := r.URL.Query()
	blocking := q.Get("blocking") == "true"
	resultOnly := q.Get("result") == "true"
	wait := s.cfg.BlockingTimeout
	if v := q.Get("timeout"); v != "" {
		n, err := strconv.Atoi(v)
		maxMs := int(s.cfg.BlockingTimeout / time.Millisecond)
		if err != nil || n < 1 || n > maxMs {
			writeError(w, r, http.StatusBadRequest, fmt.Sprintf(msgBlockingTimeout, maxMs))
			return
		}
		wait = time.Duration(n) * time.Millisecond
	}
	body, n, err := readBody(r, maxInvokePayload)
	if err != nil {
		if errors.Is(err, errTooLarge) {
			writeError(w, r, http.StatusRequestEntityTooLarge, fmt.Sprintf(msgRequestTooLarge, n, maxInvokePayload))
			return
		}
		writeError(w, r, http.StatusBadRequest, fmt.Sprintf(msgMalformed, err.Error()))
		return
	}
	var payload map[string]json.RawMessage
	if err := json.Unmarshal(body, &payload); err != nil {
		writeError(w, r, http.StatusBadRequest, fmt.Sprintf(msgMalformed, err.Error()))
		return
	}
	pkg, name := actionVars(r)
	a, binding, err := s.resolveAction(ns, ns, pkg, name)
	if err != nil {
		s.failure(w, r, err)
		return
	}
	value, herr := mergeParams(a, payload)
	if herr != nil {
		writeError(w, r, herr.status, herr.msg)
		return
	}
	if a.Exec.Kind == KindSequence {
		// A sequence passes the payload to its first component as it came.
		value = body
	}
	id := identity(r)
	inv := &invocation{
		action: a, namespace: id.Namespace, subject: id.Subject, apiKey: id.Key,
		activationID: newID(), transID: transID(r), t0: t0, value: value, binding: binding,
	}
	done, ok := s.startActivation(inv, !blocking)
	if !ok {
		writeError(w, r, http.StatusServiceUnavailable, msgUnavailable)
		return
	}
	w.Header().Set("x-openwhisk-activation-id", inv.activationID)
	accepted := map[string]string{"activationId": inv.activationID}
	if !blocking {
		writeJSON(w, http.StatusAccepted, accepted)
		return
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case rec := <-done:
		writeActivationResult(w, rec, resultOnly)
	case <-timer.C:
		if err := s.store.SyncAccepted(); err != nil {
			s.log.Error("accept activation", "activation", inv.activationID, "err", err)
		}
		writeJSON(w, http.StatusAccepted, accepted)
	case <-r.Context().Done():
	}
}

// writeActivationResult answers a finished blocking invoke (SPEC §4.4 table).
func writeActivationResult(w http.ResponseWriter, rec *Activation, resultOnly bool) {
	status := http.StatusOK
	switch rec.Response.StatusCode {
	case StatusApplicationError, StatusDeveloperError:
		status = http.StatusBadGateway
	case StatusWhiskError:
		status = http.StatusInternalServerError
	}
	res := bytes.TrimSpace(rec.Response.Result)
	if len(res) > 0 && res[0] == '[' {
		writeJSON(w, status, json.RawMessage(res))
		return
	}
	if resultOnly {
		if len(res) == 0 {
			res = []byte("{}")
		}
		writeJSON(w, status, json.RawMessage(res))
		return
	}
	// A primitive action's logs are collected after its result is sent (so: []); a sequence's
	// are its components' ids, known when it ends, and OpenWhisk sends them.
	writeJSON(w, status, rec.api(annotationIs(rec.Annotations, "kind", `"`+KindSequence+`"`)))
}

// mergeParams overlays the invoke payload on the action's parameters (init parameters go to
// /init env only) and rejects overriding final parameters.
func mergeParams(a *Action, payload map[string]json.RawMessage) (json.RawMessage, *httpError) {
	if overridesFinal(a, func(key string) bool { _, ok := payload[key]; return ok }) {
		return nil, badRequest(msgFinalParams)
	}
	return mergeObject(a, payload)
}

// overridesFinal says whether given names a parameter that the action's "final" annotation makes
// immutable: with final true, every parameter with a value other than null.
func overridesFinal(a *Action, given func(key string) bool) bool {
	if v, ok := annotation(a.Annotations, "final"); !ok || strings.TrimSpace(string(v)) != "true" {
		return false
	}
	for _, p := range a.Parameters {
		if given(p.Key) && len(p.Value) > 0 && string(p.Value) != "null" {
			return true
		}
	}
	return false
}

// mergeInput is the /run value of an action given input: input merged over the action's
// parameters when it is an object, an array as it is, the parameters alone when it is empty (as
// OpenWhisk's PrimitiveActions.invokeSimpleAction).
func mergeInput(a *Action, input json.RawMessage) json.RawMessage {
	t := bytes.TrimSpace(input)
	if len(t) > 0 && t[0] == '[' {
		return t
	}
	var payload map[string]json.RawMessage
	if len(t) > 0 && json.Unmarshal(t, &payload) != nil {
		payload = nil
	}
	v, herr := mergeObject(a, payload)
	if herr != nil {
		return json.RawMessage("{}")
	}
	return v
}

// mergeObject is payload over the action's run parameters, as a JSON object.
func mergeObject(a *Action, payload map[string]json.RawMessage) (json.RawMessage, *httpError) {
	merged := map[string]json.RawMessage{}
	for _, p := range a.Parameters {
		if !p.Init {
			merged[p.Key] = p.Value
		}
	}
	for k, v := range payload {
		merged[k] = v
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(merged); err != nil {
		return nil, malformed(err.Error())
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

var namePathRE = regexp.MustCompile(`^[^/]+(/[^/]+)?$`)

func (s *Server) handleListActivations(w http.ResponseWriter, r *http.Request, ns string) {
	limit, skip, count, herr := listParams(r, "activations")
	if herr != nil {
		writeError(w, r, herr.status, herr.msg)
		return
	}
	q := r.URL.Query()
	docs := q.Get("docs") == "true"
	if docs && count {
		writeError(w, r, http.StatusBadRequest, msgDocsWithCount)
		return
	}
	query := ActivationQuery{Namespace: ns, Skip: skip, Limit: limit, CountOnly: count}
	if v := q.Get("name"); v != "" {
		trimmed := strings.Trim(v, "/")
		if !namePathRE.MatchString(trimmed) {
			writeError(w, r, http.StatusBadRequest, fmt.Sprintf(msgBadNameParam, v))
			return
		}
		query.Name = trimmed
	}
	for key, dst := range map[string]*int64{"since": &query.Since, "upto": &query.Upto} {
		if v := q.Get(key); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 0 {
				writeError(w, r, http.StatusBadRequest, fmt.Sprintf(msgBadEpoch, v))
				return
			}
			*dst = n
		}
	}
	recs, n, err := s.store.ListActivations(query)
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	if count {
		writeJSON(w, http.StatusOK, map[string]int{"activations": n})
		return
	}
	if docs {
		out := make([]apiActivation, 0, len(recs))
		for _, rec := range recs {
			out = append(out, rec.api(true))
		}
		writeJSON(w, http.StatusOK, out)
		return
	}
	out := make([]summaryActivation, 0, len(recs))
	for _, rec := range recs {
		out = append(out, rec.summary())
	}
	writeJSON(w, http.StatusOK, out)
}

var hexIDRE = regexp.MustCompile(`^[0-9a-f]{32}$`)

func (s *Server) activation(w http.ResponseWriter, r *http.Request, ns string) *Activation {
	id := mux.Vars(r)["id"]
	if len(id) != 32 {
		writeError(w, r, http.StatusBadRequest, fmt.Sprintf(msgActivationIDLen, len(id)))
		return nil
	}
	if !hexIDRE.MatchString(id) {
		writeError(w, r, http.StatusBadRequest, msgActivationIDBad)
		return nil
	}
	rec, err := s.store.GetActivation(ns, id)
	if err != nil {
		s.storeError(w, r, err)
		return nil
	}
	return rec
}

func (s *Server) handleGetActivation(w http.ResponseWriter, r *http.Request, ns string) {
	if rec := s.activation(w, r, ns); rec != nil {
		writeJSON(w, http.StatusOK, rec.api(true))
	}
}

func (s *Server) handleActivationResult(w http.ResponseWriter, r *http.Request, ns string) {
	if rec := s.activation(w, r, ns); rec != nil {
		writeJSON(w, http.StatusOK, rec.Response.api())
	}
}

func (s *Server) handleActivationLogs(w http.ResponseWriter, r *http.Request, ns string) {
	if rec := s.activation(w, r, ns); rec != nil {
		logs := rec.Logs
		if logs == nil {
			logs = []string{}
		}
		writeJSON(w, http.StatusOK, map[string][]string{"logs": logs})
	}
}
