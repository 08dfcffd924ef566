package standalone_test

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/apache/openwhisk-client-go/whisk"

	"github.com/wasmwhisk/wasmwhisk/standalone"
)

func newClient(t *testing.T, srv *standalone.Server) *whisk.Client {
	t.Helper()
	c, err := whisk.NewClient(&http.Client{Timeout: 30 * time.Second}, &whisk.Config{
		Host: srv.URL(), AuthToken: standalone.GuestKey, Namespace: "_", Version: "v1",
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestClientGo drives the server with the pinned openwhisk-client-go, as loadgen and users do.
func TestClientGo(t *testing.T) {
	srv := startServer(t, newWasmHost(t), nil)
	c := newClient(t, srv)
	code := wasmCode(t, "./actions/hello")

	info, _, err := c.Info.Get()
	if err != nil || info.Build == "" {
		t.Fatalf("info: %v %+v", err, info)
	}
	ns, _, err := c.Namespaces.List()
	if err != nil || len(ns) != 1 || ns[0].Name != "guest" {
		t.Fatalf("namespaces: %v %+v", err, ns)
	}
	c.Namespace = "_"

	kind := "wasm:0.1"
	created, _, err := c.Actions.Insert(&whisk.Action{Name: "hello", Exec: &whisk.Exec{Kind: kind, Code: &code}}, false)
	if err != nil {
		t.Fatalf("insert: %v", err)
	}
	if created.Version != "0.0.1" || created.Exec.Binary == nil || !*created.Exec.Binary {
		t.Errorf("created: version %s, binary %v", created.Version, created.Exec.Binary)
	}
	if _, _, err := c.Actions.Insert(&whisk.Action{Name: "hello", Exec: &whisk.Exec{Kind: kind, Code: &code}}, false); err == nil {
		t.Errorf("insert without overwrite of an existing action succeeded")
	}
	updated, _, err := c.Actions.Insert(&whisk.Action{Name: "hello", Exec: &whisk.Exec{Kind: kind, Code: &code}}, true)
	if err != nil || updated.Version != "0.0.2" {
		t.Fatalf("update: %v, version %v", err, updated)
	}
	got, _, err := c.Actions.Get("hello", false)
	if err != nil || got.Exec.Code != nil || got.Exec.Kind != kind {
		t.Fatalf("get without code: %v %+v", err, got)
	}
	if v, ok := annotationValue(got.Annotations, "provide-api-key"); !ok || v != false {
		t.Errorf("provide-api-key annotation %v, %v", v, ok)
	}
	list, _, err := c.Actions.List("", &whisk.ActionListOptions{})
	if err != nil || len(list) != 1 {
		t.Fatalf("list actions: %v %d", err, len(list))
	}

	// Blocking with the full record.
	res, _, err := c.Actions.Invoke("hello", map[string]any{"name": "client"}, true, false)
	if err != nil {
		t.Fatalf("blocking invoke: %v", err)
	}
	recMap := res.(map[string]any)
	id := recMap["activationId"].(string)
	// Blocking with result only.
	res, _, err = c.Actions.Invoke("hello", map[string]any{"name": "result"}, true, true)
	if err != nil || res.(map[string]any)["greeting"] != "Hello, result!" {
		t.Fatalf("blocking result invoke: %v %v", err, res)
	}
	// Non-blocking: 202 with an id, record stored later.
	res, _, err = c.Actions.Invoke("hello", map[string]any{"name": "async"}, false, false)
	if err != nil {
		t.Fatalf("non-blocking invoke: %v", err)
	}
	asyncID := res.(map[string]any)["activationId"].(string)
	var act *whisk.Activation
	eventually(t, "the non-blocking activation", func() bool {
		act, _, err = c.Activations.Get(asyncID)
		return err == nil
	})
	if act.StatusCode != 0 || act.Response.Status != "success" || !act.Response.Success {
		t.Errorf("async record: %+v", act)
	}

	act, _, err = c.Activations.Get(id)
	if err != nil || act.ActivationID != id || act.Name != "hello" || act.Version != "0.0.2" {
		t.Fatalf("get activation: %v %+v", err, act)
	}
	logs, _, err := c.Activations.Logs(id)
	if err != nil || len(logs.Logs) != 2 {
		t.Fatalf("logs: %v %+v", err, logs)
	}
	result, _, err := c.Activations.Result(id)
	if err != nil || result.Status != "success" {
		t.Fatalf("result: %v %+v", err, result)
	}
	acts, _, err := c.Activations.List(&whisk.ActivationListOptions{Name: "hello", Limit: 2})
	if err != nil || len(acts) != 2 {
		t.Fatalf("list activations: %v %d", err, len(acts))
	}
	if acts[0].Start < acts[1].Start {
		t.Errorf("activations not newest first")
	}
	all, _, err := c.Activations.List(&whisk.ActivationListOptions{Docs: true})
	if err != nil || len(all) != 3 {
		t.Fatalf("list docs: %v %d", err, len(all))
	}

	// Application error: client-go reports 502 as ApplicationError with the decoded body.
	createAction(t, srv, "cpuhash", map[string]any{"exec": map[string]any{"kind": "wasm:0.1", "code": wasmCode(t, "./actions/cpuhash")}})
	_, resp, err := c.Actions.Invoke("cpuhash", map[string]any{"rounds": -1}, true, true)
	werr, ok := err.(*whisk.WskError)
	if !ok || !werr.ApplicationError || resp.StatusCode != 502 {
		t.Fatalf("application error: %T %v (status %v)", err, err, resp)
	}

	if _, err := c.Actions.Delete("hello"); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if _, _, err := c.Actions.Get("hello", true); err == nil {
		t.Errorf("get after delete succeeded")
	}
}

func annotationValue(kvs whisk.KeyValueArr, key string) (any, bool) {
	for _, kv := range kvs {
		if kv.Key == key {
			if n, ok := kv.Value.(json.Number); ok {
				return n, true
			}
			return kv.Value, true
		}
	}
	return nil, false
}
