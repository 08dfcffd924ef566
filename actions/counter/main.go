// Command counter is a stateful action: it counts the activations its process (native) or instance
// (wasm reactor) has served, showing whether a warm container keeps state. Under the wasm command
// ABI every activation gets a fresh instance, so the count is always 1.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"

	"github.com/wasmwhisk/wasmwhisk/actions/sdk"
)

var (
	count    int64
	instance = newInstanceID()
)

func newInstanceID() string {
	b := make([]byte, 8)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func counter(ctx context.Context, params map[string]any) (any, error) {
	count++
	return map[string]any{"count": count, "instance": instance}, nil
}

func init() { sdk.Handle(counter) }

func main() { sdk.Serve() }
