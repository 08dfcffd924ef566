// Conformance sample: returns its value unchanged and prints one line to each stream.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"

	"github.com/wasmwhisk/wasmwhisk/actions/sdk"
)

func init() {
	sdk.HandleRaw(func(_ context.Context, value json.RawMessage) (any, error) {
		fmt.Println("hello stdout")
		fmt.Fprintln(os.Stderr, "hello stderr")
		return value, nil
	})
}

func main() { sdk.Serve() }
