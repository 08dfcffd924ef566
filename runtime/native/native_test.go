package native

import (
	"context"
	"encoding/json"
	"io"
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
