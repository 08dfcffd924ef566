// Package report turns the demo's measurements into summary.json, the verdict table and its
// sentences, and the generated results sections of README.md and docs/benchmarking.md; it also
// checks that every figure of a generated section is in the summary.json the section names.
//
// Data flows one way: the demo driver (package demo) measures and fills a Summary through the
// builders here (statistics from loadgen); Render and the section writers only format what the
// Summary holds. Every figure shown is a field of the Summary, so that summary.json alone
// regenerates every table and sentence (`make results`), and no figure is computed at render
// time.
package report

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"time"
)

// SchemaVersion is the version of summary.json's layout.
const SchemaVersion = 1

// Summary is summary.json: one demo run.
type Summary struct {
	Schema int `json:"schema"`
	// Verdict is the answer, first.
	Verdict Verdict `json:"verdict"`
	// Command is what produced the run, e.g. "make demo".
	Command   string     `json:"command"`
	Mode      string     `json:"mode"` // quick or full
	Started   time.Time  `json:"started"`
	Finished  time.Time  `json:"finished"`
	Elapsed   float64    `json:"elapsedSeconds"`
	Method    Method     `json:"method"`
	Machine   Machine    `json:"machine"`
	Versions  Versions   `json:"versions"`
	Load      Load       `json:"load"`
	Model     Model      `json:"model"`
	Workloads []Workload `json:"workloads"`
	Exec      []ExecRow  `json:"exec"`
	Steps     []Step     `json:"steps"`
	Warnings  []string   `json:"warnings,omitempty"`
}

// Method records how the figures were taken.
type Method struct {
	// SeparateProcesses: every configuration was a `wasmwhisk standalone` process of its own,
	// driven over HTTP by the load generator in another process.
	SeparateProcesses bool `json:"separateProcesses"`
	// ColdSamples is the number of cold starts at concurrency 1 after the first, per variant.
	ColdSamples int `json:"coldSamples"`
	// BurstRepeats is how many times the cold burst at concurrency 5 was repeated.
	BurstRepeats int `json:"burstRepeats"`
	// BurstConcurrency is the concurrency of the cold burst (5).
	BurstConcurrency int `json:"burstConcurrency"`
	// WarmSamples is the number of measured warm activations per level, at concurrency 1.
	WarmSamples int `json:"warmSamples"`
	// Warmup is the number of warm-up activations per level, excluded.
	Warmup int `json:"warmup"`
	// WarmLevels are the concurrency levels of the workloads' warm runs.
	WarmLevels []int `json:"warmLevels"`
	// ExecSamples is the number of measured runs per execution-time row (after one warm-up run).
	ExecSamples int `json:"execSamples"`
	// DensityInstances are the numbers of warm instances the wasm host's PSS slope is fitted over.
	DensityInstances []int `json:"densityInstances"`
	// CIPercent is the confidence level of every interval (95).
	CIPercent int `json:"ciPercent"`
	// SignificancePercent is the Mann–Whitney level below which a difference is called
	// significant (5).
	SignificancePercent int `json:"significancePercent"`
	// UserMemoryMB is the container memory budget of every standalone.
	UserMemoryMB int `json:"userMemoryMB"`
	// GiBMiB is 1024, the MiB in a GiB of the instances-per-GiB column.
	GiBMiB int `json:"gibMiB"`
}

// Machine is where the run happened.
type Machine struct {
	Cores     int     `json:"cores"`
	CPU       string  `json:"cpu"`
	MemoryGiB float64 `json:"memoryGiB"`
	Kernel    string  `json:"kernel"`
	OS        string  `json:"os"`
}

// Versions are the versions of what was measured.
type Versions struct {
	Go       string `json:"go"`
	Commit   string `json:"commit"`
	Dirty    bool   `json:"dirty"`
	Docker   string `json:"docker,omitempty"`
	Wasmtime string `json:"wasmtime"`
}

// Load is the machine's load average (1, 5 and 15 minutes) around the run.
type Load struct {
	Cores int        `json:"cores"`
	Start [3]float64 `json:"start"`
	End   [3]float64 `json:"end"`
	// Max is the highest 1-minute load average seen at the start or end of a step.
	Max float64 `json:"max"`
	// Overloaded lists the steps during which the 1-minute load average exceeded the cores.
	Overloaded []string `json:"overloaded,omitempty"`
}

// Model is the MobileNet model the run used.
type Model struct {
	Dir    string `json:"dir"`
	File   string `json:"file"`
	Bytes  int64  `json:"bytes"`
	SHA256 string `json:"sha256"`
}

// Artifact is what a variant deploys.
type Artifact struct {
	// What is "image", "zip" or "module".
	What  string `json:"what"`
	Name  string `json:"name"`
	Bytes int64  `json:"bytes"`
	// MiB is Bytes in MiB, rounded to a tenth (as shown).
	MiB float64 `json:"mib"`
}

// NewArtifact describes a file or image of bytes bytes.
func NewArtifact(what, name string, bytes int64) Artifact {
	return Artifact{What: what, Name: name, Bytes: bytes, MiB: math.Round(float64(bytes)/(1<<20)*10) / 10}
}

// Cold is a series of cold starts at concurrency 1: the first (a new model or module on a new
// server: compile, cache fill) apart, then the median of the others with its interval.
type Cold struct {
	// FirstMS is the total of the first cold start.
	FirstMS *float64 `json:"firstMs"`
	// N is the number of cold starts after the first.
	N        int      `json:"n"`
	MedianMS *float64 `json:"medianMs"`
	// CILowMS and CIHighMS bound the median (order statistics), at CICoverage percent.
	CILowMS    *float64 `json:"ciLowMs"`
	CIHighMS   *float64 `json:"ciHighMs"`
	CICoverage *float64 `json:"ciCoveragePercent"`
	MeanMS     *float64 `json:"meanMs"`
	// InitMS is the median initTime of the same activations.
	InitMS *float64 `json:"initMs"`
	// WaitMS is the median waitTime (container creation included).
	WaitMS *float64 `json:"waitMs"`
	// Failed counts the activations of the series that failed (the first included), with the
	// first failure's error.
	Failed int    `json:"failed"`
	Error  string `json:"error,omitempty"`
}

// Burst is simultaneous cold starts at one concurrency level.
type Burst struct {
	Concurrency int      `json:"concurrency"`
	N           int      `json:"n"`
	P50MS       *float64 `json:"p50Ms"`
	P95MS       *float64 `json:"p95Ms"`
	MaxWaitMS   *float64 `json:"maxWaitMs"`
	Failed      int      `json:"failed"`
	Error       string   `json:"error,omitempty"`
}

// Warm is warm activations at one level: the record's duration, and throughput.
type Warm struct {
	Concurrency int      `json:"concurrency"`
	N           int      `json:"n"`
	P50MS       *float64 `json:"p50Ms"`
	P99MS       *float64 `json:"p99Ms"`
	// TotalP50MS is the median of waitTime + duration.
	TotalP50MS *float64 `json:"totalP50Ms"`
	// Throughput is successful activations per second of the level's wall time.
	Throughput *float64 `json:"throughput"`
	// Efficiency is the speed-up over concurrency 1 divided by the ideal (the concurrency).
	Efficiency *float64 `json:"efficiency"`
	Errors     int      `json:"errors"`
	// ColdStarts counts cold activations among the measured ones (excluded from the figures).
	ColdStarts int `json:"coldStarts"`
}

// Memory is a variant's memory as the OS measured it. A nil figure is unavailable, never zero.
type Memory struct {
	// IdleMiB is the memory of one warm, idle instance.
	IdleMiB *float64 `json:"idleMiB"`
	// IdleSamples is how many instances IdleMiB is the median of (or the fit's points).
	IdleSamples int `json:"idleSamples"`
	// PeakMiB is the most one warm activation used (container peak; wasm host: the server's
	// resident growth during it).
	PeakMiB *float64 `json:"peakMiB"`
	// PerGiB is the number of idle warm instances that fit in a GiB: GiBMiB / IdleMiB.
	PerGiB *float64 `json:"perGiB"`
	// LinearMiB is the median linear memory of a wasm instance (wasm host).
	LinearMiB *float64 `json:"linearMiB"`
	// Fit is the wasm host's server PSS against the number of warm instances.
	Fit    *Fit   `json:"fit,omitempty"`
	Method string `json:"method"`
	// Unavailable says why there are no figures.
	Unavailable string `json:"unavailable,omitempty"`
}

// Fit is a least-squares line through (instances, server PSS MiB) points.
type Fit struct {
	Instances []int     `json:"instances"`
	PSSMiB    []float64 `json:"pssMiB"`
	SlopeMiB  float64   `json:"slopeMiB"`
	BaseMiB   float64   `json:"baseMiB"`
	R2        float64   `json:"r2"`
}

// Versus compares a row with the baseline: ratio of medians (row / baseline: below 1 is faster)
// and the two-sided Mann–Whitney p-value.
type Versus struct {
	ColdRatio *float64 `json:"coldRatio"`
	ColdP     *float64 `json:"coldP"`
	WarmRatio *float64 `json:"warmRatio"`
	WarmP     *float64 `json:"warmP"`
}

// Variant says what a row ran.
type Variant struct {
	ID      string `json:"id"`
	Label   string `json:"label"`
	Backend string `json:"backend"`
	Kind    string `json:"kind"`
	// MemoryMB is the action's memory limit.
	MemoryMB int      `json:"memoryMB"`
	Artifact Artifact `json:"artifact"`
}

// VerdictRow is one variant of the verdict table.
type VerdictRow struct {
	Variant
	// Error is why the variant has no figures (not available, failed); the others still ran.
	Error  string  `json:"error,omitempty"`
	Cold   *Cold   `json:"cold,omitempty"`
	Burst  *Burst  `json:"burst,omitempty"`
	Warm   *Warm   `json:"warm,omitempty"`
	Memory Memory  `json:"memory"`
	Versus *Versus `json:"versus,omitempty"`
	// Sentence is the row's computed verdict.
	Sentence string `json:"sentence"`
}

// Verdict is the MobileNet table: every variant side by side.
type Verdict struct {
	Workload string       `json:"workload"`
	Params   string       `json:"params"`
	Baseline string       `json:"baseline"`
	Rows     []VerdictRow `json:"rows"`
}

// WorkloadRow is one variant of another workload.
type WorkloadRow struct {
	Variant
	Error string `json:"error,omitempty"`
	Cold  *Cold  `json:"cold,omitempty"`
	Warm  []Warm `json:"warm,omitempty"`
	// State is the counter's: what a warm instance and fresh ones returned.
	State *State `json:"state,omitempty"`
}

// State is what the stateful counter returned.
type State struct {
	// WarmCounts are the counts of consecutive warm activations of one instance.
	WarmCounts []int `json:"warmCounts"`
	// FreshCounts are the counts returned by new instances (cold starts).
	FreshCounts []int `json:"freshCounts"`
	// Kept says a warm instance kept its count (+1 per activation).
	Kept bool `json:"kept"`
}

// Workload is one of the user's other workloads.
type Workload struct {
	Name        string        `json:"name"`
	Description string        `json:"description"`
	Params      string        `json:"params"`
	Rows        []WorkloadRow `json:"rows"`
}

// ExecRow is the execution time of one way of running a workload outside OpenWhisk, start-up
// included: from the start of the process to its exit.
type ExecRow struct {
	Workload string `json:"workload"`
	// Way is e.g. "native binary" or "docker run, wasm image".
	Way string `json:"way"`
	// Command is the command line timed.
	Command  string   `json:"command"`
	Artifact Artifact `json:"artifact"`
	// FirstMS is the first run, excluded (caches).
	FirstMS  *float64 `json:"firstMs"`
	N        int      `json:"n"`
	MedianMS *float64 `json:"medianMs"`
	CILowMS  *float64 `json:"ciLowMs"`
	CIHighMS *float64 `json:"ciHighMs"`
	Error    string   `json:"error,omitempty"`
}

// Step is one step of the demo with its wall time and the load around it.
type Step struct {
	Name      string  `json:"name"`
	Seconds   float64 `json:"seconds"`
	LoadStart float64 `json:"loadStart"`
	LoadEnd   float64 `json:"loadEnd"`
	Error     string  `json:"error,omitempty"`
}

// Float returns a pointer to v, or nil when v is not a number (NaN or infinite): summary.json
// holds no NaN, and a missing figure renders as "-".
func Float(v float64) *float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return &v
}

// Write encodes s as indented JSON.
func (s *Summary) Write(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		return fmt.Errorf("summary.json: %w", err)
	}
	return nil
}

// WriteFile writes s to path.
func (s *Summary) WriteFile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("summary.json: %w", err)
	}
	if err := s.Write(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// Read decodes a summary.json.
func Read(r io.Reader) (*Summary, error) {
	var s Summary
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("summary.json: %w", err)
	}
	if s.Schema != SchemaVersion {
		return nil, fmt.Errorf("summary.json: schema %d, want %d", s.Schema, SchemaVersion)
	}
	return &s, nil
}

// ReadFile reads a summary.json file.
func ReadFile(path string) (*Summary, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("summary.json: %w", err)
	}
	defer f.Close()
	s, err := Read(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}
