// Command reply answers with its parameter "reply" when it has one, else with all its parameters.
// "reply" can be any JSON value: the statusCode/headers/body of a web action's HTTP response, an
// {"error": …} application error, or something that is not an object at all. Tests of web actions
// and sequences use it to make a real action return exactly what a case needs; built natively and
// for wasip1 from this source.
package main

import (
	"context"

	"github.com/wasmwhisk/wasmwhisk/actions/sdk"
)

func reply(ctx context.Context, params map[string]any) (any, error) {
	if r, ok := params["reply"]; ok {
		return r, nil
	}
	return params, nil
}

func init() { sdk.Handle(reply) }

func main() { sdk.Serve() }
