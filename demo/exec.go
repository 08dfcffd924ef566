package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/wasmwhisk/wasmwhisk/loadgen"
	"github.com/wasmwhisk/wasmwhisk/report"
)

// execWay is one way to run a small workload once outside OpenWhisk, start-up included.
type execWay struct {
	Name string
	// Command returns the command line and the artifact it runs, or why it cannot run.
	Command func(a *Artifacts, w Workload) ([]string, report.Artifact, error)
}

// execWays are the rows of the execution-time table for each small workload.
var execWays = []execWay{
	{Name: "native binary", Command: func(a *Artifacts, w Workload) ([]string, report.Artifact, error) {
		d, err := fileDeploy("executable", filepath.Join(a.Actions, w.Name))
		return []string{d.Source}, d.Artifact, err
	}},
	{Name: "module, actionproxy -once (wasmtime)", Command: func(a *Artifacts, w Workload) ([]string, report.Artifact, error) {
		d, err := wasmReactor(a, w)
		return []string{filepath.Join(a.Bin, "actionproxy"), "-executor", "wasm", "-once", d.Source}, d.Artifact, err
	}},
	{Name: "docker run, native image", Command: func(a *Artifacts, w Workload) ([]string, report.Artifact, error) {
		d, err := a.image(demoImage(w.Name, false))
		return []string{"docker", "run", "--rm", "-i", "--network", "none", "--entrypoint", "/action/exec", d.Source}, d.Artifact, err
	}},
	{Name: "docker run, wasm image", Command: func(a *Artifacts, w Workload) ([]string, report.Artifact, error) {
		d, err := a.image(demoImage(w.Name, true))
		return []string{"docker", "run", "--rm", "-i", "--network", "none", d.Source, "-once", "/action/main.cwasm"}, d.Artifact, err
	}},
}

// execRows times every way of running w: one warm-up run, then ExecSamples runs.
func (r *runner) execRows(ctx context.Context, w Workload) []report.ExecRow {
	input, _ := json.Marshal(w.Params)
	var rows []report.ExecRow
	for _, way := range execWays {
		row := report.ExecRow{Workload: w.Name, Way: way.Name}
		argv, art, err := way.Command(r.art, w)
		row.Artifact = art
		if len(argv) > 0 {
			row.Command = strings.Join(relative(r.art.Root, argv), " ")
		}
		if err != nil {
			row.Error = err.Error()
			rows = append(rows, row)
			continue
		}
		var times []float64
		for i := 0; i <= r.plan.ExecSamples; i++ {
			ms, err := timeOnce(ctx, argv, input)
			if err != nil {
				row.Error = err.Error()
				break
			}
			if i == 0 {
				row.FirstMS = report.Float(ms)
				continue
			}
			times = append(times, ms)
		}
		if row.Error == "" {
			ci := loadgen.MedianCI(times, 0.95)
			row.N, row.MedianMS = len(times), report.Float(loadgen.Summarize(times).P50)
			row.CILowMS, row.CIHighMS = report.Float(ci.Lo), report.Float(ci.Hi)
		}
		rows = append(rows, row)
	}
	return rows
}

// timeOnce runs argv with input on stdin and returns its wall time in ms; the run must exit 0
// and print a JSON object as the last line of stdout.
func timeOnce(ctx context.Context, argv []string, input []byte) (float64, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Stdin = bytes.NewReader(append(input, '\n'))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	elapsed := time.Since(start)
	if err != nil {
		return 0, fmt.Errorf("%s: %w: %s", argv[0], err, lastLine(stderr.String()))
	}
	out := lastLine(stdout.String())
	var obj map[string]any
	if json.Unmarshal([]byte(out), &obj) != nil {
		return 0, fmt.Errorf("%s: no JSON result on stdout (%q)", argv[0], out)
	}
	if e, ok := obj["error"]; ok {
		return 0, fmt.Errorf("%s: the action failed: %v", argv[0], e)
	}
	return float64(elapsed.Microseconds()) / 1000, nil
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

// relative shortens absolute paths under root for the report.
func relative(root string, argv []string) []string {
	out := make([]string, len(argv))
	for i, a := range argv {
		if rel, err := filepath.Rel(root, a); err == nil && filepath.IsAbs(a) && !strings.HasPrefix(rel, "..") {
			a = rel
		}
		out[i] = a
	}
	return out
}
