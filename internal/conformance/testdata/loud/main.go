// Conformance sample: prints params.lines numbered lines of 1 KiB (newline included) to stdout
// and returns {"lines": n}.
package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/wasmwhisk/wasmwhisk/actions/sdk"
)

func init() {
	sdk.Handle(func(_ context.Context, params map[string]any) (any, error) {
		n, err := strconv.Atoi(fmt.Sprint(params["lines"])) // the SDK decodes numbers as json.Number
		if err != nil {
			return nil, fmt.Errorf("lines: %w", err)
		}
		w := bufio.NewWriter(os.Stdout)
		for i := 0; i < n; i++ {
			head := fmt.Sprintf("loud %06d ", i)
			fmt.Fprintln(w, head+strings.Repeat("x", 1023-len(head)))
		}
		if err := w.Flush(); err != nil {
			return nil, err
		}
		return map[string]any{"lines": n}, nil
	})
}

func main() { sdk.Serve() }
