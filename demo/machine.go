package demo

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/wasmwhisk/wasmwhisk/report"
)

// wasmtimeModule is the Go module of the WebAssembly engine the runtime links.
const wasmtimeModule = "github.com/bytecodealliance/wasmtime-go/v44"

// loadAverage reads the 1, 5 and 15 minute load averages; zeros when /proc has none.
func loadAverage() [3]float64 {
	var l [3]float64
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return l
	}
	f := strings.Fields(string(b))
	for i := 0; i < 3 && i < len(f); i++ {
		l[i], _ = strconv.ParseFloat(f[i], 64)
	}
	return l
}

// machine describes this computer.
func machine() report.Machine {
	m := report.Machine{Cores: runtime.NumCPU(), OS: runtime.GOOS + "/" + runtime.GOARCH}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "MemTotal:"); ok {
				kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
				m.MemoryGiB = float64(int(kb/(1<<20)*10+0.5)) / 10
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = "Linux " + strings.TrimSpace(string(b))
	}
	return m
}

// versions reads the versions of the toolchain, the checkout and the engines.
func versions(ctx context.Context, root string, docker bool) report.Versions {
	// The wasmtime-go the binaries under test link, as the checkout's go.mod pins it (this
	// driver does not link wasmtime itself).
	v := report.Versions{Wasmtime: strings.TrimSpace(output(ctx, root, "go", "list", "-m", "-f", "{{.Version}}", wasmtimeModule))}
	v.Go = strings.TrimSpace(output(ctx, root, "go", "env", "GOVERSION"))
	if v.Go == "" {
		v.Go = runtime.Version()
	}
	v.Commit = strings.TrimSpace(output(ctx, root, "git", "rev-parse", "--short=12", "HEAD"))
	v.Dirty = strings.TrimSpace(output(ctx, root, "git", "status", "--porcelain", "--untracked-files=no")) != ""
	if docker {
		v.Docker = strings.TrimSpace(output(ctx, root, "docker", "version", "--format", "{{.Server.Version}}"))
	}
	return v
}

// output runs a command and returns its stdout, "" on failure.
func output(ctx context.Context, dir, name string, args ...string) string {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		return ""
	}
	return string(out)
}

// dockerWorks says whether a Docker engine answers the CLI.
func dockerWorks(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "docker", "info", "--format", "{{.ServerVersion}}").CombinedOutput()
	if err != nil {
		return notAvailable(fmt.Sprintf("no Docker engine (docker info: %v: %s); run deploy/docker/ensure-dockerd.sh", err, strings.TrimSpace(string(out))))
	}
	return nil
}
