package loadgen

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// whiskPeer is a small OpenWhisk controller for the engine tests: it serves
// the REST subset loadgen uses (SPEC §4.4, §4.5) with the status codes and
// record shape of SPEC §3. Behaviour per action comes from its code string:
//
//	"ok"        success after a few ms
//	"sleep:N"   success after N ms
//	"appfail"   502 with a full record, status "application error"
//	"throttle"  429 {"error","code"}
//	"busy"      503 {"error","code"}
//	"accepted"  202 {"activationId"}; the record is stored a little later
//	"whiskerr"  500 with a full record, status "whisk internal error"
//	"array"     200 with a bare JSON array result
//
// Containers are tracked per action name: an invocation takes an idle warm
// container if there is one, else it is cold and gets an initTime.
type whiskPeer struct {
	t   *testing.T
	srv *httptest.Server

	mu          sync.Mutex
	actions     map[string]map[string]any // name -> stored entity
	idle        map[string]int            // name -> idle warm containers
	activations map[string]map[string]any // id -> API-form record
	hidden      map[string]int            // id -> GETs still answered 404
	deleted     []string
	invocations int
}

func newWhiskPeer(t *testing.T) *whiskPeer {
	p := &whiskPeer{t: t, actions: map[string]map[string]any{}, idle: map[string]int{},
		activations: map[string]map[string]any{}, hidden: map[string]int{}}
	p.srv = httptest.NewServer(http.HandlerFunc(p.serve))
	t.Cleanup(p.srv.Close)
	return p
}

func (p *whiskPeer) target() Target {
	return Target{APIHost: p.srv.URL, Auth: GuestAuth, Namespace: "_"}
}

// addAction stores an action as a PUT would.
func (p *whiskPeer) addAction(name, kind, code string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.actions[name] = map[string]any{
		"namespace": "guest", "name": name, "version": "0.0.1", "publish": false,
		"exec":        map[string]any{"kind": kind, "code": code, "binary": false},
		"annotations": []any{map[string]any{"key": "exec", "value": kind}, map[string]any{"key": "provide-api-key", "value": false}},
		"limits":      map[string]any{"timeout": 60000, "memory": 256, "logs": 10, "concurrency": 1},
		"parameters":  []any{},
		"updated":     time.Now().UnixMilli(),
	}
}

func (p *whiskPeer) actionNames() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var names []string
	for n := range p.actions {
		names = append(names, n)
	}
	return names
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func errBody(msg string) map[string]any {
	return map[string]any{"error": msg, "code": "tid" + newID()[:8]}
}

func newID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func (p *whiskPeer) serve(w http.ResponseWriter, r *http.Request) {
	user, pass, ok := r.BasicAuth()
	if !ok || user+":"+pass != GuestAuth {
		w.Header().Set("WWW-Authenticate", `Basic realm="OpenWhisk secure realm"`)
		writeJSON(w, http.StatusUnauthorized, errBody("The supplied authentication is invalid"))
		return
	}
	rest, ok := strings.CutPrefix(r.URL.Path, "/api/v1/namespaces/")
	if !ok {
		writeJSON(w, http.StatusNotFound, errBody("The requested resource could not be found."))
		return
	}
	ns, rest, _ := strings.Cut(rest, "/")
	if ns != "_" && ns != "guest" {
		writeJSON(w, http.StatusForbidden, errBody(fmt.Sprintf("The supplied authentication is not authorized to access '%s'.", ns)))
		return
	}
	switch {
	case strings.HasPrefix(rest, "actions/"):
		p.serveAction(w, r, strings.TrimPrefix(rest, "actions/"))
	case strings.HasPrefix(rest, "activations/"):
		if ns != "_" {
			p.t.Errorf("activation fetched through namespace %q; client-go uses _", ns)
		}
		p.serveActivation(w, strings.TrimSuffix(strings.TrimPrefix(rest, "activations/"), "/"))
	default:
		writeJSON(w, http.StatusNotFound, errBody("The requested resource could not be found."))
	}
}

func (p *whiskPeer) serveAction(w http.ResponseWriter, r *http.Request, name string) {
	p.mu.Lock()
	entity, exists := p.actions[name]
	p.mu.Unlock()
	switch r.Method {
	case http.MethodGet:
		if !exists {
			writeJSON(w, http.StatusNotFound, errBody("The requested resource does not exist."))
			return
		}
		writeJSON(w, http.StatusOK, entity)
	case http.MethodDelete:
		if !exists {
			writeJSON(w, http.StatusNotFound, errBody("The requested resource does not exist."))
			return
		}
		p.mu.Lock()
		delete(p.actions, name)
		delete(p.idle, name)
		p.deleted = append(p.deleted, name)
		p.mu.Unlock()
		writeJSON(w, http.StatusOK, entity)
	case http.MethodPut:
		var body map[string]any
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			writeJSON(w, http.StatusBadRequest, errBody("The request content was malformed:\n"+err.Error()))
			return
		}
		if exists && r.URL.Query().Get("overwrite") != "true" {
			writeJSON(w, http.StatusConflict, errBody("resource already exists"))
			return
		}
		exec, _ := body["exec"].(map[string]any)
		if exec == nil {
			writeJSON(w, http.StatusBadRequest, errBody("exec undefined"))
			return
		}
		kind, _ := exec["kind"].(string)
		code, _ := exec["code"].(string)
		p.addAction(name, kind, code)
		p.mu.Lock()
		stored := p.actions[name]
		p.mu.Unlock()
		writeJSON(w, http.StatusOK, stored)
	case http.MethodPost:
		if !exists {
			writeJSON(w, http.StatusNotFound, errBody("The requested resource does not exist."))
			return
		}
		q := r.URL.Query()
		if q.Get("blocking") != "true" || q.Get("result") != "false" {
			p.t.Errorf("invoke with blocking=%q result=%q, want true/false", q.Get("blocking"), q.Get("result"))
		}
		var params map[string]any
		if err := json.NewDecoder(r.Body).Decode(&params); err != nil {
			writeJSON(w, http.StatusBadRequest, errBody("The request content was malformed:\n"+err.Error()))
			return
		}
		p.invoke(w, name, entity, params)
	default:
		writeJSON(w, http.StatusMethodNotAllowed, errBody("HTTP method not allowed, supported methods: GET, PUT, DELETE, POST"))
	}
}

func (p *whiskPeer) invoke(w http.ResponseWriter, name string, entity map[string]any, params map[string]any) {
	t0 := time.Now()
	exec := entity["exec"].(map[string]any)
	kind, code := exec["kind"].(string), exec["code"].(string)
	switch code {
	case "throttle":
		writeJSON(w, http.StatusTooManyRequests, errBody("Too many concurrent requests in flight (count: 31, allowed: 30)."))
		return
	case "busy":
		writeJSON(w, http.StatusServiceUnavailable, errBody("The server is currently unavailable (because it is overloaded or down for maintenance)."))
		return
	}
	p.mu.Lock()
	p.invocations++
	cold := p.idle[name] == 0
	if !cold {
		p.idle[name]--
	}
	p.mu.Unlock()

	run := 2 * time.Millisecond
	if ms, ok := strings.CutPrefix(code, "sleep:"); ok {
		d, err := time.ParseDuration(ms + "ms")
		if err != nil {
			p.t.Errorf("bad sleep code %q", code)
		}
		run = d
	}
	var initTime int64
	time.Sleep(time.Millisecond) // container creation: lands in waitTime
	ti0 := time.Now()
	if cold {
		time.Sleep(3 * time.Millisecond)
		initTime = time.Since(ti0).Milliseconds()
	}
	tr0 := time.Now()
	time.Sleep(run)
	tr1 := time.Now()
	waitTime := tr0.Sub(t0).Milliseconds()
	if cold {
		waitTime = ti0.Sub(t0).Milliseconds()
	}
	start := tr0.UnixMilli() - initTime
	end := tr1.UnixMilli()
	status, success, result := "success", true, any(map[string]any{"echo": params})
	switch code {
	case "appfail":
		status, success, result = "application error", false, map[string]any{"error": "sorry"}
	case "whiskerr":
		status, success, result = "whisk internal error", false, map[string]any{"error": "boom"}
	case "array":
		result = []any{1, 2, 3}
	}
	ann := []any{
		map[string]any{"key": "path", "value": "guest/" + name},
		map[string]any{"key": "waitTime", "value": waitTime},
		map[string]any{"key": "kind", "value": kind},
		map[string]any{"key": "timeout", "value": false},
		map[string]any{"key": "limits", "value": entity["limits"]},
	}
	if cold {
		ann = append(ann, map[string]any{"key": "initTime", "value": initTime})
	}
	id := newID()
	rec := map[string]any{
		"namespace": "guest", "name": name, "version": "0.0.1", "subject": "guest", "activationId": id,
		"start": start, "end": end, "duration": end - start,
		"response": map[string]any{"status": status, "success": success, "result": result, "size": 12},
		"logs":     []any{}, "annotations": ann, "publish": false,
	}
	p.mu.Lock()
	p.activations[id] = rec
	if code == "accepted" || code == "whiskerr" {
		p.hidden[id] = 2 // stored "later": the first GETs see 404
	}
	p.idle[name]++
	p.mu.Unlock()

	w.Header().Set("x-openwhisk-activation-id", id)
	switch code {
	case "accepted":
		writeJSON(w, http.StatusAccepted, map[string]any{"activationId": id})
	case "appfail":
		writeJSON(w, http.StatusBadGateway, rec)
	case "whiskerr":
		writeJSON(w, http.StatusInternalServerError, rec)
	case "array":
		writeJSON(w, http.StatusOK, result)
	default:
		writeJSON(w, http.StatusOK, rec)
	}
}

func (p *whiskPeer) serveActivation(w http.ResponseWriter, id string) {
	if len(id) != 32 {
		writeJSON(w, http.StatusBadRequest, errBody(fmt.Sprintf("Activation id length is %d but must be 32.", len(id))))
		return
	}
	p.mu.Lock()
	rec, ok := p.activations[id]
	if p.hidden[id] > 0 {
		p.hidden[id]--
		ok = false
	}
	p.mu.Unlock()
	if !ok {
		writeJSON(w, http.StatusNotFound, errBody("The requested resource does not exist."))
		return
	}
	writeJSON(w, http.StatusOK, rec)
}

// basicAuthHeader is what client-go sends for the guest key.
var basicAuthHeader = "Basic " + base64.StdEncoding.EncodeToString([]byte(GuestAuth))
