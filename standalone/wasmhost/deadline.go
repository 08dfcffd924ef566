package wasmhost

import (
	"context"
	"encoding/json"
	"errors"
	"sync/atomic"

	"github.com/wasmwhisk/wasmwhisk/runtime"
)

// deadlineWatch wraps a container's executor so that the container can tell the invoker when an
// Init or Run ended because the action's time limit passed. The executor enforces the deadline
// itself, and its clock (wasmtime's epoch, ticked every millisecond) may stop a guest a little
// before the invoker's own timer runs out; the proxy's answer is then an ordinary 502, and the
// record would say "timeout": false although the limit was hit. In this process the executor's
// verdict is at hand, so the container reports it as context.DeadlineExceeded, which the invoker
// records as OpenWhisk does.
type deadlineWatch struct {
	runtime.Executor
}

// deadlineHitKey carries the *atomic.Bool that a call's deadlineWatch sets.
type deadlineHitKey struct{}

func (w deadlineWatch) Init(ctx context.Context, req runtime.InitRequest) error {
	err := w.Executor.Init(ctx, req)
	noteDeadline(ctx, err)
	return err
}

func (w deadlineWatch) Run(ctx context.Context, req runtime.RunRequest) (json.RawMessage, error) {
	res, err := w.Executor.Run(ctx, req)
	noteDeadline(ctx, err)
	return res, err
}

// noteDeadline marks the call in ctx when err says the deadline passed.
func noteDeadline(ctx context.Context, err error) {
	var timeout *runtime.TimeoutError
	if err != nil && (errors.As(err, &timeout) || errors.Is(err, context.DeadlineExceeded)) {
		if hit, ok := ctx.Value(deadlineHitKey{}).(*atomic.Bool); ok {
			hit.Store(true)
		}
	}
}
