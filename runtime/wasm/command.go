package wasm

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/wasmwhisk/wasmwhisk/runtime"
	"github.com/wasmwhisk/wasmwhisk/runtime/wasinn"
)

// runCommand runs one activation of a command module in a fresh store: the value on stdin, the
// activation's environment, _start, then the last line of stdout as the result and the rest of
// the output as logs.
func (ex *Executor) runCommand(a *action, req runtime.RunRequest, deadline time.Time, tryDeliver func() bool) (json.RawMessage, error) {
	var files [3]*stdioFile // stdin, stdout, stderr
	defer func() {
		for _, f := range files {
			if f != nil {
				f.close()
			}
		}
	}()
	for i, name := range []string{"stdin", "stdout", "stderr"} {
		f, err := newStdioFile(a.ioDir, name)
		if err != nil {
			return nil, fmt.Errorf("wasm: run: %s: %w", name, err)
		}
		files[i] = f
	}
	stdin, stdout, stderr := files[0], files[1], files[2]
	value := []byte(req.Value)
	if len(value) == 0 {
		value = []byte("{}")
	}
	if _, err := stdin.f.Write(value); err != nil {
		return nil, fmt.Errorf("wasm: run: write stdin: %w", err)
	}

	nn := ex.newNNInstance(a) // the instance's wasi-nn state lives as long as this run
	if nn != nil {
		defer nn.Close()
	}
	unwatchOut := ex.eng.watch(&watchedFile{f: stdout.f, head: ex.cfg.LogLimit, tail: ex.cfg.MaxResultBytes + 1})
	unwatchErr := ex.eng.watch(&watchedFile{f: stderr.f, head: ex.cfg.LogLimit})
	guestErr := nnTimeout(nn, ex.execCommand(a, req, deadline, stdin.path, stdout.path, stderr.path, nn))
	unwatchOut()
	unwatchErr()
	if !tryDeliver() {
		return nil, nil // Run has given up on this activation; only clean up
	}

	outSize, err := stdout.size()
	if err != nil {
		return nil, fmt.Errorf("wasm: run: %w", err)
	}
	errSize, err := stderr.size()
	if err != nil {
		return nil, fmt.Errorf("wasm: run: %w", err)
	}
	logEnd, result, resErr := lastLine(stdout.f, outSize, ex.cfg.MaxResultBytes)
	if guestErr != nil {
		// A failed run has no result: all of its output is log.
		logEnd = outSize
	}
	if err := copyLog(req.Stdout, req.Stderr, stdout.f, 0, logEnd, ex.cfg.LogLimit); err != nil {
		return nil, fmt.Errorf("wasm: run: copy stdout: %w", err)
	}
	if err := copyLog(req.Stderr, req.Stderr, stderr.f, 0, errSize, ex.cfg.LogLimit); err != nil {
		return nil, fmt.Errorf("wasm: run: copy stderr: %w", err)
	}
	if err := writeNNLog(nn, req.Stderr); err != nil {
		return nil, fmt.Errorf("wasm: run: copy wasi-nn log: %w", err)
	}
	if guestErr != nil {
		writeTrapDetail(req.Stderr, guestErr)
		return nil, guestErr
	}
	if resErr != nil {
		return nil, resErr
	}
	if len(result) == 0 {
		return nil, runtime.Errorf(http.StatusBadGateway, "the action produced no result (its last line of stdout must be the result's JSON)", nil)
	}
	return result, nil
}

// execCommand instantiates the module and calls _start under the deadline.
func (ex *Executor) execCommand(a *action, req runtime.RunRequest, deadline time.Time, in, out, errf string, nn *wasinn.Instance) error {
	w, err := wasiConfig(a, req.Context["action_name"], req.Env, in, out, errf)
	if err != nil {
		return err
	}
	store := ex.newStore(w, nn)
	defer store.Close()
	defer beginNN(nn, deadline)()
	ex.eng.enter()
	defer ex.eng.leave()
	store.SetEpochDeadline(ex.eng.deadlineTicks(time.Until(deadline)))
	inst, err := ex.eng.linker.Instantiate(store, a.module)
	if err != nil {
		return ex.guestFailure(err, "the action", 0)
	}
	start := inst.GetFunc(store, exportStart)
	if start == nil {
		return runtime.Errorf(http.StatusBadGateway, "the action has no _start export", nil)
	}
	_, err = start.Call(store)
	return ex.guestFailure(err, "the action", memorySize(store, inst))
}
