package standalone_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/apache/openwhisk-client-go/whisk"

	"github.com/wasmwhisk/wasmwhisk/standalone"
)

func kv(key string, value any) whisk.KeyValue { return whisk.KeyValue{Key: key, Value: value} }

// TestClientGoPackages drives packages, bindings and packaged actions with the pinned
// openwhisk-client-go, then lists the namespace as `wsk list` does.
func TestClientGoPackages(t *testing.T) {
	srv := startServer(t, newWasmHost(t), nil)
	c := newClient(t, srv)
	code := wasmCode(t, "./actions/hello")
	kind := "wasm:0.1"

	shared := true
	created, _, err := c.Packages.Insert(&whisk.Package{Name: "tools", Publish: &shared,
		Parameters:  whisk.KeyValueArr{kv("who", "package"), kv("fromPackage", 1)},
		Annotations: whisk.KeyValueArr{kv("description", "tools"), kv("binding", "spoofed")}}, false)
	if err != nil {
		t.Fatalf("create package: %v", err)
	}
	if created.Version != "0.0.1" || created.Namespace != "guest" || created.Binding == nil || created.Binding.Name != "" {
		t.Errorf("created package: %+v", created)
	}
	if _, ok := annotationValue(created.Annotations, "binding"); ok {
		t.Errorf("a package kept a client-supplied binding annotation: %v", created.Annotations)
	}
	if _, _, err := c.Packages.Insert(&whisk.Package{Name: "tools"}, false); err == nil {
		t.Errorf("create of an existing package without overwrite succeeded")
	}

	// An action in the package, with its own parameter overriding the package's.
	_, _, err = c.Actions.Insert(&whisk.Action{Name: "tools/hello", Exec: &whisk.Exec{Kind: kind, Code: &code},
		Parameters: whisk.KeyValueArr{kv("who", "action")}}, false)
	if err != nil {
		t.Fatalf("create packaged action: %v", err)
	}
	got, _, err := c.Actions.Get("tools/hello", false)
	if err != nil || got.Namespace != "guest/tools" || got.Name != "hello" {
		t.Fatalf("get packaged action: %v %+v", err, got)
	}
	if v, _ := annotationValue(got.Parameters, "fromPackage"); v == nil {
		t.Errorf("GET of a packaged action does not show the package's parameters: %v", got.Parameters)
	}

	// A binding adds a parameter over the package's; the action's own still wins.
	_, _, err = c.Packages.Insert(&whisk.BindingPackage{Name: "mytools", Binding: whisk.Binding{Namespace: "_", Name: "tools"},
		Parameters: whisk.KeyValueArr{kv("fromPackage", 2), kv("fromBinding", true), kv("who", "binding")}}, false)
	if err != nil {
		t.Fatalf("create binding: %v", err)
	}
	binding, _, err := c.Packages.Get("mytools")
	if err != nil || binding.Binding == nil || binding.Binding.Name != "tools" || binding.Binding.Namespace != "guest" {
		t.Fatalf("get binding: %v %+v", err, binding)
	}
	if len(binding.Actions) != 1 || binding.Actions[0].Name != "hello" {
		t.Errorf("binding's actions: %+v", binding.Actions)
	}
	if v, _ := annotationValue(binding.Parameters, "fromPackage"); v == nil || v.(json.Number) != "2" {
		t.Errorf("binding parameters do not override the package's: %v", binding.Parameters)
	}
	if v, ok := annotationValue(binding.Annotations, "binding"); !ok || v == nil {
		t.Errorf("binding has no binding annotation: %v", binding.Annotations)
	}

	invoke := func(name string) map[string]any {
		t.Helper()
		res, _, err := c.Actions.Invoke(name, map[string]any{"fromInvoke": "x"}, true, true)
		if err != nil {
			t.Fatalf("invoke %s: %v", name, err)
		}
		return res.(map[string]any)["params"].(map[string]any)
	}
	direct := invoke("tools/hello")
	if direct["who"] != "action" || direct["fromPackage"] != json.Number("1") || direct["fromInvoke"] != "x" {
		t.Errorf("packaged action's parameters: %v", direct)
	}
	through := invoke("mytools/hello")
	if through["who"] != "action" || through["fromPackage"] != json.Number("2") || through["fromBinding"] != true {
		t.Errorf("parameters through the binding: %v", through)
	}

	// Records: path is the executed action, binding names the binding, list filters by both names.
	acts, _, err := c.Activations.List(&whisk.ActivationListOptions{Name: "mytools/hello", Docs: true})
	if err != nil || len(acts) != 1 {
		t.Fatalf("activations of mytools/hello: %v %d", err, len(acts))
	}
	if p, _ := annotationValue(acts[0].Annotations, "path"); p != "guest/tools/hello" {
		t.Errorf("path annotation %v", p)
	}
	if b, _ := annotationValue(acts[0].Annotations, "binding"); b != "guest/mytools" {
		t.Errorf("binding annotation %v", b)
	}
	c.Namespace = "_"
	acts, _, err = c.Activations.List(&whisk.ActivationListOptions{Name: "tools/hello"})
	if err != nil || len(acts) != 1 {
		t.Errorf("activations of tools/hello: %v %d", err, len(acts))
	}
	c.Namespace = "_"

	// Listing: the namespace's actions include packaged ones; a package lists its own.
	list, _, err := c.Actions.List("tools", &whisk.ActionListOptions{})
	if err != nil || len(list) != 1 || list[0].Namespace != "guest/tools" {
		t.Fatalf("list actions of package: %v %+v", err, list)
	}
	list, _, err = c.Actions.List("mytools", &whisk.ActionListOptions{})
	if err != nil || len(list) != 1 {
		t.Fatalf("list actions through binding: %v %+v", err, list)
	}
	pkgs, _, err := c.Packages.List(&whisk.PackageListOptions{})
	if err != nil || len(pkgs) != 2 || pkgs[0].Name != "mytools" {
		t.Fatalf("list packages: %v %+v", err, pkgs)
	}
	if pkgs[0].Binding == nil || pkgs[0].Binding.Name != "tools" {
		t.Errorf("binding row: %+v", pkgs[0])
	}

	// What `wsk list` / `wsk namespace get` asks for.
	if acts, _, err := c.Actions.List("", &whisk.ActionListOptions{}); err != nil || len(acts) != 1 {
		t.Errorf("wsk list actions: %v %d", err, len(acts))
	}
	if trs, _, err := c.Triggers.List(&whisk.TriggerListOptions{}); err != nil || len(trs) != 0 {
		t.Errorf("wsk list triggers: %v %v", err, trs)
	}
	if rules, _, err := c.Rules.List(&whisk.RuleListOptions{}); err != nil || len(rules) != 0 {
		t.Errorf("wsk list rules: %v %v", err, rules)
	}
	_, _, err = c.Triggers.Insert(&whisk.Trigger{Name: "t"}, false)
	if err == nil || !strings.Contains(err.Error(), "not supported by wasmwhisk standalone") {
		t.Errorf("trigger create: %v", err)
	}

	// Update replaces given fields and bumps the version; a package cannot become a binding.
	updated, _, err := c.Packages.Insert(&whisk.Package{Name: "tools", Parameters: whisk.KeyValueArr{kv("who", "package2")}}, true)
	if err != nil || updated.Version != "0.0.2" || updated.Publish == nil || !*updated.Publish {
		t.Fatalf("update package: %v %+v", err, updated)
	}
	if _, _, err := c.Packages.Insert(&whisk.BindingPackage{Name: "tools", Binding: whisk.Binding{Namespace: "_", Name: "mytools"}}, true); err == nil {
		t.Errorf("turning a package into a binding succeeded")
	}

	// Delete: a non-empty package refuses; a binding goes; the action, then the package.
	if _, err := c.Packages.Delete("tools"); err == nil || !strings.Contains(err.Error(), "Package not empty (contains 1 entity)") {
		t.Errorf("delete of a non-empty package: %v", err)
	}
	if _, err := c.Packages.Delete("mytools"); err != nil {
		t.Errorf("delete binding: %v", err)
	}
	if _, err := c.Actions.Delete("tools/hello"); err != nil {
		t.Errorf("delete packaged action: %v", err)
	}
	if _, err := c.Packages.Delete("tools"); err != nil {
		t.Errorf("delete empty package: %v", err)
	}
	if _, _, err := c.Packages.Get("tools"); err == nil {
		t.Errorf("get after delete succeeded")
	}
}

// statusCase is one raw HTTP request and the status and body substring it must answer.
type statusCase struct {
	name, method, url string
	body              any
	key               string
	status            int
	want              string // substring of the body
}

// runStatusCases runs cases in order (later ones may depend on earlier ones' effects) and checks
// the error body shape of every 4xx.
func runStatusCases(t *testing.T, cases []statusCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, hdr, body := call(t, tc.method, tc.url, tc.body, tc.key)
			if status != tc.status {
				t.Fatalf("status %d, want %d: %s", status, tc.status, truncate(body))
			}
			if !strings.Contains(string(body), tc.want) {
				t.Errorf("body %s does not contain %q", truncate(body), tc.want)
			}
			if status >= 400 && status != 502 && status != 500 {
				var e struct {
					Error string `json:"error"`
					Code  string `json:"code"`
				}
				if err := json.Unmarshal(body, &e); err != nil || e.Error == "" || e.Code == "" {
					t.Errorf("error body not {error, code}: %s", body)
				}
			}
			if status == 401 && hdr.Get("WWW-Authenticate") == "" && strings.Contains(tc.url, "/namespaces") {
				t.Errorf("401 without WWW-Authenticate")
			}
		})
	}
}

// TestPackageStatusCodes extends the raw-HTTP status table to packages, packaged actions, triggers
// and rules.
func TestPackageStatusCodes(t *testing.T) {
	srv := startServer(t, newWasmHost(t), nil)
	api := srv.URL() + "/api/v1/namespaces/_"
	hello := wasmCode(t, "./actions/hello")
	exec := map[string]any{"kind": "wasm:0.1", "code": hello}
	key := standalone.GuestKey

	runStatusCases(t, []statusCase{
		{"list empty", "GET", api + "/packages", nil, key, 200, `[]`},
		{"reserved name", "PUT", api + "/packages/default", map[string]any{}, key, 400, "Package name 'default' is reserved."},
		{"illegal name", "PUT", api + "/packages/%20x", map[string]any{}, key, 400, "The name of the entity contains illegal characters."},
		{"malformed", "PUT", api + "/packages/p", "{", key, 400, "The request content was malformed:"},
		{"create", "PUT", api + "/packages/p", map[string]any{"parameters": []any{map[string]any{"key": "a", "value": 1}}}, key, 200, `"binding":{}`},
		{"exists", "PUT", api + "/packages/p", map[string]any{}, key, 409, "resource already exists"},
		{"update", "PUT", api + "/packages/p?overwrite=true", map[string]any{"publish": true}, key, 200, `"version":"0.0.2"`},
		{"binding to nothing", "PUT", api + "/packages/b", map[string]any{"binding": map[string]any{"namespace": "_", "name": "nope"}}, key, 400, "Binding references a package that does not exist."},
		{"binding missing name", "PUT", api + "/packages/b", map[string]any{"binding": map[string]any{"namespace": "_"}}, key, 400, "Object is missing required member 'name'"},
		{"binding", "PUT", api + "/packages/b", map[string]any{"binding": map[string]any{"namespace": "_", "name": "p"}}, key, 200, `"binding":{"namespace":"guest","name":"p"}`},
		{"binding of binding", "PUT", api + "/packages/bb", map[string]any{"binding": map[string]any{"namespace": "guest", "name": "b"}}, key, 400, "Cannot bind to another package binding."},
		{"package to binding", "PUT", api + "/packages/p?overwrite=true", map[string]any{"binding": map[string]any{"namespace": "_", "name": "p"}}, key, 409, "Resource is a package and cannot be converted into a binding."},
		{"other namespace binding", "PUT", api + "/packages/o", map[string]any{"binding": map[string]any{"namespace": "other", "name": "p"}}, key, 400, "Binding references a package that does not exist."},
		{"get", "GET", api + "/packages/p", nil, key, 200, `"actions":[],"feeds":[]`},
		{"get binding", "GET", api + "/packages/b", nil, key, 200, `"parameters":[{"key":"a","value":1}]`},
		{"get missing", "GET", api + "/packages/nope", nil, key, 404, "The requested resource does not exist."},
		{"list", "GET", api + "/packages?limit=1", nil, key, 200, `"name":"b"`},
		{"list binding row", "GET", api + "/packages", nil, key, 200, `"binding":false`},
		{"list count", "GET", api + "/packages?count=true", nil, key, 200, `{"packages":2}`},
		{"list limit", "GET", api + "/packages?limit=201", nil, key, 400, "The value '201' is not in the range of 0 to 200 for packages."},
		{"invoke package", "POST", api + "/packages/p", nil, key, 405, "HTTP method not allowed"},
		{"action in missing package", "PUT", api + "/actions/nope/a", map[string]any{"exec": exec}, key, 404, "The requested resource does not exist."},
		{"action in binding", "PUT", api + "/actions/b/a", map[string]any{"exec": exec}, key, 400, "Operation not permitted on package binding."},
		{"action in package", "PUT", api + "/actions/p/a", map[string]any{"exec": exec}, key, 200, `"namespace":"guest/p"`},
		{"get packaged", "GET", api + "/actions/p/a?code=false", nil, key, 200, `{"key":"a","value":1}`},
		{"get through binding", "GET", api + "/actions/b/a?code=false", nil, key, 200, `"namespace":"guest/p"`},
		{"invoke through binding", "POST", api + "/actions/b/a?blocking=true&result=true", map[string]any{"name": "b"}, key, 200, `"a":1`},
		{"invoke missing in package", "POST", api + "/actions/p/nope?blocking=true", nil, key, 404, "The requested resource does not exist."},
		{"list package actions", "GET", api + "/actions/p/", nil, key, 200, `"name":"a"`},
		{"list binding actions", "GET", api + "/actions/b/", nil, key, 200, `"namespace":"guest/p"`},
		{"list missing package actions", "GET", api + "/actions/nope/", nil, key, 404, "The requested resource does not exist."},
		{"list all actions", "GET", api + "/actions", nil, key, 200, `"namespace":"guest/p"`},
		{"activations by package name", "GET", api + "/activations?name=b/a", nil, key, 200, `"name":"a"`},
		{"delete through binding", "DELETE", api + "/actions/b/a", nil, key, 400, "Operation not permitted on package binding."},
		{"delete non-empty", "DELETE", api + "/packages/p", nil, key, 409, "Package not empty (contains 1 entity). Set force param or delete package contents."},
		{"delete binding", "DELETE", api + "/packages/b", nil, key, 200, `"name":"b"`},
		{"delete forced", "DELETE", api + "/packages/p?force=true", nil, key, 200, `"name":"p"`},
		{"packaged action gone", "GET", api + "/actions/p/a", nil, key, 404, "The requested resource does not exist."},
		{"delete missing", "DELETE", api + "/packages/p", nil, key, 404, "The requested resource does not exist."},
		{"other namespace", "GET", srv.URL() + "/api/v1/namespaces/other/actions/p/a", nil, key, 403, "is not authorized to access 'other/p/a'."},
		{"triggers", "GET", api + "/triggers", nil, key, 200, `[]`},
		{"triggers count", "GET", api + "/triggers?count=true", nil, key, 200, `{"triggers":0}`},
		{"rules", "GET", api + "/rules?limit=0", nil, key, 200, `[]`},
		{"rules limit", "GET", api + "/rules?limit=x", nil, key, 400, "The value 'x' is not an integer for rules."},
		{"trigger get", "GET", api + "/triggers/t", nil, key, 404, "The requested resource does not exist."},
		{"trigger create", "PUT", api + "/triggers/t", map[string]any{}, key, http.StatusNotImplemented, "Triggers and rules are not supported by wasmwhisk standalone"},
		{"trigger fire", "POST", api + "/triggers/t", map[string]any{}, key, http.StatusNotImplemented, "not supported"},
		{"rule create", "PUT", api + "/rules/r", map[string]any{}, key, http.StatusNotImplemented, "not supported"},
		{"rule delete", "DELETE", api + "/rules/r", nil, key, 404, "The requested resource does not exist."},
		{"packages no auth", "GET", api + "/packages", nil, "", 401, "The resource requires authentication"},
	})
}

// systemKey is OpenWhisk's well-known key of namespace whisk.system.
const systemKey = "789c46b1-71f6-4ed5-8c54-816aa4f8c502:abczO3xZCLrMN6v2BKK1dXYFpXlPkccOFqm12CdAsMgRU4VrNZ9lyGVCGuMDGIwP"

// TestSharedPackages: a published package of another namespace is reached through a binding (and
// as a sequence component); an unpublished one is refused with 403.
func TestSharedPackages(t *testing.T) {
	srv := startServer(t, newWasmHost(t), func(c *standalone.Config) {
		c.Identities = []standalone.Identity{{Key: standalone.GuestKey, Namespace: "guest"}, {Key: systemKey, Namespace: "whisk.system"}}
	})
	sys := srv.URL() + "/api/v1/namespaces/whisk.system"
	api := srv.URL() + "/api/v1/namespaces/_"
	exec := map[string]any{"kind": "wasm:0.1", "code": wasmCode(t, "./actions/hello")}
	key := standalone.GuestKey
	runStatusCases(t, []statusCase{
		{"shared package", "PUT", sys + "/packages/utils", map[string]any{"publish": true, "parameters": []any{map[string]any{"key": "name", "value": "system"}}}, systemKey, 200, `"publish":true`},
		{"private package", "PUT", sys + "/packages/private", map[string]any{}, systemKey, 200, `"publish":false`},
		{"shared action", "PUT", sys + "/actions/utils/hello", map[string]any{"exec": exec}, systemKey, 200, `"namespace":"whisk.system/utils"`},
		{"private action", "PUT", sys + "/actions/private/hello", map[string]any{"exec": exec}, systemKey, 200, `"namespace":"whisk.system/private"`},
		{"bind shared", "PUT", api + "/packages/myutils", map[string]any{"binding": map[string]any{"namespace": "whisk.system", "name": "utils"}}, key, 200, `"binding":{"namespace":"whisk.system","name":"utils"}`},
		{"bind private", "PUT", api + "/packages/mine", map[string]any{"binding": map[string]any{"namespace": "whisk.system", "name": "private"}}, key, 403, "is not authorized to access 'whisk.system/private'."},
		{"invoke through binding", "POST", api + "/actions/myutils/hello?blocking=true&result=true", nil, key, 200, `"greeting":"Hello, system!"`},
		{"get shared package", "GET", api + "/packages/myutils", nil, key, 200, `"actions":[{"name":"hello"`},
		{"list through binding", "GET", api + "/actions/myutils/", nil, key, 200, `"namespace":"whisk.system/utils"`},
		{"sequence of shared", "PUT", api + "/actions/s", map[string]any{"exec": map[string]any{"kind": "sequence", "components": []string{"/whisk.system/utils/hello"}}}, key, 200, `"components":["/whisk.system/utils/hello"]`},
		{"sequence of private", "PUT", api + "/actions/s2", map[string]any{"exec": map[string]any{"kind": "sequence", "components": []string{"/whisk.system/private/hello", "/whisk.system/hello"}}}, key, 403, "is not authorized to access 'whisk.system/hello, whisk.system/private/hello'."},
		{"invoke sequence", "POST", api + "/actions/s?blocking=true&result=true", nil, key, 200, `"greeting":"Hello, system!"`},
		{"direct access", "GET", sys + "/packages/utils", nil, key, 403, "is not authorized to access 'whisk.system/utils'."},
	})
	// The record is the invoker's, with the executed action's path and the binding.
	status, _, body := call(t, "GET", api+"/activations?name=myutils/hello&docs=true", nil, key)
	recs := decodeList(t, body)
	if status != 200 || len(recs) != 1 || recs[0].Namespace != "guest" {
		t.Fatalf("records through the shared binding: %d %s", status, body)
	}
	if p := annotationString(recs[0], "path"); p != "whisk.system/utils/hello" {
		t.Errorf("path %q", p)
	}
	if b := annotationString(recs[0], "binding"); b != "guest/myutils" {
		t.Errorf("binding %q", b)
	}
}
