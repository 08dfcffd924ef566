package standalone

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
)

// Sequences follow OpenWhisk's controller (core/controller/.../actions/SequenceActions.scala): the
// components run one after the other, each through the same invoke path as any action and with a
// record of its own (cause = the sequence's activation id, annotation causedBy: "sequence"); the
// result of one is the input of the next; a result with an "error" field stops the chain; the
// sequence's record carries the last response, the component ids as its logs, the sum of their
// durations and the annotations topmost, path, kind, causedBy (inner sequences), waitTime, binding
// and limits (memory: the largest of the components').

// maxSequenceLength is OpenWhisk's actionSequenceLimit: at most this many primitive actions per
// sequence, inner sequences inlined, at create time and at run time.
const maxSequenceLength = 50

// parseComponents checks the components of a sequence exec: an array of fully qualified names
// ("/ns/action" or "/ns/pkg/action"; "_" is the caller's namespace), each segment a valid entity
// name. It returns them normalised to "/"-joined segments with a leading slash.
func parseComponents(raw json.RawMessage) ([]string, *httpError) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, malformed("'components' must be defined for sequence kind")
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, malformed("'components' must be an array")
	}
	out := make([]string, 0, len(items))
	for _, item := range items {
		var name string
		if err := json.Unmarshal(item, &name); err != nil {
			return nil, malformed("fully qualified name malformed")
		}
		var parts []string
		for _, p := range strings.Split(name, "/") {
			if p != "" {
				parts = append(parts, p)
			}
		}
		for _, p := range parts {
			if !entityNameRE.MatchString(p) {
				return nil, malformed(fmt.Sprintf("requirement failed: path contains invalid parts List(%s)", strings.Join(parts, ", ")))
			}
		}
		if len(parts) < 2 {
			return nil, malformed("requirement failed: " + msgMalformedFQN)
		}
		out = append(out, "/"+strings.Join(parts, "/"))
	}
	return out, nil
}

// splitComponent splits "/ns/[pkg/]name" into its parts; ok is false for any other shape.
func splitComponent(fqn string) (ns, pkg, name string, ok bool) {
	parts := strings.Split(strings.TrimPrefix(fqn, "/"), "/")
	switch len(parts) {
	case 2:
		return parts[0], "", parts[1], true
	case 3:
		return parts[0], parts[1], parts[2], true
	}
	return "", "", "", false
}

// resolveComponent finds a sequence component as the caller of namespace user sees it (bindings
// followed, parameters merged), with the binding it went through.
func (s *Server) resolveComponent(user, fqn string) (*Action, string, error) {
	ns, pkg, name, ok := splitComponent(fqn)
	if !ok {
		return nil, "", ErrNotFound
	}
	if ns != user && pkg == "" {
		return nil, "", forbidden(strings.TrimPrefix(fqn, "/"))
	}
	return s.resolveAction(user, ns, pkg, name)
}

// checkSequence resolves the "_" namespace of exec's components to user's and applies OpenWhisk's
// create-time rules (Actions.scala checkSequenceActionLimits): 1 to 50 components, every one
// existing, no cycle through self ("/ns/[pkg/]name"), at most 50 primitive actions once inner
// sequences are inlined.
func (s *Server) checkSequence(user, self string, exec *Exec) error {
	for i, c := range exec.Components {
		if strings.HasPrefix(c, "/_/") {
			exec.Components[i] = "/" + user + strings.TrimPrefix(c, "/_")
		}
	}
	switch {
	case len(exec.Components) > maxSequenceLength:
		return badRequest(msgSequenceTooLong)
	case len(exec.Components) == 0:
		return badRequest(msgSequenceNoComponent)
	}
	var denied []string
	for _, c := range exec.Components {
		if _, _, err := s.resolveComponent(user, c); err != nil {
			var herr *httpError
			if errors.As(err, &herr) && herr.status == 403 {
				denied = append(denied, strings.TrimPrefix(c, "/"))
			}
		}
	}
	if len(denied) > 0 {
		sort.Strings(denied)
		return forbidden(strings.Join(denied, ", "))
	}
	n, err := s.countAtomic(user, self, exec.Components, 0)
	if err != nil {
		return err
	}
	if n > maxSequenceLength {
		return badRequest(msgSequenceTooLong)
	}
	return nil
}

// countAtomic counts the primitive actions of components with inner sequences inlined and fails if
// any of them is self or does not exist. depth bounds the walk of sequences stored before a cycle
// could be checked.
func (s *Server) countAtomic(user, self string, components []string, depth int) (int, error) {
	if len(components) > maxSequenceLength || depth > maxSequenceLength {
		return 0, badRequest(msgSequenceTooLong)
	}
	total := 0
	for _, c := range components {
		a, _, err := s.resolveComponent(user, c)
		if errors.Is(err, ErrNotFound) {
			return 0, badRequest(msgSequenceNotFound)
		}
		if err != nil {
			return 0, err
		}
		if "/"+a.Namespace+"/"+a.Name == self {
			return 0, badRequest(msgSequenceCyclic)
		}
		if a.Exec.Kind != KindSequence {
			total++
			continue
		}
		n, err := s.countAtomic(user, self, a.Exec.Components, depth+1)
		if err != nil {
			return 0, err
		}
		total += n
	}
	return total, nil
}

// sequenceParameters is the parameter OpenWhisk stores on a sequence: its components.
func sequenceParameters(components []string) []KeyValue {
	raw, _ := json.Marshal(components)
	return []KeyValue{{Key: "_actions", Value: raw}}
}

// execute runs inv to completion, a primitive action through the invoker and a sequence component
// by component, stores its record and returns it. atomic counts the primitive actions run so far
// under the topmost sequence (nil outside a sequence).
func (s *Server) execute(ctx context.Context, inv *invocation, atomic *int) *Activation {
	var rec *Activation
	if inv.action.Exec.Kind == KindSequence {
		if atomic == nil {
			atomic = new(int)
		}
		rec = s.runSequence(ctx, inv, atomic)
	} else {
		rec = s.inv.invoke(ctx, inv)
	}
	if err := s.store.PutActivation(rec, activationListPath(rec)); err != nil {
		s.log.Error("store activation", "activation", rec.ActivationID, "err", err)
	}
	return rec
}

// stepInput is what a component receives from the step before: the previous result when it is an
// object or an array, else nothing.
func stepInput(result json.RawMessage) json.RawMessage {
	t := bytes.TrimSpace(result)
	if len(t) > 0 && (t[0] == '{' || t[0] == '[') {
		return t
	}
	return nil
}

// hasErrorField says whether a result is an object with an "error" field, which stops a sequence.
func hasErrorField(result json.RawMessage) bool {
	var obj map[string]json.RawMessage
	if json.Unmarshal(result, &obj) != nil {
		return false
	}
	_, ok := obj["error"]
	return ok
}

func (s *Server) runSequence(ctx context.Context, inv *invocation, atomic *int) *Activation {
	seq := inv.action
	start := time.Now()
	var (
		ids       = []string{}
		duration  int64
		maxMemory int
		last      = Response{StatusCode: StatusSuccess, Result: inv.value}
	)
	input := stepInput(inv.value)
	for _, c := range seq.Exec.Components {
		if *atomic >= maxSequenceLength {
			last = Response{StatusCode: StatusApplicationError, Result: errorResult(msgSequenceTooLong)}
			break
		}
		a, binding, err := s.resolveComponent(inv.namespace, c)
		if err != nil {
			last = Response{StatusCode: StatusWhiskError, Result: errorResult(msgSequenceFailed)}
			if errors.Is(err, ErrNotFound) {
				last = Response{StatusCode: StatusApplicationError, Result: errorResult(msgSequenceNotFound)}
			}
			break
		}
		child := &invocation{
			action: a, namespace: inv.namespace, subject: inv.subject, apiKey: inv.apiKey,
			activationID: newID(), transID: newID(), t0: time.Now(), cause: inv.activationID, binding: binding,
			value: input,
		}
		if a.Exec.Kind != KindSequence {
			*atomic++
			child.value = mergeInput(a, input)
		}
		rec := s.execute(ctx, child, atomic)
		ids = append(ids, rec.ActivationID)
		duration += rec.Duration
		if v, ok := annotation(rec.Annotations, "limits"); ok {
			var l struct{ Memory int }
			if json.Unmarshal(v, &l) == nil {
				maxMemory = max(maxMemory, l.Memory)
			}
		}
		last = rec.Response
		if *atomic > maxSequenceLength {
			last = Response{StatusCode: StatusApplicationError, Result: errorResult(msgSequenceTooLong)}
			break
		}
		if hasErrorField(rec.Response.Result) {
			break
		}
		input = stepInput(rec.Response.Result)
	}
	end := time.Now()

	topmost := inv.cause == ""
	rec := &Activation{
		Namespace: inv.namespace, Name: seq.Name, Subject: inv.subject, ActivationID: inv.activationID,
		Start: start.UnixMilli(), End: end.UnixMilli(), Duration: duration, Response: last, Logs: ids,
		Version: seq.Version,
	}
	ann := []KeyValue{}
	ann = setAnnotation(ann, "topmost", topmost)
	ann = setAnnotation(ann, "path", seq.Namespace+"/"+seq.Name)
	ann = setAnnotation(ann, "kind", KindSequence)
	if !topmost {
		rec.Cause = inv.cause
		ann = setAnnotation(ann, "causedBy", KindSequence)
	}
	ann = setAnnotation(ann, "waitTime", max(ms(start.Sub(inv.t0)), 0))
	if inv.binding != "" {
		ann = setAnnotation(ann, "binding", inv.binding)
	}
	if maxMemory > 0 {
		ann = setAnnotation(ann, "limits", map[string]int{
			"concurrency": 1, "logs": seq.Limits.Logs, "memory": maxMemory, "timeout": seq.Limits.Timeout,
		})
	}
	rec.Annotations = ann
	return rec
}
