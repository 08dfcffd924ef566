package dockerimages_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/wasmwhisk/wasmwhisk/internal/testbuild"
	"github.com/wasmwhisk/wasmwhisk/standalone"
	dockerbackend "github.com/wasmwhisk/wasmwhisk/standalone/docker"
)

// e2e is the embedded OpenWhisk on the docker backend with the images of this project, driven
// over its REST API as wsk and loadgen drive it.
type e2e struct {
	t        *testing.T
	srv      *standalone.Server
	instance string
}

// record is the part of an activation record these tests read.
type record struct {
	ActivationID string `json:"activationId"`
	Duration     int64  `json:"duration"`
	Response     struct {
		Status string          `json:"status"`
		Result json.RawMessage `json:"result"`
	} `json:"response"`
	Logs        []string `json:"logs"`
	Annotations []struct {
		Key   string          `json:"key"`
		Value json.RawMessage `json:"value"`
	} `json:"annotations"`
}

func (r record) annotation(key string) (string, bool) {
	for _, a := range r.Annotations {
		if a.Key == key {
			return strings.Trim(string(a.Value), `"`), true
		}
	}
	return "", false
}

func startE2E(t *testing.T, pool standalone.PoolConfig) *e2e {
	t.Helper()
	wasmImage, nativeImage := requireImage(t, "wasm-runtime"), requireImage(t, "native-runtime")
	requireImage(t, "mobilenet")
	var b [4]byte
	rand.Read(b[:])
	instance := "e2e-" + hex.EncodeToString(b[:])
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	backend, err := dockerbackend.New(ctx, dockerbackend.Config{Instance: instance})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := standalone.New(standalone.Config{
		Listen: "127.0.0.1:0", DataDir: t.TempDir(), NoSync: true, Backend: backend, Pool: pool,
		NoPrecompile: true, // no cache volume here: a compile container would compile for nobody
		Runtimes: []standalone.Runtime{
			{Kind: standalone.KindWasm, Image: wasmImage, Executor: "wasm", Sentinelled: true},
			{Kind: standalone.KindNative, Image: nativeImage, Executor: "native", Sentinelled: true},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return &e2e{t: t, srv: srv, instance: instance}
}

func (e *e2e) call(method, path string, body any) (int, []byte) {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, e.srv.URL()+"/api/v1/namespaces/_"+path, rd)
	user, pass, _ := strings.Cut(standalone.GuestKey, ":")
	req.SetBasicAuth(user, pass)
	req.Header.Set("Content-Type", "application/json")
	resp, err := (&http.Client{Timeout: 2 * time.Minute}).Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out
}

func (e *e2e) create(name string, exec map[string]any) {
	e.t.Helper()
	if status, body := e.call(http.MethodPut, "/actions/"+name+"?overwrite=true", map[string]any{"exec": exec}); status != 200 {
		e.t.Fatalf("create %s: %d %s", name, status, body)
	}
}

func (e *e2e) invoke(name string, params any) (int, record) {
	e.t.Helper()
	status, body := e.call(http.MethodPost, "/actions/"+name+"?blocking=true", params)
	var r record
	if err := json.Unmarshal(body, &r); err != nil {
		e.t.Fatalf("invoke %s: %d %s", name, status, body)
	}
	return status, r
}

// activation polls GET /activations/{id} until the record exists.
func (e *e2e) activation(id string, within time.Duration) record {
	e.t.Helper()
	deadline := time.Now().Add(within)
	for {
		status, body := e.call(http.MethodGet, "/activations/"+id, nil)
		if status == 200 {
			var r record
			json.Unmarshal(body, &r)
			return r
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("activation %s: no record after %v (last %d %s)", id, within, status, body)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func codeOf(t *testing.T, target testbuild.Target) string {
	b, err := os.ReadFile(testbuild.MustBuild(t, target))
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(b)
}

func containerState(id string) string {
	out, err := exec.Command("docker", "inspect", "-f", "{{.State.Status}}", id).Output()
	if err != nil {
		return "gone"
	}
	return strings.TrimSpace(string(out))
}

func waitState(t *testing.T, id, want string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for containerState(id) != want {
		if time.Now().After(deadline) {
			t.Fatalf("container %.12s is %s, want %s after %v", id, containerState(id), want, within)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestStandaloneDockerColdWarm: cold then warm invocations of the hello wasm action and of the
// MobileNet blackbox image; initTime on the cold records only; logs collected; the idle
// container paused after the grace period, resumed by the next activation, removed after the
// idle timeout.
func TestStandaloneDockerColdWarm(t *testing.T) {
	e := startE2E(t, standalone.PoolConfig{PauseGrace: 500 * time.Millisecond, IdleTimeout: 3 * time.Second})
	e.create("hello", map[string]any{"kind": "wasm:0.1", "code": codeOf(t, testbuild.Target{Pkg: "./actions/hello", WASM: true, Reactor: true})})
	e.create("classify", map[string]any{"kind": "blackbox", "image": imageRef("mobilenet")})

	for _, c := range []struct{ action, want string }{{"hello", "Hello, e2e!"}, {"classify", "label"}} {
		status, cold := e.invoke(c.action, map[string]any{"name": "e2e"})
		if status != 200 || cold.Response.Status != "success" || !strings.Contains(string(cold.Response.Result), c.want) {
			t.Fatalf("%s cold: %d %+v", c.action, status, cold)
		}
		if _, ok := cold.annotation("initTime"); !ok {
			t.Fatalf("%s: the cold record has no initTime", c.action)
		}
		if b, _ := cold.annotation(standalone.AnnotationBackend); b != "docker" {
			t.Fatalf("%s: backend annotation %q", c.action, b)
		}
		_, warm := e.invoke(c.action, map[string]any{"name": "e2e"})
		if warm.Response.Status != "success" {
			t.Fatalf("%s warm: %+v", c.action, warm)
		}
		if _, ok := warm.annotation("initTime"); ok {
			t.Fatalf("%s: the warm record has an initTime", c.action)
		}
		id1, _ := cold.annotation(standalone.AnnotationContainer)
		id2, _ := warm.annotation(standalone.AnnotationContainer)
		if id1 == "" || id1 != id2 {
			t.Fatalf("%s: warm ran in %q, cold in %q", c.action, id2, id1)
		}
	}

	_, first := e.invoke("hello", map[string]any{"name": "logs"})
	logs := e.activation(first.ActivationID, 10*time.Second)
	if joined := strings.Join(logs.Logs, "\n"); !strings.Contains(joined, "stdout: hello stdout: Hello, logs!") || !strings.Contains(joined, "stderr: hello stderr: Hello, logs!") {
		t.Fatalf("logs of %s: %q", first.ActivationID, logs.Logs)
	}

	container, _ := first.annotation(standalone.AnnotationContainer)
	waitState(t, container, "paused", 10*time.Second)
	_, resumed := e.invoke("hello", map[string]any{"name": "again"})
	if st, _ := resumed.annotation(standalone.AnnotationContainerState); st != "resumed" || resumed.Response.Status != "success" {
		t.Fatalf("after the pause: state %q, %+v", st, resumed)
	}
	waitState(t, container, "paused", 10*time.Second)
	waitState(t, container, "gone", 20*time.Second)
}

// TestStandaloneDockerKilledMidRun: a container killed during a run gives a developer-error
// record, never a hang and never a missing record, and the next activation starts cold.
func TestStandaloneDockerKilledMidRun(t *testing.T) {
	e := startE2E(t, standalone.PoolConfig{})
	e.create("spin", map[string]any{"kind": "wasm:0.1", "code": codeOf(t, testbuild.Target{Pkg: "./actions/cpuhash", WASM: true, Reactor: true})})
	status, body := e.call(http.MethodPost, "/actions/spin", map[string]any{"rounds": 90_000_000})
	if status != http.StatusAccepted {
		t.Fatalf("non-blocking invoke: %d %s", status, body)
	}
	var accepted struct {
		ActivationID string `json:"activationId"`
	}
	json.Unmarshal(body, &accepted)

	// The container exists once /init has started; give the run a moment to begin, then kill it.
	deadline := time.Now().Add(30 * time.Second)
	var id string
	for id == "" {
		out, _ := exec.Command("docker", "ps", "-q", "--filter", "label="+dockerbackend.LabelInstance+"="+e.instance, "--filter", "name=spin").Output()
		id = strings.TrimSpace(string(out))
		if time.Now().After(deadline) {
			t.Fatal("no container for the spin action")
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(1500 * time.Millisecond)
	if out, err := exec.Command("docker", "kill", id).CombinedOutput(); err != nil {
		t.Fatalf("docker kill: %v %s", err, out)
	}
	rec := e.activation(accepted.ActivationID, 30*time.Second)
	if rec.Response.Status != "action developer error" && rec.Response.Status != "whisk internal error" {
		t.Fatalf("killed activation: %+v", rec)
	}
	if !strings.Contains(string(rec.Response.Result), "error") {
		t.Fatalf("killed activation has no error: %s", rec.Response.Result)
	}
	_, next := e.invoke("spin", map[string]any{"rounds": 10})
	if _, cold := next.annotation("initTime"); !cold || next.Response.Status != "success" {
		t.Fatalf("after the kill: %+v", next)
	}
}
