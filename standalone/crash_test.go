package standalone_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/wasmwhisk/wasmwhisk/internal/conformance"
	"github.com/wasmwhisk/wasmwhisk/internal/testbuild"
	"github.com/wasmwhisk/wasmwhisk/standalone"
)

// child is a `wasmwhisk standalone` process started by a test.
type child struct {
	cmd    *exec.Cmd
	url    string
	stderr *conformance.SyncBuffer // for the test's failure messages
	exited chan struct{}
}

var readyURL = regexp.MustCompile(`msg="wasmwhisk standalone ready" url=(http://\S+)`)

// startChild runs bin standalone on dataDir with args and returns once it serves. The process is
// killed when the test ends if it still runs.
func startChild(t *testing.T, bin, dataDir string, env []string, args ...string) *child {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	cmd := exec.CommandContext(ctx, bin, append([]string{"standalone", "-listen", "127.0.0.1:0", "-data", dataDir}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	pr, pw := io.Pipe()
	c := &child{cmd: cmd, stderr: &conformance.SyncBuffer{}, exited: make(chan struct{})}
	cmd.Stderr = io.MultiWriter(c.stderr, pw)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		cmd.Wait()
		pw.Close()
		close(c.exited)
	}()
	t.Cleanup(func() {
		c.kill()
		<-c.exited
	})
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			if m := readyURL.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case found <- m[1]:
				default:
				}
			}
		}
		io.Copy(io.Discard, pr)
	}()
	select {
	case c.url = <-found:
	case <-c.exited:
		t.Fatalf("standalone exited before serving: %s", c.stderr)
	case <-time.After(time.Minute):
		t.Fatalf("standalone not ready after a minute: %s", c.stderr)
	}
	return c
}

// kill sends SIGKILL to the standalone alone (not its process group: what becomes of the
// backend's children is what a crash test checks).
func (c *child) kill() {
	if c.cmd.Process != nil {
		_ = c.cmd.Process.Signal(syscall.SIGKILL)
	}
}

// stop asks the standalone to shut down cleanly and waits for it.
func (c *child) stop(t *testing.T) {
	t.Helper()
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.exited:
	case <-time.After(30 * time.Second):
		t.Errorf("standalone did not stop on SIGTERM: %s", c.stderr)
	}
}

// crashBackends are the backends the crash test runs on; each gives the standalone flags (setup
// adds those that need the test, and may skip it) and the action code of cpuhash.
var crashBackends = []struct {
	name  string
	args  []string
	setup func(*testing.T) []string
	kind  string
	code  func(testing.TB, string) string
}{
	{"wasmhost", []string{"-backend", "wasmhost"}, nil, "wasm:0.1", wasmReactorCode},
	{"process", nil, processBackendArgs, "native:0.1", nativeCode},
	{"docker", nil, dockerBackendArgs, "wasm:0.1", wasmReactorCode},
}

// TestCrashRecoveryRecords kills the standalone with SIGKILL in the middle of a bounded load of
// blocking and non-blocking invocations and restarts it on the same data directory: every
// activation it accepted must have a final record, nothing the crashed run's backend made
// (processes, cgroups, files, containers) may be left once the new one serves, and the first
// invoke after the restart must succeed.
func TestCrashRecoveryRecords(t *testing.T) {
	bin := testbuild.MustBuild(t, testbuild.Target{Pkg: "./cmd/wasmwhisk", CGO: true})
	for _, be := range crashBackends {
		t.Run(be.name, func(t *testing.T) {
			dataDir := filepath.Join(t.TempDir(), "data")
			var env []string // the module cache under $TMPDIR is shared with the other tests
			// One 256 MB container at a time: activations queue behind each other, so the kill
			// finds some running, some waiting for a container and some not started.
			args := append([]string{"-user-memory", "256", "-prewarm", "", "-pause-grace", "1m"}, be.args...)
			if be.setup != nil {
				args = append(args, be.setup(t)...)
			}
			id := instanceID(t, dataDir)
			began := time.Now()
			c := startChild(t, bin, dataDir, env, args...)
			t.Logf("T+%v started", time.Since(began))
			api := c.url + "/api/v1/namespaces/_"
			status, _, body := call(t, http.MethodPut, api+"/actions/cpuhash", map[string]any{
				"exec": map[string]any{"kind": be.kind, "code": be.code(t, "./actions/cpuhash")}, "limits": map[string]any{"memory": 256}}, standalone.GuestKey)
			if status != 200 {
				t.Fatalf("create: %d %s", status, body)
			}
			t.Logf("T+%v created", time.Since(began))
			// Calibrate so that one activation runs for about 300 ms on this machine now: the queue
			// behind the one container then lasts long after the kill even if the load drops.
			rounds := 200_000
			status, _, body = call(t, http.MethodPost, api+"/actions/cpuhash?blocking=true&result=true", map[string]any{"rounds": rounds}, standalone.GuestKey)
			var res struct{ Ms float64 }
			if status != 200 || json.Unmarshal(body, &res) != nil {
				t.Fatalf("calibration: %d %s", status, body)
			}
			if res.Ms > 0 {
				rounds = max(1000, min(50_000_000, int(float64(rounds)*300/res.Ms)))
			}

			t.Logf("T+%v calibrated", time.Since(began))
			const nonBlocking, blockingClients = 60, 4
			client := &http.Client{Timeout: time.Minute}
			post := func(blocking bool) (int, string, error) {
				url := api + "/actions/cpuhash"
				if blocking {
					url += "?blocking=true"
				}
				req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(fmt.Sprintf(`{"rounds":%d}`, rounds)))
				user, pass, _ := cut(standalone.GuestKey)
				req.SetBasicAuth(user, pass)
				req.Header.Set("Content-Type", "application/json")
				resp, err := client.Do(req)
				if err != nil {
					return 0, "", err
				}
				defer resp.Body.Close()
				io.Copy(io.Discard, resp.Body)
				return resp.StatusCode, resp.Header.Get("x-openwhisk-activation-id"), nil
			}
			var mu sync.Mutex
			var known []string // ids the API answered with
			blockingLost := 0  // blocking requests cut by the kill (their ids are unknown)
			stopBlocking := make(chan struct{})
			var wg sync.WaitGroup
			for w := 0; w < blockingClients; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						select {
						case <-stopBlocking:
							return
						default:
						}
						status, id, err := post(true)
						mu.Lock()
						if err != nil {
							blockingLost++
						} else if id != "" {
							known = append(known, id)
						} else {
							t.Errorf("blocking invoke: status %d without an activation id", status)
						}
						mu.Unlock()
						if err != nil {
							return
						}
					}
				}()
			}
			for i := 0; i < nonBlocking; i++ {
				status, id, err := post(false)
				if err != nil || status != http.StatusAccepted || id == "" {
					t.Fatalf("non-blocking invoke %d: %d %q %v", i, status, id, err)
				}
				mu.Lock()
				known = append(known, id)
				mu.Unlock()
			}
			time.Sleep(300 * time.Millisecond) // the blocking clients are now waiting, some running
			before := takeFootprint(t, c.cmd.Process.Pid, id)
			if be.name != "wasmhost" && len(before.pids)+len(before.containers) == 0 {
				t.Fatalf("the %s backend had no container running at the kill: %+v", be.name, before)
			}
			c.kill()
			close(stopBlocking)
			<-c.exited
			wg.Wait()
			t.Logf("killed with %d ids answered, %d blocking requests cut; %d rounds per activation", len(known), blockingLost, rounds)

			t.Logf("T+%v killed", time.Since(began))
			c = startChild(t, bin, dataDir, env, args...)
			t.Logf("T+%v restarted", time.Since(began))
			if left := leftAfter(t, before, id); !left.empty() {
				t.Fatalf("the crashed run left %+v (it had %+v)", left, before)
			}
			api = c.url + "/api/v1/namespaces/_"
			lost := 0
			for _, id := range known {
				status, _, body := call(t, http.MethodGet, api+"/activations/"+id, nil, standalone.GuestKey)
				if status != 200 {
					t.Fatalf("activation %s after restart: %d %s", id, status, body)
				}
				rec := decodeRecord(t, body)
				if rec.End < rec.Start || rec.Response.Status == "" || rec.Duration != rec.End-rec.Start {
					t.Fatalf("activation %s is not final: %s", id, body)
				}
				if strings.Contains(string(rec.Response.Result), "the platform stopped") {
					lost++
					if rec.Response.Status != "whisk internal error" {
						t.Fatalf("lost activation %s: %s", id, body)
					}
				}
			}
			// Blocking requests cut by the kill were accepted or not: each adds at most one record.
			status, _, body = call(t, http.MethodGet, api+"/activations?count=true", nil, standalone.GuestKey)
			var count struct{ Activations int }
			if status != 200 || json.Unmarshal(body, &count) != nil {
				t.Fatalf("count: %d %s", status, body)
			}
			extra := count.Activations - len(known) - 1 // the calibration's record
			if extra < 0 || extra > blockingLost {
				t.Fatalf("%d records for %d known ids and %d cut blocking requests", count.Activations, len(known), blockingLost)
			}
			if lost == 0 {
				t.Fatalf("no activation was unfinished at the kill; the test did not test anything")
			}
			t.Logf("T+%v records checked", time.Since(began))
			t.Logf("after restart: %d of %d known ids recorded as lost, %d records of cut blocking requests", lost, len(known), extra)

			status, _, body = call(t, http.MethodPost, api+"/actions/cpuhash?blocking=true&result=true", map[string]any{"rounds": 1, "seed": "again"}, standalone.GuestKey)
			if status != 200 || !strings.Contains(string(body), `"digest":"`) {
				t.Fatalf("first invoke after restart: %d %s", status, body)
			}
			t.Logf("T+%v invoked after restart", time.Since(began))
			c.stop(t)
			t.Logf("T+%v stopped", time.Since(began))
		})
	}
}
