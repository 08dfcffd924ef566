package wasmhost

import (
	"context"

	"github.com/wasmwhisk/wasmwhisk/runtime/wasm"
	"github.com/wasmwhisk/wasmwhisk/standalone"
)

// memoryMethod says what a wasm host container's memory report holds: its instances live in the
// server's process, so only the linear memory is the container's own.
const memoryMethod = "in the server's process (its PSS is the server's figure; the cost of an instance is the PSS growth per added instance); linear memory: the reactor instance's memory size"

var _ standalone.MemoryMeter = (*container)(nil)

// Memory implements standalone.MemoryMeter: the linear memory of a wasm reactor instance; no
// figure for the rest, which the OS only knows for the whole server process.
func (c *container) Memory(ctx context.Context) (standalone.ContainerMemory, error) {
	m := standalone.ContainerMemory{Method: memoryMethod}
	if x, ok := c.exec.(*wasm.Executor); ok {
		size, kept, err := x.LinearMemoryBytes(ctx)
		if err != nil {
			return m, err
		}
		if kept {
			m.LinearMemoryBytes = standalone.Int64(size)
		}
	}
	return m, nil
}

// ResetPeak implements standalone.MemoryMeter; the peak is the server process's (POST
// /wasmwhisk/v1/memory/peak resets it).
func (c *container) ResetPeak(context.Context) error { return nil }
