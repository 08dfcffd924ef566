package actionproxy_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/wasmwhisk/wasmwhisk/internal/conformance"
	"github.com/wasmwhisk/wasmwhisk/internal/testbuild"
	"github.com/wasmwhisk/wasmwhisk/internal/ziptest"
)

// stillServing checks that, after a bad request, the proxy initialises and runs a good action.
func stillServing(t *testing.T, cl *conformance.Client) {
	t.Helper()
	code := sampleCode(t, testbuild.Target{Pkg: samplePkg(conformance.Identity)})
	if r := cl.Init(code, "main", nil); r.Status != http.StatusOK {
		t.Fatalf("proxy no longer initialises: %d %s", r.Status, r.Body)
	}
	if r := cl.Run(map[string]any{"ok": true}, nil); r.Status != http.StatusOK {
		t.Fatalf("proxy no longer runs: %d %s", r.Status, r.Body)
	}
}

func TestBadInitInputs(t *testing.T) {
	bin := mustProxy(t)
	cases := []struct {
		name    string
		body    string
		status  int
		message string // substring of the error
	}{
		{"invalid JSON", `{"value":`, 400, "Error unmarshaling request"},
		{"value not an object", `{"value":"code"}`, 400, "Error unmarshaling request"},
		{"binary flag on code that is not base64", `{"value":{"code":"%%%not base64%%%","binary":true}}`, 400, "cannot decode the request"},
		{"zip that is not a zip", fmt.Sprintf(`{"value":{"code":%q,"binary":true}}`, conformance.B64([]byte("PK\x03\x04garbage!"))), 502, "not a valid zip"},
		{"zip escaping its directory", fmt.Sprintf(`{"value":{"code":%q,"binary":true}}`, conformance.B64(ziptest.Build(t, ziptest.File{Name: "../exec", Body: []byte("#!/bin/sh\n"), Mode: 0o755}))), 502, "escapes the action directory"},
		{"zip without exec", fmt.Sprintf(`{"value":{"code":%q,"binary":true}}`, conformance.B64(ziptest.Build(t, ziptest.File{Name: "README", Body: []byte("hi"), Mode: 0o755}))), 502, "no executable named exec"},
		{"not an executable", fmt.Sprintf(`{"value":{"code":%q,"binary":true}}`, conformance.B64([]byte("just some bytes"))), 502, "failed to generate or locate a binary"},
		{"executable that exits at once", fmt.Sprintf(`{"value":{"code":%q,"binary":true}}`, conformance.B64([]byte("#!/bin/sh\nexit 0\n"))), 502, "command exited"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cl := conformance.NewClient(t, conformance.StartProcess(t, bin, []string{"-executor", "native"}, nil))
			r := cl.Post("/init", []byte(c.body))
			if r.Status != c.status || !strings.Contains(string(r.Body), c.message) {
				t.Fatalf("got %d %s, want %d with %q", r.Status, r.Body, c.status, c.message)
			}
			stillServing(t, cl)
		})
	}
}

func TestBodyOverLimit(t *testing.T) {
	cl := conformance.NewClient(t, conformance.StartProcess(t, mustProxy(t), []string{"-executor", "native", "-max-body", "4096"}, nil))
	big := fmt.Sprintf(`{"value":{"arg":%q}}`, strings.Repeat("x", 8192))
	for _, path := range []string{"/init", "/run"} {
		r := cl.Post(path, []byte(big))
		if r.Status != http.StatusRequestEntityTooLarge || !strings.Contains(string(r.Body), "exceeds the limit of 4096 bytes") {
			t.Fatalf("%s: %d %s", path, r.Status, r.Body)
		}
	}
	// A small action, within the limit, still works.
	script := "#!/bin/sh\necho '{\"ok\":true}' >&3\nwhile read line; do echo '{\"alive\":true}' >&3; done\n"
	if r := cl.Init(conformance.B64([]byte(script)), "main", nil); r.Status != 200 {
		t.Fatalf("init: %d %s", r.Status, r.Body)
	}
	if r := cl.Run(map[string]any{}, nil); r.Status != 200 || string(r.Body) != `{"alive":true}` {
		t.Fatalf("run: %d %s", r.Status, r.Body)
	}
}

func TestBadRunInputs(t *testing.T) {
	cl := conformance.NewClient(t, conformance.StartProcess(t, mustProxy(t), []string{"-executor", "native"}, nil))
	if r := cl.Post("/run", []byte(`{"value":{}}`)); r.Status != 500 || string(r.Body) != `{"error":"no action defined yet"}` {
		t.Fatalf("run before init: %d %s", r.Status, r.Body)
	}
	stillServing(t, cl)
	for _, c := range []struct {
		body   string
		status int
		body2  string
	}{
		{`{"value":`, 400, "Error unmarshaling request"},
		{`[1,2]`, 400, "Error unmarshaling request"},
		{`{"value":"A"}`, 404, "The action did not receive a dictionary or array as an argument."},
		{`{"value":42}`, 404, "The action did not receive a dictionary or array as an argument."},
	} {
		if r := cl.Post("/run", []byte(c.body)); r.Status != c.status || !strings.Contains(string(r.Body), c.body2) {
			t.Errorf("run %s: %d %s", c.body, r.Status, r.Body)
		}
	}
	if r := cl.Run(map[string]any{"still": "here"}, nil); r.Status != 200 {
		t.Fatalf("proxy stopped serving: %d %s", r.Status, r.Body)
	}
	for _, c := range []struct {
		method, path string
		status       int
	}{
		{http.MethodGet, "/init", 405}, {http.MethodGet, "/run", 405}, {http.MethodPost, "/other", 404},
	} {
		req, _ := http.NewRequest(c.method, cl.URL()+c.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.status || resp.ContentLength < 0 {
			t.Errorf("%s %s: %d (content-length %d)", c.method, c.path, resp.StatusCode, resp.ContentLength)
		}
	}
}

func TestNativeChildFailures(t *testing.T) {
	bin := mustProxy(t)
	t.Run("never answers", func(t *testing.T) {
		cl := conformance.NewClient(t, conformance.StartProcess(t, bin, []string{"-executor", "native"}, nil))
		script := "#!/bin/sh\necho '{\"ok\":true}' >&3\nwhile read line; do sleep 1000; done\n"
		if r := cl.Init(conformance.B64([]byte(script)), "main", nil); r.Status != 200 {
			t.Fatalf("init: %d %s", r.Status, r.Body)
		}
		deadline := time.Now().Add(300 * time.Millisecond).UnixMilli()
		r := cl.Run(map[string]any{}, map[string]any{"deadline": fmt.Sprint(deadline)})
		if r.Status != 502 || !strings.Contains(string(r.Body), "The action exceeded its time limits of") {
			t.Fatalf("run: %d %s", r.Status, r.Body)
		}
		// The child was killed: the container answers, and says so.
		if r := cl.Run(map[string]any{}, nil); r.Status != 500 || !strings.Contains(string(r.Body), "command exited") {
			t.Fatalf("after timeout: %d %s", r.Status, r.Body)
		}
	})
	t.Run("dies mid-run", func(t *testing.T) {
		cl := conformance.NewClient(t, conformance.StartProcess(t, bin, []string{"-executor", "native"}, nil))
		script := "#!/bin/sh\necho '{\"ok\":true}' >&3\nread line\nexit 3\n"
		if r := cl.Init(conformance.B64([]byte(script)), "main", nil); r.Status != 200 {
			t.Fatalf("init: %d %s", r.Status, r.Body)
		}
		if r := cl.Run(map[string]any{}, nil); r.Status != 400 || string(r.Body) != `{"error":"command exited"}` {
			t.Fatalf("run: %d %s", r.Status, r.Body)
		}
		cl.CheckStreams(1, nil)
	})
	t.Run("no acknowledgement", func(t *testing.T) {
		cl := conformance.NewClient(t, conformance.StartProcess(t, bin, []string{"-executor", "native"}, nil))
		script := "#!/bin/sh\necho '{\"ok\":false}' >&3\nsleep 1000\n"
		if r := cl.Init(conformance.B64([]byte(script)), "main", nil); r.Status != 502 || !strings.Contains(string(r.Body), "bad acknowledgement") {
			t.Fatalf("init: %d %s", r.Status, r.Body)
		}
	})
}
