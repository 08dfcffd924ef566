package standalone_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/apache/openwhisk-client-go/whisk"

	"github.com/wasmwhisk/wasmwhisk/standalone"
)

// webCall does one request to a web action URL, optionally authenticated, and returns status,
// headers and body.
func webCall(t *testing.T, method, url, ctype, body string, headers map[string]string) (int, http.Header, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	for k, v := range headers {
		if k == "auth" {
			user, pass, _ := cut(v)
			req.SetBasicAuth(user, pass)
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := noRedirects.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, data
}

// noRedirects answers a redirect with the redirect itself: a web action's Location is not to be
// followed (and must never lead a test off this machine).
var noRedirects = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// webAction is an action built from actions/reply answering reply (or, with reply nil, its
// parameters), with the given annotations and parameters.
func webAction(code string, reply any, annotations map[string]any, params map[string]any) map[string]any {
	var ann, ps []any
	for k, v := range annotations {
		ann = append(ann, map[string]any{"key": k, "value": v})
	}
	if reply != nil {
		ps = append(ps, map[string]any{"key": "reply", "value": reply})
	}
	for k, v := range params {
		ps = append(ps, map[string]any{"key": k, "value": v})
	}
	return map[string]any{"exec": map[string]any{"kind": "wasm:0.1", "code": code}, "annotations": ann, "parameters": ps}
}

// TestWebActions calls web actions by URL over raw HTTP, through every extension, the __ow_*
// parameters, results as HTTP responses, the annotations web-export, raw-http, final and
// require-whisk-auth, and OpenWhisk's error answers.
func TestWebActions(t *testing.T) {
	srv := startServer(t, newWasmHost(t), nil)
	code := wasmCode(t, "./actions/reply")
	web := map[string]any{"web-export": true, "final": true}
	png := []byte("\x89PNG\r\n\x1a\nnot really a png")
	actions := map[string]map[string]any{
		"echo":     webAction(code, nil, web, map[string]any{"fixed": "action", "empty": nil}),
		"redirect": webAction(code, map[string]any{"headers": map[string]any{"location": "http://openwhisk.org"}, "statusCode": 302}, web, nil),
		"page":     webAction(code, map[string]any{"body": "<html>hi</html>"}, web, nil),
		"png":      webAction(code, map[string]any{"headers": map[string]any{"Content-Type": "image/png"}, "body": base64.StdEncoding.EncodeToString(png)}, web, nil),
		"cookies":  webAction(code, map[string]any{"headers": map[string]any{"Set-Cookie": []string{"a=b", "c=d"}}, "statusCode": 200, "body": "ok"}, web, nil),
		"jsonbody": webAction(code, map[string]any{"statusCode": 201, "body": map[string]any{"field": []int{1, 2}}}, web, nil),
		"apperror": webAction(code, map[string]any{"error": map[string]any{"statusCode": 418, "body": "no tea"}}, web, nil),
		"notjson":  webAction(code, "not an object", web, nil),
		"text":     webAction(code, map[string]any{"text": "plain words"}, web, nil),
		"badcode":  webAction(code, map[string]any{"statusCode": "xyz"}, web, nil),
		"badctype": webAction(code, map[string]any{"headers": map[string]any{"content-type": "xyzbar"}, "body": "hi"}, web, nil),
		"mismatch": webAction(code, map[string]any{"headers": map[string]any{"content-type": "text/html"}, "body": map[string]any{"a": 1}}, web, nil),
		"secret":   webAction(code, map[string]any{"body": "in"}, map[string]any{"web-export": true, "require-whisk-auth": "s3cr3t"}, nil),
		"authed":   webAction(code, nil, map[string]any{"web-export": true, "require-whisk-auth": true}, nil),
		"raw":      webAction(code, nil, map[string]any{"web-export": true, "raw-http": true, "final": true}, map[string]any{"fixed": "action"}),
		"custom":   webAction(code, map[string]any{"headers": map[string]any{"Access-Control-Allow-Methods": "OPTIONS, GET"}, "statusCode": 200}, map[string]any{"web-export": true, "web-custom-options": true}, nil),
		"private":  webAction(code, map[string]any{"body": "hidden"}, map[string]any{"web-export": false}, nil),
	}
	for name, body := range actions {
		createAction(t, srv, name, body)
	}
	api := srv.URL() + "/api/v1/namespaces/_"
	if status, _, body := call(t, "PUT", api+"/packages/demo", map[string]any{"parameters": []any{map[string]any{"key": "fromPackage", "value": "pkg"}}}, standalone.GuestKey); status != 200 {
		t.Fatalf("create package: %d %s", status, body)
	}
	createAction(t, srv, "demo/echo", webAction(code, nil, map[string]any{"web-export": true}, nil))
	createAction(t, srv, "seq", map[string]any{"exec": map[string]any{"kind": "sequence", "components": []string{"/_/demo/echo"}},
		"annotations": []any{map[string]any{"key": "web-export", "value": true}}})

	base := srv.URL() + "/api/v1/web/guest/default/"
	key := standalone.GuestKey
	cases := []struct {
		name, method, url, ctype, body string
		headers                        map[string]string
		status                         int
		want                           string // substring of the body
		header, value                  string // a response header and its value
	}{
		{"json", "GET", base + "echo.json?q=1", "", "", nil, 200, `"__ow_method": "get"`, "Content-Type", "application/json"},
		{"json pretty", "GET", base + "echo.json", "", "", nil, 200, "{\n  \"", "", ""},
		{"query param", "GET", base + "echo.json?name=Jane", "", "", nil, 200, `"name": "Jane"`, "", ""},
		{"json body", "POST", base + "echo.json", "application/json", `{"name":"Jo","n":[1,2]}`, nil, 200, `"n": [1, 2]`, "", ""},
		{"form body", "POST", base + "echo.json", "application/x-www-form-urlencoded", "name=Form", nil, 200, `"name": "Form"`, "", ""},
		{"text body", "POST", base + "echo.json", "text/plain", "Jane", nil, 200, `"__ow_body": "Jane"`, "", ""},
		{"binary body", "POST", base + "echo.json", "image/png", "\x00\x01", nil, 200, `"__ow_body": "AAE="`, "", ""},
		{"json scalar body", "POST", base + "echo.json", "application/json", `"str"`, nil, 200, `"__ow_body": "str"`, "", ""},
		{"unmatched path", "GET", base + "echo.json/a/b", "", "", nil, 200, `"__ow_path": "/a/b"`, "", ""},
		{"headers", "GET", base + "echo.json", "", "", map[string]string{"X-Custom": "v"}, 200, `"x-custom": "v"`, "", ""},
		{"action parameter", "GET", base + "echo.json", "", "", nil, 200, `"fixed": "action"`, "", ""},
		{"final parameter", "GET", base + "echo.json?fixed=no", "", "", nil, 400, "Request defines parameters that are not allowed (e.g., reserved properties).", "", ""},
		{"final null is open", "GET", base + "echo.json?empty=set", "", "", nil, 200, `"empty": "set"`, "", ""},
		{"reserved parameter", "GET", base + "echo.json?__ow_method=x", "", "", nil, 400, "Request defines parameters that are not allowed", "", ""},
		{"reserved in body", "POST", base + "echo.json", "application/json", `{"__ow_path":"/x"}`, nil, 400, "Request defines parameters that are not allowed", "", ""},
		{"user when authenticated", "GET", base + "echo.json", "", "", map[string]string{"auth": key}, 200, `"__ow_user": "guest"`, "", ""},
		{"default extension", "GET", base + "redirect", "", "", nil, 302, ``, "Location", "http://openwhisk.org"},
		{"http redirect", "GET", base + "redirect.http", "", "", nil, 302, ``, "Location", "http://openwhisk.org"},
		{"http html", "GET", base + "page.http", "", "", nil, 200, `<html>hi</html>`, "Content-Type", "text/html; charset=UTF-8"},
		{"html", "GET", base + "page.html", "", "", nil, 200, `<html>hi</html>`, "Content-Type", "text/html; charset=UTF-8"},
		{"html not a string", "GET", base + "echo.html", "", "", nil, 400, "Response is not valid 'text/html'.", "", ""},
		{"http binary", "GET", base + "png.http", "", "", nil, 200, "not really a png", "Content-Type", "image/png"},
		{"http cookies", "GET", base + "cookies.http", "", "", nil, 200, "ok", "", ""},
		{"http json body", "GET", base + "jsonbody.http", "", "", nil, 201, "\"field\": [1, 2]", "Content-Type", "application/json"},
		{"http no body", "GET", base + "echo.http", "", "", nil, 204, ``, "", ""},
		{"http application error", "GET", base + "apperror.http", "", "", nil, 418, "no tea", "", ""},
		{"json application error not object", "GET", base + "apperror.json", "", "", nil, 200, `"statusCode": 418`, "", ""},
		{"developer error", "GET", base + "notjson.json", "", "", nil, 400, "There was an error processing your request.", "", ""},
		{"text", "GET", base + "text.text", "", "", nil, 200, "plain words", "Content-Type", "text/plain; charset=UTF-8"},
		{"text missing", "GET", base + "page.text", "", "", nil, 200, "<html>hi</html>", "", ""},
		{"text property missing", "GET", base + "redirect.text", "", "", nil, 404, "Response does not include requested property.", "", ""},
		{"bad status code", "GET", base + "badcode.http", "", "", nil, 400, "Response is not valid 'message/http'.", "", ""},
		{"bad content type", "GET", base + "badctype.http", "", "", nil, 400, "Response did not specify a known content-type.", "", ""},
		{"json body with html type", "GET", base + "mismatch.http", "", "", nil, 400, "Response type in header did not match generated content type.", "", ""},
		{"secret missing", "GET", base + "secret.http", "", "", nil, 401, "lacks valid authentication credentials", "", ""},
		{"secret wrong", "GET", base + "secret.http", "", "", map[string]string{"X-Require-Whisk-Auth": "nope"}, 401, "lacks valid", "", ""},
		{"secret right", "GET", base + "secret.http", "", "", map[string]string{"X-Require-Whisk-Auth": "s3cr3t"}, 200, "in", "", ""},
		{"auth required", "GET", base + "authed.json", "", "", nil, 401, "lacks valid", "", ""},
		{"auth wrong", "GET", base + "authed.json", "", "", map[string]string{"auth": "23bc46b1-71f6-4ed5-8c54-816aa4f8c502:wrong"}, 401, "lacks valid", "", ""},
		{"auth given", "GET", base + "authed.json", "", "", map[string]string{"auth": key}, 200, `"__ow_user": "guest"`, "", ""},
		{"raw", "POST", base + "raw.json?fixed=q&a=b", "application/json", `{"fixed":"body"}`, nil, 200, `"__ow_query": "fixed=q&a=b"`, "", ""},
		{"raw body base64", "POST", base + "raw.json", "application/json", `{"a":1}`, nil, 200, `"__ow_body": "eyJhIjoxfQ=="`, "", ""},
		{"raw empty", "POST", base + "raw.json", "", "", nil, 200, `"__ow_body": ""`, "", ""},
		{"options cors", "OPTIONS", base + "echo.json", "", "", nil, 200, ``, "Access-Control-Allow-Methods", "OPTIONS, GET, DELETE, POST, PUT, HEAD, PATCH"},
		{"cors echo headers", "GET", base + "echo.json", "", "", map[string]string{"Access-Control-Request-Headers": "x-mine"}, 200, ``, "Access-Control-Allow-Headers", "x-mine"},
		{"custom options", "OPTIONS", base + "custom.http", "", "", nil, 200, ``, "Access-Control-Allow-Methods", "OPTIONS, GET"},
		{"head", "HEAD", base + "redirect.http", "", "", nil, 302, ``, "Location", "http://openwhisk.org"},
		{"put", "PUT", base + "echo.json", "application/json", `{"m":1}`, nil, 200, `"__ow_method": "put"`, "", ""},
		{"patch", "PATCH", base + "echo.json", "", "", nil, 200, `"__ow_method": "patch"`, "", ""},
		{"delete", "DELETE", base + "echo.json", "", "", nil, 200, `"__ow_method": "delete"`, "", ""},
		{"packaged", "GET", srv.URL() + "/api/v1/web/guest/demo/echo.json", "", "", nil, 200, `"fromPackage": "pkg"`, "", ""},
		{"sequence", "GET", base + "seq.json?name=s", "", "", nil, 200, `"name": "s"`, "", ""},
		{"not exported", "GET", base + "private.http", "", "", nil, 404, "The requested resource does not exist.", "", ""},
		{"no action", "GET", base + "nope.json", "", "", nil, 404, "The requested resource does not exist.", "", ""},
		{"unknown extension", "GET", base + "echo.xyz", "", "", nil, 404, "The requested resource does not exist.", "", ""},
		{"no namespace", "GET", srv.URL() + "/api/v1/web/nobody/default/echo.json", "", "", nil, 404, "The requested resource does not exist.", "", ""},
		{"no package", "GET", srv.URL() + "/api/v1/web/guest/nopkg/echo.json", "", "", nil, 404, "The requested resource does not exist.", "", ""},
		{"too short", "GET", srv.URL() + "/api/v1/web/guest/echo", "", "", nil, 404, "The requested resource could not be found.", "", ""},
		{"too short options", "OPTIONS", srv.URL() + "/api/v1/web/guest/echo", "", "", nil, 200, "", "Access-Control-Allow-Origin", "*"},
		{"too large", "POST", base + "echo.json", "application/json", `{"a":"` + strings.Repeat("x", 1<<20) + `"}`, nil, 413, "Request larger than allowed:", "", ""},
		{"method", "TRACE", base + "echo.json", "", "", nil, 405, "HTTP method not allowed", "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, hdr, body := webCall(t, tc.method, tc.url, tc.ctype, tc.body, tc.headers)
			if status != tc.status {
				t.Fatalf("status %d, want %d: %s", status, tc.status, truncate(body))
			}
			if !strings.Contains(string(body), tc.want) {
				t.Errorf("body %s does not contain %q", truncate(body), tc.want)
			}
			if tc.header != "" && hdr.Get(tc.header) != tc.value {
				t.Errorf("header %s = %q, want %q (all: %v)", tc.header, hdr.Get(tc.header), tc.value, hdr)
			}
			if status >= 400 && status != 405 && status != 418 && !strings.Contains(tc.name, "too short") {
				var e struct{ Error, Code string }
				if json.Unmarshal(body, &e) != nil || e.Error == "" || e.Code == "" || !bytes.HasPrefix(body, []byte("{\n  \"error\": ")) {
					t.Errorf("web error body is not a pretty-printed {error, code}: %q", body)
				}
			}
			if tc.method != "OPTIONS" && status < 400 && len(hdr.Get("x-openwhisk-activation-id")) != 32 {
				t.Errorf("no x-openwhisk-activation-id header")
			}
		})
	}

	// The raw body and the exact context: everything the action received.
	_, _, body := webCall(t, "POST", base+"echo.json?q=1&q=2", "application/json", `{"b":true}`, map[string]string{"X-A": "1"})
	var got map[string]any
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	hs, _ := got["__ow_headers"].(map[string]any)
	if got["q"] != "2" || got["b"] != true || got["__ow_path"] != "" || hs["x-a"] != "1" || hs["content-type"] != "application/json" || hs["host"] == nil {
		t.Errorf("arguments of a web action: %v", got)
	}
	if _, ok := got["__ow_user"]; ok {
		t.Errorf("__ow_user without authentication: %v", got)
	}
	// Multiple Set-Cookie values arrive as two headers.
	_, hdr, _ := webCall(t, "GET", base+"cookies.http", "", "", nil)
	if v := hdr.Values("Set-Cookie"); len(v) != 2 || v[0] != "a=b" || v[1] != "c=d" {
		t.Errorf("Set-Cookie values %v", v)
	}
	// Binary body decoded byte for byte.
	_, _, body = webCall(t, "GET", base+"png.http", "", "", nil)
	if !bytes.Equal(body, png) {
		t.Errorf("png body %q, want %q", body, png)
	}

	// The web invocation's record belongs to the action's owner, like any other.
	c := newClient(t, srv)
	acts, _, err := c.Activations.List(&whisk.ActivationListOptions{Name: "redirect", Docs: true})
	if err != nil || len(acts) == 0 || acts[0].Subject != "guest" {
		t.Errorf("records of the web action: %v %+v", err, acts)
	}
}
