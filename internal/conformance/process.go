package conformance

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"testing"
	"time"
)

// SyncBuffer is a bytes.Buffer safe for one writer and concurrent readers: a process's output
// stream that a test reads while the process still writes.
type SyncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p.
func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns everything written so far.
func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// StartProcess starts an actionproxy binary on a free loopback port, with args appended after
// -listen and the container env added to a minimal environment, capturing both output streams.
// The process is killed by t.Cleanup.
func StartProcess(t testing.TB, binary string, args []string, env map[string]string) *Container {
	t.Helper()
	port := FreePort(t)
	cmd := exec.Command(binary, append([]string{"-listen", fmt.Sprintf("127.0.0.1:%d", port)}, args...)...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "TMPDIR=" + t.TempDir()}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var stdout, stderr SyncBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Errorf("proxy process did not exit")
		}
		if t.Failed() {
			t.Logf("proxy stdout:\n%s\nproxy stderr:\n%s", tail(stdout.String()), tail(stderr.String()))
		}
	})
	return &Container{
		URL:  fmt.Sprintf("http://127.0.0.1:%d", port),
		Logs: func() (string, string) { return stdout.String(), stderr.String() },
	}
}

func tail(s string) string {
	if len(s) > 4000 {
		return "..." + s[len(s)-4000:]
	}
	return s
}
