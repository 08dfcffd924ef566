package wasm

import (
	"context"
	"encoding/json"
	"fmt"
	"os"

	"github.com/bytecodealliance/wasmtime-go/v44"

	"github.com/wasmwhisk/wasmwhisk/runtime"
)

// The embedding: one engine per process, one executor per action. The module here is the
// smallest reactor (its result is the /run line it receives); a Go action built with
// GOOS=wasip1 is used the same way.
func ExampleEngine_NewExecutor() {
	eng, err := NewEngine(EngineConfig{DisableCache: true})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer eng.Close()
	x := eng.NewExecutor(Config{})
	defer x.Close()

	module, _ := wasmtime.Wat2Wasm(watEchoReactor)
	if err := x.Init(context.Background(), runtime.InitRequest{Name: "echo", Code: module}); err != nil {
		fmt.Println(err)
		return
	}
	info, _ := x.Info()
	fmt.Println(info.ABI, info.Source)

	result, err := x.Run(context.Background(), runtime.RunRequest{
		Value:   json.RawMessage(`{"name":"wasm"}`),
		Context: map[string]string{"activation_id": "42"},
		Line:    []byte(`{"value":{"name":"wasm"},"activation_id":"42"}`),
		Stdout:  os.Stdout, Stderr: os.Stdout,
	})
	fmt.Println(string(result), err)
	// Output:
	// reactor compiled
	// {"value":{"name":"wasm"},"activation_id":"42"} <nil>
}
