package demo

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/wasmwhisk/wasmwhisk/loadgen"
)

// server is one `wasmwhisk standalone` process with its own data directory: the system under
// test, outside the load generator's process.
type server struct {
	cmd     *exec.Cmd
	dataDir string
	log     *os.File
	url     string
	// instance is the docker backend's instance label (the data directory's base name).
	instance string
	exited   chan struct{}
	waitErr  error

	stopOnce sync.Once
	stopErr  error
}

// serverConfig says how to start a standalone.
type serverConfig struct {
	Bin          string // bin directory with wasmwhisk and actionproxy
	Backend      string
	UserMemoryMB int
	CacheVolume  string // docker: the wasm module cache volume
	LogPath      string
}

// startServer starts a standalone on a free loopback port and waits until its API answers.
func startServer(ctx context.Context, cfg serverConfig) (*server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	dataDir, err := os.MkdirTemp("", "wasmwhisk-demo-")
	if err != nil {
		return nil, err
	}
	logFile, err := os.Create(cfg.LogPath)
	if err != nil {
		os.RemoveAll(dataDir)
		return nil, err
	}
	listen := "127.0.0.1:" + strconv.Itoa(port)
	args := []string{"standalone", "-listen", listen, "-data", dataDir, "-backend", cfg.Backend, "-prewarm", "",
		"-nosync", "-user-memory", strconv.Itoa(cfg.UserMemoryMB), "-actionproxy", filepath.Join(cfg.Bin, "actionproxy")}
	if cfg.Backend == "docker" {
		args = append(args, "-wasm-cache-volume", cfg.CacheVolume)
	}
	// Not CommandContext: stop must end it gracefully (SIGTERM), so that its containers go too.
	cmd := exec.Command(filepath.Join(cfg.Bin, "wasmwhisk"), args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		os.RemoveAll(dataDir)
		return nil, fmt.Errorf("start wasmwhisk standalone: %w", err)
	}
	s := &server{cmd: cmd, dataDir: dataDir, log: logFile, url: "http://" + listen, instance: filepath.Base(dataDir), exited: make(chan struct{})}
	go func() {
		s.waitErr = cmd.Wait()
		close(s.exited)
	}()
	if err := s.waitReady(ctx, 60*time.Second); err != nil {
		s.stop()
		return nil, fmt.Errorf("wasmwhisk standalone (%s backend, log %s): %w", cfg.Backend, cfg.LogPath, err)
	}
	return s, nil
}

func (s *server) target() loadgen.Target {
	return loadgen.Target{APIHost: s.url, Auth: loadgen.GuestAuth, Namespace: "_"}
}

// waitReady polls GET /api/v1 until it answers 200.
func (s *server) waitReady(ctx context.Context, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{Proxy: nil}}
	for {
		select {
		case <-s.exited:
			return fmt.Errorf("exited before answering: %v", s.waitErr)
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		resp, err := client.Get(s.url + "/api/v1")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no answer at %s after %v", s.url, limit)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop ends the standalone with SIGTERM (it destroys its containers), kills it when it does not
// exit within a minute, removes any container it left behind, and deletes its data directory.
func (s *server) stop() error {
	s.stopOnce.Do(func() { s.stopErr = s.terminate() })
	return s.stopErr
}

func (s *server) terminate() error {
	var errs []error
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(time.Minute):
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		<-s.exited
		errs = append(errs, errors.New("wasmwhisk standalone did not stop within a minute; killed"))
	}
	// Only after a kill can containers be left; removing by this server's instance label is safe.
	if out, err := exec.Command("docker", "ps", "-aq", "--filter", "label=io.wasmwhisk.instance="+s.instance).Output(); err == nil {
		if ids := strings.Fields(string(out)); len(ids) > 0 {
			_ = exec.Command("docker", append([]string{"rm", "-f"}, ids...)...).Run()
			errs = append(errs, fmt.Errorf("removed %d container(s) the standalone left behind", len(ids)))
		}
	}
	s.log.Close()
	if err := os.RemoveAll(s.dataDir); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
