package wasm

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bytecodealliance/wasmtime-go/v44"

	"github.com/wasmwhisk/wasmwhisk/internal/testbuild"
	"github.com/wasmwhisk/wasmwhisk/runtime"
)

// testEngine is shared by the tests that do not look at the cache; its cache lives in the default
// directory, so reruns of the tests skip compiling the test guests.
var testEngine struct {
	once sync.Once
	eng  *Engine
	err  error
}

func sharedEngine(t testing.TB) *Engine {
	t.Helper()
	testEngine.once.Do(func() { testEngine.eng, testEngine.err = NewEngine(EngineConfig{}) })
	if testEngine.err != nil {
		t.Fatal(testEngine.err)
	}
	return testEngine.eng
}

func TestMain(m *testing.M) {
	code := m.Run()
	if testEngine.eng != nil {
		testEngine.eng.Close()
	}
	os.Exit(code)
}

// guestModule builds testdata/guest as a command or a reactor and returns the module's bytes.
func guestModule(t testing.TB, reactor bool) []byte {
	t.Helper()
	return buildModule(t, testbuild.Target{Pkg: "./runtime/wasm/testdata/guest", WASM: true, Reactor: reactor})
}

// built memoizes modules per target: asking the go command again costs a fraction of a second.
var built sync.Map // fmt.Sprint(testbuild.Target) -> []byte

func buildModule(t testing.TB, target testbuild.Target) []byte {
	t.Helper()
	key := fmt.Sprint(target)
	if b, ok := built.Load(key); ok {
		return b.([]byte)
	}
	path := testbuild.MustBuild(t, target)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	built.Store(key, b)
	return b
}

// wat compiles WebAssembly text for the hand-written test modules.
func wat(t testing.TB, src string) []byte {
	t.Helper()
	b, err := wasmtime.Wat2Wasm(src)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// newExecutor initialises an executor from eng with code and closes it when the test ends.
func newExecutor(t testing.TB, eng *Engine, cfg Config, code []byte) *Executor {
	t.Helper()
	x := eng.NewExecutor(cfg)
	t.Cleanup(func() {
		if err := x.Close(); err != nil {
			t.Error(err)
		}
	})
	if err := x.Init(context.Background(), runtime.InitRequest{
		Name: "guest", Main: "main", Code: code,
		Env: map[string]string{"SOME_VAR": "xyz", "__OW_API_HOST": "http://api.example"},
	}); err != nil {
		t.Fatalf("init: %v", err)
	}
	return x
}

// activation is one /run as the proxy would build it.
type activation struct {
	value   string
	context map[string]string
}

type ran struct {
	result         string
	stdout, stderr string
	err            error
}

// run makes a RunRequest the way the proxy does (Env from the context, Line re-encoded).
func run(t testing.TB, x *Executor, act activation) ran {
	t.Helper()
	if act.value == "" {
		act.value = "{}"
	}
	if act.context == nil {
		act.context = map[string]string{"activation_id": "a1", "action_name": "/ns/guest", "namespace": "ns"}
	}
	env := map[string]string{"SOME_VAR": "xyz", "__OW_API_HOST": "http://api.example"}
	line := map[string]any{"value": json.RawMessage(act.value)}
	for k, v := range act.context {
		env["__OW_"+strings.ToUpper(k)] = v
		line[k] = v
	}
	lineBytes, err := json.Marshal(line)
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	res, err := x.Run(context.Background(), runtime.RunRequest{
		Value: json.RawMessage(act.value), Context: act.context, Env: env, Line: lineBytes,
		Stdout: &stdout, Stderr: &stderr,
	})
	return ran{result: string(res), stdout: stdout.String(), stderr: stderr.String(), err: err}
}

// deadlineIn is an activation deadline d from now, as OpenWhisk sends it (epoch ms string).
func deadlineIn(d time.Duration) map[string]string {
	return map[string]string{"activation_id": "a1", "deadline": fmt.Sprint(time.Now().Add(d).UnixMilli())}
}
