// Conformance sample: captures SOME_VAR and ANOTHER_VAR when the action loads, before any run.
package main

import (
	"context"
	"os"

	"github.com/wasmwhisk/wasmwhisk/actions/sdk"
)

var someVar, anotherVar = os.Getenv("SOME_VAR"), os.Getenv("ANOTHER_VAR")

func init() {
	sdk.Handle(func(context.Context, map[string]any) (any, error) {
		return map[string]any{"SOME_VAR": someVar, "ANOTHER_VAR": anotherVar}, nil
	})
}

func main() { sdk.Serve() }
