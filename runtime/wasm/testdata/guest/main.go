// Command guest is the wasm executor's test action. Its behaviour is chosen by the "mode"
// parameter so that one build (command and reactor) covers the good and the bad guests:
//
//	(none)    echo the parameters, with a log line on each stream
//	count     return a counter kept in a global (persists across warm reactor runs)
//	env       return the __OW_* environment, SOME_VAR and argv
//	read      return the text of the file named by "path" (for /action data files)
//	exit      exit with the code in "code"
//	panic     panic (the SDK turns it into an application error)
//	loop      loop forever
//	sleep     sleep for "ms" milliseconds
//	alloc     allocate "mib" MiB and touch it
//	print     print "bytes" bytes of log on stdout
//	string    return a JSON string instead of an object
//	nothing   exit 0 without a result (bypasses the SDK)
//
// With GUEST_INIT=exit or GUEST_INIT=sleep in its environment, package initialisation exits with
// code 4 or sleeps for 10 s (for a reactor, that is _initialize at /init).
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/wasmwhisk/wasmwhisk/actions/sdk"
)

var count int

// atLoad is SOME_VAR as seen when the package initialised (before any activation).
var atLoad = os.Getenv("SOME_VAR")

func init() {
	sdk.HandleRaw(guest)
	// GUEST_INIT (in the init env) makes a reactor's _initialize misbehave.
	switch os.Getenv("GUEST_INIT") {
	case "exit":
		fmt.Println("init: exiting")
		os.Exit(4)
	case "sleep":
		time.Sleep(10 * time.Second)
	}
}

func num(p map[string]any, k string) int64 {
	switch v := p[k].(type) {
	case json.Number:
		n, _ := v.Int64()
		return n
	case float64:
		return int64(v)
	}
	return 0
}

func guest(ctx context.Context, raw json.RawMessage) (any, error) {
	p := map[string]any{}
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.UseNumber()
	if err := dec.Decode(&p); err != nil {
		// Arrays and other values are echoed.
		return raw, nil
	}
	switch p["mode"] {
	case "count":
		count++
		return map[string]any{"count": count}, nil
	case "env":
		env := map[string]any{"argv": os.Args, "SOME_VAR_at_load": atLoad}
		for _, kv := range os.Environ() {
			k, v, _ := strings.Cut(kv, "=")
			env[k] = v
		}
		return env, nil
	case "read":
		b, err := os.ReadFile(fmt.Sprint(p["path"]))
		if err != nil {
			return nil, err
		}
		return map[string]any{"text": string(b)}, nil
	case "write":
		err := os.WriteFile(fmt.Sprint(p["path"]), []byte("x"), 0o644)
		return map[string]any{"error_text": fmt.Sprint(err)}, nil
	case "exit":
		fmt.Println("about to exit")
		os.Exit(int(num(p, "code")))
	case "panic":
		panic("guest panic")
	case "loop":
		fmt.Println("looping")
		for {
			count++
		}
	case "sleep":
		time.Sleep(time.Duration(num(p, "ms")) * time.Millisecond)
		return map[string]any{"slept": num(p, "ms")}, nil
	case "alloc":
		var keep [][]byte
		for i := int64(0); i < num(p, "mib"); i++ {
			b := make([]byte, 1<<20)
			for j := range b {
				b[j] = byte(j)
			}
			keep = append(keep, b)
		}
		return map[string]any{"allocated": len(keep)}, nil
	case "print":
		line := strings.Repeat("x", 1023) + "\n"
		for n := num(p, "bytes"); n > 0; n -= 1024 {
			os.Stdout.WriteString(line)
		}
		return map[string]any{"printed": true}, nil
	case "string":
		return "just a string", nil
	case "nothing":
		os.Exit(0)
	}
	fmt.Println("guest: stdout log")
	fmt.Fprintln(os.Stderr, "guest: stderr log")
	return raw, nil
}

func main() { sdk.Serve() }
