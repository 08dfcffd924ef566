package report

import (
	"fmt"
	"strconv"
	"strings"
)

// Formatting of every figure: milliseconds and MiB with one decimal, counts per GiB whole,
// ratios with two decimals, p-values with four (or in e-notation below 0.0001). CheckFigures
// accepts exactly these forms.

func ms(v *float64) string { return num1(v) }

func num1(v *float64) string {
	if v == nil {
		return "-"
	}
	return strconv.FormatFloat(*v, 'f', 1, 64)
}

func num0(v *float64) string {
	if v == nil {
		return "-"
	}
	return strconv.FormatFloat(*v, 'f', 0, 64)
}

func num2(v *float64) string {
	if v == nil {
		return "-"
	}
	return strconv.FormatFloat(*v, 'f', 2, 64)
}

func pval(p float64) string {
	if p < 0.0001 {
		return strconv.FormatFloat(p, 'e', 1, 64)
	}
	return strconv.FormatFloat(p, 'f', 4, 64)
}

func pcell(p *float64) string {
	if p == nil {
		return "-"
	}
	return pval(*p)
}

func mem(v *float64) string {
	if v == nil {
		return "unavailable"
	}
	return num1(v)
}

func row(cells ...string) string { return "| " + strings.Join(cells, " | ") + " |\n" }

func sep(align ...string) string { return "|" + strings.Join(align, "|") + "|\n" }

func artifactCell(a Artifact) string {
	if a.Name == "" {
		return "-"
	}
	return fmt.Sprintf("%s `%s` %s MiB", a.What, a.Name, strconv.FormatFloat(a.MiB, 'f', 1, 64))
}

// coldCell is "median [lo, hi]" with the interval's coverage when it falls short of the level.
func coldCell(c *Cold) string {
	if c == nil {
		return "-"
	}
	s := fmt.Sprintf("%s [%s, %s] (n=%d)", ms(c.MedianMS), ms(c.CILowMS), ms(c.CIHighMS), c.N)
	if c.CICoverage != nil && *c.CICoverage < 95 {
		s += fmt.Sprintf(" %s%%", num1(c.CICoverage))
	}
	if c.Failed > 0 {
		s += fmt.Sprintf(", %d failed", c.Failed)
	}
	return s
}

// failures lists what failed in a row's series, for a note under its table.
func failures(label string, c *Cold, b *Burst, warm []Warm) string {
	var parts []string
	if c != nil && c.Failed > 0 {
		parts = append(parts, fmt.Sprintf("%d cold start(s) at c=1 failed (%s)", c.Failed, oneLine(c.Error)))
	}
	if b != nil && b.Failed > 0 {
		parts = append(parts, fmt.Sprintf("%d of the simultaneous cold starts failed (%s)", b.Failed, oneLine(b.Error)))
	}
	for _, w := range warm {
		if w.Errors > 0 {
			parts = append(parts, fmt.Sprintf("%d warm activation(s) at c=%d failed", w.Errors, w.Concurrency))
		}
		if w.ColdStarts > 0 {
			parts = append(parts, fmt.Sprintf("%d activation(s) at c=%d were cold (excluded)", w.ColdStarts, w.Concurrency))
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return "- " + label + ": " + strings.Join(parts, "; ") + ".\n"
}

// VerdictTable renders the verdict table and its sentences.
func VerdictTable(v Verdict) string {
	var b strings.Builder
	b.WriteString(row("variant", "cold c=1: median [95% CI] ms", "first cold ms", "cold c=5: p50 / p95 ms", "max_wait c=5 ms",
		"warm duration: p50 / p99 ms (n)", "idle MiB per warm instance", "peak MiB of one activation", "warm instances per GiB",
		"artifact", "cold ÷ baseline (p)", "warm ÷ baseline (p)"))
	b.WriteString(sep(" --- ", " ---: ", " ---: ", " ---: ", " ---: ", " ---: ", " ---: ", " ---: ", " ---: ", " --- ", " ---: ", " ---: "))
	for _, r := range v.Rows {
		label := fmt.Sprintf("%s (%s, %d MB)", r.Label, r.Kind, r.MemoryMB)
		if r.Error != "" {
			b.WriteString(row(label, "**error**: "+oneLine(r.Error), "", "", "", "", "", "", "", artifactCell(r.Artifact), "", ""))
			continue
		}
		first, burst, maxWait, warm := "-", "-", "-", "-"
		if r.Cold != nil {
			first = ms(r.Cold.FirstMS)
		}
		if r.Burst != nil {
			burst = ms(r.Burst.P50MS) + " / " + ms(r.Burst.P95MS)
			maxWait = ms(r.Burst.MaxWaitMS)
		}
		if r.Warm != nil {
			warm = fmt.Sprintf("%s / %s (%d)", ms(r.Warm.P50MS), ms(r.Warm.P99MS), r.Warm.N)
		}
		coldVs, warmVs := "-", "-"
		if r.ID == v.Baseline {
			coldVs, warmVs = "baseline", "baseline"
		} else if r.Versus != nil {
			if r.Versus.ColdRatio != nil {
				coldVs = num2(r.Versus.ColdRatio) + " (" + pcell(r.Versus.ColdP) + ")"
			}
			if r.Versus.WarmRatio != nil {
				warmVs = num2(r.Versus.WarmRatio) + " (" + pcell(r.Versus.WarmP) + ")"
			}
		}
		perGiB := "unavailable"
		if r.Memory.PerGiB != nil {
			perGiB = num0(r.Memory.PerGiB)
		}
		b.WriteString(row(label, coldCell(r.Cold), first, burst, maxWait, warm, mem(r.Memory.IdleMiB), mem(r.Memory.PeakMiB),
			perGiB, artifactCell(r.Artifact), coldVs, warmVs))
	}
	b.WriteString("\n")
	for _, r := range v.Rows {
		b.WriteString("- " + r.Sentence + "\n")
	}
	var notes strings.Builder
	for _, r := range v.Rows {
		var warm []Warm
		if r.Warm != nil {
			warm = []Warm{*r.Warm}
		}
		notes.WriteString(failures(r.Label, r.Cold, r.Burst, warm))
	}
	if notes.Len() > 0 {
		b.WriteString("\nFailures (counted, not mixed into the figures):\n\n" + notes.String())
	}
	return b.String()
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	s = strings.ReplaceAll(s, "|", "/")
	if len(s) > 240 {
		s = s[:240] + "…"
	}
	return s
}

// Conditions renders how, where and under which load the run was made.
func Conditions(s *Summary) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Made by `%s` (%s mode) from %s to %s UTC, %s s.", s.Command, s.Mode,
		s.Started.UTC().Format("2006-01-02 15:04"), s.Finished.UTC().Format("15:04"), strconv.FormatFloat(s.Elapsed, 'f', 0, 64))
	if s.Method.SeparateProcesses {
		b.WriteString(" The load generator ran outside the system it measures: each configuration was a `wasmwhisk standalone` " +
			"process of its own (fresh data directory, no stem cells, so every cold start creates a container), driven over HTTP.")
	} else {
		b.WriteString(" **The system under test ran inside the load generator's process.**")
	}
	b.WriteString("\n")
	m, v := s.Machine, s.Versions
	fmt.Fprintf(&b, "Machine: %d cores (%s), %s GiB, %s; %s, wasmtime %s", m.Cores, m.CPU,
		strconv.FormatFloat(m.MemoryGiB, 'f', 0, 64), m.Kernel, v.Go, v.Wasmtime)
	if v.Docker != "" {
		fmt.Fprintf(&b, ", Docker %s", v.Docker)
	}
	commit := v.Commit
	if v.Dirty {
		commit += " (with uncommitted changes)"
	}
	fmt.Fprintf(&b, "; commit %s. Model `%s`.\n", commit, s.Model.File)
	l := s.Load
	fmt.Fprintf(&b, "Load average (1-, 5- and 15-minute): %s at the start, %s at the end; highest 1-minute figure at a step boundary %s.",
		loads(l.Start), loads(l.End), strconv.FormatFloat(l.Max, 'f', 2, 64))
	if len(l.Overloaded) > 0 {
		which := "see the steps"
		if len(l.Overloaded) <= 4 {
			which = strings.Join(l.Overloaded, "; ")
		}
		fmt.Fprintf(&b, " **Warning: the load average exceeded the %d cores during %d of %d steps** (%s): the machine was shared, "+
			"so absolute times are pessimistic; ratios measured side by side in this run are the figures to read.",
			l.Cores, len(l.Overloaded), len(s.Steps), which)
	}
	b.WriteString("\n")
	for _, w := range s.Warnings {
		b.WriteString("\n**Warning:** " + w + "\n")
	}
	return b.String()
}

func loads(l [3]float64) string {
	return fmt.Sprintf("%s / %s / %s", strconv.FormatFloat(l[0], 'f', 2, 64), strconv.FormatFloat(l[1], 'f', 2, 64),
		strconv.FormatFloat(l[2], 'f', 2, 64))
}

// Legend explains the verdict table's columns.
func Legend(s *Summary) string {
	m := s.Method
	return fmt.Sprintf("Times in ms from the activation records. Cold total = waitTime + duration, where OpenWhisk's duration "+
		"already includes initTime (so it is waitTime + initTime + the /run time). Cold c=1: %d cold starts of fresh containers after "+
		"the first, one at a time, median with the distribution-free %d%% interval of the median (order statistics; its exact "+
		"coverage is shown when fewer samples cannot reach %d%%); the first container of a new model or module is reported apart "+
		"(first cold). Cold c=%d: %d × %d simultaneous cold starts. Warm: %d activations after %d warm-up, the record's duration. "+
		"Memory measured by the OS through the standalone's memory report (GET /wasmwhisk/v1/memory): a container's cgroup usage "+
		"minus page cache on Docker, the server process's PSS growth per added warm instance on the wasm host (fit over %s "+
		"instances); warm instances per GiB = %d ÷ idle MiB. Ratios are row ÷ baseline of the medians; p is the two-sided "+
		"Mann–Whitney U test on the same samples, significant below %d%%. Each standalone has %d MB of container memory; on Docker "+
		"a container gets CPU shares in proportion to its memory limit, as OpenWhisk's invoker gives them, which matters only when "+
		"the CPU is contended.\n",
		m.ColdSamples, m.CIPercent, m.CIPercent, m.BurstConcurrency, m.BurstRepeats, m.BurstConcurrency, m.WarmSamples, m.Warmup,
		ints(m.DensityInstances), m.GiBMiB, m.SignificancePercent, m.UserMemoryMB)
}

func ints(v []int) string {
	s := make([]string, len(v))
	for i, n := range v {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ", ")
}

// WorkloadTables renders the other workloads.
func WorkloadTables(s *Summary) string {
	var b strings.Builder
	for _, w := range s.Workloads {
		fmt.Fprintf(&b, "### %s\n\n%s Parameters `%s`.\n\n", w.Name, w.Description, w.Params)
		b.WriteString(row("variant", "first cold ms", "cold c=1: median [95% CI] ms", "warm c: p50 / p99 ms, throughput act/s, efficiency, errors"))
		b.WriteString(sep(" --- ", " ---: ", " ---: ", " --- "))
		for _, r := range w.Rows {
			label := fmt.Sprintf("%s (%s, %d MB)", r.Label, r.Kind, r.MemoryMB)
			if r.Error != "" {
				b.WriteString(row(label, "", "**error**: "+oneLine(r.Error), ""))
				continue
			}
			first := "-"
			if r.Cold != nil {
				first = ms(r.Cold.FirstMS)
			}
			var warm []string
			for _, l := range r.Warm {
				warm = append(warm, fmt.Sprintf("c=%d: %s / %s, %s, %s, %d", l.Concurrency, ms(l.P50MS), ms(l.P99MS),
					num1(l.Throughput), num2(l.Efficiency), l.Errors))
			}
			b.WriteString(row(label, first, coldCell(r.Cold), strings.Join(warm, "<br>")))
		}
		for _, r := range w.Rows {
			if f := failures(r.Label, r.Cold, nil, r.Warm); f != "" {
				b.WriteString("\n" + strings.TrimSuffix(f, "\n"))
			}
		}
		for _, r := range w.Rows {
			if r.State == nil {
				continue
			}
			verdict := "keeps its state"
			if !r.State.Kept {
				verdict = "does not keep its state"
			}
			fmt.Fprintf(&b, "\n- %s: a warm instance %s (counts %s over consecutive activations); fresh instances returned %s.",
				r.Label, verdict, ints(r.State.WarmCounts), ints(r.State.FreshCounts))
		}
		b.WriteString("\n\n")
	}
	return b.String()
}

// ExecTable renders execution times outside OpenWhisk.
func ExecTable(s *Summary) string {
	var b strings.Builder
	b.WriteString(row("workload", "way", "artifact", "first run ms", "median ms [95% CI] (n)", "command"))
	b.WriteString(sep(" --- ", " --- ", " --- ", " ---: ", " ---: ", " --- "))
	for _, e := range s.Exec {
		if e.Error != "" {
			b.WriteString(row(e.Workload, e.Way, artifactCell(e.Artifact), "", "**error**: "+oneLine(e.Error), "`"+e.Command+"`"))
			continue
		}
		b.WriteString(row(e.Workload, e.Way, artifactCell(e.Artifact), ms(e.FirstMS),
			fmt.Sprintf("%s [%s, %s] (n=%d)", ms(e.MedianMS), ms(e.CILowMS), ms(e.CIHighMS), e.N), "`"+e.Command+"`"))
	}
	return b.String()
}

// MemoryDetails renders the wasm host's density fits.
func MemoryDetails(s *Summary) string {
	var b strings.Builder
	for _, r := range s.Verdict.Rows {
		f := r.Memory.Fit
		if f == nil {
			continue
		}
		var pts []string
		for i := range f.Instances {
			pts = append(pts, fmt.Sprintf("%d → %s", f.Instances[i], strconv.FormatFloat(f.PSSMiB[i], 'f', 1, 64)))
		}
		fmt.Fprintf(&b, "- %s: server PSS MiB by warm instances %s; slope %s MiB per instance, base %s MiB, R² %s; linear memory per instance %s MiB.\n",
			r.Label, strings.Join(pts, ", "), strconv.FormatFloat(f.SlopeMiB, 'f', 1, 64), strconv.FormatFloat(f.BaseMiB, 'f', 1, 64),
			strconv.FormatFloat(f.R2, 'f', 3, 64), mem(r.Memory.LinearMiB))
	}
	for _, r := range s.Verdict.Rows {
		if r.Memory.Method != "" && r.Memory.Fit == nil {
			fmt.Fprintf(&b, "- %s: %s (median of %d idle warm instances).\n", r.Label, r.Memory.Method, r.Memory.IdleSamples)
		}
	}
	return b.String()
}

// StepsTable renders the steps with their wall time and load.
func StepsTable(s *Summary) string {
	var b strings.Builder
	b.WriteString(row("step", "seconds", "load at start", "load at end", "error"))
	b.WriteString(sep(" --- ", " ---: ", " ---: ", " ---: ", " --- "))
	for _, st := range s.Steps {
		b.WriteString(row(st.Name, strconv.FormatFloat(st.Seconds, 'f', 1, 64), strconv.FormatFloat(st.LoadStart, 'f', 2, 64),
			strconv.FormatFloat(st.LoadEnd, 'f', 2, 64), oneLine(st.Error)))
	}
	return b.String()
}

// Render is the whole report of a run (results/<timestamp>/README.md).
func Render(s *Summary) string {
	var b strings.Builder
	b.WriteString("# wasmwhisk demo: blackbox vs wasm\n\n")
	fmt.Fprintf(&b, "## Verdict: %s\n\n%s\n", s.Verdict.Workload, s.Verdict.Params)
	b.WriteString("\n" + VerdictTable(s.Verdict) + "\n")
	b.WriteString(Conditions(s) + "\n")
	b.WriteString(Legend(s))
	if d := MemoryDetails(s); d != "" {
		b.WriteString("\nMemory, in detail:\n\n" + d)
	}
	b.WriteString("\n## The other workloads\n\n")
	b.WriteString(fmt.Sprintf("Cold c=1 as above; warm at concurrency %s with throughput (successful activations per second of "+
		"the level's wall time) and scaling efficiency (speed-up over c=1 ÷ c).\n\n", ints(s.Method.WarmLevels)))
	b.WriteString(WorkloadTables(s))
	b.WriteString("## Execution time outside OpenWhisk\n\nFrom the start of the process to its exit, start-up included; the first run " +
		"(caches) apart.\n\n")
	b.WriteString(ExecTable(s))
	b.WriteString("\n## Steps\n\n")
	b.WriteString(StepsTable(s))
	return b.String()
}
