// Command loadgen invokes OpenWhisk actions at chosen concurrency levels, cold or warm, and writes
// raw activation data, tables and plots.
//
//	loadgen [run] -actions a,b -concurrency 1..5 -cold [flags]
//	loadgen report results/<timestamp>/raw.json [-out DIR]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/term"

	"github.com/wasmwhisk/wasmwhisk/loadgen"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

const usage = `usage:
  loadgen [run] -actions a[,b] [-concurrency 1..5|1,2,4|4] [-count N] [-repeat N] [-cold]
                [-warmup N] [-params JSON|@file] [-rate R/s -duration D] [-out DIR]
                [--apihost URL --auth uuid:key --namespace NS --insecure] [-standalone]
                [-standalone-backend wasmhost|process|docker] [-deploy name=kind@file ...]
  loadgen report raw.json [-out DIR]
Run "loadgen run -h" or "loadgen report -h" for the flags.
`

// run dispatches the verb and returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		switch args[0] {
		case "report":
			return report(args[1:], stdout, stderr)
		case "run":
			args = args[1:]
		case "help", "-h", "-help", "--help":
			fmt.Fprint(stdout, usage)
			return 0
		}
	}
	opts, err := loadgen.ParseRunFlags(args, stderr, os.Getenv, time.Now())
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	var ue *loadgen.UsageError
	if errors.As(err, &ue) {
		fmt.Fprintf(stderr, "loadgen: %v\n%s", err, usage)
		return 2
	}
	if err != nil {
		fmt.Fprintf(stderr, "loadgen: %v\n", err)
		return 1
	}
	progress := loadgen.NewLineProgress(stderr, isTerminal(stderr))

	inProcess := false
	if opts.Standalone {
		stopStandalone, started, err := ensureStandalone(ctx, opts, stderr)
		inProcess = started
		if err != nil {
			fmt.Fprintf(stderr, "loadgen: -standalone: %v\n", err)
			return 1
		}
		defer stopStandalone()
	}
	if len(opts.Deploy) > 0 {
		for _, d := range opts.Deploy {
			fmt.Fprintf(stderr, "deploy %s (%s) from %s\n", d.Name, d.Kind, d.Source)
		}
		if err := loadgen.DeployAll(ctx, opts.Target, opts.Deploy); err != nil {
			fmt.Fprintf(stderr, "loadgen: %v\n", err)
			return 1
		}
	}

	res, runErr := loadgen.Run(ctx, opts.Target, opts.Plan, progress)
	if res == nil {
		fmt.Fprintf(stderr, "loadgen: %v\n", runErr)
		return 1
	}
	res.Meta.Command = "loadgen " + strings.Join(args, " ")
	res.Meta.InProcess = inProcess
	sum, files, err := loadgen.WriteReport(opts.OutDir, res)
	if err != nil {
		fmt.Fprintf(stderr, "loadgen: %v\n", err)
		return 1
	}
	if err := loadgen.WriteTable(stdout, sum); err != nil {
		fmt.Fprintf(stderr, "loadgen: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "\nwrote %s: %s\n", opts.OutDir, strings.Join(files, ", "))
	switch {
	case res.Meta.Interrupted:
		fmt.Fprintf(stderr, "loadgen: interrupted; kept the %d rows collected\n", len(res.Rows))
		return 130
	case runErr != nil:
		fmt.Fprintf(stderr, "loadgen: %v\n", runErr)
		return 1
	}
	return 0
}

// report re-renders tables and plots from a raw.json.
func report(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("loadgen report", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("out", "", "output directory (default: the directory of raw.json)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: loadgen report raw.json [-out DIR]")
		fs.PrintDefaults()
	}
	// Accept the file before or after the flags.
	var file string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		file, args = args[0], args[1:]
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if file == "" && fs.NArg() == 1 {
		file = fs.Arg(0)
	} else if fs.NArg() > 0 || file == "" {
		fs.Usage()
		return 2
	}
	f, err := os.Open(file)
	if err != nil {
		fmt.Fprintf(stderr, "loadgen report: %v\n", err)
		return 1
	}
	res, err := loadgen.ReadRawJSON(f)
	f.Close()
	if err != nil {
		fmt.Fprintf(stderr, "loadgen report: %s: %v\n", file, err)
		return 1
	}
	dir := *out
	if dir == "" {
		dir = filepath.Dir(file)
	}
	sum, files, err := loadgen.WriteReport(dir, res)
	if err != nil {
		fmt.Fprintf(stderr, "loadgen report: %v\n", err)
		return 1
	}
	if err := loadgen.WriteTable(stdout, sum); err != nil {
		fmt.Fprintf(stderr, "loadgen report: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "\nwrote %s: %s\n", dir, strings.Join(files, ", "))
	return 0
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
