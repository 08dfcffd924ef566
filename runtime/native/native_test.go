package native

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/wasmwhisk/wasmwhisk/runtime"
)

// script is an actionloop action in sh: it acknowledges, then answers every line with {"n":1}.
const script = "#!/bin/sh\necho '{\"ok\":true}' >&3\nwhile read line; do echo '{\"n\":1}' >&3; done\n"

// TestConcurrentColdStarts starts many executors at once, as concurrent cold starts on one host
// do: each writes its executable and execs it while others fork, which makes exec fail with
// ETXTBSY now and then unless the executor tries again.
func TestConcurrentColdStarts(t *testing.T) {
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 6; i++ {
				x := New(Config{Dir: t.TempDir(), Stdout: io.Discard, Stderr: io.Discard, Environ: []string{}})
				if err := x.Init(context.Background(), runtime.InitRequest{Code: []byte(script)}); err != nil {
					errs <- err
					x.Close()
					return
				}
				res, err := x.Run(context.Background(), runtime.RunRequest{Value: json.RawMessage(`{}`), Line: []byte(`{"value":{}}`)})
				if err != nil || string(res) != `{"n":1}` {
					errs <- err
				}
				x.Close()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// lockedBuffer is a writer that is not a file, as the wasm host backend's log buffer is.
type lockedBuffer struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// take returns and clears what was written.
func (b *lockedBuffer) take() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.buf.String()
	b.buf.Reset()
	return s
}

// TestLogsBeforeRunReturns: with writers that are not files, everything the child wrote for an
// activation — many lines, a partial last line — is in the writers when Init and Run return, so
// that the proxy's sentinels follow it and the platform attributes it to that activation.
func TestLogsBeforeRunReturns(t *testing.T) {
	const loud = "#!/bin/sh\necho starting\necho '{\"ok\":true}' >&3\nn=0\nwhile read line; do\n" +
		"n=$((n+1)); i=0\nwhile [ $i -lt 300 ]; do echo \"run $n line $i\"; i=$((i+1)); done\n" +
		"echo \"run $n stderr\" >&2\nprintf 'run %d partial' $n\necho '{\"n\":1}' >&3\ndone\n"
	var stdout, stderr lockedBuffer
	x := New(Config{Dir: t.TempDir(), Stdout: &stdout, Stderr: &stderr, Environ: []string{}})
	defer x.Close()
	if err := x.Init(context.Background(), runtime.InitRequest{Code: []byte(loud)}); err != nil {
		t.Fatal(err)
	}
	if got := stdout.take(); got != "starting\n" {
		t.Fatalf("after Init, stdout = %q", got)
	}
	for n := 1; n <= 20; n++ {
		res, err := x.Run(context.Background(), runtime.RunRequest{Value: json.RawMessage(`{}`), Line: []byte(`{"value":{}}`)})
		if err != nil || string(res) != `{"n":1}` {
			t.Fatalf("run %d: %s %v", n, res, err)
		}
		var want strings.Builder
		for i := 0; i < 300; i++ {
			fmt.Fprintf(&want, "run %d line %d\n", n, i)
		}
		fmt.Fprintf(&want, "run %d partial\n", n)
		if got := stdout.take(); got != want.String() {
			t.Fatalf("run %d: stdout has %d bytes, want %d; ends %q", n, len(got), want.Len(), got[max(0, len(got)-60):])
		}
		if got, want := stderr.take(), fmt.Sprintf("run %d stderr\n", n); got != want {
			t.Fatalf("run %d: stderr = %q, want %q", n, got, want)
		}
	}
}

// TestLogsOfAChildThatDies: the output of a child that exits mid-run is in the log of that run.
func TestLogsOfAChildThatDies(t *testing.T) {
	const dies = "#!/bin/sh\necho '{\"ok\":true}' >&3\nread line\necho 'last words'\necho 'to stderr' >&2\nexit 3\n"
	var stdout, stderr lockedBuffer
	x := New(Config{Dir: t.TempDir(), Stdout: &stdout, Stderr: &stderr, Environ: []string{}})
	defer x.Close()
	if err := x.Init(context.Background(), runtime.InitRequest{Code: []byte(dies)}); err != nil {
		t.Fatal(err)
	}
	if _, err := x.Run(context.Background(), runtime.RunRequest{Value: json.RawMessage(`{}`), Line: []byte(`{"value":{}}`)}); err == nil {
		t.Fatal("run of a dying child succeeded")
	}
	if out, errs := stdout.take(), stderr.take(); out != "last words\n" || errs != "to stderr\n" {
		t.Fatalf("logs %q %q", out, errs)
	}
}

// TestInitRefusesWebAssembly: WebAssembly code sent to the native kind fails at Init with a
// message that names the right kind, not with "exec format error" at the first run.
func TestInitRefusesWebAssembly(t *testing.T) {
	// The header of a module precompiled by wasmtime: ELF, OS ABI 200, ET_REL, EF_WASMTIME_MODULE.
	cwasm := make([]byte, 64)
	copy(cwasm, "\x7fELF\x02\x01\x01\xc8")
	cwasm[16], cwasm[48] = 1, 1
	for _, c := range []struct {
		name string
		code []byte
		want string
	}{
		{"precompiled module", cwasm, "precompiled WebAssembly module, not an executable (WebAssembly code runs as kind wasm:0.1)"},
		{"wasm module", []byte("\x00asm\x01\x00\x00\x00"), "wasm module, not an ELF executable"},
		{"wasm text", []byte("(module)"), "WebAssembly text module, not an ELF executable"},
	} {
		t.Run(c.name, func(t *testing.T) {
			x := New(Config{Dir: t.TempDir(), Stdout: io.Discard, Stderr: io.Discard, Environ: []string{}})
			defer x.Close()
			err := x.Init(context.Background(), runtime.InitRequest{Code: c.code})
			var rerr *runtime.Error
			if !errors.As(err, &rerr) || rerr.Message != msgNoBinary || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Init = %v, want %q with cause %q", err, msgNoBinary, c.want)
			}
		})
	}
}
