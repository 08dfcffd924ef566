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

// Run runs the canonical suite and the platform cases.
func (s Suite) Run(t *testing.T) {
	t.Run("canonical", s.Canonical)
	t.Run("platform", s.Platform)
}

// start starts a container and returns a client for it.
func (s Suite) start(t *testing.T, env map[string]string) *Client {
	t.Helper()
	return NewClient(t, s.Start(t, Options{Env: env}))
}

// A contractCase is one case of the suite: a fresh container started with startEnv, the sample
// initialised (with main, "main" when empty, and initEnv) when one is named, then the case's steps.
type contractCase struct {
	name     string
	startEnv map[string]string
	sample   Sample
	main     string
	initEnv  map[string]string
	steps    func(t *testing.T, cl *Client)
}

func (s Suite) runCases(t *testing.T, cases []contractCase) {
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cl := s.start(t, c.startEnv)
			if c.sample != "" {
				main := c.main
				if main == "" {
					main = "main"
				}
				if r := cl.Init(s.Code(t, c.sample), main, c.initEnv); r.Status != http.StatusOK {
					t.Fatalf("init: %d %s", r.Status, r.Body)
				}
			}
			c.steps(t, cl)
		})
	}
}

// Canonical is OpenWhisk's BasicActionRunnerTests (apache/openwhisk
// tests/src/test/scala/actionContainers/BasicActionRunnerTests.scala), all ten cases.
func (s Suite) Canonical(t *testing.T) { s.runCases(t, s.canonicalCases()) }

func (s Suite) canonicalCases() []contractCase {
	return []contractCase{
		{name: "01 handle initialization with no code", steps: func(t *testing.T, cl *Client) {
			r := cl.PostJSON("/init", map[string]any{"value": map[string]any{"code": "", "main": "", "binary": false, "env": nil}})
			if s.HasCodeStub != (r.Status == http.StatusOK) {
				t.Fatalf("status %d (stub %v): %s", r.Status, s.HasCodeStub, r.Body)
			}
		}},
		{name: "02 handle initialization with no content", steps: func(t *testing.T, cl *Client) {
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
		}},
		{name: "03 run and report an error for function not returning a json object", sample: NotJSON,
			steps: func(t *testing.T, cl *Client) {
				r := cl.Post("/run", []byte(`{}`))
				if r.Status == http.StatusOK || (string(r.Body) != msgDict && string(r.Body) != msgDictNode) {
					t.Fatalf("run: %d %s", r.Status, r.Body)
				}
				// OpenWhisk's default TestConfig enforces both streams empty: the message belongs
				// in the response only.
				requireQuiet(t, cl, 1)
			}},
		{name: "04 fail to initialize a second time", sample: Identity, steps: func(t *testing.T, cl *Client) {
			r := cl.Init(s.Code(t, Identity), "main", nil)
			if r.Status == http.StatusOK || string(r.Body) != msgReinit {
				t.Fatalf("re-init: %d %s", r.Status, r.Body)
			}
			cl.CheckStreams(0, func(out, errs string) {
				if !strings.Contains(out+errs, "Cannot initialize the action more than once.") {
					t.Errorf("the rejection was not logged: %q %q", out, errs)
				}
			})
		}},
		{name: "05 invoke non-standard entry point", sample: Identity, main: "niam", steps: func(t *testing.T, cl *Client) {
			runEquals(t, cl, map[string]any{"string": "hello"}, nil, `{"string":"hello"}`)
			requireQuiet(t, cl, 1)
		}},
		{name: "06 echo arguments and print message to stdout/stderr", sample: Echo, steps: func(t *testing.T, cl *Client) {
			for _, v := range []string{`{"string":"hello"}`, `{"string":"❄ ☃ ❄"}`, `{"numbers":[42,1]}`, `{"object":{"a":"A"}}`} {
				runEquals(t, cl, json.RawMessage(v), nil, v)
			}
			cl.CheckStreams(4, func(out, errs string) {
				if !strings.Contains(out, "hello stdout") || !strings.Contains(errs, "hello stderr") {
					t.Errorf("missing prints: %q %q", out, errs)
				}
			})
		}},
		{name: "07 handle unicode in source, input params, logs, and result", sample: Unicode, steps: func(t *testing.T, cl *Client) {
			r := cl.Run(map[string]any{"delimiter": "❄"}, nil)
			if got, _ := r.Object()["winter"].(string); got != "❄ ☃ ❄" {
				t.Fatalf("winter = %q (%d %s)", got, r.Status, r.Body)
			}
			cl.CheckStreams(1, func(out, _ string) {
				if !strings.Contains(strings.ToLower(out), "❄ ☃ ❄") {
					t.Errorf("stdout %q", out)
				}
			})
		}},
		{name: "08 export environment variables before initialization", sample: LoadEnv,
			initEnv: map[string]string{"SOME_VAR": "xyz", "ANOTHER_VAR": ""}, steps: func(t *testing.T, cl *Client) {
				runEquals(t, cl, map[string]any{}, nil, `{"SOME_VAR":"xyz","ANOTHER_VAR":""}`)
				requireQuiet(t, cl, 1)
			}},
		{name: "09 confirm expected environment variables", sample: Env,
			startEnv: map[string]string{"__OW_API_HOST": "xyz"}, steps: func(t *testing.T, cl *Client) {
				runEquals(t, cl, map[string]any{}, map[string]any{"api_key": "abc", "namespace": "zzz", "action_name": "xxx",
					"action_version": "0.0.1", "activation_id": "iii", "deadline": "123"},
					`{"api_host":"xyz","api_key":"abc","namespace":"zzz","action_name":"xxx","action_version":"0.0.1","activation_id":"iii","deadline":"123"}`)
				requireQuiet(t, cl, 1)
			}},
		{name: "10 echo a large input", sample: Identity, steps: func(t *testing.T, cl *Client) {
			arg := strings.Repeat("a", largeInputChars)
			r := cl.Run(map[string]any{"arg": arg}, nil)
			if got, _ := r.Object()["arg"].(string); got != arg {
				t.Fatalf("large input not echoed: status %d, %d bytes", r.Status, len(r.Body))
			}
		}},
	}
}

// Platform runs the platform-contract cases the canonical suite does not cover, (a) to (k): the
// /run context as apache/openwhisk's docs/actions-new.md ("Activation") describes it and the
// invoker sends it (the deadline as a string, in
// core/invoker/src/main/scala/org/apache/openwhisk/core/containerpool/ContainerProxy.scala),
// payloads and results of 1 MiB (docs/reference.md, "System limits"), application errors, and
// log markers after a failed init as the reference runtimes write them; then (l) a /init with
// binary code that is not base64 fails like any bad code (logged, one sentinel per stream) and
// (m) an activation's 2 MiB of stdout all reach the log, as OpenWhisk's log limit (10 MB) allows.
func (s Suite) Platform(t *testing.T) { s.runCases(t, s.platformCases()) }

func (s Suite) platformCases() []contractCase {
	concurrentEnv := map[string]string{}
	if s.Concurrent {
		concurrentEnv["__OW_ALLOW_CONCURRENT"] = "true"
	}
	return []contractCase{
		{name: "a deadline as string and as number", sample: Env, steps: func(t *testing.T, cl *Client) {
			for _, d := range []any{"4102444800000", json.Number("4102444800000")} {
				r := cl.Run(map[string]any{}, map[string]any{"deadline": d})
				if r.Status != http.StatusOK || r.Object()["deadline"] != "4102444800000" {
					t.Fatalf("deadline %v: %d %s", d, r.Status, r.Body)
				}
			}
		}},
		{name: "b context refreshed on every run", sample: Env, steps: func(t *testing.T, cl *Client) {
			for _, id := range []string{"first0000000000000000000000000001", "second000000000000000000000000002"} {
				r := cl.Run(map[string]any{}, map[string]any{"activation_id": id, "namespace": "ns-" + id[:5]})
				o := r.Object()
				if o["activation_id"] != id || o["namespace"] != "ns-"+id[:5] {
					t.Fatalf("run %s saw %s", id, r.Body)
				}
			}
		}},
		{name: "c null value is an empty object", sample: Identity, steps: func(t *testing.T, cl *Client) {
			r := cl.Post("/run", []byte(`{"value":null}`))
			if r.Status != http.StatusOK {
				t.Fatalf("%d %s", r.Status, r.Body)
			}
			jsonEqual(t, r.Body, `{}`)
		}},
		{name: "d array in, array out", sample: Identity, steps: func(t *testing.T, cl *Client) {
			runEquals(t, cl, []string{"a", "b"}, nil, `["a","b"]`)
		}},
		{name: "e content-length on a 1 MiB result", sample: Identity, steps: func(t *testing.T, cl *Client) {
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
		}},
		{name: "f run body over 128 KiB", sample: Identity, steps: func(t *testing.T, cl *Client) {
			arg := strings.Repeat("b", 200<<10)
			if r := cl.Run(map[string]any{"arg": arg}, nil); r.Object()["arg"] != arg {
				t.Fatalf("status %d", r.Status)
			}
		}},
		{name: "g application error passes through with 200", sample: Identity, steps: func(t *testing.T, cl *Client) {
			runEquals(t, cl, map[string]any{"error": "sorry"}, nil, `{"error":"sorry"}`)
		}},
		{name: "h failed init emits one sentinel per stream", steps: func(t *testing.T, cl *Client) {
			r := cl.Init("Q2VjaSBuJ2VzdCBwYXMgdW4gemlwLgo=", "main", nil)
			if r.Status == http.StatusOK || r.Object()["error"] == nil {
				t.Fatalf("init of garbage: %d %s", r.Status, r.Body)
			}
			cl.CheckStreams(1, requireLogged(t))
		}},
		{name: "i unknown top-level keys are ignored", sample: Identity, steps: func(t *testing.T, cl *Client) {
			runEquals(t, cl, map[string]any{"k": "v"}, map[string]any{"future_field": map[string]any{"x": 1}, "another": "s", "n": 3}, `{"k":"v"}`)
		}},
		{name: "j init env null", steps: func(t *testing.T, cl *Client) {
			code := s.Code(t, Identity)
			r := cl.Post("/init", []byte(fmt.Sprintf(`{"value":{"code":%q,"main":"main","binary":true,"env":null}}`, code)))
			if r.Status != http.StatusOK {
				t.Fatalf("%d %s", r.Status, r.Body)
			}
		}},
		{name: "k concurrent runs", sample: Echo, startEnv: concurrentEnv, steps: concurrentRuns},
		{name: "l binary code that is not base64 fails like any init", steps: func(t *testing.T, cl *Client) {
			r := cl.Post("/init", []byte(`{"value":{"code":"%%% not base64 %%%","main":"main","binary":true}}`))
			if r.Status == http.StatusOK || r.Object()["error"] == nil {
				t.Fatalf("init: %d %s", r.Status, r.Body)
			}
			cl.CheckStreams(1, requireLogged(t))
		}},
		{name: "m 2 MiB of stdout reach the log", sample: Loud, steps: loudRun},
	}
}

// concurrentRuns sends eight runs at once to the Echo sample: each gets its own result, and no
// log line is interleaved with another.
func concurrentRuns(t *testing.T, cl *Client) {
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
}

// loudRun has the Loud sample print 2 MiB and checks that every line reached stdout whole.
func loudRun(t *testing.T, cl *Client) {
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
}

// runEquals runs value with the extra top-level fields and requires a 200 with the JSON want.
func runEquals(t *testing.T, cl *Client, value any, extra map[string]any, want string) {
	t.Helper()
	r := cl.Run(value, extra)
	if r.Status != http.StatusOK {
		t.Fatalf("run: %d %s", r.Status, r.Body)
	}
	jsonEqual(t, r.Body, want)
}

// requireQuiet checks n sentinels per stream and nothing else on either.
func requireQuiet(t *testing.T, cl *Client, n int) {
	t.Helper()
	cl.CheckStreams(n, func(out, errs string) {
		if out != "" || errs != "" {
			t.Errorf("streams not empty: %q %q", out, errs)
		}
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
