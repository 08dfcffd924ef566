package standalone_test

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wasmwhisk/wasmwhisk/internal/testbuild"
	"github.com/wasmwhisk/wasmwhisk/standalone"
	"github.com/wasmwhisk/wasmwhisk/standalone/process"
)

func newProcessBackend(t testing.TB) *process.Backend {
	t.Helper()
	bin := testbuild.MustBuild(t, testbuild.Target{Pkg: "./cmd/actionproxy", CGO: true})
	b, err := process.New(process.Config{ProxyBinary: bin})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// eventually polls cond until it holds or the deadline passes (no timing assertion: the deadline
// only bounds a hang).
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func createAction(t testing.TB, srv *standalone.Server, name string, body map[string]any) {
	t.Helper()
	status, _, data := call(t, http.MethodPut, srv.URL()+"/api/v1/namespaces/_/actions/"+name+"?overwrite=true", body, standalone.GuestKey)
	if status != 200 {
		t.Fatalf("create %s: %d %s", name, status, data)
	}
}

func invokeBlocking(t testing.TB, srv *standalone.Server, name string, params any) (int, record) {
	t.Helper()
	status, _, data := call(t, http.MethodPost, srv.URL()+"/api/v1/namespaces/_/actions/"+name+"?blocking=true", params, standalone.GuestKey)
	return status, decodeRecord(t, data)
}

func annotationString(r record, key string) string {
	v, _ := r.annotation(key)
	var s string
	_ = json.Unmarshal(v, &s)
	return s
}

func TestProcessBackendLifecycle(t *testing.T) {
	b := newProcessBackend(t)
	t.Logf("memory cgroup: %v", b.MemoryLimited())
	srv := startServer(t, b, func(c *standalone.Config) {
		c.Pool.PauseGrace = 100 * time.Millisecond
		c.Pool.IdleTimeout = 400 * time.Millisecond
	})
	createAction(t, srv, "hello", map[string]any{"exec": map[string]any{"kind": "native:0.1", "code": nativeCode(t, "./actions/hello")}})

	status, cold := invokeBlocking(t, srv, "hello", map[string]any{"name": "process"})
	if status != 200 {
		t.Fatalf("cold invoke: %d %+v", status, cold)
	}
	if _, ok := cold.annotation("initTime"); !ok {
		t.Errorf("cold record has no initTime: %+v", cold.Annotations)
	}
	if got := annotationString(cold, standalone.AnnotationBackend); got != "process" {
		t.Errorf("backend annotation %q", got)
	}
	status, warm := invokeBlocking(t, srv, "hello", map[string]any{"name": "again"})
	if status != 200 {
		t.Fatalf("warm invoke: %d %+v", status, warm)
	}
	if _, ok := warm.annotation("initTime"); ok {
		t.Errorf("warm record has initTime")
	}
	if annotationString(warm, standalone.AnnotationContainer) != annotationString(cold, standalone.AnnotationContainer) {
		t.Errorf("warm invoke used another container")
	}

	// Pause after the grace period, unpause on reuse.
	eventually(t, "the idle container to be paused", func() bool { return srv.PoolStats().Paused == 1 })
	status, resumed := invokeBlocking(t, srv, "hello", nil)
	if status != 200 || annotationString(resumed, standalone.AnnotationContainerState) != "resumed" {
		t.Fatalf("invoke after pause: %d, state %q", status, annotationString(resumed, standalone.AnnotationContainerState))
	}
	// Removal after the idle timeout: the process is gone.
	pid, _ := strconv.Atoi(annotationString(resumed, standalone.AnnotationContainer))
	eventually(t, "the idle container to be removed", func() bool { return srv.PoolStats().Containers == 0 })
	eventually(t, "the proxy process to exit", func() bool { return syscall.Kill(pid, 0) != nil })
}

func TestProcessContainerKilledMidRun(t *testing.T) {
	srv := startServer(t, newProcessBackend(t), nil)
	createAction(t, srv, "cpuhash", map[string]any{"exec": map[string]any{"kind": "native:0.1", "code": nativeCode(t, "./actions/cpuhash")}})
	status, first := invokeBlocking(t, srv, "cpuhash", map[string]any{"rounds": 1})
	if status != 200 {
		t.Fatalf("warm-up: %d %+v", status, first)
	}
	pid, err := strconv.Atoi(annotationString(first, standalone.AnnotationContainer))
	if err != nil {
		t.Fatal(err)
	}
	status, hdr, _ := call(t, http.MethodPost, srv.URL()+"/api/v1/namespaces/_/actions/cpuhash", map[string]any{"rounds": 100_000_000}, standalone.GuestKey)
	if status != 202 {
		t.Fatalf("non-blocking invoke: %d", status)
	}
	id := hdr.Get("x-openwhisk-activation-id")
	time.Sleep(300 * time.Millisecond) // let the run start; the record is right either way
	if err := syscall.Kill(-pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	var rec record
	eventually(t, "the record of the killed activation", func() bool {
		st, _, data := call(t, http.MethodGet, srv.URL()+"/api/v1/namespaces/_/activations/"+id, nil, standalone.GuestKey)
		if st == 200 {
			rec = decodeRecord(t, data)
		}
		return st == 200
	})
	if rec.Response.Status != "action developer error" && rec.Response.Status != "whisk internal error" {
		t.Fatalf("status %q, want a developer or whisk error: %s", rec.Response.Status, rec.Response.Result)
	}
	if !strings.Contains(string(rec.Response.Result), "exited unexpectedly") {
		t.Errorf("result %s", rec.Response.Result)
	}
	t.Logf("record after %v", time.Since(killed))
	// The broken container is gone and the next activation gets a fresh one.
	status, next := invokeBlocking(t, srv, "cpuhash", map[string]any{"rounds": 1})
	if status != 200 {
		t.Fatalf("after kill: %d %+v", status, next)
	}
	if _, ok := next.annotation("initTime"); !ok {
		t.Errorf("activation after the kill was not cold")
	}
}

// probeCode is the native build of the isolation probe action (standalone/process/testdata/probe).
func probeCode(t testing.TB) string {
	t.Helper()
	return nativeCode(t, "./standalone/process/testdata/probe")
}

// TestProcessOOMRecorded: an action that outgrows its memory limit is killed by the kernel in its
// memory cgroup, and the record says so with OpenWhisk's own text, whether the proxy survived
// (only the action was killed) or not.
func TestProcessOOMRecorded(t *testing.T) {
	b := newProcessBackend(t)
	if !b.MemoryLimited() {
		t.Skip("no cgroup v1 memory hierarchy: memory is not limited on the process backend here")
	}
	srv := startServer(t, b, nil)
	createAction(t, srv, "hog", map[string]any{"exec": map[string]any{"kind": "native:0.1", "code": probeCode(t)},
		"limits": map[string]any{"memory": 128}})
	_, rec := invokeBlocking(t, srv, "hog", map[string]any{"allocMB": 400})
	if rec.Response.Status != "action developer error" || !strings.Contains(string(rec.Response.Result), "The action exhausted its memory and was aborted.") {
		t.Fatalf("record %s %s", rec.Response.Status, rec.Response.Result)
	}
	// The container is replaced: the next activation is served.
	if status, next := invokeBlocking(t, srv, "hog", map[string]any{"allocMB": 1}); status != 200 {
		t.Fatalf("after the OOM kill: %d %s", status, next.Response.Result)
	}
}

// TestProcessNativeIsolation: a native action (not given its API key) cannot read the database,
// the server's API keys, another action's executable, nor signal the server.
func TestProcessNativeIsolation(t *testing.T) {
	b := newProcessBackend(t)
	if !b.SwitchesUser() {
		if os.Getuid() == 0 {
			t.Fatal("running as root, yet containers do not get users of their own")
		}
		t.Skip("not root: containers run as this user")
	}
	var secret [24]byte
	rand.Read(secret[:])
	key := "3f5a2c6e-0b7d-4c1e-9a8f-2d6b4e8c1a7f:" + hex.EncodeToString(secret[:])
	dataDir := t.TempDir()
	srv := startServer(t, b, func(c *standalone.Config) {
		c.DataDir = dataDir
		c.Identities = []standalone.Identity{{Key: key, Namespace: "guest"}}
	})
	put := func(name string, annotations []map[string]any) {
		status, _, data := call(t, http.MethodPut, srv.URL()+"/api/v1/namespaces/_/actions/"+name+"?overwrite=true",
			map[string]any{"exec": map[string]any{"kind": "native:0.1", "code": probeCode(t)}, "annotations": annotations}, key)
		if status != 200 {
			t.Fatalf("create %s: %d %s", name, status, data)
		}
	}
	put("other", nil)
	put("snoop", []map[string]any{{"key": "provide-api-key", "value": false}})
	invoke := func(name string, params any) record {
		status, _, data := call(t, http.MethodPost, srv.URL()+"/api/v1/namespaces/_/actions/"+name+"?blocking=true", params, key)
		if status != 200 {
			t.Fatalf("invoke %s: %d %s", name, status, data)
		}
		return decodeRecord(t, data)
	}
	var other struct {
		Cwd string `json:"cwd"`
	}
	json.Unmarshal(invoke("other", map[string]any{}).Response.Result, &other)
	if other.Cwd == "" {
		t.Fatal("the other action did not say where it runs")
	}
	var got struct {
		UID    int               `json:"uid"`
		Cwd    string            `json:"cwd"`
		Read   map[string]string `json:"read"`
		Glob   []string          `json:"glob"`
		Found  []string          `json:"found"`
		Signal map[string]string `json:"signal"`
	}
	db := filepath.Join(dataDir, "wasmwhisk.db")
	rec := invoke("snoop", map[string]any{
		"read":   []string{db, filepath.Join(other.Cwd, "exec")},
		"glob":   []string{filepath.Join(dataDir, "*"), filepath.Join(other.Cwd, "*"), filepath.Join(other.Cwd, "*", "*")},
		"needle": hex.EncodeToString(secret[:]),
		"signal": []int{os.Getpid()},
	})
	if err := json.Unmarshal(rec.Response.Result, &got); err != nil {
		t.Fatalf("result %s", rec.Response.Result)
	}
	if got.UID == 0 || got.Cwd == other.Cwd {
		t.Errorf("the action runs as uid %d in %s (the other one in %s)", got.UID, got.Cwd, other.Cwd)
	}
	for path, res := range got.Read {
		if !strings.Contains(res, "permission denied") && !strings.Contains(res, "no such file") {
			t.Errorf("read %s: %s", path, res)
		}
	}
	if len(got.Glob) != 0 {
		t.Errorf("the action listed %v", got.Glob)
	}
	if len(got.Found) != 0 {
		t.Errorf("the API key is readable at %v", got.Found)
	}
	if res := got.Signal[strconv.Itoa(os.Getpid())]; !strings.Contains(res, "operation not permitted") {
		t.Errorf("signal to the server: %s", res)
	}
	t.Logf("probe: %s", rec.Response.Result)
}

// TestStandaloneSecretsHidden: `wasmwhisk standalone` on the process backend, with its API keys
// in -auth-file and $WASMWHISK_AUTH: no command line and no environment of any process it starts
// holds a key, and a native action (not given its own key) cannot read a key, the key file or
// the database, nor signal the server.
func TestStandaloneSecretsHidden(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("not root: the process backend runs actions as this user")
	}
	bin := testbuild.MustBuild(t, testbuild.Target{Pkg: "./cmd/wasmwhisk", CGO: true})
	secret := func() string {
		var b [24]byte
		rand.Read(b[:])
		return hex.EncodeToString(b[:])
	}
	fileKey, envKey := secret(), secret()
	keyFile := filepath.Join(t.TempDir(), "auth")
	if err := os.WriteFile(keyFile, []byte("# keys\n5b2c1e0a-3d4f-4a6b-8c7d-9e0f1a2b3c4d:"+fileKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	envAuth := "6c3d2f1b-4e5a-4b7c-9d8e-0f1a2b3c4d5e:" + envKey
	dataDir := filepath.Join(t.TempDir(), "data")
	c := startChild(t, bin, dataDir, []string{"WASMWHISK_AUTH=" + envAuth}, append(processBackendArgs(t), "-auth-file", keyFile, "-prewarm", "")...)
	api := c.url + "/api/v1/namespaces/_"
	status, _, body := call(t, http.MethodPut, api+"/actions/snoop", map[string]any{
		"exec":        map[string]any{"kind": "native:0.1", "code": probeCode(t)},
		"annotations": []map[string]any{{"key": "provide-api-key", "value": false}}}, envAuth)
	if status != 200 {
		t.Fatalf("create with the key from the environment: %d %s", status, body)
	}
	var got struct {
		UID    int               `json:"uid"`
		Read   map[string]string `json:"read"`
		Found  []string          `json:"found"`
		Signal map[string]string `json:"signal"`
	}
	for _, needle := range []string{fileKey, envKey} {
		status, _, body = call(t, http.MethodPost, api+"/actions/snoop?blocking=true&result=true", map[string]any{
			"read":   []string{keyFile, filepath.Join(dataDir, "wasmwhisk.db")},
			"needle": needle,
			"signal": []int{c.cmd.Process.Pid},
		}, "5b2c1e0a-3d4f-4a6b-8c7d-9e0f1a2b3c4d:"+fileKey)
		if status != 200 || json.Unmarshal(body, &got) != nil {
			t.Fatalf("invoke with the key from the file: %d %s", status, body)
		}
		if got.UID == 0 || len(got.Found) != 0 {
			t.Errorf("the action (uid %d) found a key at %v", got.UID, got.Found)
		}
		for path, res := range got.Read {
			if !strings.Contains(res, "permission denied") {
				t.Errorf("the action read %s: %s", path, res)
			}
		}
		if res := got.Signal[strconv.Itoa(c.cmd.Process.Pid)]; !strings.Contains(res, "operation not permitted") {
			t.Errorf("the action signalled the server: %s", res)
		}
	}
	// As root, look at every process the server started: none has a key in its command line or
	// its environment.
	for _, pid := range descendants(c.cmd.Process.Pid) {
		for _, f := range []string{"cmdline", "environ"} {
			data, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/" + f)
			if strings.Contains(string(data), fileKey) || strings.Contains(string(data), envKey) {
				t.Errorf("process %d has an API key in its %s", pid, f)
			}
		}
	}
	cmdline, _ := os.ReadFile("/proc/" + strconv.Itoa(c.cmd.Process.Pid) + "/cmdline")
	if strings.Contains(string(cmdline), fileKey) || strings.Contains(string(cmdline), envKey) {
		t.Errorf("the server's command line holds a key: %q", cmdline)
	}
	c.stop(t)
}
