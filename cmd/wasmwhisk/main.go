// Command wasmwhisk is the project's main binary: the embedded single-machine OpenWhisk
// (wasmwhisk standalone), the MobileNet classifier (wasmwhisk classify) and action packaging.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"sort"
)

// verbs maps each subcommand to its implementation, which parses its own flags.
var verbs = map[string]struct {
	run     func(args []string) error
	summary string
}{
	"standalone": {standaloneCmd, "run an OpenWhisk-compatible controller and invoker on this machine"},
	"classify":   {classifyCmd, "classify images with MobileNet, natively or under the wasm runtime"},
	"action":     {actionZipCmd, "action zip: pack a wasm module and data files into the zip wsk uploads for --kind wasm:0.1"},
}

func main() {
	if len(os.Args) < 2 || os.Args[1] == "-h" || os.Args[1] == "--help" || os.Args[1] == "help" {
		usage()
		if len(os.Args) < 2 {
			os.Exit(2)
		}
		return
	}
	verb, ok := verbs[os.Args[1]]
	if !ok {
		fmt.Fprintf(os.Stderr, "wasmwhisk: unknown command %q\n\n", os.Args[1])
		usage()
		os.Exit(2)
	}
	if err := verb.run(os.Args[2:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintf(os.Stderr, "wasmwhisk %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: wasmwhisk <command> [flags]\n\ncommands:")
	names := make([]string, 0, len(verbs))
	for name := range verbs {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		fmt.Fprintf(os.Stderr, "  %-11s %s\n", name, verbs[name].summary)
	}
	fmt.Fprintln(os.Stderr, "\nrun 'wasmwhisk <command> -h' for a command's flags")
}
