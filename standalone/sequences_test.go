package standalone_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/apache/openwhisk-client-go/whisk"

	"github.com/wasmwhisk/wasmwhisk/standalone"
)

// TestClientGoSequences creates sequences as `wsk action create s --sequence a,b` does and checks
// the chaining, the records of the components and of the sequence, an error stopping the chain and
// an inner sequence.
func TestClientGoSequences(t *testing.T) {
	srv := startServer(t, newWasmHost(t), nil)
	c := newClient(t, srv)
	hello, cpuhash := wasmCode(t, "./actions/hello"), wasmCode(t, "./actions/cpuhash")
	kind := "wasm:0.1"
	insert := func(a *whisk.Action) *whisk.Action {
		t.Helper()
		got, _, err := c.Actions.Insert(a, false)
		if err != nil {
			t.Fatalf("insert %s: %v", a.Name, err)
		}
		return got
	}
	insert(&whisk.Action{Name: "hello", Exec: &whisk.Exec{Kind: kind, Code: &hello}})
	insert(&whisk.Action{Name: "cpuhash", Exec: &whisk.Exec{Kind: kind, Code: &cpuhash}, Limits: &whisk.Limits{Memory: intp(128)}})
	_, _, err := c.Packages.Insert(&whisk.Package{Name: "pkg", Parameters: whisk.KeyValueArr{kv("name", "from the package")}}, false)
	if err != nil {
		t.Fatal(err)
	}
	insert(&whisk.Action{Name: "pkg/hello", Exec: &whisk.Exec{Kind: kind, Code: &hello}})

	seq := insert(&whisk.Action{Name: "twice", Exec: &whisk.Exec{Kind: "sequence", Components: []string{"/_/hello", "/guest/hello"}},
		Parameters: whisk.KeyValueArr{kv("dropped", true)}})
	if seq.Exec.Kind != "sequence" || strings.Join(seq.Exec.Components, ",") != "/guest/hello,/guest/hello" {
		t.Errorf("sequence exec: %+v", seq.Exec)
	}
	if v, ok := annotationValue(seq.Parameters, "_actions"); !ok || len(seq.Parameters) != 1 {
		t.Errorf("sequence parameters: %v (%v)", seq.Parameters, v)
	}
	if v, _ := annotationValue(seq.Annotations, "exec"); v != "sequence" {
		t.Errorf("exec annotation %v", v)
	}

	// The second hello gets the first one's result: no name, so it greets a stranger.
	res, _, err := c.Actions.Invoke("twice", map[string]any{"name": "seq"}, true, false)
	if err != nil {
		t.Fatalf("invoke sequence: %v", err)
	}
	var rec record
	raw, _ := json.Marshal(res)
	if err := json.Unmarshal(raw, &rec); err != nil {
		t.Fatal(err)
	}
	var result struct {
		Greeting string         `json:"greeting"`
		Params   map[string]any `json:"params"`
	}
	if err := json.Unmarshal(rec.Response.Result, &result); err != nil {
		t.Fatalf("sequence result %s: %v", rec.Response.Result, err)
	}
	if result.Greeting != "Hello, stranger!" || result.Params["greeting"] != "Hello, seq!" {
		t.Errorf("sequence result: %s", rec.Response.Result)
	}
	if len(rec.Logs) != 2 {
		t.Errorf("blocking answer of a sequence without its component ids as logs: %v", rec.Logs)
	}
	checkSequenceRecord(t, c, rec.ActivationID, 2, true, "")

	// An application error stops the chain: hello never runs.
	createSeq(t, c, "failing", "/_/cpuhash", "/_/hello")
	_, resp, err := c.Actions.Invoke("failing", map[string]any{"rounds": -1}, true, false)
	if err == nil || resp.StatusCode != 502 {
		t.Fatalf("failing sequence: %v %v", err, resp)
	}
	failing := latestActivation(t, c, "failing")
	if failing.Response.Status != "application error" || len(failing.Logs) != 1 {
		t.Errorf("failing sequence record: %s %v", failing.Response.Status, failing.Logs)
	}
	if m, _ := annotationValue(failing.Annotations, "limits"); m == nil || m.(map[string]any)["memory"] != json.Number("128") {
		t.Errorf("limits of the failing sequence (memory of its one component, 128): %v", m)
	}

	// An inner sequence and a packaged component: the package's name parameter is merged under the
	// outer input (no name: the inner sequence's second hello got the first's result).
	createSeq(t, c, "outer", "/_/twice", "/_/pkg/hello")
	res, _, err = c.Actions.Invoke("outer", map[string]any{}, true, true)
	if err != nil {
		t.Fatalf("invoke outer: %v", err)
	}
	if g := res.(map[string]any)["greeting"]; g != "Hello, from the package!" {
		t.Errorf("outer result: %v", res)
	}
	outer := latestActivation(t, c, "outer")
	checkSequenceRecord(t, c, outer.ActivationID, 2, true, "")
	inner, _, err := c.Activations.Get(outer.Logs[0])
	if err != nil || inner.Name != "twice" {
		t.Fatalf("inner sequence record: %v %+v", err, inner)
	}
	checkSequenceRecord(t, c, inner.ActivationID, 2, false, outer.ActivationID)

	// Non-blocking: the sequence's id comes back at once, its record later.
	res, _, err = c.Actions.Invoke("twice", map[string]any{}, false, false)
	if err != nil {
		t.Fatalf("non-blocking sequence: %v", err)
	}
	id := res.(map[string]any)["activationId"].(string)
	eventually(t, "the non-blocking sequence record", func() bool {
		_, _, err := c.Activations.Get(id)
		return err == nil
	})
}

func intp(n int) *int { return &n }

func createSeq(t *testing.T, c *whisk.Client, name string, components ...string) {
	t.Helper()
	c.Namespace = "_"
	if _, _, err := c.Actions.Insert(&whisk.Action{Name: name, Exec: &whisk.Exec{Kind: "sequence", Components: components}}, false); err != nil {
		t.Fatalf("create sequence %s: %v", name, err)
	}
}

func latestActivation(t *testing.T, c *whisk.Client, name string) *whisk.Activation {
	t.Helper()
	acts, _, err := c.Activations.List(&whisk.ActivationListOptions{Name: name, Limit: 1, Docs: true})
	c.Namespace = "_"
	if err != nil || len(acts) != 1 {
		t.Fatalf("latest activation of %s: %v %d", name, err, len(acts))
	}
	return &acts[0]
}

// checkSequenceRecord checks a sequence's record against its components' records.
func checkSequenceRecord(t *testing.T, c *whisk.Client, id string, components int, topmost bool, cause string) {
	t.Helper()
	seq, _, err := c.Activations.Get(id)
	c.Namespace = "_"
	if err != nil {
		t.Fatalf("sequence record %s: %v", id, err)
	}
	if len(seq.Logs) != components {
		t.Fatalf("sequence logs (component ids) %v, want %d", seq.Logs, components)
	}
	want := map[string]any{"topmost": topmost, "kind": "sequence"}
	for k, v := range want {
		if got, _ := annotationValue(seq.Annotations, k); got != v {
			t.Errorf("annotation %s = %v, want %v", k, got, v)
		}
	}
	if _, ok := annotationValue(seq.Annotations, "waitTime"); !ok {
		t.Errorf("no waitTime on the sequence record")
	}
	if _, ok := annotationValue(seq.Annotations, "initTime"); ok {
		t.Errorf("initTime on a sequence record")
	}
	if got, ok := annotationValue(seq.Annotations, "causedBy"); ok != !topmost || (ok && got != "sequence") {
		t.Errorf("causedBy %v (present %v) for topmost %v", got, ok, topmost)
	}
	if seq.Cause != cause {
		t.Errorf("cause %q, want %q", seq.Cause, cause)
	}
	var sum int64
	for _, cid := range seq.Logs {
		comp, _, err := c.Activations.Get(cid)
		c.Namespace = "_"
		if err != nil {
			t.Fatalf("component record %s: %v", cid, err)
		}
		if comp.Cause != id {
			t.Errorf("component %s cause %q, want %s", comp.Name, comp.Cause, id)
		}
		if v, _ := annotationValue(comp.Annotations, "causedBy"); v != "sequence" {
			t.Errorf("component %s causedBy %v", comp.Name, v)
		}
		sum += comp.Duration
	}
	if seq.Duration != sum {
		t.Errorf("sequence duration %d, want the sum of its components' %d", seq.Duration, sum)
	}
}

// TestSequenceStatusCodes: the create-time rules of sequences over raw HTTP.
func TestSequenceStatusCodes(t *testing.T) {
	srv := startServer(t, newWasmHost(t), nil)
	api := srv.URL() + "/api/v1/namespaces/_"
	key := standalone.GuestKey
	createAction(t, srv, "hello", map[string]any{"exec": map[string]any{"kind": "wasm:0.1", "code": wasmCode(t, "./actions/hello")}})
	seqExec := func(components ...string) map[string]any {
		if components == nil {
			components = []string{}
		}
		return map[string]any{"exec": map[string]any{"kind": "sequence", "components": components}}
	}
	many := make([]string, 51)
	for i := range many {
		many[i] = "/_/hello"
	}
	fifty := many[:50]
	runStatusCases(t, []statusCase{
		{"no components field", "PUT", api + "/actions/s", map[string]any{"exec": map[string]any{"kind": "sequence"}}, key, 400, "'components' must be defined for sequence kind"},
		{"empty", "PUT", api + "/actions/s", seqExec(), key, 400, "No component specified for the sequence."},
		{"too many", "PUT", api + "/actions/s", seqExec(many...), key, 400, "Too many actions in the sequence."},
		{"not qualified", "PUT", api + "/actions/s", seqExec("hello"), key, 400, "The fully qualified name of the entity must contain at least the namespace and the name of the entity."},
		{"missing component", "PUT", api + "/actions/s", seqExec("/_/hello", "/_/nope"), key, 400, "Sequence component does not exist."},
		{"other namespace", "PUT", api + "/actions/s", seqExec("/other/hello"), key, 403, "is not authorized to access 'other/hello'."},
		{"create", "PUT", api + "/actions/s", seqExec(fifty...), key, 200, `"kind":"sequence"`},
		{"kinds list sequence", "PUT", api + "/actions/x", map[string]any{"exec": map[string]any{"kind": "cobol", "code": "x"}}, key, 400, "'blackbox', 'native:0.1', 'sequence', 'wasm:0.1'"},
		{"inlined too long", "PUT", api + "/actions/s2", seqExec("/_/s", "/_/hello"), key, 400, "Too many actions in the sequence."},
		{"small", "PUT", api + "/actions/s3", seqExec("/_/hello"), key, 200, `"components":["/guest/hello"]`},
		{"cycle", "PUT", api + "/actions/s3?overwrite=true", seqExec("/_/hello", "/_/s3"), key, 400, "Sequence may not refer to itself."},
		{"indirect cycle", "PUT", api + "/actions/hello?overwrite=true", seqExec("/_/s3"), key, 400, "Sequence may not refer to itself."},
		{"get", "GET", api + "/actions/s3?code=false", nil, key, 200, `"exec":{"kind":"sequence","components":["/guest/hello"]}`},
		{"list", "GET", api + "/actions", nil, key, 200, `"exec":{"binary":false}`},
		{"invoke", "POST", api + "/actions/s3?blocking=true&result=true", map[string]any{"name": "s"}, key, 200, `"greeting":"Hello, s!"`},
		{"final parameters", "PUT", api + "/actions/s3?overwrite=true", map[string]any{"parameters": []any{map[string]any{"key": "p", "value": 1}}}, key, 200, `"parameters":[{"key":"_actions","value":["/guest/hello"]}]`},
	})
}
