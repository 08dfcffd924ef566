// Command wasmwhisk-demo is the driver behind `make demo`, `make demo-full` and `make results`:
//
//	wasmwhisk-demo run [-full] [-out DIR] [-model DIR] [-only id,id]   measure → DIR/summary.json, DIR/README.md
//	wasmwhisk-demo results [-from DIR/summary.json]                    regenerate README.md's and docs/benchmarking.md's
//	                                                                   results sections from docs/results/summary.json
//	wasmwhisk-demo check                                               every README results figure is in its summary.json
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

	"github.com/wasmwhisk/wasmwhisk/demo"
	"github.com/wasmwhisk/wasmwhisk/report"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

const usage = `usage:
  wasmwhisk-demo run [-full] [-out DIR] [-model DIR] [-only variant,...] [-command TEXT]
  wasmwhisk-demo results [-from results/<timestamp>/summary.json]
  wasmwhisk-demo check
`

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "run":
		err = runCmd(ctx, args[1:], stderr)
	case "results":
		err = resultsCmd(args[1:], stdout, stderr)
	case "check":
		err = checkCmd(args[1:], stdout, stderr)
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "wasmwhisk-demo: unknown command %q\n%s", args[0], usage)
		return 2
	}
	switch {
	case errors.Is(err, flag.ErrHelp):
		return 0
	case err != nil:
		fmt.Fprintf(stderr, "wasmwhisk-demo %s: %v\n", args[0], err)
		return 1
	}
	return 0
}

func runCmd(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	full := fs.Bool("full", false, "the large matrix (make demo-full) instead of the quick one")
	out := fs.String("out", "", "results directory (default results/<UTC timestamp>)")
	modelDir := fs.String("model", "", "model directory (default: $WASMWHISK_MODEL_DIR, ./models, ../shared/models)")
	only := fs.String("only", "", "comma list of variant ids to run besides the baseline (default all)")
	command := fs.String("command", "wasmwhisk-demo run", "what started the run, for the report")
	root := fs.String("root", ".", "repository root, with bin/ and build/actions/ built")
	started := fs.Int64("started", 0, "unix time the run began, when a wrapper built first (scripts/demo.sh)")
	var before stepsFlag
	fs.Var(&before, "step", "a step done before this command, `name=seconds,loadStart,loadEnd` (repeatable)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	cfg := demo.Config{Plan: demo.Quick, ModelDir: *modelDir, Command: *command, Progress: stderr, Before: before}
	if *started > 0 {
		cfg.Started = time.Unix(*started, 0)
	}
	if *full {
		cfg.Plan = demo.Full
	}
	var err error
	if cfg.Root, err = filepath.Abs(*root); err != nil {
		return err
	}
	cfg.Out = *out
	if cfg.Out == "" {
		cfg.Out = filepath.Join(cfg.Root, "results", time.Now().UTC().Format("20060102-150405"))
	}
	for _, id := range strings.Split(*only, ",") {
		if id = strings.TrimSpace(id); id != "" {
			if !knownVariant(id) {
				return fmt.Errorf("-only: unknown variant %q", id)
			}
			cfg.Only = append(cfg.Only, id)
		}
	}
	_, err = demo.Run(ctx, cfg)
	return err
}

// stepsFlag collects -step name=seconds,loadStart,loadEnd.
type stepsFlag []report.Step

func (f *stepsFlag) String() string { return fmt.Sprint(len(*f), " steps") }

func (f *stepsFlag) Set(v string) error {
	name, figures, ok := strings.Cut(v, "=")
	var st report.Step
	if !ok || name == "" {
		return fmt.Errorf("want name=seconds,loadStart,loadEnd, got %q", v)
	}
	if _, err := fmt.Sscanf(figures, "%g,%g,%g", &st.Seconds, &st.LoadStart, &st.LoadEnd); err != nil {
		return fmt.Errorf("step %q: want seconds,loadStart,loadEnd: %v", v, err)
	}
	st.Name = name
	*f = append(*f, st)
	return nil
}

func knownVariant(id string) bool {
	for _, v := range demo.Variants {
		if v.ID == id {
			return true
		}
	}
	return false
}

func resultsCmd(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("results", flag.ContinueOnError)
	fs.SetOutput(stderr)
	from := fs.String("from", "", "adopt this summary.json as "+report.CommittedSummary+" first")
	root := fs.String("root", ".", "repository root")
	if err := fs.Parse(args); err != nil {
		return err
	}
	committed := filepath.Join(*root, report.CommittedSummary)
	if *from != "" {
		s, err := report.ReadFile(*from)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Dir(committed), 0o755); err != nil {
			return err
		}
		if err := s.WriteFile(committed); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "adopted %s as %s\n", *from, report.CommittedSummary)
	}
	s, err := report.ReadFile(committed)
	if err != nil {
		return err
	}
	for _, f := range []struct {
		path    string
		content string
	}{
		{"README.md", report.ReadmeSection(s, report.CommittedSummary)},
		{"docs/benchmarking.md", report.BenchmarkingSection(s, report.CommittedSummary)},
	} {
		if err := report.UpdateFile(filepath.Join(*root, f.path), f.content); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "wrote the results section of %s from %s\n", f.path, report.CommittedSummary)
	}
	return nil
}

func checkCmd(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	root := fs.String("root", ".", "repository root")
	if err := fs.Parse(args); err != nil {
		return err
	}
	missing, path, err := report.CheckReadme(*root)
	if err != nil {
		return err
	}
	if len(missing) > 0 {
		return fmt.Errorf("README.md's results section has figures that are not in %s: %s", path, strings.Join(missing, ", "))
	}
	fmt.Fprintf(stdout, "every figure of README.md's results section is in %s\n", path)
	return nil
}
