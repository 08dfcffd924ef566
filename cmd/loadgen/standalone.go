package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/wasmwhisk/wasmwhisk/loadgen"
	"github.com/wasmwhisk/wasmwhisk/standalone"
	"github.com/wasmwhisk/wasmwhisk/standalone/docker"
	"github.com/wasmwhisk/wasmwhisk/standalone/process"
	"github.com/wasmwhisk/wasmwhisk/standalone/wasmhost"
)

// userMemoryMB is the container memory budget of a standalone loadgen starts (OpenWhisk's default).
const userMemoryMB = 2048

// ensureStandalone connects to a standalone OpenWhisk already answering on
// the target's API host, or starts one in this process with the chosen
// backend. The returned function stops what it started; inProcess says it started one here.
func ensureStandalone(ctx context.Context, opts *loadgen.RunOptions, stderr io.Writer) (stop func(), inProcess bool, err error) {
	if answers(ctx, opts.Target.APIHost) {
		fmt.Fprintf(stderr, "standalone: using the OpenWhisk already running at %s\n", opts.Target.APIHost)
		return func() {}, false, nil
	}
	if opts.Target.APIHost != loadgen.StandaloneAPIHost {
		return nil, false, fmt.Errorf("nothing answers at %s, and loadgen only starts a standalone on %s", opts.Target.APIHost, loadgen.StandaloneAPIHost)
	}
	var backend standalone.Backend
	switch opts.StandaloneBackend {
	case "wasmhost":
		backend, err = wasmhost.New(wasmhost.Config{})
	case "process":
		backend, err = process.New(process.Config{ProxyBinary: opts.ProxyBinary})
	case "docker":
		// As `wasmwhisk standalone` does by default: wasm:0.1 containers share the compiled-module
		// and unpacked-archive cache, as blackbox containers share their image's layers.
		backend, err = docker.New(ctx, docker.Config{Instance: "loadgen", UserMemoryMB: userMemoryMB, WasmCacheVolume: "wasmwhisk-modcache"})
	default:
		err = fmt.Errorf("unknown backend %q", opts.StandaloneBackend)
	}
	if err != nil {
		return nil, false, err
	}
	dataDir, err := os.MkdirTemp("", "loadgen-standalone-")
	if err != nil {
		backend.Close()
		return nil, false, err
	}
	srv, err := standalone.New(standalone.Config{
		Listen:  "127.0.0.1:3233",
		DataDir: dataDir,
		NoSync:  true,
		Backend: backend,
		Pool:    standalone.PoolConfig{UserMemoryMB: userMemoryMB}, // no stem cells: every cold start creates a container
		Logger:  slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		backend.Close()
		os.RemoveAll(dataDir)
		return nil, false, err
	}
	if err := srv.Start(ctx); err != nil {
		srv.Close()
		os.RemoveAll(dataDir)
		return nil, false, err
	}
	fmt.Fprintf(stderr, "standalone: started in-process at %s with the %s backend (the system under test shares loadgen's process)\n", srv.URL(), backend.Name())
	return func() {
		if err := srv.Close(); err != nil {
			fmt.Fprintf(stderr, "standalone: close: %v\n", err)
		}
		os.RemoveAll(dataDir)
	}, true, nil
}

// answers says whether an OpenWhisk API is served at apihost (GET /api/v1 needs no key).
func answers(ctx context.Context, apihost string) bool {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, apihost+"/api/v1", nil)
	if err != nil {
		return false
	}
	resp, err := (&http.Client{Transport: &http.Transport{Proxy: nil}}).Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}
