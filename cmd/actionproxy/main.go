// Command actionproxy is wasmwhisk's OpenWhisk action runtime: it serves POST /init and POST /run
// on :8080 and hosts the action natively (actionloop) or as a WebAssembly module (wasm:0.1).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/wasmwhisk/wasmwhisk/actionproxy"
	"github.com/wasmwhisk/wasmwhisk/runtime"
	"github.com/wasmwhisk/wasmwhisk/runtime/native"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "actionproxy:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("actionproxy", flag.ContinueOnError)
	listen := fs.String("listen", ":8080", "address to serve /init and /run on")
	kind := fs.String("executor", envOr("WASMWHISK_EXECUTOR", "native"), "how to host the action: native (actionloop) or wasm (wasm:0.1)")
	stub := fs.String("stub", os.Getenv("WASMWHISK_STUB"), "native: built-in executable run when /init has no code (blackbox code stub)")
	noAck := fs.Bool("no-ack", os.Getenv("OW_WAIT_FOR_ACK") == "false", "native: do not wait for the {\"ok\":true} acknowledgement on fd 3")
	maxBody := fs.Int64("max-body", actionproxy.DefaultMaxBodyBytes, "largest accepted request body in bytes")
	once := fs.String("once", "", "run the action in `FILE` once with the JSON value on stdin, print the result and exit (no HTTP server)")
	wasmFlags := registerWasmFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	concurrent, _ := strconv.ParseBool(os.Getenv("__OW_ALLOW_CONCURRENT"))

	var exec runtime.Executor
	switch *kind {
	case "native":
		exec = native.New(native.Config{Stub: *stub, NoAck: *noAck})
	case "wasm":
		e, err := newWasmExecutor(wasmFlags)
		if err != nil {
			return err
		}
		exec = e
	default:
		return fmt.Errorf("unknown -executor %q: want native or wasm", *kind)
	}
	if *once != "" {
		return runOnce(context.Background(), exec, *once, os.Stdin, os.Stdout, os.Stderr)
	}
	proxy := actionproxy.New(actionproxy.Config{
		Executor:        exec,
		AllowConcurrent: concurrent,
		MaxBodyBytes:    *maxBody,
	})
	defer proxy.Close()

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: proxy.Handler(), ReadHeaderTimeout: 30 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(shutdown)
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
