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
	fs.Var(&auth, "auth", "deprecated: accepted API key UUID:KEY for namespace guest (repeatable). A command line can be read by every local user and every action; use -auth-file or $"+authEnv)
	authFile := fs.String("auth-file", "", "file of the accepted API keys for namespace guest, one UUID:KEY per line (# comments); with none of -auth-file, $"+authEnv+" and -auth: the well-known guest key")
	apiHost := fs.String("apihost", "", "__OW_API_HOST given to actions (default http://<listen>; docker: reachable from containers)")
	proxyBin := fs.String("actionproxy", "", "process backend: path of the actionproxy binary (default: next to this binary, else $PATH)")
	userMemory := fs.Int("user-memory", 2048, "memory budget of all containers, MB")
	precompile := fs.Bool("precompile", true, "compile wasm:0.1 modules when an action is created or updated, into the cache its containers share, so that no cold start compiles (-precompile=false: each cold start compiles at /init until the cache has the module, as on a stock OpenWhisk; off with docker and -wasm-cache-volume \"\", where containers share no cache)")
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

	ids, err := apiKeys(auth, *authFile, log)
	if err != nil {
		return err
	}
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
	// The data directory is claimed before any backend starts: a backend removes what an earlier
	// run of its instance left, which must never be the containers of a server still running.
	inst, err := standalone.OpenInstance(*dataDir)
	if err != nil {
		return err
	}
	defer inst.Close()
	backend, err := openBackend(ctx, name, inst, backendOptions{
		proxyBin: *proxyBin, userMemoryMB: *userMemory, cacheVolume: *cacheVolume,
		wasmEngine: wasm.EngineConfig{DisableWasiNN: !*nnOn, ModelDir: *nnModels},
	})
	if err != nil {
		return err
	}
	if p, ok := backend.(*process.Backend); ok && !p.SwitchesUser() {
		log.Warn("process backend: not running as root, so native actions run as this user and can read what it can (docs/standalone.md)")
	}
	srv, err := standalone.New(standalone.Config{
		Listen: *listen, DataDir: *dataDir, NoSync: *noSync, Backend: backend, Identities: ids, APIHost: *apiHost,
		NoPrecompile:    !*precompile || (name == "docker" && *cacheVolume == ""),
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

// authEnv is the environment variable the API keys may come in; it is removed from this
// process's environment as soon as it is read, so that no child process inherits it.
const authEnv = "WASMWHISK_AUTH"

// apiKeys gathers the accepted keys from -auth-file, $WASMWHISK_AUTH and the deprecated -auth.
func apiKeys(flagKeys []string, file string, log *slog.Logger) ([]standalone.Identity, error) {
	var keys []string
	if file != "" {
		st, err := os.Stat(file)
		if err != nil {
			return nil, fmt.Errorf("-auth-file: %w", err)
		}
		if st.Mode().Perm()&0o077 != 0 {
			log.Warn("the -auth-file is readable or writable by other users; chmod 600 it", "file", file, "mode", st.Mode().Perm().String())
		}
		data, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("-auth-file: %w", err)
		}
		for _, line := range strings.Split(string(data), "\n") {
			if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
				keys = append(keys, line)
			}
		}
	}
	if v, ok := os.LookupEnv(authEnv); ok {
		os.Unsetenv(authEnv)
		keys = append(keys, strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\t' })...)
	}
	if len(flagKeys) > 0 {
		log.Warn("-auth is deprecated: every local user and every action can read a command line in /proc; use -auth-file or $" + authEnv)
		keys = append(keys, flagKeys...)
	}
	ids := make([]standalone.Identity, 0, len(keys))
	for _, key := range keys {
		if user, pass, ok := strings.Cut(key, ":"); !ok || user == "" || pass == "" {
			return nil, errors.New("API key: want UUID:KEY, got a value without both parts")
		}
		ids = append(ids, standalone.Identity{Key: key, Namespace: "guest"})
	}
	return ids, nil
}

// backendOptions are the flags that configure backends.
type backendOptions struct {
	proxyBin     string
	userMemoryMB int
	cacheVolume  string
	wasmEngine   wasm.EngineConfig // wasmhost
}

// openBackend makes the named backend for the instance, which names what it creates and where it keeps its ledger.
func openBackend(ctx context.Context, name string, inst *standalone.Instance, o backendOptions) (standalone.Backend, error) {
	switch name {
	case "docker":
		return docker.New(ctx, docker.Config{Instance: inst.ID, UserMemoryMB: o.userMemoryMB, WasmCacheVolume: o.cacheVolume})
	case "process":
		bin := o.proxyBin
		if bin == "" {
			var err error
			if bin, err = findActionproxy(); err != nil {
				return nil, err
			}
		}
		state, err := inst.StateDir("process")
		if err != nil {
			return nil, err
		}
		return process.New(process.Config{ProxyBinary: bin, Instance: inst.ID, StateDir: state})
	case "wasmhost":
		state, err := inst.StateDir("wasmhost")
		if err != nil {
			return nil, err
		}
		return wasmhost.New(wasmhost.Config{Instance: inst.ID, StateDir: state, EngineConfig: o.wasmEngine})
	}
	return nil, fmt.Errorf("unknown -backend %q: want docker, process or wasmhost", name)
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
