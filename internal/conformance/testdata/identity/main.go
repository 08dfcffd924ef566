// Conformance sample: returns its value unchanged (objects and arrays), printing nothing.
package main

import (
	"context"
	"encoding/json"

	"github.com/wasmwhisk/wasmwhisk/actions/sdk"
)

func init() {
	sdk.HandleRaw(func(_ context.Context, value json.RawMessage) (any, error) { return value, nil })
}

func main() { sdk.Serve() }
