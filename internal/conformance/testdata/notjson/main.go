// Conformance sample: returns a string, which is not a valid action result.
package main

import (
	"context"

	"github.com/wasmwhisk/wasmwhisk/actions/sdk"
)

func init() {
	sdk.Handle(func(context.Context, map[string]any) (any, error) { return "not json", nil })
}

func main() { sdk.Serve() }
