// Conformance sample: returns the seven activation context variables.
package main

import (
	"context"
	"os"

	"github.com/wasmwhisk/wasmwhisk/actions/sdk"
)

func init() {
	sdk.Handle(func(context.Context, map[string]any) (any, error) {
		return map[string]any{
			"api_host":       os.Getenv("__OW_API_HOST"),
			"api_key":        os.Getenv("__OW_API_KEY"),
			"namespace":      os.Getenv("__OW_NAMESPACE"),
			"action_name":    os.Getenv("__OW_ACTION_NAME"),
			"action_version": os.Getenv("__OW_ACTION_VERSION"),
			"activation_id":  os.Getenv("__OW_ACTIVATION_ID"),
			"deadline":       os.Getenv("__OW_DEADLINE"),
		}, nil
	})
}

func main() { sdk.Serve() }
