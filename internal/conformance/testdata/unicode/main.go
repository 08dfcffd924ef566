// Conformance sample: {delimiter} → prints and returns {"winter": delimiter + " ☃ " + delimiter}.
package main

import (
	"context"
	"fmt"

	"github.com/wasmwhisk/wasmwhisk/actions/sdk"
)

func init() {
	sdk.Handle(func(_ context.Context, p map[string]any) (any, error) {
		d, _ := p["delimiter"].(string)
		s := d + " ☃ " + d
		fmt.Println(s)
		return map[string]any{"winter": s}, nil
	})
}

func main() { sdk.Serve() }
