package wasm

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/wasmwhisk/wasmwhisk/runtime"
)

// runCommand runs one activation of a command module in a fresh store: the value on stdin, the
// activation's environment, _start, then the last line of stdout as the result and the rest of
// the output as logs.
func (x *Executor) runCommand(a *action, req runtime.RunRequest, deadline time.Time, claim func() bool) (json.RawMessage, error) {
	base := filepath.Join(a.ioDir, "run-"+strconv.FormatUint(x.seq.Add(1), 10))
	in, out, errf := base+".in", base+".out", base+".err"
	defer func() {
		os.Remove(in)
		os.Remove(out)
		os.Remove(errf)
	}()
	value := []byte(req.Value)
	if len(value) == 0 {
		value = []byte("{}")
	}
	if err := os.WriteFile(in, value, 0o600); err != nil {
		return nil, fmt.Errorf("wasm: run: stdin file: %w", err)
	}
	// Create the output files first so that they exist to be read whatever the guest does.
	for _, p := range []string{out, errf} {
		if err := os.WriteFile(p, nil, 0o600); err != nil {
			return nil, fmt.Errorf("wasm: run: output file: %w", err)
		}
	}

	guestErr := x.execCommand(a, req, deadline, in, out, errf)
	if !claim() {
		return nil, nil // Run has given up on this activation; only clean up
	}

	stdout, err := os.Open(out)
	if err != nil {
		return nil, fmt.Errorf("wasm: run: %w", err)
	}
	defer stdout.Close()
	fi, err := stdout.Stat()
	if err != nil {
		return nil, fmt.Errorf("wasm: run: %w", err)
	}
	logEnd, result, resErr := lastLine(stdout, fi.Size(), x.cfg.MaxResultBytes)
	if guestErr != nil {
		// A failed run has no result: all of its output is log.
		logEnd = fi.Size()
	}
	if err := copyLog(req.Stdout, stdout, 0, logEnd, x.cfg.LogLimit, "stdout"); err != nil {
		return nil, fmt.Errorf("wasm: run: copy stdout: %w", err)
	}
	if err := copyLogFile(req.Stderr, errf, x.cfg.LogLimit); err != nil {
		return nil, fmt.Errorf("wasm: run: copy stderr: %w", err)
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
func (x *Executor) execCommand(a *action, req runtime.RunRequest, deadline time.Time, in, out, errf string) error {
	w, err := wasiConfig(a, req.Context["action_name"], req.Env, in, out, errf)
	if err != nil {
		return err
	}
	store := x.newStore(w)
	defer store.Close()
	x.eng.enter()
	defer x.eng.leave()
	store.SetEpochDeadline(x.eng.deadlineTicks(time.Until(deadline)))
	inst, err := x.eng.linker.Instantiate(store, a.module)
	if err != nil {
		return x.guestFailure(err, "the action", 0)
	}
	start := inst.GetFunc(store, exportStart)
	if start == nil {
		return runtime.Errorf(http.StatusBadGateway, "the action has no _start export", nil)
	}
	_, err = start.Call(store)
	return x.guestFailure(err, "the action", memorySize(store, inst))
}
