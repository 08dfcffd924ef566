package conformance

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	msgNoCode       = `{"error":"Missing main/no code to execute."}`
	msgNoBinary     = `{"error":"The action failed to generate or locate a binary. See logs for details."}`
	msgReinit       = `{"error":"Cannot initialize the action more than once."}`
	msgDict         = `{"error":"The action did not return a dictionary or array."}`
	msgDictNode     = `{"error":"The action did not return a dictionary."}`
	largeInputChars = 1048561
)

// Run runs the canonical suite (SPEC §2.2, all ten cases) and the platform cases (§2.7 a–k, and l–m from issue 12).
func (s Suite) Run(t *testing.T) {
	t.Run("canonical", s.Canonical)
	t.Run("platform", s.Platform)
}

// start starts a container and returns a client for it.
func (s Suite) start(t *testing.T, env map[string]string) *Client {
	t.Helper()
	return NewClient(t, s.Start(t, Options{Env: env}))
}

// Canonical is BasicActionRunnerTests.
func (s Suite) Canonical(t *testing.T) {
	t.Run("01 handle initialization with no code", func(t *testing.T) {
		cl := s.start(t, nil)
		r := cl.PostJSON("/init", map[string]any{"value": map[string]any{"code": "", "main": "", "binary": false, "env": nil}})
		if s.HasCodeStub != (r.Status == http.StatusOK) {
			t.Fatalf("status %d (stub %v): %s", r.Status, s.HasCodeStub, r.Body)
		}
	})
	t.Run("02 handle initialization with no content", func(t *testing.T) {
		cl := s.start(t, nil)
		r := cl.Post("/init", []byte(`{}`))
		if s.HasCodeStub {
			if r.Status != http.StatusOK {
				t.Fatalf("status %d: %s", r.Status, r.Body)
			}
			return
		}
		if r.Status == http.StatusOK || (string(r.Body) != msgNoCode && string(r.Body) != msgNoBinary) {
			t.Fatalf("status %d body %s", r.Status, r.Body)
		}
	})
	t.Run("03 run and report an error for function not returning a json object", func(t *testing.T) {
		cl := s.start(t, nil)
		if r := cl.Init(s.Code(t, NotJSON), "main", nil); r.Status != http.StatusOK {
			t.Fatalf("init: %d %s", r.Status, r.Body)
		}
		r := cl.Post("/run", []byte(`{}`))
		if r.Status == http.StatusOK || (string(r.Body) != msgDict && string(r.Body) != msgDictNode) {
			t.Fatalf("run: %d %s", r.Status, r.Body)
		}
		// OpenWhisk's default TestConfig enforces both streams empty: the message belongs in
		// the response only.
		cl.CheckStreams(1, func(out, errs string) {
			if out != "" || errs != "" {
				t.Errorf("streams not empty: %q %q", out, errs)
			}
		})
	})
	t.Run("04 fail to initialize a second time", func(t *testing.T) {
		cl := s.start(t, nil)
		code := s.Code(t, Identity)
		if r := cl.Init(code, "main", nil); r.Status != http.StatusOK {
			t.Fatalf("init: %d %s", r.Status, r.Body)
		}
		r := cl.Init(code, "main", nil)
		if r.Status == http.StatusOK || string(r.Body) != msgReinit {
			t.Fatalf("re-init: %d %s", r.Status, r.Body)
		}
		cl.CheckStreams(0, func(out, errs string) {
			if !strings.Contains(out+errs, "Cannot initialize the action more than once.") {
				t.Errorf("the rejection was not logged: %q %q", out, errs)
			}
		})
	})
	t.Run("05 invoke non-standard entry point", func(t *testing.T) {
		cl := s.start(t, nil)
		if r := cl.Init(s.Code(t, Identity), "niam", nil); r.Status != http.StatusOK {
			t.Fatalf("init: %d %s", r.Status, r.Body)
		}
		r := cl.Run(map[string]any{"string": "hello"}, nil)
		if r.Status != http.StatusOK {
			t.Fatalf("run: %d %s", r.Status, r.Body)
		}
		jsonEqual(t, r.Body, `{"string":"hello"}`)
		cl.CheckStreams(1, func(out, errs string) {
			if out != "" || errs != "" {
				t.Errorf("streams not empty: %q %q", out, errs)
			}
		})
	})
	t.Run("06 echo arguments and print message to stdout/stderr", func(t *testing.T) {
		cl := s.start(t, nil)
		if r := cl.Init(s.Code(t, Echo), "main", nil); r.Status != http.StatusOK {
			t.Fatalf("init: %d %s", r.Status, r.Body)
		}
		for _, v := range []string{`{"string":"hello"}`, `{"string":"❄ ☃ ❄"}`, `{"numbers":[42,1]}`, `{"object":{"a":"A"}}`} {
			r := cl.Run(json.RawMessage(v), nil)
			if r.Status != http.StatusOK {
				t.Fatalf("run %s: %d %s", v, r.Status, r.Body)
			}
			jsonEqual(t, r.Body, v)
		}
		cl.CheckStreams(4, func(out, errs string) {
			if !strings.Contains(out, "hello stdout") || !strings.Contains(errs, "hello stderr") {
				t.Errorf("missing prints: %q %q", out, errs)
			}
		})
	})
	t.Run("07 handle unicode in source, input params, logs, and result", func(t *testing.T) {
		cl := s.start(t, nil)
		if r := cl.Init(s.Code(t, Unicode), "main", nil); r.Status != http.StatusOK {
			t.Fatalf("init: %d %s", r.Status, r.Body)
		}
		r := cl.Run(map[string]any{"delimiter": "❄"}, nil)
		if got, _ := r.Object()["winter"].(string); got != "❄ ☃ ❄" {
			t.Fatalf("winter = %q (%d %s)", got, r.Status, r.Body)
		}
		cl.CheckStreams(1, func(out, _ string) {
			if !strings.Contains(strings.ToLower(out), "❄ ☃ ❄") {
				t.Errorf("stdout %q", out)
			}
		})
	})
	t.Run("08 export environment variables before initialization", func(t *testing.T) {
		cl := s.start(t, nil)
		if r := cl.Init(s.Code(t, LoadEnv), "main", map[string]string{"SOME_VAR": "xyz", "ANOTHER_VAR": ""}); r.Status != http.StatusOK {
			t.Fatalf("init: %d %s", r.Status, r.Body)
		}
		r := cl.Run(map[string]any{}, nil)
		if r.Status != http.StatusOK {
			t.Fatalf("run: %d %s", r.Status, r.Body)
		}
		jsonEqual(t, r.Body, `{"SOME_VAR":"xyz","ANOTHER_VAR":""}`)
		cl.CheckStreams(1, func(out, errs string) {
			if out != "" || errs != "" {
				t.Errorf("streams not empty: %q %q", out, errs)
			}
		})
	})
	t.Run("09 confirm expected environment variables", func(t *testing.T) {
		cl := s.start(t, map[string]string{"__OW_API_HOST": "xyz"})
		if r := cl.Init(s.Code(t, Env), "main", nil); r.Status != http.StatusOK {
			t.Fatalf("init: %d %s", r.Status, r.Body)
		}
		r := cl.Run(map[string]any{}, map[string]any{"api_key": "abc", "namespace": "zzz", "action_name": "xxx",
			"action_version": "0.0.1", "activation_id": "iii", "deadline": "123"})
		if r.Status != http.StatusOK {
			t.Fatalf("run: %d %s", r.Status, r.Body)
		}
		jsonEqual(t, r.Body, `{"api_host":"xyz","api_key":"abc","namespace":"zzz","action_name":"xxx","action_version":"0.0.1","activation_id":"iii","deadline":"123"}`)
		cl.CheckStreams(1, func(out, errs string) {
			if out != "" || errs != "" {
				t.Errorf("streams not empty: %q %q", out, errs)
			}
		})
	})
	t.Run("10 echo a large input", func(t *testing.T) {
		cl := s.start(t, nil)
		if r := cl.Init(s.Code(t, Identity), "main", nil); r.Status != http.StatusOK {
			t.Fatalf("init: %d %s", r.Status, r.Body)
		}
		arg := strings.Repeat("a", largeInputChars)
		r := cl.Run(map[string]any{"arg": arg}, nil)
		if got, _ := r.Object()["arg"].(string); got != arg {
			t.Fatalf("large input not echoed: status %d, %d bytes", r.Status, len(r.Body))
		}
	})
}

// Platform runs the platform-contract cases of SPEC §2.7 (a)–(k), then (l) a /init with binary
// code that is not base64 fails like any bad code (logged, one sentinel per stream) and (m) an
// activation's 2 MiB of stdout all reach the log, as OpenWhisk's log limit (10 MB) allows.
func (s Suite) Platform(t *testing.T) {
	t.Run("a deadline as string and as number", func(t *testing.T) {
		cl := s.start(t, nil)
		cl.Init(s.Code(t, Env), "main", nil)
		for _, d := range []any{"4102444800000", json.Number("4102444800000")} {
			r := cl.Run(map[string]any{}, map[string]any{"deadline": d})
			if r.Status != http.StatusOK || r.Object()["deadline"] != "4102444800000" {
				t.Fatalf("deadline %v: %d %s", d, r.Status, r.Body)
			}
		}
	})
	t.Run("b context refreshed on every run", func(t *testing.T) {
		cl := s.start(t, nil)
		cl.Init(s.Code(t, Env), "main", nil)
		for _, id := range []string{"first0000000000000000000000000001", "second000000000000000000000000002"} {
			r := cl.Run(map[string]any{}, map[string]any{"activation_id": id, "namespace": "ns-" + id[:5]})
			o := r.Object()
			if o["activation_id"] != id || o["namespace"] != "ns-"+id[:5] {
				t.Fatalf("run %s saw %s", id, r.Body)
			}
		}
	})
	t.Run("c null value is an empty object", func(t *testing.T) {
		cl := s.start(t, nil)
		cl.Init(s.Code(t, Identity), "main", nil)
		r := cl.Post("/run", []byte(`{"value":null}`))
		if r.Status != http.StatusOK {
			t.Fatalf("%d %s", r.Status, r.Body)
		}
		jsonEqual(t, r.Body, `{}`)
	})
	t.Run("d array in, array out", func(t *testing.T) {
		cl := s.start(t, nil)
		cl.Init(s.Code(t, Identity), "main", nil)
		r := cl.Run([]string{"a", "b"}, nil)
		if r.Status != http.StatusOK {
			t.Fatalf("%d %s", r.Status, r.Body)
		}
		jsonEqual(t, r.Body, `["a","b"]`)
	})
	t.Run("e content-length on a 1 MiB result", func(t *testing.T) {
		cl := s.start(t, nil)
		cl.Init(s.Code(t, Identity), "main", nil)
		r := cl.Run(map[string]any{"arg": strings.Repeat("x", 1<<20)}, nil)
		if r.Status != http.StatusOK || r.ContentLength != int64(len(r.Body)) || len(r.TransferEncoding) != 0 {
			t.Fatalf("status %d content-length %d body %d transfer-encoding %v", r.Status, r.ContentLength, len(r.Body), r.TransferEncoding)
		}
		for _, path := range []string{"/init", "/run"} {
			r := cl.Post(path, []byte(`not json`))
			if r.ContentLength != int64(len(r.Body)) || len(r.TransferEncoding) != 0 {
				t.Fatalf("%s error response without Content-Length", path)
			}
		}
	})
	t.Run("f run body over 128 KiB", func(t *testing.T) {
		cl := s.start(t, nil)
		cl.Init(s.Code(t, Identity), "main", nil)
		arg := strings.Repeat("b", 200<<10)
		r := cl.Run(map[string]any{"arg": arg}, nil)
		if r.Object()["arg"] != arg {
			t.Fatalf("status %d", r.Status)
		}
	})
	t.Run("g application error passes through with 200", func(t *testing.T) {
		cl := s.start(t, nil)
		cl.Init(s.Code(t, Identity), "main", nil)
		r := cl.Run(map[string]any{"error": "sorry"}, nil)
		if r.Status != http.StatusOK {
			t.Fatalf("%d %s", r.Status, r.Body)
		}
		jsonEqual(t, r.Body, `{"error":"sorry"}`)
	})
	t.Run("h failed init emits one sentinel per stream", func(t *testing.T) {
		cl := s.start(t, nil)
		r := cl.Init("Q2VjaSBuJ2VzdCBwYXMgdW4gemlwLgo=", "main", nil)
		if r.Status == http.StatusOK || r.Object()["error"] == nil {
			t.Fatalf("init of garbage: %d %s", r.Status, r.Body)
		}
		cl.CheckStreams(1, requireLogged(t))
	})
	t.Run("i unknown top-level keys are ignored", func(t *testing.T) {
		cl := s.start(t, nil)
		cl.Init(s.Code(t, Identity), "main", nil)
		r := cl.Run(map[string]any{"k": "v"}, map[string]any{"future_field": map[string]any{"x": 1}, "another": "s", "n": 3})
		if r.Status != http.StatusOK {
			t.Fatalf("%d %s", r.Status, r.Body)
		}
		jsonEqual(t, r.Body, `{"k":"v"}`)
	})
	t.Run("j init env null", func(t *testing.T) {
		cl := s.start(t, nil)
		code := s.Code(t, Identity)
		r := cl.Post("/init", []byte(fmt.Sprintf(`{"value":{"code":%q,"main":"main","binary":true,"env":null}}`, code)))
		if r.Status != http.StatusOK {
			t.Fatalf("%d %s", r.Status, r.Body)
		}
	})
	t.Run("k concurrent runs", func(t *testing.T) {
		env := map[string]string{}
		if s.Concurrent {
			env["__OW_ALLOW_CONCURRENT"] = "true"
		}
		cl := s.start(t, env)
		if r := cl.Init(s.Code(t, Echo), "main", nil); r.Status != http.StatusOK {
			t.Fatalf("init: %d %s", r.Status, r.Body)
		}
		const n = 8
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				r, err := waitRun(ctx, cl, map[string]any{"i": i})
				if err != nil {
					errs <- err
					return
				}
				var got map[string]any
				if json.Unmarshal(r.Body, &got) != nil || r.Status != http.StatusOK || fmt.Sprint(got["i"]) != fmt.Sprint(i) {
					errs <- fmt.Errorf("run %d: %d %s", i, r.Status, r.Body)
				}
			}(i)
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		cl.CheckStreams(n, func(out, errs string) {
			for _, l := range strings.Split(out, "\n") {
				if l = strings.TrimSpace(l); l != "" && l != "hello stdout" {
					t.Errorf("interleaved stdout line %q", l)
				}
			}
			for _, l := range strings.Split(errs, "\n") {
				if l = strings.TrimSpace(l); l != "" && l != "hello stderr" {
					t.Errorf("interleaved stderr line %q", l)
				}
			}
		})
	})
	t.Run("l binary code that is not base64 fails like any init", func(t *testing.T) {
		cl := s.start(t, nil)
		r := cl.Post("/init", []byte(`{"value":{"code":"%%% not base64 %%%","main":"main","binary":true}}`))
		if r.Status == http.StatusOK || r.Object()["error"] == nil {
			t.Fatalf("init: %d %s", r.Status, r.Body)
		}
		cl.CheckStreams(1, requireLogged(t))
	})
	t.Run("m 2 MiB of stdout reach the log", func(t *testing.T) {
		cl := s.start(t, nil)
		if r := cl.Init(s.Code(t, Loud), "main", nil); r.Status != http.StatusOK {
			t.Fatalf("init: %d %s", r.Status, r.Body)
		}
		const lines = 2048 // of 1 KiB: OpenWhisk keeps up to limits.logs, 10 MB by default
		if r := cl.Run(map[string]any{"lines": lines}, nil); r.Status != http.StatusOK {
			t.Fatalf("run: %d %s", r.Status, r.Body)
		}
		cl.CheckStreams(1, func(out, _ string) {
			got := strings.Split(out, "\n")
			if len(got) != lines {
				t.Fatalf("stdout has %d lines, want %d (last: %.40q)", len(got), lines, got[len(got)-1])
			}
			for i, l := range got {
				if want := fmt.Sprintf("loud %06d ", i); !strings.HasPrefix(l, want) || len(l) != 1023 {
					t.Fatalf("line %d is %.40q (%d bytes), want %q... of 1023 bytes", i, l, len(l), want)
				}
			}
		})
	})
}

// requireLogged checks that a failed /init said why in the log, as OpenWhisk's runtimes do.
func requireLogged(t *testing.T) func(stdout, stderr string) {
	return func(out, errs string) {
		if out == "" && errs == "" {
			t.Errorf("the failed init logged nothing")
		}
	}
}
