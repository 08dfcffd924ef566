package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/wasmwhisk/wasmwhisk/internal/cgroup"
	"github.com/wasmwhisk/wasmwhisk/internal/procfs"
	"github.com/wasmwhisk/wasmwhisk/internal/testbuild"
)

// TestBareProxyStopKillsDaemons: a bare `actionproxy -executor native`, stopped as a container
// runtime stops it (SIGTERM), takes down the child its action started in a new session.
func TestBareProxyStopKillsDaemons(t *testing.T) {
	if cgroup.Probe().Unified == "" {
		if os.Getuid() == 0 && os.Getenv("CI") == "true" {
			t.Fatal("no writable cgroup v2 hierarchy for root in CI")
		}
		t.Skip("no writable cgroup v2 hierarchy: only the process group is killed here")
	}
	proxy := testbuild.MustBuild(t, testbuild.Target{Pkg: "./cmd/actionproxy", CGO: true})
	code, err := os.ReadFile(testbuild.MustBuild(t, testbuild.Target{Pkg: "./standalone/process/testdata/probe"}))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command(proxy, "-listen", addr, "-executor", "native")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "TMPDIR=" + t.TempDir()}
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-exited
	})

	post := func(path string, body any) []byte {
		t.Helper()
		data, _ := json.Marshal(body)
		deadline := time.Now().Add(30 * time.Second)
		for {
			resp, err := http.Post("http://"+addr+path, "application/json", bytes.NewReader(data))
			if err != nil {
				if time.Now().After(deadline) {
					t.Fatalf("%s: %v", path, err)
				}
				time.Sleep(20 * time.Millisecond)
				continue
			}
			out, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Fatalf("%s: %d %s", path, resp.StatusCode, out)
			}
			return out
		}
	}
	post("/init", map[string]any{"value": map[string]any{"main": "main", "binary": true, "code": base64.StdEncoding.EncodeToString(code)}})
	var out struct{ Child int }
	if err := json.Unmarshal(post("/run", map[string]any{"value": map[string]any{"daemon": true}}), &out); err != nil || out.Child == 0 {
		t.Fatalf("run: %v %+v", err, out)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-exited:
	case <-time.After(20 * time.Second):
		t.Fatal("the proxy did not stop on SIGTERM")
	}
	deadline := time.Now().Add(10 * time.Second)
	for procfs.Alive(out.Child) {
		if time.Now().After(deadline) {
			syscall.Kill(out.Child, syscall.SIGKILL)
			t.Fatalf("the action's setsid child (pid %d) outlived the proxy", out.Child)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
