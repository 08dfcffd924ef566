package wasm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wasmwhisk/wasmwhisk/internal/testbuild"
	"github.com/wasmwhisk/wasmwhisk/runtime"
)

var abis = []struct {
	name    string
	reactor bool
}{{"command", false}, {"reactor", true}}

// wantStatus checks that err is a *runtime.Error with the status and a message containing want.
func wantStatus(t *testing.T, err error, status int, want string) {
	t.Helper()
	var rerr *runtime.Error
	if !errors.As(err, &rerr) {
		t.Fatalf("error = %v (%T), want *runtime.Error %d %q", err, err, status, want)
	}
	if rerr.Status != status || !strings.Contains(rerr.Message, want) {
		t.Fatalf("error = %d %q, want %d containing %q", rerr.Status, rerr.Message, status, want)
	}
}

func TestEchoAndLogs(t *testing.T) {
	for _, abi := range abis {
		t.Run(abi.name, func(t *testing.T) {
			x := newExecutor(t, sharedEngine(t), Config{}, guestModule(t, abi.reactor))
			info, ok := x.Info()
			if !ok || string(info.ABI) != abi.name {
				t.Fatalf("Info = %+v, %v; want ABI %s", info, ok, abi.name)
			}
			for _, value := range []string{`{"a":1,"s":"❄ ☃ ❄"}`, `[1,2,3]`, `{}`} {
				r := run(t, x, activation{value: value})
				if r.err != nil {
					t.Fatalf("run %s: %v", value, r.err)
				}
				if r.result != value {
					t.Errorf("result = %s, want %s", r.result, value)
				}
				if value[0] == '{' && value != "{}" || value == "{}" {
					if r.stdout != "guest: stdout log\n" || r.stderr != "guest: stderr log\n" {
						t.Errorf("logs = %q / %q", r.stdout, r.stderr)
					}
				}
			}
		})
	}
}

func TestLargeValue(t *testing.T) {
	big := `{"arg":"` + strings.Repeat("a", 1048561) + `"}`
	for _, abi := range abis {
		t.Run(abi.name, func(t *testing.T) {
			x := newExecutor(t, sharedEngine(t), Config{}, guestModule(t, abi.reactor))
			r := run(t, x, activation{value: big})
			if r.err != nil || r.result != big {
				t.Fatalf("large echo: err %v, result of %d bytes", r.err, len(r.result))
			}
		})
	}
}

func TestEnvironment(t *testing.T) {
	for _, abi := range abis {
		t.Run(abi.name, func(t *testing.T) {
			x := newExecutor(t, sharedEngine(t), Config{}, guestModule(t, abi.reactor))
			for _, id := range []string{"first", "second"} {
				r := run(t, x, activation{value: `{"mode":"env"}`, context: map[string]string{
					"activation_id": id, "namespace": "zzz", "action_name": "xxx", "action_version": "0.0.1",
					"api_key": "abc", "deadline": "123",
				}})
				if r.err != nil {
					t.Fatal(r.err)
				}
				var env map[string]any
				if err := json.Unmarshal([]byte(r.result), &env); err != nil {
					t.Fatal(err)
				}
				want := map[string]string{
					"__OW_ACTIVATION_ID": id, "__OW_NAMESPACE": "zzz", "__OW_ACTION_NAME": "xxx",
					"__OW_ACTION_VERSION": "0.0.1", "__OW_API_KEY": "abc", "__OW_DEADLINE": "123",
					"__OW_API_HOST": "http://api.example", "SOME_VAR": "xyz", "SOME_VAR_at_load": "xyz",
				}
				for k, v := range want {
					if env[k] != v {
						t.Errorf("%s = %v, want %q", k, env[k], v)
					}
				}
				if argv := fmt.Sprint(env["argv"]); argv != "[guest]" {
					t.Errorf("argv = %s, want [guest]", argv)
				}
				if _, ok := env["HOME"]; ok {
					t.Error("the host's environment leaked into the guest")
				}
			}
		})
	}
}

// TestBadGuests runs each misbehaving guest and then a good activation on the same executor: the
// executor must report the failure and keep serving.
func TestBadGuests(t *testing.T) {
	cases := []struct {
		name    string
		value   string
		context func() map[string]string
		// check inspects the failed (or odd) run.
		check func(t *testing.T, abi string, r ran)
	}{
		{"exit 3", `{"mode":"exit","code":3}`, nil, func(t *testing.T, abi string, r ran) {
			wantStatus(t, r.err, http.StatusBadGateway, "exited with code 3")
			if !strings.Contains(r.stdout, "about to exit") {
				t.Errorf("the output before the exit is lost: %q", r.stdout)
			}
		}},
		{"loop forever", `{"mode":"loop"}`, func() map[string]string { return deadlineIn(300 * time.Millisecond) }, func(t *testing.T, abi string, r ran) {
			var te *runtime.TimeoutError
			if !errors.As(r.err, &te) {
				t.Fatalf("error = %v, want a timeout", r.err)
			}
			if !strings.Contains(r.stdout, "looping") {
				t.Errorf("the output before the interrupt is lost: %q", r.stdout)
			}
		}},
		{"sleep past the deadline", `{"mode":"sleep","ms":3000}`, func() map[string]string { return deadlineIn(200 * time.Millisecond) }, func(t *testing.T, abi string, r ran) {
			var te *runtime.TimeoutError
			if !errors.As(r.err, &te) {
				t.Fatalf("error = %v, want a timeout", r.err)
			}
		}},
		{"allocate 4 GiB", `{"mode":"alloc","mib":4096}`, nil, func(t *testing.T, abi string, r ran) {
			wantStatus(t, r.err, http.StatusBadGateway, "at the limit of 256 MiB")
			if !strings.Contains(r.stderr, "out of memory") {
				t.Errorf("stderr = %q, want the Go runtime's out of memory report", r.stderr)
			}
		}},
		{"print 12 MiB", `{"mode":"print","bytes":12582912}`, nil, func(t *testing.T, abi string, r ran) {
			if r.err != nil || r.result != `{"printed":true}` {
				t.Fatalf("run = %v, %s", r.err, r.result)
			}
			if len(r.stdout) != DefaultLogLimit || !strings.Contains(r.stderr, "Logs were truncated because the total bytes size exceeds the limit of 10485760 bytes.") {
				t.Errorf("stdout log has %d bytes, ends %q; want it capped with a note", len(r.stdout), r.stdout[max(0, len(r.stdout)-200):])
			}
		}},
		{"string result", `{"mode":"string"}`, nil, func(t *testing.T, abi string, r ran) {
			if r.err != nil || r.result != `"just a string"` {
				t.Fatalf("run = %v, %s; want the string's JSON for the proxy to reject", r.err, r.result)
			}
		}},
		{"panic", `{"mode":"panic"}`, nil, func(t *testing.T, abi string, r ran) {
			if r.err != nil || !strings.Contains(r.result, `"error":"action panicked: guest panic"`) {
				t.Fatalf("run = %v, %s; want the SDK's application error", r.err, r.result)
			}
		}},
		{"no result", `{"mode":"nothing"}`, nil, func(t *testing.T, abi string, r ran) {
			if abi == "command" {
				wantStatus(t, r.err, http.StatusBadGateway, "produced no result")
			} else {
				wantStatus(t, r.err, http.StatusBadGateway, "exited (code 0) instead of returning a result")
			}
		}},
	}
	for _, abi := range abis {
		t.Run(abi.name, func(t *testing.T) {
			x := newExecutor(t, sharedEngine(t), Config{}, guestModule(t, abi.reactor))
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					var ctx map[string]string
					if c.context != nil {
						ctx = c.context()
					}
					c.check(t, abi.name, run(t, x, activation{value: c.value, context: ctx}))
					r := run(t, x, activation{value: `{"after":"` + c.name + `"}`})
					if r.err != nil || r.result != `{"after":"`+c.name+`"}` {
						t.Fatalf("the executor does not serve after %s: %v %s", c.name, r.err, r.result)
					}
				})
			}
		})
	}
}

func TestMemoryLimit(t *testing.T) {
	for _, abi := range abis {
		t.Run(abi.name, func(t *testing.T) {
			x := newExecutor(t, sharedEngine(t), Config{MemoryLimit: 96 << 20}, guestModule(t, abi.reactor))
			if r := run(t, x, activation{value: `{"mode":"alloc","mib":16}`}); r.err != nil {
				t.Fatalf("16 MiB under a 96 MiB limit: %v", r.err)
			}
			r := run(t, x, activation{value: `{"mode":"alloc","mib":128}`})
			wantStatus(t, r.err, http.StatusBadGateway, "at the limit of 96 MiB")
		})
	}
}

func TestReactorState(t *testing.T) {
	counts := func(x *Executor, n int) []string {
		var got []string
		for i := 0; i < n; i++ {
			r := run(t, x, activation{value: `{"mode":"count"}`})
			if r.err != nil {
				t.Fatal(r.err)
			}
			got = append(got, r.result)
		}
		return got
	}
	reactor := guestModule(t, true)
	x := newExecutor(t, sharedEngine(t), Config{}, reactor)
	if got := strings.Join(counts(x, 3), " "); got != `{"count":1} {"count":2} {"count":3}` {
		t.Errorf("warm reactor counts = %s", got)
	}
	// A failed run drops the instance: the next one starts from a fresh instance.
	run(t, x, activation{value: `{"mode":"exit","code":1}`})
	if got := counts(x, 1)[0]; got != `{"count":1}` {
		t.Errorf("after a failure count = %s, want a fresh instance", got)
	}
	fresh := newExecutor(t, sharedEngine(t), Config{FreshReactor: true}, reactor)
	if got := strings.Join(counts(fresh, 2), " "); got != `{"count":1} {"count":1}` {
		t.Errorf("FreshReactor counts = %s", got)
	}
	command := newExecutor(t, sharedEngine(t), Config{}, guestModule(t, false))
	if got := strings.Join(counts(command, 2), " "); got != `{"count":1} {"count":1}` {
		t.Errorf("command counts = %s", got)
	}
}

func TestConcurrentRuns(t *testing.T) {
	for _, abi := range abis {
		t.Run(abi.name, func(t *testing.T) {
			x := newExecutor(t, sharedEngine(t), Config{}, guestModule(t, abi.reactor))
			const workers, each = 6, 5
			var wg sync.WaitGroup
			var mu sync.Mutex
			var counts []string
			for w := 0; w < workers; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := 0; i < each; i++ {
						value := fmt.Sprintf(`{"w":%d,"i":%d}`, w, i)
						r := run(t, x, activation{value: value})
						if r.err != nil || r.result != value || r.stdout != "guest: stdout log\n" {
							t.Errorf("run %s = %v %s, stdout %q", value, r.err, r.result, r.stdout)
						}
						c := run(t, x, activation{value: `{"mode":"count"}`})
						mu.Lock()
						counts = append(counts, c.result)
						mu.Unlock()
					}
				}()
			}
			wg.Wait()
			if abi.reactor {
				// Runs on the one instance are serialised: every count is seen exactly once.
				seen := map[string]bool{}
				for _, c := range counts {
					seen[c] = true
				}
				if len(seen) != workers*each {
					sort.Strings(counts)
					t.Errorf("reactor counts not distinct: %v", counts)
				}
			}
		})
	}
}

func TestPastDeadlineIsIgnored(t *testing.T) {
	x := newExecutor(t, sharedEngine(t), Config{}, guestModule(t, false))
	r := run(t, x, activation{value: `{"k":1}`, context: map[string]string{"deadline": "123"}})
	if r.err != nil || r.result != `{"k":1}` {
		t.Fatalf("run with deadline 123 = %v %s", r.err, r.result)
	}
}

func TestMaxDuration(t *testing.T) {
	x := newExecutor(t, sharedEngine(t), Config{MaxDuration: 200 * time.Millisecond}, guestModule(t, false))
	r := run(t, x, activation{value: `{"mode":"loop"}`, context: deadlineIn(time.Hour)})
	var te *runtime.TimeoutError
	if !errors.As(r.err, &te) {
		t.Fatalf("error = %v, want a timeout from MaxDuration", r.err)
	}
}

func TestRunContextCanceled(t *testing.T) {
	x := newExecutor(t, sharedEngine(t), Config{MaxDuration: 2 * time.Second}, guestModule(t, false))
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(100 * time.Millisecond); cancel() }()
	_, err := x.Run(ctx, runtime.RunRequest{Value: json.RawMessage(`{"mode":"sleep","ms":1000}`), Env: map[string]string{}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error = %v, want context.Canceled", err)
	}
}

func TestRunBeforeInitAndAfterClose(t *testing.T) {
	eng := sharedEngine(t)
	x := eng.NewExecutor(Config{})
	if _, err := x.Run(context.Background(), runtime.RunRequest{Value: json.RawMessage(`{}`)}); err == nil {
		t.Fatal("Run before Init succeeded")
	}
	if err := x.Close(); err != nil {
		t.Fatal(err)
	}
	if err := x.Init(context.Background(), runtime.InitRequest{Code: guestModule(t, false)}); !errors.Is(err, errClosed) {
		t.Fatalf("Init after Close = %v", err)
	}
}

// TestSampleActions runs the project's sample actions: hello under the command ABI and counter
// under the reactor ABI, whose count must persist across warm runs.
func TestSampleActions(t *testing.T) {
	hello := newExecutor(t, sharedEngine(t), Config{}, helloModule(t, false))
	r := run(t, hello, activation{value: `{"name":"wasm"}`})
	if r.err != nil || !strings.Contains(r.result, `"greeting":"Hello, wasm!"`) {
		t.Fatalf("hello = %v %s", r.err, r.result)
	}
	if !strings.Contains(r.stdout, "Hello, wasm!") || !strings.Contains(r.stderr, "Hello, wasm!") {
		t.Errorf("hello logs = %q / %q", r.stdout, r.stderr)
	}

	counter := newExecutor(t, sharedEngine(t), Config{}, buildModule(t, testbuild.Target{Pkg: "./actions/counter", WASM: true, Reactor: true}))
	var instance any
	for want := 1; want <= 3; want++ {
		r := run(t, counter, activation{})
		var got map[string]any
		if r.err != nil || json.Unmarshal([]byte(r.result), &got) != nil {
			t.Fatalf("counter = %v %s", r.err, r.result)
		}
		if got["count"] != float64(want) || (instance != nil && got["instance"] != instance) {
			t.Fatalf("counter run %d = %s (first instance %v)", want, r.result, instance)
		}
		instance = got["instance"]
	}
}

func TestReactorInitFailures(t *testing.T) {
	reactor := guestModule(t, true)
	t.Run("exit", func(t *testing.T) {
		var stdout strings.Builder
		x := sharedEngine(t).NewExecutor(Config{InitStdout: &stdout, InitStderr: io.Discard})
		defer x.Close()
		err := x.Init(context.Background(), runtime.InitRequest{Code: reactor, Env: map[string]string{"GUEST_INIT": "exit"}})
		wantStatus(t, err, http.StatusBadGateway, "the reactor's _initialize exited with code 4")
		if stdout.String() != "init: exiting\n" {
			t.Errorf("init stdout = %q", stdout.String())
		}
	})
	t.Run("sleep past the deadline", func(t *testing.T) {
		x := sharedEngine(t).NewExecutor(Config{})
		defer x.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		err := x.Init(ctx, runtime.InitRequest{Code: reactor, Env: map[string]string{"GUEST_INIT": "sleep"}})
		var te *runtime.TimeoutError
		if !errors.As(err, &te) {
			t.Fatalf("Init = %v, want a timeout", err)
		}
	})
}

func TestReactorWithoutLine(t *testing.T) {
	x := newExecutor(t, sharedEngine(t), Config{}, guestModule(t, true))
	res, err := x.Run(context.Background(), runtime.RunRequest{Value: json.RawMessage(`{"mode":"env"}`),
		Context: map[string]string{"activation_id": "no-line"}, Env: map[string]string{}})
	if err != nil || !strings.Contains(string(res), `"__OW_ACTIVATION_ID":"no-line"`) {
		t.Fatalf("run without Line = %v %s", err, res)
	}
}
