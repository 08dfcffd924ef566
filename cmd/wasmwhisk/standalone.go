package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/wasmwhisk/wasmwhisk/runtime/wasm"
	"github.com/wasmwhisk/wasmwhisk/standalone"
	"github.com/wasmwhisk/wasmwhisk/standalone/docker"
	"github.com/wasmwhisk/wasmwhisk/standalone/process"
	"github.com/wasmwhisk/wasmwhisk/standalone/wasmhost"
)

// standaloneCmd runs the embedded single-machine OpenWhisk until SIGINT or SIGTERM.
func standaloneCmd(args []string) error {
	fs := flag.NewFlagSet("standalone", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:3233", "address of the OpenWhisk API")
	home, _ := os.UserHomeDir()
	dataDir := fs.String("data", filepath.Join(home, ".wasmwhisk", "standalone"), "directory of the store (made private: mode 0700)")
	backendName := fs.String("backend", "", "container backend: docker, process or wasmhost (default: docker when `docker info` works, else process)")
	var auth multiFlag
	fs.Var(&auth, "auth", "accepted API key UUID:KEY for namespace guest (repeatable; default the well-known guest key)")
	apiHost := fs.String("apihost", "", "__OW_API_HOST given to actions (default http://<listen>; docker: reachable from containers)")
	proxyBin := fs.String("actionproxy", "", "process backend: path of the actionproxy binary (default: next to this binary, else $PATH)")
	userMemory := fs.Int("user-memory", 2048, "memory budget of all containers, MB")
	cacheVolume := fs.String("wasm-cache-volume", "wasmwhisk-modcache", "docker: named volume shared by wasm:0.1 containers as their compiled-module cache (\"\" for none: every cold start compiles)")
	pauseGrace := fs.Duration("pause-grace", 10*time.Second, "idle time before a warm container is paused")
	idleTimeout := fs.Duration("idle-timeout", 10*time.Minute, "time a paused container is kept before removal")
	prewarm := fs.String("prewarm", formatStemCells(standalone.DefaultStemCells()), "stem cells as kind:memoryMB:count, comma separated (\"\" for none); a stem cell serves actions of exactly its kind and memory")
	maxConc := fs.Int("max-concurrency", 1, "largest limits.concurrency accepted")
	blocking := fs.Duration("blocking-timeout", 60*time.Second, "longest wait of a blocking invoke before 202")
	noSync := fs.Bool("nosync", false, "skip fsync on database commits (faster; survives a crash of this process, not of the machine)")
	retentionAge := fs.Duration("retention-age", standalone.DefaultRecordMaxAge, "activation records older than this are deleted (<0: kept)")
	retentionCount := fs.Int("retention-count", standalone.DefaultMaxRecords, "largest number of activation records kept; the oldest are deleted first (<0: no limit)")
	verbose := fs.Bool("v", false, "debug logging")
	nnOn := fs.Bool("wasm-nn", true, "wasmhost: provide wasi-nn (wasi_ephemeral_nn) to wasm:0.1 actions")
	nnModels := fs.String("wasm-nn-models", "", "wasmhost: `DIR` of .onnx models every wasm:0.1 action may load by name with wasi-nn")
	if err := fs.Parse(args); err != nil {
		return err
	}
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	stems, err := parseStemCells(*prewarm)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	name := *backendName
	if name == "" {
		name = "process"
		if dockerWorks(ctx) {
			name = "docker"
		}
	}
	if name != "wasmhost" && (*nnModels != "" || !*nnOn) {
		return fmt.Errorf("-wasm-nn and -wasm-nn-models configure the wasmhost backend, not %s", name)
	}
	var backend standalone.Backend
	switch name {
	case "docker":
		backend, err = docker.New(ctx, docker.Config{Instance: filepath.Base(*dataDir), UserMemoryMB: *userMemory, WasmCacheVolume: *cacheVolume})
	case "process":
		bin := *proxyBin
		if bin == "" {
			bin, err = findActionproxy()
			if err != nil {
				return err
			}
		}
		backend, err = process.New(process.Config{ProxyBinary: bin})
	case "wasmhost":
		backend, err = wasmhost.New(wasmhost.Config{EngineConfig: wasm.EngineConfig{DisableWasiNN: !*nnOn, ModelDir: *nnModels}})
	default:
		return fmt.Errorf("unknown -backend %q: want docker, process or wasmhost", name)
	}
	if err != nil {
		return err
	}
	ids := make([]standalone.Identity, 0, len(auth))
	for _, key := range auth {
		if !strings.Contains(key, ":") {
			return fmt.Errorf("-auth %q: want UUID:KEY", key)
		}
		ids = append(ids, standalone.Identity{Key: key, Namespace: "guest"})
	}
	srv, err := standalone.New(standalone.Config{
		Listen: *listen, DataDir: *dataDir, NoSync: *noSync, Backend: backend, Identities: ids, APIHost: *apiHost,
		Pool:            standalone.PoolConfig{UserMemoryMB: *userMemory, PauseGrace: *pauseGrace, IdleTimeout: *idleTimeout, StemCells: stems},
		Limits:          standalone.LimitsConfig{MaxConcurrency: *maxConc},
		BlockingTimeout: *blocking, Logger: log,
		Retention: standalone.Retention{MaxAge: *retentionAge, MaxRecords: *retentionCount},
	})
	if err != nil {
		backend.Close()
		return err
	}
	if err := srv.Start(ctx); err != nil {
		srv.Close()
		return err
	}
	log.Info("wasmwhisk standalone ready", "url", srv.URL(), "backend", backend.Name(), "data", *dataDir)
	<-ctx.Done()
	log.Info("shutting down")
	return srv.Close()
}

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// formatStemCells writes stem cells as -prewarm reads them.
func formatStemCells(cells []standalone.StemCell) string {
	items := make([]string, len(cells))
	for i, c := range cells {
		items[i] = fmt.Sprintf("%s:%d:%d", c.Kind, c.MemoryMB, c.Count)
	}
	return strings.Join(items, ",")
}

// parseStemCells reads "kind:memory:count,..." where kind itself contains a colon (wasm:0.1).
func parseStemCells(s string) ([]standalone.StemCell, error) {
	var out []standalone.StemCell
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		parts := strings.Split(item, ":")
		if len(parts) < 3 {
			return nil, fmt.Errorf("-prewarm %q: want kind:memoryMB:count", item)
		}
		var mem, count int
		if _, err := fmt.Sscanf(parts[len(parts)-2]+" "+parts[len(parts)-1], "%d %d", &mem, &count); err != nil {
			return nil, fmt.Errorf("-prewarm %q: %w", item, err)
		}
		out = append(out, standalone.StemCell{Kind: strings.Join(parts[:len(parts)-2], ":"), MemoryMB: mem, Count: count})
	}
	return out, nil
}

func dockerWorks(ctx context.Context) bool {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return exec.CommandContext(ctx, "docker", "info").Run() == nil
}

func findActionproxy() (string, error) {
	if self, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(self), "actionproxy")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	p, err := exec.LookPath("actionproxy")
	if err != nil {
		return "", errors.New("process backend: actionproxy binary not found next to wasmwhisk or in $PATH; use -actionproxy")
	}
	return p, nil
}
