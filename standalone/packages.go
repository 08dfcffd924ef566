package standalone

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/gorilla/mux"
)

// Packages follow OpenWhisk's controller (core/controller/.../Packages.scala): a package groups
// actions under "namespace/package" and gives them parameters; a binding refers to a package (its
// own namespace's, or another's that is published) and lays its parameters over the package's. An
// action in a package is addressed as pkg/action in every action route; through a binding it
// resolves to the bound package's action.

// failure renders err: an *httpError as itself, ErrNotFound as 404, anything else as 500.
func (s *Server) failure(w http.ResponseWriter, r *http.Request, err error) {
	var herr *httpError
	if errors.As(err, &herr) {
		writeError(w, r, herr.status, herr.msg)
		return
	}
	s.storeError(w, r, err)
}

func forbidden(target string) *httpError {
	return &httpError{status: http.StatusForbidden, msg: fmt.Sprintf(msgNotAuthorized, target)}
}

// readablePackage returns package pkg of namespace ns if the caller of namespace user may read it:
// its own, or another namespace's published package.
func (s *Server) readablePackage(user, ns, pkg string) (*Package, error) {
	p, err := s.store.GetPackage(ns, pkg)
	if err != nil {
		return nil, err
	}
	if ns != user && !p.Publish {
		return nil, forbidden(ns + "/" + pkg)
	}
	return p, nil
}

// resolvePackage follows a binding to the package it refers to and returns that package with the
// binding's parameters laid over its own, and "ns/binding" when pkg was a binding (OpenWhisk's
// WhiskPackage.resolveBinding with mergeParameters).
func (s *Server) resolvePackage(user, ns, pkg string) (*Package, string, error) {
	p, err := s.readablePackage(user, ns, pkg)
	if err != nil {
		return nil, "", err
	}
	if !p.IsBinding() {
		return p, "", nil
	}
	target, err := s.readablePackage(user, p.Binding.Namespace, p.Binding.Name)
	if err != nil {
		return nil, "", err
	}
	merged := *target
	merged.Parameters = mergeParameters(target.Parameters, p.Parameters)
	return &merged, ns + "/" + pkg, nil
}

// resolveAction finds action name in package pkg ("" for the default package) of namespace ns as
// the caller of namespace user sees it: through a binding to the bound package's action, with the
// package's parameters, then the binding's, then the action's own merged, each overriding the one
// before (WhiskAction.resolveActionAndMergeParameters). binding is "ns/binding" when the action was
// reached through one. The action returned may be shared with the store: callers must not modify it.
func (s *Server) resolveAction(user, ns, pkg, name string) (a *Action, binding string, err error) {
	if pkg == "" {
		a, err := s.store.GetAction(ns, name)
		return a, "", err
	}
	p, binding, err := s.resolvePackage(user, ns, pkg)
	if err != nil {
		return nil, "", err
	}
	stored, err := s.store.GetAction(p.Namespace+"/"+p.Name, name)
	if err != nil {
		return nil, "", err
	}
	if len(p.Parameters) == 0 {
		return stored, binding, nil
	}
	merged := *stored
	merged.Parameters = mergeParameters(p.Parameters, stored.Parameters)
	return &merged, binding, nil
}

// actionVars returns the package ("" for none) and action name of an action route.
func actionVars(r *http.Request) (pkg, name string) {
	v := mux.Vars(r)
	return v["pkg"], v["name"]
}

// writableActionPath returns the namespace path an action PUT or DELETE writes under: ns itself,
// or ns/pkg for an existing package that is not a binding.
func (s *Server) writableActionPath(ns, pkg string) (string, error) {
	if pkg == "" {
		return ns, nil
	}
	if !entityNameRE.MatchString(pkg) {
		return "", badRequest(msgIllegalName)
	}
	p, err := s.store.GetPackage(ns, pkg)
	if err != nil {
		return "", err
	}
	if p.IsBinding() {
		return "", badRequest(msgNotAllowedOnBinding)
	}
	return ns + "/" + pkg, nil
}

// packagePut is the PUT body (WhiskPackagePut); pointers tell "absent" from "empty".
type packagePut struct {
	Binding     *json.RawMessage `json:"binding"`
	Parameters  *[]KeyValue      `json:"parameters"`
	Version     *string          `json:"version"`
	Publish     *bool            `json:"publish"`
	Annotations *[]KeyValue      `json:"annotations"`
}

// parseBinding reads a binding ({} is none) and resolves the "_" namespace to user's.
func parseBinding(raw *json.RawMessage, user string) (*Binding, *httpError) {
	if raw == nil || strings.TrimSpace(string(*raw)) == "null" {
		return nil, nil
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(*raw, &fields); err != nil {
		return nil, malformed("binding: " + err.Error())
	}
	if len(fields) == 0 {
		return nil, nil
	}
	var b Binding
	for _, f := range []struct {
		key string
		dst *string
	}{{"namespace", &b.Namespace}, {"name", &b.Name}} {
		v, ok := fields[f.key]
		if !ok {
			return nil, malformed(fmt.Sprintf("Object is missing required member '%s'", f.key))
		}
		if err := json.Unmarshal(v, f.dst); err != nil || !entityNameRE.MatchString(*f.dst) {
			return nil, malformed(fmt.Sprintf("binding %s is not a valid entity name", f.key))
		}
	}
	if b.Namespace == "_" {
		b.Namespace = user
	}
	return &b, nil
}

// withBindingAnnotation replaces any "binding" annotation by the controller's own: clients that list
// packages read it to tell bindings from packages.
func withBindingAnnotation(list []KeyValue, b Binding) []KeyValue {
	out := make([]KeyValue, 0, len(list)+1)
	for _, kv := range list {
		if kv.Key != "binding" {
			out = append(out, kv)
		}
	}
	if b.Name != "" {
		out = setAnnotation(out, "binding", b)
	}
	return out
}

func (s *Server) handlePutPackage(w http.ResponseWriter, r *http.Request, ns string) {
	name := mux.Vars(r)["name"]
	if !entityNameRE.MatchString(name) {
		writeError(w, r, http.StatusBadRequest, msgIllegalName)
		return
	}
	if name == "default" {
		writeError(w, r, http.StatusBadRequest, fmt.Sprintf(msgPackageReserved, name))
		return
	}
	body, n, err := readBody(r, 2*maxParamBytes+64<<10)
	if err != nil {
		if errors.Is(err, errTooLarge) {
			writeError(w, r, http.StatusRequestEntityTooLarge, fmt.Sprintf(msgRequestTooLarge, n, 2*maxParamBytes+64<<10))
			return
		}
		writeError(w, r, http.StatusBadRequest, fmt.Sprintf(msgMalformed, err.Error()))
		return
	}
	var put packagePut
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
	binding, herr := parseBinding(put.Binding, ns)
	if herr != nil {
		writeError(w, r, herr.status, herr.msg)
		return
	}
	// The referenced package is checked before the write, as OpenWhisk's entitlement check on
	// referenced entities: missing is a 400, another namespace's unpublished package a 403.
	var target *Package
	if binding != nil {
		target, err = s.readablePackage(ns, binding.Namespace, binding.Name)
		if errors.Is(err, ErrNotFound) {
			err = badRequest(msgBindingNotExist)
		}
		if err != nil {
			s.failure(w, r, err)
			return
		}
	}
	overwrite := r.URL.Query().Get("overwrite") == "true"
	now := time.Now().UnixMilli()
	p, err := s.store.UpdatePackage(ns, name, func(old *Package) (*Package, error) {
		var p Package
		if old == nil {
			p = Package{Namespace: ns, Name: name, Version: "0.0.1", Parameters: []KeyValue{}, Annotations: []KeyValue{}}
		} else {
			if !overwrite {
				return nil, &httpError{status: http.StatusConflict, msg: msgExists}
			}
			if binding != nil && !old.IsBinding() {
				return nil, &httpError{status: http.StatusConflict, msg: msgPackageNotBinding}
			}
			p = *old
			p.Version = bumpPatch(old.Version)
		}
		if target != nil && target.IsBinding() {
			return nil, badRequest(msgBindingOfBinding)
		}
		if binding != nil {
			p.Binding = *binding
		}
		if put.Parameters != nil {
			p.Parameters = *put.Parameters
		}
		if put.Version != nil && *put.Version != "" {
			p.Version = *put.Version
		}
		if put.Publish != nil {
			p.Publish = *put.Publish
		}
		// Given annotations replace the old ones (packages have no delAnnotations).
		if put.Annotations != nil {
			p.Annotations = *put.Annotations
		}
		p.Annotations = withBindingAnnotation(p.Annotations, p.Binding)
		if p.Parameters == nil {
			p.Parameters = []KeyValue{}
		}
		p.Updated = now
		return &p, nil
	})
	if err != nil {
		s.failure(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, p)
}

// packageAction is an action as GET package lists it (WhiskPackageAction).
type packageAction struct {
	Name        string     `json:"name"`
	Version     string     `json:"version"`
	Annotations []KeyValue `json:"annotations"`
}

// packageWithActions is the GET package answer: the package (a binding with the bound package's
// parameters under its own) and the actions of the package, feeds apart.
type packageWithActions struct {
	*Package
	Actions []packageAction `json:"actions"`
	Feeds   []packageAction `json:"feeds"`
}

func (s *Server) handleGetPackage(w http.ResponseWriter, r *http.Request, ns string) {
	name := mux.Vars(r)["name"]
	p, err := s.store.GetPackage(ns, name)
	if err != nil {
		s.failure(w, r, err)
		return
	}
	shown, source := p, p
	if p.IsBinding() {
		target, err := s.readablePackage(ns, p.Binding.Namespace, p.Binding.Name)
		if err != nil {
			s.failure(w, r, err)
			return
		}
		merged := *p
		merged.Parameters = mergeParameters(target.Parameters, p.Parameters)
		shown, source = &merged, target
	}
	actions, err := s.store.ListActions(source.Namespace + "/" + source.Name)
	if err != nil {
		s.failure(w, r, err)
		return
	}
	out := packageWithActions{Package: shown, Actions: []packageAction{}, Feeds: []packageAction{}}
	for _, a := range actions {
		pa := packageAction{Name: a.Name, Version: a.Version, Annotations: a.Annotations}
		if _, feed := annotation(a.Annotations, "feed"); feed {
			out.Feeds = append(out.Feeds, pa)
		} else {
			out.Actions = append(out.Actions, pa)
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) handleDeletePackage(w http.ResponseWriter, r *http.Request, ns string) {
	name := mux.Vars(r)["name"]
	p, err := s.store.GetPackage(ns, name)
	if err != nil {
		s.failure(w, r, err)
		return
	}
	if !p.IsBinding() {
		actions, err := s.store.ListActions(ns + "/" + name)
		if err != nil {
			s.failure(w, r, err)
			return
		}
		if len(actions) > 0 && r.URL.Query().Get("force") != "true" {
			noun := "entities"
			if len(actions) == 1 {
				noun = "entity"
			}
			writeError(w, r, http.StatusConflict, fmt.Sprintf(msgPackageNotEmpty, len(actions), noun))
			return
		}
		for _, a := range actions {
			if _, err := s.store.DeleteAction(a.Namespace, a.Name); err != nil && !errors.Is(err, ErrNotFound) {
				s.failure(w, r, err)
				return
			}
		}
	}
	deleted, err := s.store.DeletePackage(ns, name, func(*Package) error { return nil })
	if err != nil {
		s.failure(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, deleted)
}

// packageSummary is a list row (the controller's "packages" view): no parameters, binding false for
// a package.
type packageSummary struct {
	Namespace   string     `json:"namespace"`
	Name        string     `json:"name"`
	Version     string     `json:"version"`
	Publish     bool       `json:"publish"`
	Annotations []KeyValue `json:"annotations"`
	Updated     int64      `json:"updated"`
	Binding     any        `json:"binding"`
}

func (s *Server) handleListPackages(w http.ResponseWriter, r *http.Request, ns string) {
	limit, skip, count, herr := listParams(r, "packages")
	if herr != nil {
		writeError(w, r, herr.status, herr.msg)
		return
	}
	pkgs, err := s.store.ListPackages(ns)
	if err != nil {
		s.failure(w, r, err)
		return
	}
	if count {
		writeJSON(w, http.StatusOK, map[string]int{"packages": len(pkgs)})
		return
	}
	out := []packageSummary{}
	for i := skip; i < len(pkgs) && len(out) < limit; i++ {
		p := pkgs[i]
		row := packageSummary{Namespace: p.Namespace, Name: p.Name, Version: p.Version, Publish: p.Publish,
			Annotations: p.Annotations, Updated: p.Updated, Binding: false}
		if p.IsBinding() {
			row.Binding = p.Binding
		}
		out = append(out, row)
	}
	writeJSON(w, http.StatusOK, out)
}

// handleListPackageActions serves GET actions/pkg/: the actions of a package, or of the package a
// binding refers to.
func (s *Server) handleListPackageActions(w http.ResponseWriter, r *http.Request, ns string) {
	limit, skip, count, herr := listParams(r, "actions")
	if herr != nil {
		writeError(w, r, herr.status, herr.msg)
		return
	}
	p, _, err := s.resolvePackage(ns, ns, mux.Vars(r)["pkg"])
	if err != nil {
		s.failure(w, r, err)
		return
	}
	actions, err := s.store.ListActions(p.Namespace + "/" + p.Name)
	if err != nil {
		s.failure(w, r, err)
		return
	}
	if count {
		writeJSON(w, http.StatusOK, map[string]int{"actions": len(actions)})
		return
	}
	writeJSON(w, http.StatusOK, actionSummaries(actions, skip, limit))
}

// activationListPath is the name an activation is listed under within its namespace, as
// OpenWhisk's activations view computes it from the record: "binding/action" when invoked through
// a binding, "pkg/action" for a packaged action, else the action's name.
func activationListPath(rec *Activation) string {
	if v, ok := annotation(rec.Annotations, "binding"); ok {
		var b string
		if json.Unmarshal(v, &b) == nil {
			if parts := strings.Split(b, "/"); len(parts) == 2 {
				return parts[1] + "/" + rec.Name
			}
		}
	}
	if v, ok := annotation(rec.Annotations, "path"); ok {
		var p string
		if json.Unmarshal(v, &p) == nil {
			if parts := strings.Split(p, "/"); len(parts) == 3 {
				return parts[1] + "/" + rec.Name
			}
		}
	}
	return rec.Name
}

// emptyCollection serves the list of an entity this platform does not store (triggers, rules):
// always empty, with the list parameters checked as for any collection.
func emptyCollection(collection string) func(w http.ResponseWriter, r *http.Request, ns string) {
	return func(w http.ResponseWriter, r *http.Request, _ string) {
		_, _, count, herr := listParams(r, collection)
		if herr != nil {
			writeError(w, r, herr.status, herr.msg)
			return
		}
		if count {
			writeJSON(w, http.StatusOK, map[string]int{collection: 0})
			return
		}
		writeJSON(w, http.StatusOK, []any{})
	}
}

// notStored answers GET and DELETE of a trigger or rule (none exists) and refuses PUT and POST with
// a message that says what to do instead.
func notStored(w http.ResponseWriter, r *http.Request, _ string) {
	switch r.Method {
	case http.MethodGet, http.MethodDelete:
		writeError(w, r, http.StatusNotFound, msgNotFound)
	default:
		writeError(w, r, http.StatusNotImplemented, msgTriggersNotSupported)
	}
}
