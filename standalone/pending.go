package standalone

import "time"

// pendingRecord is the record an accepted activation gets if the platform stops before it
// finishes: what is known when it is accepted (who, which action, when), with the response
// already that of a lost activation. Its annotations are those of OpenWhisk's fallback
// activations (MemoryQueue.generateFallbackActivation: path, kind, limits, binding) and the
// backend.
func pendingRecord(inv *invocation, backend string) *Activation {
	a := inv.action
	start := inv.t0.UnixMilli()
	rec := &Activation{
		Namespace: inv.namespace, Name: a.Name, Subject: inv.subject, ActivationID: inv.activationID,
		Start: start, End: start, Version: a.Version, Logs: []string{},
		Response: Response{StatusCode: StatusWhiskError, Result: errorResult(msgPlatformStopped)},
	}
	ann := []KeyValue{}
	ann = setAnnotation(ann, "path", a.Namespace+"/"+a.Name)
	ann = setAnnotation(ann, "kind", a.Exec.Kind)
	ann = setAnnotation(ann, "limits", map[string]int{
		"concurrency": a.Limits.Concurrency, "logs": a.Limits.Logs, "memory": a.Limits.Memory, "timeout": a.Limits.Timeout,
	})
	if inv.binding != "" {
		ann = setAnnotation(ann, "binding", inv.binding)
	}
	ann = setAnnotation(ann, AnnotationBackend, backend)
	rec.Annotations = ann
	return rec
}

// lostRecord is the final record of pending activation rec whose platform stopped; lastAlive is
// the latest moment the platform is known to have run (its store's last write), the end of the
// interval. The response is a whisk internal error: the platform failed, not the action.
func lostRecord(rec *Activation, lastAlive time.Time) *Activation {
	out := *rec
	out.Response = Response{StatusCode: StatusWhiskError, Result: errorResult(msgPlatformStopped)}
	out.End = max(lastAlive.UnixMilli(), out.Start)
	out.Duration = out.End - out.Start
	if out.Logs == nil {
		out.Logs = []string{}
	}
	return &out
}

// stoppedRecord replaces the response of rec, which failed because the platform is shutting
// down (its context was cancelled under it), with the platform's own error: a cancelled run
// would otherwise read as the action's failure. Times and logs are kept.
func stoppedRecord(rec *Activation) *Activation {
	out := *rec
	out.Response = Response{StatusCode: StatusWhiskError, Result: errorResult(msgPlatformStopped)}
	return &out
}
