package standalone_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/wasmwhisk/wasmwhisk/standalone"
)

// TestStatusCodes checks every status code of SPEC §4.4-4.5 over raw HTTP, with the error texts
// clients compare.
func TestStatusCodes(t *testing.T) {
	srv := startServer(t, newWasmHost(t), func(c *standalone.Config) { c.Pool.UserMemoryMB = 256 })
	api := srv.URL() + "/api/v1/namespaces/_"
	hello := wasmCode(t, "./actions/hello")
	createAction(t, srv, "hello", map[string]any{"exec": map[string]any{"kind": "wasm:0.1", "code": hello}})
	createAction(t, srv, "cpuhash", map[string]any{"exec": map[string]any{"kind": "wasm:0.1", "code": wasmCode(t, "./actions/cpuhash")}})
	createAction(t, srv, "broken", map[string]any{"exec": map[string]any{"kind": "wasm:0.1", "code": "bm90IGEgbW9kdWxl"}})
	createAction(t, srv, "big", map[string]any{"exec": map[string]any{"kind": "wasm:0.1", "code": hello}, "limits": map[string]any{"memory": 512}})
	status, _, body := call(t, http.MethodPost, api+"/actions/hello?blocking=true", nil, standalone.GuestKey)
	if status != 200 {
		t.Fatalf("warm-up: %d %s", status, body)
	}
	id := decodeRecord(t, body).ActivationID
	big := `{"x":"` + strings.Repeat("a", 1<<20) + `"}`

	cases := []struct {
		name, method, url string
		body              any
		key               string
		status            int
		want              string // substring of the body
	}{
		{"info", "GET", srv.URL() + "/", nil, "", 200, `"wasm:0.1"`},
		{"api info", "GET", srv.URL() + "/api/v1", nil, "", 200, `"api_version":"1.0.0"`},
		{"namespaces", "GET", srv.URL() + "/api/v1/namespaces", nil, standalone.GuestKey, 200, `["guest"]`},
		{"packages", "GET", api + "/packages", nil, standalone.GuestKey, 200, `[]`},
		{"package missing", "GET", api + "/packages/nope", nil, standalone.GuestKey, 404, "The requested resource does not exist."},
		{"packaged action missing", "GET", api + "/actions/nope/hello", nil, standalone.GuestKey, 404, "The requested resource does not exist."},
		{"triggers", "GET", api + "/triggers", nil, standalone.GuestKey, 200, `[]`},
		{"rules", "GET", api + "/rules", nil, standalone.GuestKey, 200, `[]`},
		{"trigger create", "PUT", api + "/triggers/t", map[string]any{}, standalone.GuestKey, 501, "not supported by wasmwhisk standalone"},
		{"web action not exported", "GET", srv.URL() + "/api/v1/web/guest/default/hello.json", nil, "", 404, "The requested resource does not exist."},
		{"web namespace missing", "GET", srv.URL() + "/api/v1/web/nobody/default/hello.json", nil, "", 404, "The requested resource does not exist."},
		{"options", "OPTIONS", api + "/actions", nil, "", 200, ``},
		{"no auth", "GET", api + "/actions", nil, "", 401, "The resource requires authentication, which was not supplied with the request"},
		{"bad auth", "GET", api + "/actions", nil, "23bc46b1-71f6-4ed5-8c54-816aa4f8c502:wrong", 401, "The supplied authentication is invalid"},
		{"other namespace", "GET", srv.URL() + "/api/v1/namespaces/other/actions/hello", nil, standalone.GuestKey, 403, "is not authorized to access 'other/hello'."},
		{"unknown route", "GET", srv.URL() + "/api/v2/x", nil, standalone.GuestKey, 404, "The requested resource could not be found."},
		{"method", "PATCH", api + "/actions/hello", nil, standalone.GuestKey, 405, "not allowed"},
		{"missing action", "GET", api + "/actions/nope", nil, standalone.GuestKey, 404, "The requested resource does not exist."},
		{"illegal name", "PUT", api + "/actions/%20bad", map[string]any{}, standalone.GuestKey, 400, "The name of the entity contains illegal characters."},
		{"exec undefined", "PUT", api + "/actions/new", map[string]any{}, standalone.GuestKey, 400, "exec undefined"},
		{"unsupported kind", "PUT", api + "/actions/new", map[string]any{"exec": map[string]any{"kind": "cobol:1", "code": "x"}}, standalone.GuestKey, 400, "The specified runtime 'cobol:1' is not supported by this platform."},
		{"code not string", "PUT", api + "/actions/new", map[string]any{"exec": map[string]any{"kind": "wasm:0.1", "code": 1}}, standalone.GuestKey, 400, "'code' must be a string defined in 'exec' for 'wasm:0.1' actions"},
		{"malformed", "PUT", api + "/actions/new", "{", standalone.GuestKey, 400, "The request content was malformed:"},
		{"memory limit", "PUT", api + "/actions/new", map[string]any{"exec": map[string]any{"kind": "wasm:0.1", "code": "x"}, "limits": map[string]any{"memory": 1024}}, standalone.GuestKey, 400, "requirement failed: memory size 1024 MB exceeds allowed threshold of 512 MB"},
		{"timeout limit", "PUT", api + "/actions/new", map[string]any{"exec": map[string]any{"kind": "wasm:0.1", "code": "x"}, "limits": map[string]any{"timeout": 50}}, standalone.GuestKey, 400, "requirement failed: duration 50 milliseconds below allowed threshold of 100 milliseconds"},
		{"concurrency limit", "PUT", api + "/actions/new", map[string]any{"exec": map[string]any{"kind": "wasm:0.1", "code": "x"}, "limits": map[string]any{"concurrency": 10}}, standalone.GuestKey, 400, "requirement failed: concurrency 10 exceeds allowed threshold of 1"},
		{"exists", "PUT", api + "/actions/hello", map[string]any{"exec": map[string]any{"kind": "wasm:0.1", "code": hello}}, standalone.GuestKey, 409, "resource already exists"},
		{"list limit", "GET", api + "/actions?limit=201", nil, standalone.GuestKey, 400, "The value '201' is not in the range of 0 to 200 for actions."},
		{"list limit zero", "GET", api + "/actions?limit=0", nil, standalone.GuestKey, 200, `"name":"hello"`},
		{"list skip", "GET", api + "/actions?skip=-1", nil, standalone.GuestKey, 400, "The value '-1' is not greater than or equal to 0 for actions."},
		{"list not integer", "GET", api + "/actions?limit=x", nil, standalone.GuestKey, 400, "The value 'x' is not an integer for actions."},
		{"count", "GET", api + "/actions?count=true", nil, standalone.GuestKey, 200, `{"actions":4}`},
		{"non-blocking", "POST", api + "/actions/hello", nil, standalone.GuestKey, 202, `"activationId"`},
		{"blocking", "POST", api + "/actions/hello?blocking=true", nil, standalone.GuestKey, 200, `"status":"success"`},
		{"blocking result", "POST", api + "/actions/hello?blocking=true&result=true", map[string]any{"name": "r"}, standalone.GuestKey, 200, `{"greeting":"Hello, r!"`},
		{"application error", "POST", api + "/actions/cpuhash?blocking=true", map[string]any{"rounds": -1}, standalone.GuestKey, 502, `"status":"application error"`},
		{"application error result", "POST", api + "/actions/cpuhash?blocking=true&result=true", map[string]any{"rounds": -1}, standalone.GuestKey, 502, `{"error":"rounds must be between`},
		{"developer error", "POST", api + "/actions/broken?blocking=true", nil, standalone.GuestKey, 502, `"status":"action developer error"`},
		{"whisk error", "POST", api + "/actions/big?blocking=true", nil, standalone.GuestKey, 500, `"status":"whisk internal error"`},
		{"blocking wait expires", "POST", api + "/actions/cpuhash?blocking=true&timeout=1", map[string]any{"rounds": 2000000}, standalone.GuestKey, 202, `"activationId"`},
		{"blocking timeout param", "POST", api + "/actions/hello?blocking=true&timeout=0", nil, standalone.GuestKey, 400, "Timeout must be number of milliseconds up to 60000."},
		{"payload too large", "POST", api + "/actions/hello", big, standalone.GuestKey, 413, "Request larger than allowed:"},
		{"invoke missing", "POST", api + "/actions/nope", nil, standalone.GuestKey, 404, "The requested resource does not exist."},
		{"activation", "GET", api + "/activations/" + id, nil, standalone.GuestKey, 200, `"activationId":"` + id + `"`},
		{"activation slash", "GET", api + "/activations/" + id + "/", nil, standalone.GuestKey, 200, `"activationId":"` + id + `"`},
		{"activation result", "GET", api + "/activations/" + id + "/result", nil, standalone.GuestKey, 200, `{"status":"success","success":true,"result":`},
		{"activation logs", "GET", api + "/activations/" + id + "/logs", nil, standalone.GuestKey, 200, `stdout: hello stdout:`},
		{"activation missing", "GET", api + "/activations/" + strings.Repeat("0", 32), nil, standalone.GuestKey, 404, "The requested resource does not exist."},
		{"activation id length", "GET", api + "/activations/abc", nil, standalone.GuestKey, 400, "Activation id length is 3 but must be 32."},
		{"activation id hex", "GET", api + "/activations/" + strings.Repeat("z", 32), nil, standalone.GuestKey, 400, "The activation id is not valid."},
		{"activations list", "GET", api + "/activations?limit=0", nil, standalone.GuestKey, 200, `"statusCode":0`},
		{"activations limit", "GET", api + "/activations?limit=300", nil, standalone.GuestKey, 400, "The value '300' is not in the range of 0 to 200 for activations."},
		{"activations docs count", "GET", api + "/activations?docs=true&count=true", nil, standalone.GuestKey, 400, "The parameter 'docs' is not permitted with 'count'."},
		{"activations since", "GET", api + "/activations?since=x", nil, standalone.GuestKey, 400, "Parameter is not a valid value for epoch seconds: x"},
		{"activations name", "GET", api + "/activations?name=a/b/c", nil, standalone.GuestKey, 400, "Parameter may be a 'simple' name or 'package-name/simple' name: a/b/c"},
		{"activations by name", "GET", api + "/activations?name=hello&docs=true", nil, standalone.GuestKey, 200, `"name":"hello"`},
		{"delete", "DELETE", api + "/actions/big", nil, standalone.GuestKey, 200, `"name":"big"`},
		{"delete missing", "DELETE", api + "/actions/big", nil, standalone.GuestKey, 404, "The requested resource does not exist."},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, hdr, body := call(t, tc.method, tc.url, tc.body, tc.key)
			if status != tc.status {
				t.Fatalf("status %d, want %d: %s", status, tc.status, body)
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
			if status == 401 && hdr.Get("WWW-Authenticate") == "" {
				t.Errorf("401 without WWW-Authenticate")
			}
			if tc.method == "POST" && (status == 200 || status == 202 || status == 502 || status == 500) {
				if len(hdr.Get("x-openwhisk-activation-id")) != 32 {
					t.Errorf("missing x-openwhisk-activation-id")
				}
			}
		})
	}
}

func truncate(b []byte) string {
	if len(b) > 300 {
		return string(b[:300]) + "..."
	}
	return string(b)
}
