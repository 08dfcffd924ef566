package wasm

import (
	"context"
	"fmt"
)

// LinearMemoryBytes is the size of the linear memory of the reactor instance that serves the
// action, for memory reports. It waits, as long as ctx allows, for a run in progress to hand the
// instance back. ok is false when no instance is kept: before Init, for a command module (a
// fresh instance per run) and after the instance was dropped (it is made again at the next run).
func (ex *Executor) LinearMemoryBytes(ctx context.Context) (size int64, ok bool, err error) {
	a := ex.act.Load()
	if a == nil || a.reactor == nil {
		return 0, false, nil
	}
	var inst *reactorInstance
	select {
	case inst = <-a.reactor.slot:
	case <-ctx.Done():
		return 0, false, fmt.Errorf("wasm: linear memory: %w", ctx.Err())
	case <-ex.quit:
		return 0, false, errClosed
	}
	defer func() { a.reactor.slot <- inst }()
	if inst == nil || inst.mem == nil {
		return 0, false, nil
	}
	return int64(inst.mem.DataSize(inst.store)), true, nil
}
