package standalone

import (
	"encoding/json"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
)

// Example outputs of the spray-json pretty printer that OpenWhisk's web route uses.
func TestPrettyJSON(t *testing.T) {
	cases := []struct{ in, want string }{
		{`{"foobar":"foobar"}`, "{\n  \"foobar\": \"foobar\"\n}"},
		{`{"a":[1,{"b":null}],"c":{"d":true}}`, "{\n  \"a\": [1, {\n    \"b\": null\n  }],\n  \"c\": {\n    \"d\": true\n  }\n}"},
		{`[1, 2.50, "x"]`, `[1, 2.50, "x"]`},
		{`{}`, "{\n\n}"},
		{`"<&>\u0001é"`, "\"<&>\\u0001é\""},
		{`{"z":1,"a":2}`, "{\n  \"z\": 1,\n  \"a\": 2\n}"},
	}
	for _, tc := range cases {
		got, err := prettyJSON([]byte(tc.in))
		if err != nil || string(got) != tc.want {
			t.Errorf("prettyJSON(%s) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	if _, err := prettyJSON([]byte(`{"a":`)); err == nil {
		t.Errorf("prettyJSON accepted truncated JSON")
	}
}

// FuzzPrettyJSON: for any valid JSON the pretty form is valid JSON with the same value.
func FuzzPrettyJSON(f *testing.F) {
	for _, s := range []string{`{"a":[1,2,{"b":"\n"}]}`, `[]`, `"x"`, `1e5`, `{"":{}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		if !json.Valid(in) {
			return
		}
		out, err := prettyJSON(in)
		if err != nil {
			t.Fatalf("prettyJSON(%q): %v", in, err)
		}
		var a, b any
		if json.Unmarshal(in, &a) != nil {
			return
		}
		if err := json.Unmarshal(out, &b); err != nil {
			t.Fatalf("pretty form %q of %q is not JSON: %v", out, in, err)
		}
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("pretty form changed the value: %q -> %q", in, out)
		}
	})
}

func TestParseWebPath(t *testing.T) {
	cases := []struct {
		path string
		ok   bool
		want webRequest
	}{
		{"/api/v1/web/guest/default/hello.json", true, webRequest{namespace: "guest", name: "hello", ext: ".json"}},
		{"/api/v1/web/guest/demo/hello", true, webRequest{namespace: "guest", pkg: "demo", name: "hello", ext: ".http"}},
		{"/api/v1/web/guest/demo/hello.text/a/b", true, webRequest{namespace: "guest", pkg: "demo", name: "hello", ext: ".text", path: "/a/b"}},
		{"/api/v1/web/guest/demo/hello.json/", true, webRequest{namespace: "guest", pkg: "demo", name: "hello", ext: ".json", path: "/"}},
		{"/api/v1/web/guest/default/my%20action.html", true, webRequest{namespace: "guest", name: "my action", ext: ".html"}},
		{"/api/v1/web/guest/default/hello.xyz", true, webRequest{namespace: "guest", name: "hello.xyz", ext: ".http"}},
		{"/api/v1/web/guest/default/.json", false, webRequest{}},
		{"/api/v1/web/guest/hello", false, webRequest{}},
		{"/api/v1/web/guest", false, webRequest{}},
		{"/api/v1/web/gu%zzest/default/a", false, webRequest{}},
		{"/api/v1/web//default/a", false, webRequest{}},
	}
	for _, tc := range cases {
		got, ok := parseWebPath(tc.path)
		if ok != tc.ok || got != tc.want {
			t.Errorf("parseWebPath(%s) = %+v, %v; want %+v, %v", tc.path, got, ok, tc.want, tc.ok)
		}
	}
}

// FuzzWebRequest: any path, content type and body either names nothing or parses into arguments
// that are a JSON object, without a panic.
func FuzzWebRequest(f *testing.F) {
	f.Add("/api/v1/web/guest/default/a.json/x?y=1", "application/json", []byte(`{"a":1}`), false)
	f.Add("/api/v1/web/guest/p/a", "application/x-www-form-urlencoded", []byte("a=1&a=2"), true)
	f.Add("/api/v1/web/guest/p/a.text", "text/plain; charset=latin1", []byte("\xff"), false)
	f.Fuzz(func(t *testing.T, path, ctype string, body []byte, raw bool) {
		if !strings.HasPrefix(path, webPrefix) {
			return
		}
		req, ok := parseWebPath(path)
		if !ok {
			return
		}
		if !entityNameRE.MatchString(req.name) || !entityNameRE.MatchString(req.namespace) {
			t.Fatalf("parseWebPath(%q) accepted %+v", path, req)
		}
		value, herr := webBody(ctype, body, raw)
		if herr != nil {
			return
		}
		if value != nil && !json.Valid(value) {
			t.Fatalf("webBody(%q, %q) = %q, not JSON", ctype, body, value)
		}
		r := httptest.NewRequest("POST", "http://localhost/x?q=1", nil)
		args, herr := webArguments(&Action{}, r, req.path, value, raw, nil)
		if herr != nil {
			return
		}
		var obj map[string]any
		if err := json.Unmarshal(args, &obj); err != nil {
			t.Fatalf("arguments %q are not a JSON object: %v", args, err)
		}
	})
}

// FuzzParseComponents: sequence components either parse into "/ns/…" names of valid segments or
// are refused with a 400.
func FuzzParseComponents(f *testing.F) {
	f.Add([]byte(`["/_/a","/guest/pkg/b"]`))
	f.Add([]byte(`["a"]`))
	f.Add([]byte(`{"x":1}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		out, herr := parseComponents(raw)
		if herr != nil {
			if herr.status != 400 {
				t.Fatalf("status %d", herr.status)
			}
			return
		}
		for _, c := range out {
			parts := strings.Split(strings.TrimPrefix(c, "/"), "/")
			if !strings.HasPrefix(c, "/") || len(parts) < 2 {
				t.Fatalf("component %q", c)
			}
			for _, p := range parts {
				if !entityNameRE.MatchString(p) {
					t.Fatalf("component %q has segment %q", c, p)
				}
			}
		}
	})
}
