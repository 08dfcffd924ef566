// Package demo is the driver of `make demo`: it answers "when does a WebAssembly action beat a
// Docker (blackbox) action?" in one generated verdict table. It starts `wasmwhisk standalone`
// as a process of its own for every configuration (fresh data directory, no stem cells), drives
// it over HTTP with the loadgen library from this process, reads memory from the standalone's
// memory report (measured by the OS), times the small workloads outside OpenWhisk, and writes
// results/<timestamp>/summary.json and README.md through package report.
//
// What is measured is data: Variants and Workloads (variants.go) are the rows, execWays
// (exec.go) the execution-time rows, Quick and Full (below) the sample counts. A step that
// fails is reported in its row with its error; the other steps still run.
package demo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/wasmwhisk/wasmwhisk/report"
)

// Plan is how much the demo measures.
type Plan struct {
	Mode string
	// ColdSamples is the number of cold starts at c=1 after the first.
	ColdSamples int
	// BurstConcurrency and BurstRepeats shape the simultaneous cold starts.
	BurstConcurrency int
	BurstRepeats     int
	// WarmSamples and Warmup are the verdict's warm activations at c=1.
	WarmSamples int
	Warmup      int
	// WarmLevels are the small workloads' warm concurrency levels; LevelCount is the measured
	// activations at one level.
	WarmLevels []int
	LevelCount func(concurrency int) int
	// ExecSamples is the number of timed runs per execution-time row, after one warm-up run.
	ExecSamples int
	// Density is the numbers of warm instances of the wasm host's memory fit.
	Density []int
	// UserMemoryMB is every standalone's container memory budget.
	UserMemoryMB int
}

// Quick is `make demo`: at least 5 samples everywhere, within 10 minutes on 2 cores.
var Quick = Plan{Mode: "quick", ColdSamples: 6, BurstConcurrency: 5, BurstRepeats: 1, WarmSamples: 10, Warmup: 3,
	WarmLevels: []int{1, 2, 4, 8, 16}, LevelCount: func(c int) int { return max(10, 4*c) }, ExecSamples: 5,
	Density: []int{1, 2, 4, 8}, UserMemoryMB: 2048}

// Full is `make demo-full`: the large matrix.
var Full = Plan{Mode: "full", ColdSamples: 20, BurstConcurrency: 5, BurstRepeats: 4, WarmSamples: 50, Warmup: 5,
	WarmLevels: []int{1, 2, 4, 8, 16}, LevelCount: func(c int) int { return max(30, 8*c) }, ExecSamples: 20,
	Density: []int{1, 2, 4, 8}, UserMemoryMB: 2048}

// Config is one run of the demo.
type Config struct {
	// Root is the repository root (with bin/ and build/actions/ built).
	Root string
	// Out is the results directory (created).
	Out string
	// ModelDir is the model directory ("" resolves as nn/model does).
	ModelDir string
	Plan     Plan
	// Only restricts the run to these variant ids (and the baseline); empty means all.
	Only []string
	// Command is what started the run, for the report ("make demo").
	Command string
	// Progress receives one line per step.
	Progress io.Writer
	// Started is when the run began, if before this call (the wrapper's build step); zero means
	// now. Before are the steps already done then, for the report.
	Started time.Time
	Before  []report.Step
}

// runner carries one run's state through its steps.
type runner struct {
	cfg         Config
	plan        Plan
	out         string
	art         *Artifacts
	cacheVolume string
	began       time.Time
	sum         *report.Summary
	steps       int
	total       int
}

// Run measures everything and writes summary.json and README.md into cfg.Out. It returns the
// summary even when steps failed (their rows say why); the error is for a run that could not
// start or write its report.
func Run(ctx context.Context, cfg Config) (*report.Summary, error) {
	if cfg.Progress == nil {
		cfg.Progress = io.Discard
	}
	if cfg.Plan.Mode == "" {
		cfg.Plan = Quick
	}
	out, err := filepath.Abs(cfg.Out)
	if err != nil {
		return nil, err
	}
	work := filepath.Join(out, "artifacts")
	if err := os.MkdirAll(work, 0o755); err != nil {
		return nil, err
	}
	began := cfg.Started
	if began.IsZero() {
		began = time.Now()
	}
	r := &runner{cfg: cfg, plan: cfg.Plan, out: out, began: began,
		art:         &Artifacts{Root: cfg.Root, Bin: filepath.Join(cfg.Root, "bin"), Actions: filepath.Join(cfg.Root, "build", "actions"), Work: work},
		cacheVolume: "wasmwhisk-demo-modcache-" + filepath.Base(out)}
	method := report.NewMethod()
	method.SeparateProcesses = true
	method.ColdSamples, method.BurstRepeats, method.BurstConcurrency = r.plan.ColdSamples, r.plan.BurstRepeats, r.plan.BurstConcurrency
	method.WarmSamples, method.Warmup, method.WarmLevels = r.plan.WarmSamples, r.plan.Warmup, r.plan.WarmLevels
	method.ExecSamples, method.DensityInstances, method.UserMemoryMB = r.plan.ExecSamples, r.plan.Density, r.plan.UserMemoryMB
	r.sum = &report.Summary{Schema: report.SchemaVersion, Command: cfg.Command, Mode: r.plan.Mode, Started: r.began.UTC(),
		Method: method, Machine: machine(), Load: report.Load{Cores: runtime.NumCPU(), Start: loadAverage()}, Steps: cfg.Before}
	for _, st := range cfg.Before {
		r.noteLoad(st.Name, st.LoadStart, st.LoadEnd)
	}
	r.steps = len(cfg.Before)
	if err := r.measure(ctx); err != nil {
		return r.sum, err
	}
	r.sum.Finished = time.Now().UTC()
	r.sum.Elapsed = float64(int(time.Since(r.began).Seconds()))
	r.sum.Load.End = loadAverage()
	if r.sum.Load.Max < r.sum.Load.End[0] {
		r.sum.Load.Max = r.sum.Load.End[0]
	}
	if err := r.sum.WriteFile(filepath.Join(out, "summary.json")); err != nil {
		return r.sum, err
	}
	if err := os.WriteFile(filepath.Join(out, "README.md"), []byte(report.Render(r.sum)), 0o644); err != nil {
		return r.sum, err
	}
	r.say("report: %s", filepath.Join(out, "README.md"))
	return r.sum, nil
}

// measure runs the steps in order.
func (r *runner) measure(ctx context.Context) error {
	a := r.art
	var variants []Variant
	for _, v := range Variants {
		if (v.FullOnly && r.plan.Mode != Full.Mode) || !r.selected(v) {
			continue
		}
		variants = append(variants, v)
	}
	r.total = 4 + len(r.cfg.Before)
	for _, w := range Workloads {
		if !w.Verdict {
			r.total++ // its execution times
		}
		for _, v := range variants {
			if v.appliesTo(w) {
				r.total++
			}
		}
	}

	var modelErr error
	r.step("conditions and model", func() error {
		a.DockerErr = dockerWorks(ctx)
		r.sum.Versions = versions(ctx, r.cfg.Root, a.DockerErr == nil)
		r.sum.Model, modelErr = a.loadModel(r.cfg.ModelDir)
		return modelErr
	})
	if modelErr != nil {
		return fmt.Errorf("model: %w", modelErr)
	}
	r.step("precompile the small workloads' modules (wasmwhisk-compile)", func() error {
		return r.withLog(ctx, "precompile.log", a.precompile)
	})
	r.step("Docker images (deploy/docker/build-images.sh and the demo's images)", func() error {
		if a.DockerErr != nil {
			return a.DockerErr
		}
		a.ImageErr = r.withLog(ctx, "images.log", a.buildImages)
		return a.ImageErr
	})
	if ctx.Err() != nil {
		return ctx.Err()
	}

	var series = map[string]report.Series{}
	for _, w := range Workloads {
		for _, v := range variants {
			if !v.appliesTo(w) {
				continue
			}
			name := fmt.Sprintf("%s · %s", w.Name, v.Label)
			if w.Verdict {
				r.step(name, func() error {
					row, s := r.verdictRow(ctx, v, w)
					r.sum.Verdict.Rows = append(r.sum.Verdict.Rows, row)
					series[v.ID] = s
					return rowErr(row.Error)
				})
				continue
			}
			r.step(name, func() error {
				row := r.workloadRow(ctx, v, w)
				r.addWorkloadRow(w, row)
				return rowErr(row.Error)
			})
			if ctx.Err() != nil {
				return ctx.Err()
			}
		}
	}
	for _, w := range Workloads {
		if w.Verdict {
			continue
		}
		r.step("execution time outside OpenWhisk · "+w.Name, func() error {
			rows := r.execRows(ctx, w)
			r.sum.Exec = append(r.sum.Exec, rows...)
			var errs []error
			for _, e := range rows {
				if e.Error != "" {
					errs = append(errs, fmt.Errorf("%s: %s", e.Way, e.Error))
				}
			}
			return errors.Join(errs...)
		})
	}
	r.step("cleanup (the demo's wasm module cache volume)", func() error {
		if a.DockerErr != nil {
			return nil
		}
		output(ctx, r.cfg.Root, "docker", "volume", "rm", r.cacheVolume) // absent when no wasm container ran on Docker
		return nil
	})
	r.finishVerdict(series)
	return ctx.Err()
}

func rowErr(s string) error {
	if s == "" {
		return nil
	}
	return errors.New(s)
}

// finishVerdict compares each row with the baseline and writes the sentences.
func (r *runner) finishVerdict(series map[string]report.Series) {
	v := &r.sum.Verdict
	v.Workload, v.Baseline = "MobileNet", Baseline
	for _, w := range Workloads {
		if w.Verdict {
			v.Params = w.Description
		}
	}
	base, ok := series[Baseline]
	for i := range v.Rows {
		row := &v.Rows[i]
		if row.Error != "" || row.ID == Baseline || !ok {
			continue
		}
		row.Versus = report.Compare(series[row.ID], base)
	}
	v.Sentences()
}

func (r *runner) addWorkloadRow(w Workload, row report.WorkloadRow) {
	for i := range r.sum.Workloads {
		if r.sum.Workloads[i].Name == w.Name {
			r.sum.Workloads[i].Rows = append(r.sum.Workloads[i].Rows, row)
			return
		}
	}
	params, err := json.Marshal(w.Params)
	if err != nil {
		params = []byte(fmt.Sprint(w.Params))
	}
	r.sum.Workloads = append(r.sum.Workloads, report.Workload{Name: w.Name, Description: w.Description, Params: string(params), Rows: []report.WorkloadRow{row}})
}

func (r *runner) selected(v Variant) bool {
	if len(r.cfg.Only) == 0 || v.ID == Baseline {
		return true
	}
	for _, id := range r.cfg.Only {
		if id == v.ID {
			return true
		}
	}
	return false
}

// step runs one step and prints its one progress line: its number, name, outcome, wall time and
// the load average around it.
func (r *runner) step(name string, fn func() error) {
	r.steps++
	start, load := time.Now(), loadAverage()[0]
	fmt.Fprintf(r.cfg.Progress, "demo [%6.1fs] %2d/%d %s ... ", time.Since(r.began).Seconds(), r.steps, r.total, name)
	err := fn()
	end := loadAverage()[0]
	st := report.Step{Name: name, Seconds: float64(int(time.Since(start).Seconds()*10)) / 10, LoadStart: load, LoadEnd: end}
	outcome := "ok"
	switch {
	case errors.Is(err, ErrNotAvailable):
		st.Error = err.Error()
		outcome = "skipped: " + oneLine(err.Error())
	case err != nil:
		st.Error = err.Error()
		outcome = "FAILED: " + oneLine(err.Error())
	}
	r.sum.Steps = append(r.sum.Steps, st)
	r.noteLoad(name, load, end)
	fmt.Fprintf(r.cfg.Progress, "%s (%.1f s, load %.2f)\n", outcome, time.Since(start).Seconds(), end)
}

// noteLoad records the load around a step, and the step when the load exceeded the cores.
func (r *runner) noteLoad(name string, start, end float64) {
	if m := max(start, end); m > r.sum.Load.Max {
		r.sum.Load.Max = m
	}
	if max(start, end) > float64(r.sum.Load.Cores) {
		r.sum.Load.Overloaded = append(r.sum.Load.Overloaded, name)
	}
}

func (r *runner) say(format string, args ...any) {
	fmt.Fprintf(r.cfg.Progress, "demo [%6.1fs] "+format+"\n", append([]any{time.Since(r.began).Seconds()}, args...)...)
}

// withLog runs a build step with its output in a log file of the run's artifacts directory.
func (r *runner) withLog(ctx context.Context, name string, fn func(ctx context.Context, log io.Writer) error) error {
	f, err := os.Create(filepath.Join(r.art.Work, name))
	if err != nil {
		return err
	}
	defer f.Close()
	return fn(ctx, f)
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 160 {
		s = s[:160] + "…"
	}
	return s
}
