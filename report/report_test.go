package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/wasmwhisk/wasmwhisk/loadgen"
)

// coldRows makes the rows of a -cold run at c=1 with these totals (waitTime 100 ms each).
func coldRows(totals ...int64) []loadgen.Row {
	var rows []loadgen.Row
	for i, t := range totals {
		rows = append(rows, loadgen.Row{Action: "mn", Concurrency: 1, Repeat: 1, ActivationID: strings.Repeat("a", 31) + string(rune('a'+i)),
			Cold: true, WaitTime: 100, InitTime: 20, Duration: t - 100, Run: t - 120, Status: loadgen.StatusSuccess, HTTPStatus: 200})
	}
	return rows
}

func warmResult(durs ...int64) *loadgen.Result {
	res := &loadgen.Result{Meta: loadgen.Meta{Plan: loadgen.Plan{Concurrency: []int{1}},
		Phases: []loadgen.Phase{{Action: "mn", Concurrency: 1, Repeat: 1, Invocations: len(durs), Seconds: 2}}}}
	for _, d := range durs {
		res.Rows = append(res.Rows, loadgen.Row{Action: "mn", Concurrency: 1, Repeat: 1, ActivationID: "x", Duration: d,
			Status: loadgen.StatusSuccess, HTTPStatus: 200, ContainerID: "c1"})
	}
	return res
}

func bytesPtr(mb float64) *int64 { v := int64(mb * mib); return &v }

// sampleSummary builds a summary the way the demo does, from loadgen rows and memory reports.
func sampleSummary(t *testing.T) *Summary {
	t.Helper()
	s := &Summary{Schema: SchemaVersion, Command: "make demo", Mode: "quick", Method: NewMethod(),
		Started: time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC), Finished: time.Date(2026, 12, 1, 10, 8, 0, 0, time.UTC), Elapsed: 480,
		Machine:  Machine{Cores: 2, CPU: "AMD EPYC", MemoryGiB: 24, Kernel: "Linux 6.18"},
		Versions: Versions{Go: "go1.26.8", Commit: "abc", Wasmtime: "v44.0.0"},
		Load:     Load{Cores: 2, Start: [3]float64{0.5, 0.4, 0.3}, End: [3]float64{2.5, 1, 0.5}, Max: 2.5, Overloaded: []string{"mobilenet · x"}},
		Model:    Model{File: "mobilenetv2-7.onnx"}}
	s.Method.SeparateProcesses, s.Method.ColdSamples, s.Method.BurstConcurrency, s.Method.BurstRepeats = true, 6, 5, 1
	s.Method.WarmSamples, s.Method.Warmup, s.Method.WarmLevels, s.Method.DensityInstances = 5, 3, []int{1, 2}, []int{1, 2, 4, 8}
	s.Method.UserMemoryMB, s.Method.ExecSamples = 2048, 5

	base := VerdictRow{Variant: Variant{ID: "blackbox", Label: "blackbox image on Docker", Backend: "docker", Kind: "blackbox", MemoryMB: 512,
		Artifact: NewArtifact("image", "wasmwhisk/mobilenet:0.1", 47810013)}}
	var baseSeries, hostSeries Series
	var err error
	if base.Cold, baseSeries.ColdTotals, err = ColdFrom(coldRows(900, 310, 300, 330, 320, 305, 315)); err != nil {
		t.Fatal(err)
	}
	if base.Burst, err = BurstFrom(coldRows(700, 800, 900, 1000, 1100), 5); err != nil {
		t.Fatal(err)
	}
	levels, durs, err := WarmFrom(warmResult(15, 16, 15, 17, 16))
	if err != nil {
		t.Fatal(err)
	}
	base.Warm, baseSeries.WarmDur = &levels[0], durs
	idle := &loadgen.MemoryReport{Containers: []loadgen.ContainerMemory{
		{ID: "c1", State: "warm", Memory: &loadgen.MemoryFigures{Bytes: bytesPtr(60), Method: "cgroup v1"}},
		{ID: "c2", State: "warm", Memory: &loadgen.MemoryFigures{Bytes: bytesPtr(64), Method: "cgroup v1"}},
		{ID: "c3", State: "warm", Busy: true, Memory: &loadgen.MemoryFigures{Bytes: bytesPtr(500)}},
	}}
	peak := &loadgen.MemoryReport{Containers: []loadgen.ContainerMemory{{ID: "c1", State: "warm",
		Memory: &loadgen.MemoryFigures{Bytes: bytesPtr(60), PeakBytes: bytesPtr(75)}}}}
	base.Memory = ContainerMemory(idle, peak, "c1", 1024)

	host := VerdictRow{Variant: Variant{ID: "wasm-host-wasinn", Label: "wasm:0.1 on the wasm host, wasi-nn", Backend: "wasmhost", Kind: "wasm:0.1",
		MemoryMB: 256, Artifact: NewArtifact("zip", "mobilenet-wasinn.zip", 7000000)}}
	if host.Cold, hostSeries.ColdTotals, err = ColdFrom(coldRows(400, 30, 28, 35, 31, 29, 33)); err != nil {
		t.Fatal(err)
	}
	if host.Burst, err = BurstFrom(coldRows(60, 70, 80, 90, 100), 5); err != nil {
		t.Fatal(err)
	}
	levels, durs, err = WarmFrom(warmResult(17, 18, 17, 19, 18))
	if err != nil {
		t.Fatal(err)
	}
	host.Warm, hostSeries.WarmDur = &levels[0], durs
	server := func(pssMiB, rssMiB, peakMiB float64) *loadgen.MemoryReport {
		lin := int64(20 * mib)
		return &loadgen.MemoryReport{Server: loadgen.ServerMemory{PSSBytes: *bytesPtr(pssMiB), RSSBytes: *bytesPtr(rssMiB), PeakRSSBytes: *bytesPtr(peakMiB)},
			Containers: []loadgen.ContainerMemory{{State: "warm", Memory: &loadgen.MemoryFigures{LinearMemoryBytes: &lin}}}}
	}
	host.Memory = HostMemory([]int{1, 2, 4, 8}, []*loadgen.MemoryReport{server(58, 0, 0), server(66, 0, 0), server(82, 0, 0), server(114, 0, 0)},
		server(0, 120, 120), server(0, 121, 123), 1024)
	host.Versus = Compare(hostSeries, baseSeries)

	broken := VerdictRow{Variant: Variant{ID: "wasm-docker-wasinn", Label: "wasm:0.1 on Docker, wasi-nn", Backend: "docker", Kind: "wasm:0.1", MemoryMB: 256},
		Error: "not available: no wasi-nn guest build"}
	unmeasured := VerdictRow{Variant: Variant{ID: "wasm-docker-inguest", Label: "wasm:0.1 on Docker, in-guest inference", Backend: "docker", Kind: "wasm:0.1", MemoryMB: 256},
		Cold: host.Cold, Warm: host.Warm, Memory: Memory{Unavailable: "memory unavailable: not a wasmwhisk standalone"}}
	unmeasured.Versus = Compare(hostSeries, baseSeries)

	s.Verdict = Verdict{Workload: "MobileNet", Params: "the bundled sample", Baseline: "blackbox", Rows: []VerdictRow{base, host, unmeasured, broken}}
	s.Verdict.Sentences()
	s.Workloads = []Workload{{Name: "counter", Params: "{}", Rows: []WorkloadRow{{Variant: host.Variant, Cold: host.Cold, Warm: levels,
		State: &State{WarmCounts: []int{3, 4, 5}, FreshCounts: []int{1, 1}, Kept: true}}}}}
	s.Exec = []ExecRow{{Workload: "hello", Way: "native binary", Command: "build/actions/hello", Artifact: NewArtifact("executable", "hello", 3277211),
		FirstMS: Float(8.6), N: 5, MedianMS: Float(2.8), CILowMS: Float(2.3), CIHighMS: Float(4.1)}}
	s.Steps = []Step{{Name: "mobilenet · x", Seconds: 12.5, LoadStart: 1.5, LoadEnd: 2.5}}
	return s
}

func TestBuilders(t *testing.T) {
	s := sampleSummary(t)
	base, host, unmeasured, broken := s.Verdict.Rows[0], s.Verdict.Rows[1], s.Verdict.Rows[2], s.Verdict.Rows[3]
	// The first cold start is apart; the median is over the other six; n=6 reaches 95 %.
	if *base.Cold.FirstMS != 900 || base.Cold.N != 6 || *base.Cold.MedianMS != 312.5 || *base.Cold.CICoverage < 95 {
		t.Errorf("baseline cold %+v", base.Cold)
	}
	if *base.Burst.P50MS != 900 || *base.Burst.MaxWaitMS != 100 || base.Burst.N != 5 {
		t.Errorf("burst %+v", base.Burst)
	}
	// Idle memory: the median of the idle warm containers (the busy one is left out).
	if *base.Memory.IdleMiB != 62 || *base.Memory.PeakMiB != 75 || *base.Memory.PerGiB != 16 || base.Memory.IdleSamples != 2 {
		t.Errorf("container memory %+v", base.Memory)
	}
	// Wasm host: the slope of 58, 66, 82, 114 MiB over 1, 2, 4, 8 instances is 8 MiB.
	if f := host.Memory.Fit; f == nil || f.SlopeMiB != 8 || f.BaseMiB != 50 || f.R2 != 1 || *host.Memory.PerGiB != 128 ||
		*host.Memory.LinearMiB != 20 || *host.Memory.PeakMiB != 11 {
		t.Errorf("host memory %+v fit %+v", host.Memory, host.Memory.Fit)
	}
	if v := host.Versus; v == nil || *v.ColdRatio >= 0.2 || *v.ColdP >= 0.01 || *v.WarmRatio <= 1 {
		t.Errorf("versus %+v", host.Versus)
	}
	for _, want := range []string{"starts cold 10.", "faster than the blackbox image on Docker", "significant", "runs warm 1.", "slower (p50"} {
		if !strings.Contains(host.Sentence, want) {
			t.Errorf("sentence %q lacks %q", host.Sentence, want)
		}
	}
	if !strings.Contains(unmeasured.Sentence, "memory unavailable") || !strings.Contains(broken.Sentence, "not measured: not available") ||
		!strings.Contains(base.Sentence, "is the baseline") {
		t.Errorf("sentences:\n%s\n%s\n%s", unmeasured.Sentence, broken.Sentence, base.Sentence)
	}
}

func TestBuildersSadPaths(t *testing.T) {
	failed := []loadgen.Row{{Action: "mn", Concurrency: 1, Status: loadgen.StatusFailed, Error: "connection refused"}}
	if _, _, err := ColdFrom(failed); !errors.Is(err, ErrNoSamples) || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("ColdFrom of failures: %v", err)
	}
	if _, _, err := ColdFrom(coldRows(100)); !errors.Is(err, ErrNoSamples) {
		t.Errorf("ColdFrom of one cold start: %v", err)
	}
	warmInCold := coldRows(100, 200, 300)
	warmInCold[2].Cold = false
	if c, _, err := ColdFrom(warmInCold); err != nil || c.N != 1 {
		t.Errorf("a warm row in a cold run is left out: %+v %v", c, err)
	}
	firstFailed := coldRows(100, 200, 300)
	firstFailed[0].Status, firstFailed[0].Error = "action developer error", "The action exhausted its memory and was aborted."
	if c, totals, err := ColdFrom(firstFailed); err != nil || c.FirstMS != nil || c.N != 2 || len(totals) != 2 || c.Failed != 1 ||
		!strings.Contains(c.Error, "the first: action developer error") {
		t.Errorf("a failed first cold start: %+v %v", c, err)
	} else if cell := coldCell(c); !strings.Contains(cell, "1 failed") {
		t.Errorf("cell %q does not say it", cell)
	}
	if _, err := BurstFrom(nil, 5); err == nil {
		t.Error("BurstFrom of nothing succeeded")
	}
	if _, _, err := WarmFrom(&loadgen.Result{Meta: loadgen.Meta{Plan: loadgen.Plan{Concurrency: []int{1}}}}); err == nil {
		t.Error("WarmFrom of nothing succeeded")
	}
	if m := ContainerMemory(nil, nil, "", 1024); m.IdleMiB != nil || m.Unavailable == "" {
		t.Errorf("no report: %+v", m)
	}
	unmeasured := &loadgen.MemoryReport{Containers: []loadgen.ContainerMemory{{State: "warm", Memory: &loadgen.MemoryFigures{LinearMemoryBytes: bytesPtr(3)}}}}
	if m := ContainerMemory(unmeasured, nil, "", 1024); m.IdleMiB != nil || m.PerGiB != nil || m.Unavailable == "" {
		t.Errorf("a backend without container figures must say unavailable, never zero: %+v", m)
	}
	if m := HostMemory([]int{1}, []*loadgen.MemoryReport{{}}, nil, nil, 1024); m.IdleMiB != nil || m.Unavailable == "" {
		t.Errorf("one density point: %+v", m)
	}
}

func TestSummaryRoundTrip(t *testing.T) {
	s := sampleSummary(t)
	var buf bytes.Buffer
	if err := s.Write(&buf); err != nil {
		t.Fatal(err)
	}
	back, err := Read(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if Render(back) != Render(s) {
		t.Error("the report rendered from summary.json differs from the one rendered before writing it")
	}
	for _, bad := range []string{`{"schema": 99}`, `{"schema": 1, "surprise": true}`, `not json`} {
		if _, err := Read(strings.NewReader(bad)); err == nil {
			t.Errorf("Read(%s) succeeded", bad)
		}
	}
}

func TestRenderedFiguresAreInTheSummary(t *testing.T) {
	s := sampleSummary(t)
	var buf bytes.Buffer
	if err := s.Write(&buf); err != nil {
		t.Fatal(err)
	}
	report := Render(s)
	section := ReadmeSection(s, CommittedSummary)
	for name, text := range map[string]string{"report": report, "README section": section, "docs section": BenchmarkingSection(s, CommittedSummary)} {
		missing, err := CheckFigures(text, buf.Bytes())
		if err != nil || len(missing) > 0 {
			t.Errorf("%s: figures not in summary.json: %v (%v)", name, missing, err)
		}
	}
	for _, want := range []string{"| blackbox image on Docker (blackbox, 512 MB) | 312.5 [300.0, 330.0] (n=6)", "**error**: not available",
		"| unavailable | unavailable | unavailable |", "**Warning: the load average exceeded the 2 cores", "counts 3, 4, 5"} {
		if !strings.Contains(report, want) {
			t.Errorf("report lacks %q:\n%s", want, report)
		}
	}
	if p, err := SummaryPath(section); err != nil || p != CommittedSummary {
		t.Errorf("SummaryPath = %q, %v", p, err)
	}
	// A figure changed by hand is caught.
	tampered := strings.Replace(section, "312.5", "299.5", 1)
	if missing, _ := CheckFigures(tampered, buf.Bytes()); len(missing) != 1 || missing[0] != "299.5" {
		t.Errorf("tampered section: missing %v, want [299.5]", missing)
	}
}

func TestFigureTokens(t *testing.T) {
	tests := []struct {
		text string
		want []string
	}{
		{"cold c=1: 312.5 [300.0, 330.0] (n=6)", []string{"312.5", "300.0", "330.0"}},
		{"wasm:0.1 on mobilenetv2-1.0-224.onnx, p95 and p50, 2026-12-01 10:08", nil},
		{"2.50× faster, p = 0.0012, 95% CI, 1.2e-05.", []string{"2.50", "0.0012", "95", "1.2e-05"}},
		{"| 14 | `image` 45.6 MiB |", []string{"14", "45.6"}},
	}
	for _, tt := range tests {
		got := figureTokens(tt.text)
		if strings.Join(got, " ") != strings.Join(tt.want, " ") {
			t.Errorf("figureTokens(%q) = %q, want %q", tt.text, got, tt.want)
		}
	}
}

func TestSections(t *testing.T) {
	doc := []byte("# x\n\nintro\n" + BeginMarker + "\nold\n" + EndMarker + "\nafter\n")
	out, err := Replace(doc, "new figures")
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := Section(out); got != "new figures" || !bytes.HasSuffix(out, []byte("\nafter\n")) || !bytes.HasPrefix(out, []byte("# x\n\nintro\n")) {
		t.Fatalf("replaced:\n%s", out)
	}
	for _, bad := range [][]byte{[]byte("no markers"), []byte(BeginMarker + " no end")} {
		if _, err := Section(bad); !errors.Is(err, ErrNoSection) {
			t.Errorf("Section(%q) = %v", bad, err)
		}
		if _, err := Replace(bad, "x"); !errors.Is(err, ErrNoSection) {
			t.Errorf("Replace(%q) = %v", bad, err)
		}
	}
	if _, err := SummaryPath("no file named"); err == nil {
		t.Error("SummaryPath without a summary succeeded")
	}
	if _, err := CheckFigures("1", []byte("{")); err == nil {
		t.Error("CheckFigures of a broken summary succeeded")
	}
}

// TestNoNaNInSummary: missing figures are null, never NaN (which JSON cannot hold) or zero.
func TestNoNaNInSummary(t *testing.T) {
	c, _, err := ColdFrom(coldRows(100, 200))
	if err != nil {
		t.Fatal(err)
	}
	if c.CILowMS != nil || c.CICoverage != nil {
		t.Errorf("one sample after the first has no interval: %+v", c)
	}
	if _, err := json.Marshal(c); err != nil {
		t.Fatal(err)
	}
}
