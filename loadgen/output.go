package loadgen

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// csvHeader names the columns of raw.csv (times in milliseconds).
var csvHeader = []string{"action", "invoked", "kind", "concurrency", "repeat", "warmup", "activationId", "cold",
	"waitTime", "initTime", "duration", "run", "total", "clientLatency", "status", "httpStatus", "polled", "start", "error"}

// WriteRawCSV writes one line per row under csvHeader.
func WriteRawCSV(w io.Writer, rows []Row) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(csvHeader); err != nil {
		return fmt.Errorf("raw.csv: %w", err)
	}
	i64 := func(v int64) string { return strconv.FormatInt(v, 10) }
	for _, r := range rows {
		rec := []string{r.Action, r.Invoked, r.Kind, strconv.Itoa(r.Concurrency), strconv.Itoa(r.Repeat),
			strconv.FormatBool(r.Warmup), r.ActivationID, strconv.FormatBool(r.Cold),
			i64(r.WaitTime), i64(r.InitTime), i64(r.Duration), i64(r.Run), i64(r.Total()),
			strconv.FormatFloat(r.ClientLatency, 'f', 3, 64), r.Status, strconv.Itoa(r.HTTPStatus),
			strconv.FormatBool(r.Polled), i64(r.Start), r.Error}
		if err := cw.Write(rec); err != nil {
			return fmt.Errorf("raw.csv: %w", err)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("raw.csv: %w", err)
	}
	return nil
}

// WriteRawJSON writes the whole result (meta and rows) as indented JSON.
func WriteRawJSON(w io.Writer, res *Result) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", " ")
	if err := enc.Encode(res); err != nil {
		return fmt.Errorf("raw.json: %w", err)
	}
	return nil
}

// ReadRawJSON reads a result written by WriteRawJSON.
func ReadRawJSON(r io.Reader) (*Result, error) {
	var res Result
	dec := json.NewDecoder(r)
	if err := dec.Decode(&res); err != nil {
		return nil, fmt.Errorf("raw.json: %w", err)
	}
	if len(res.Meta.Plan.Actions) == 0 && len(res.Rows) == 0 {
		return nil, errors.New("raw.json: no plan and no rows; is this a loadgen raw.json?")
	}
	for i, row := range res.Rows {
		if row.Action == "" || row.Concurrency < 1 {
			return nil, fmt.Errorf("raw.json: row %d has no action or concurrency level", i)
		}
	}
	return &res, nil
}

// ms formats milliseconds for tables; "-" for no value.
func ms(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "-"
	}
	return strconv.FormatFloat(v, 'f', 1, 64)
}

func pm(v float64) string {
	if math.IsNaN(v) {
		return "-"
	}
	return "±" + ms(v)
}

// tableColumns is the seeds' table followed by the distribution columns.
var tableColumns = []string{"concurrency", "count", "avg_init", "max_wait", "avg_duration", "avg_total",
	"p50_total", "p95_total", "p99_total", "ci95_total", "avg_client", "cold", "noncold", "errors", "throttled", "overloaded", "failed", "dropped"}

func levelCells(l LevelSummary) []string {
	return []string{strconv.Itoa(l.Concurrency), strconv.Itoa(l.Count), ms(l.AvgInit), ms(l.MaxWait), ms(l.AvgDuration),
		ms(l.AvgTotal), ms(l.Total.P50), ms(l.Total.P95), ms(l.Total.P99), pm(l.Total.CI95), ms(l.Client.Mean),
		strconv.Itoa(l.Cold), strconv.Itoa(l.NonCold), strconv.Itoa(l.Errors), strconv.Itoa(l.Throttled),
		strconv.Itoa(l.Overloaded), strconv.Itoa(l.Failed), strconv.Itoa(l.Dropped)}
}

var comparisonColumns = []string{"concurrency", "a", "b", "ratio_total(a/b)", "mann_whitney_u", "p", "method"}

func comparisonCells(c Comparison) []string {
	method := "normal approx."
	switch {
	case math.IsNaN(c.MannWhitney.P):
		method = "-"
	case c.MannWhitney.Exact:
		method = "exact"
	}
	return []string{strconv.Itoa(c.Concurrency), c.A, c.B, fmtFloat(c.Ratio, 2), fmtFloat(c.MannWhitney.U, 1),
		fmtP(c.MannWhitney.P), method}
}

func fmtFloat(v float64, prec int) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "-"
	}
	return strconv.FormatFloat(v, 'f', prec, 64)
}

func fmtP(p float64) string {
	if math.IsNaN(p) {
		return "-"
	}
	if p < 0.0001 {
		return strconv.FormatFloat(p, 'e', 1, 64)
	}
	return strconv.FormatFloat(p, 'f', 4, 64)
}

// WriteTable prints the per-action tables and the comparison for a terminal.
func WriteTable(w io.Writer, sum Summary) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	for _, action := range sum.Actions {
		kind := ""
		var rows [][]string
		for _, l := range sum.Levels {
			if l.Action == action {
				if kind == "" {
					kind = l.Kind
				}
				rows = append(rows, levelCells(l))
			}
		}
		if len(rows) == 0 {
			continue
		}
		fmt.Fprintf(tw, "\n%s (%s), times in ms, total = waitTime + duration\n", action, orDash(kind))
		fmt.Fprintln(tw, strings.Join(tableColumns, "\t")+"\t")
		for _, r := range rows {
			fmt.Fprintln(tw, strings.Join(r, "\t")+"\t")
		}
	}
	if len(sum.Comparisons) > 0 {
		fmt.Fprintf(tw, "\ncomparison of total latency (Mann-Whitney U, two-sided)\n")
		fmt.Fprintln(tw, strings.Join(comparisonColumns, "\t")+"\t")
		for _, c := range sum.Comparisons {
			fmt.Fprintln(tw, strings.Join(comparisonCells(c), "\t")+"\t")
		}
	}
	return tw.Flush()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func mdRow(cells []string) string { return "| " + strings.Join(cells, " | ") + " |\n" }

func mdSep(n int) string { return "|" + strings.Repeat(" ---: |", n) + "\n" }

// WriteMarkdown writes summary.md: how the run was made, the tables, the
// comparisons, anything excluded, and the plots.
func WriteMarkdown(w io.Writer, res *Result, sum Summary, plots []string) error {
	var b strings.Builder
	m := res.Meta
	b.WriteString("# loadgen results\n\n")
	if m.Command != "" {
		fmt.Fprintf(&b, "Command: `%s`\n\n", m.Command)
	}
	mode := "warm"
	if m.Plan.Cold {
		mode = "cold (fresh copy of the action per invocation)"
	}
	loop := "closed loop (N workers back to back)"
	if m.Plan.Rate > 0 {
		loop = fmt.Sprintf("open loop at %g/s for %v (latency from the intended send time)", m.Plan.Rate, m.Plan.Duration)
	}
	fmt.Fprintf(&b, "- API host: %s, namespace %s\n", orDash(m.APIHost), orDash(m.Namespace))
	fmt.Fprintf(&b, "- Started %s, finished %s (%s)\n", m.Started.Format(time.RFC3339), m.Finished.Format(time.RFC3339),
		m.Finished.Sub(m.Started).Round(time.Millisecond))
	fmt.Fprintf(&b, "- Mode: %s; %s; levels %v; count %s per level; repeat %d; warm-up %d\n",
		mode, loop, m.Plan.Concurrency, countText(m.Plan.Count), max(m.Plan.Repeat, 1), m.Plan.Warmup)
	if m.InProcess {
		b.WriteString("- System under test: **the embedded standalone inside loadgen's own process** (`-standalone` started it): " +
			"one garbage collector and scheduler for both, and on the wasm host the guests run inside loadgen. " +
			"For figures to compare, run `wasmwhisk standalone` as its own process and point `-apihost` at it.\n")
	} else {
		fmt.Fprintf(&b, "- System under test: a separate process at %s, measured over HTTP\n", orDash(m.APIHost))
	}
	b.WriteString("- " + memoryLine(m) + "\n")
	if m.Interrupted {
		b.WriteString("- **Interrupted**: the run was stopped early; the tables hold what was collected.\n")
	}
	b.WriteString("\nTimes in milliseconds from the activation records: `total = waitTime + duration`, " +
		"`run = duration − initTime`; `avg_client` is loadgen's own end-to-end latency. " +
		"Statistics use successful, non-warm-up activations (and, with -cold, only cold ones); " +
		"p50/p95/p99 interpolate linearly between ranks; ci95 is the Student t 95 % interval of the mean total.\n")
	for _, action := range sum.Actions {
		var rows []LevelSummary
		for _, l := range sum.Levels {
			if l.Action == action {
				rows = append(rows, l)
			}
		}
		if len(rows) == 0 {
			continue
		}
		fmt.Fprintf(&b, "\n## %s (%s)\n\n", action, orDash(rows[0].Kind))
		b.WriteString(mdRow(tableColumns))
		b.WriteString(mdSep(len(tableColumns)))
		for _, l := range rows {
			b.WriteString(mdRow(levelCells(l)))
		}
	}
	if len(sum.Comparisons) > 0 {
		b.WriteString("\n## Comparison\n\nRatio of mean total latency and a two-sided Mann-Whitney U test on the totals " +
			"(exact without ties for samples of at most 20, else normal approximation with tie correction).\n\n")
		b.WriteString(mdRow(comparisonColumns))
		b.WriteString(mdSep(len(comparisonColumns)))
		for _, c := range sum.Comparisons {
			b.WriteString(mdRow(comparisonCells(c)))
		}
	}
	var notes []string
	for _, l := range sum.Levels {
		if l.NonCold > 0 {
			notes = append(notes, fmt.Sprintf("%s at concurrency %d: %d activation(s) were not cold (no initTime) and are excluded", l.Action, l.Concurrency, l.NonCold))
		}
	}
	firstError := map[[2]any]string{}
	for _, r := range res.Rows {
		k := [2]any{r.Action, r.Concurrency}
		if r.Status != StatusSuccess && r.Error != "" && firstError[k] == "" {
			firstError[k] = r.Status + ": " + r.Error
		}
	}
	for _, l := range sum.Levels {
		if e := firstError[[2]any{l.Action, l.Concurrency}]; e != "" {
			notes = append(notes, fmt.Sprintf("%s at concurrency %d: %d not successful, e.g. %s", l.Action, l.Concurrency,
				l.Errors+l.Failed+l.Throttled+l.Overloaded, strings.ReplaceAll(e, "\n", " ")))
		}
	}
	for _, d := range m.Dropped {
		notes = append(notes, fmt.Sprintf("%s at concurrency %d, repeat %d: %d send(s) dropped (all workers busy, queue full)", d.Action, d.Concurrency, d.Repeat, d.Count))
	}
	for _, e := range m.CleanupErrors {
		notes = append(notes, "cleanup: "+e)
	}
	if len(notes) > 0 {
		b.WriteString("\n## Notes\n\n")
		for _, n := range notes {
			b.WriteString("- " + n + "\n")
		}
	}
	if len(plots) > 0 {
		b.WriteString("\n## Plots\n\n")
		for _, p := range plots {
			if strings.HasSuffix(p, ".png") {
				fmt.Fprintf(&b, "![%s](%s)\n\n", strings.TrimSuffix(p, ".png"), p)
			}
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// memoryLine summarises the memory report taken at the end of the run.
func memoryLine(m Meta) string {
	if m.Memory == nil {
		reason := m.MemoryUnavailable
		if reason == "" {
			reason = "not measured"
		}
		return "Memory: unavailable (" + reason + ")"
	}
	var known, total int64
	n := 0
	for _, c := range m.Memory.Containers {
		if c.Memory != nil && c.Memory.Bytes != nil {
			total += *c.Memory.Bytes
			known++
		}
		n++
	}
	line := fmt.Sprintf("Memory at the end of the run (%s backend, measured by the OS): server process PSS %s MiB; %d container(s)",
		m.Memory.Backend, fmtFloat(float64(m.Memory.Server.PSSBytes)/(1<<20), 1), n)
	if known > 0 {
		line += fmt.Sprintf(", %d measured, %s MiB in total", known, fmtFloat(float64(total)/(1<<20), 1))
	}
	return line
}

func countText(n int) string {
	if n == 0 {
		return "= level"
	}
	return strconv.Itoa(n)
}

// WriteReport writes raw.csv, raw.json, summary.md and the plots into dir
// (created if needed) and returns the summary and the file names written.
func WriteReport(dir string, res *Result) (Summary, []string, error) {
	sum := SummarizeRows(res)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return sum, nil, fmt.Errorf("report: %w", err)
	}
	var written []string
	writeFile := func(name string, fn func(io.Writer) error) error {
		path := filepath.Join(dir, name)
		f, err := os.Create(path)
		if err != nil {
			return fmt.Errorf("report: %w", err)
		}
		if err := fn(f); err != nil {
			f.Close()
			return fmt.Errorf("report: %s: %w", name, err)
		}
		if err := f.Close(); err != nil {
			return fmt.Errorf("report: %w", err)
		}
		written = append(written, name)
		return nil
	}
	if err := writeFile("raw.csv", func(w io.Writer) error { return WriteRawCSV(w, res.Rows) }); err != nil {
		return sum, written, err
	}
	if err := writeFile("raw.json", func(w io.Writer) error { return WriteRawJSON(w, res) }); err != nil {
		return sum, written, err
	}
	plots, err := WritePlots(dir, res, sum)
	written = append(written, plots...)
	if err != nil {
		return sum, written, err
	}
	if err := writeFile("summary.md", func(w io.Writer) error { return WriteMarkdown(w, res, sum, plots) }); err != nil {
		return sum, written, err
	}
	return sum, written, nil
}
