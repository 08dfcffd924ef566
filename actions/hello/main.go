// Command hello is the smallest useful action: it greets params.name, echoes its parameters and
// writes one log line to stdout and one to stderr. Built natively and for wasip1 from this source.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/wasmwhisk/wasmwhisk/actions/sdk"
)

func hello(ctx context.Context, params map[string]any) (any, error) {
	name, _ := params["name"].(string)
	if name == "" {
		name = "stranger"
	}
	greeting := "Hello, " + name + "!"
	fmt.Println("hello stdout:", greeting)
	fmt.Fprintln(os.Stderr, "hello stderr:", greeting)
	return map[string]any{"greeting": greeting, "params": params}, nil
}

func init() { sdk.Handle(hello) }

func main() { sdk.Serve() }
