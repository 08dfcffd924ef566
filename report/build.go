package report

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"gonum.org/v1/gonum/stat"

	"github.com/wasmwhisk/wasmwhisk/loadgen"
)

// ciLevel is the confidence level of every interval.
const ciLevel = 0.95

// significance is the Mann–Whitney p below which a difference is called significant.
const significance = 0.05

// mib is bytes per MiB.
const mib = 1 << 20

// Series is what the builders keep of a run besides the Summary's figures: the samples the
// comparisons with the baseline test.
type Series struct {
	ColdTotals []float64
	WarmDur    []float64
}

// measured returns the rows that count: not warm-up, a completed successful activation; with
// cold, only cold records. The others are counted in failed, with the first error.
func measured(rows []loadgen.Row, cold bool) (ok []loadgen.Row, failed int, firstErr string) {
	for _, r := range rows {
		if r.Warmup {
			continue
		}
		if !r.HasRecord() || r.Status != loadgen.StatusSuccess || (cold && !r.Cold) {
			failed++
			if firstErr == "" {
				firstErr = strings.TrimSpace(r.Status + ": " + r.Error)
				if cold && r.Status == loadgen.StatusSuccess && !r.Cold {
					firstErr = "an activation of a fresh copy was not cold"
				}
			}
			continue
		}
		ok = append(ok, r)
	}
	return ok, failed, firstErr
}

// ErrNoSamples means a run produced no usable activation.
var ErrNoSamples = errors.New("no successful activation")

func noSamples(failed int, firstErr string) error {
	if failed == 0 {
		return ErrNoSamples
	}
	return fmt.Errorf("%w: %d failed, first: %s", ErrNoSamples, failed, firstErr)
}

// ColdFrom summarises a cold run at concurrency 1 whose rows are in the order they were sent:
// the first apart (it has no figure when it failed), the median of the successful others with
// its order-statistics interval. It also returns those totals, for the comparison with the
// baseline.
func ColdFrom(rows []loadgen.Row) (*Cold, []float64, error) {
	var sent []loadgen.Row
	for _, r := range rows {
		if !r.Warmup {
			sent = append(sent, r)
		}
	}
	if len(sent) == 0 {
		return nil, nil, ErrNoSamples
	}
	firstOK, _, firstFailure := measured(sent[:1], true)
	ok, failed, firstErr := measured(sent[1:], true)
	if len(ok) == 0 {
		if firstErr == "" {
			firstErr = firstFailure
		}
		return nil, nil, noSamples(failed+1-len(firstOK), firstErr)
	}
	var totals, inits, waits []float64
	for _, r := range ok {
		totals = append(totals, float64(r.Total()))
		inits = append(inits, float64(r.InitTime))
		waits = append(waits, float64(r.WaitTime))
	}
	ci := loadgen.MedianCI(totals, ciLevel)
	c := &Cold{
		N: len(totals), Failed: failed,
		MedianMS: Float(loadgen.Summarize(totals).P50), MeanMS: Float(stat.Mean(totals, nil)),
		CILowMS: Float(ci.Lo), CIHighMS: Float(ci.Hi), CICoverage: Float(math.Round(ci.Coverage*1000) / 10),
		InitMS: Float(loadgen.Summarize(inits).P50), WaitMS: Float(loadgen.Summarize(waits).P50),
	}
	if len(firstOK) == 1 {
		c.FirstMS = Float(float64(firstOK[0].Total()))
	} else {
		c.Failed++
		c.Error = "the first: " + firstFailure
	}
	if c.Error == "" && firstErr != "" {
		c.Error = firstErr
	}
	return c, totals, nil
}

// BurstFrom summarises simultaneous cold starts at one level (any number of repeats).
func BurstFrom(rows []loadgen.Row, concurrency int) (*Burst, error) {
	ok, failed, firstErr := measured(rows, true)
	if len(ok) == 0 {
		return nil, noSamples(failed, firstErr)
	}
	var totals, waits []float64
	for _, r := range ok {
		totals = append(totals, float64(r.Total()))
		waits = append(waits, float64(r.WaitTime))
	}
	s := loadgen.Summarize(totals)
	return &Burst{Concurrency: concurrency, N: len(totals), P50MS: Float(s.P50), P95MS: Float(s.P95),
		MaxWaitMS: Float(slices.Max(waits)), Failed: failed, Error: firstErr}, nil
}

// WarmFrom summarises a warm run level by level (durations, throughput from the phases' wall
// time, scaling efficiency against the first level when it is concurrency 1) and returns the
// durations of the first level, for the comparison with the baseline.
func WarmFrom(res *loadgen.Result) ([]Warm, []float64, error) {
	levels := slices.Clone(res.Meta.Plan.Concurrency)
	var out []Warm
	var first []float64
	var base float64
	for i, level := range levels {
		var rows []loadgen.Row
		for _, r := range res.Rows {
			if r.Concurrency == level {
				rows = append(rows, r)
			}
		}
		ok, failed, _ := measured(rows, false)
		var durs, totals []float64
		coldStarts := 0
		for _, r := range ok {
			if r.Cold {
				coldStarts++ // a container the warm-up did not make: counted, not mixed in
				continue
			}
			durs = append(durs, float64(r.Duration))
			totals = append(totals, float64(r.Total()))
		}
		var seconds float64
		for _, ph := range res.Meta.Phases {
			if ph.Concurrency == level {
				seconds += ph.Seconds
			}
		}
		d, t := loadgen.Summarize(durs), loadgen.Summarize(totals)
		w := Warm{Concurrency: level, N: len(durs), P50MS: Float(d.P50), P99MS: Float(d.P99),
			TotalP50MS: Float(t.P50), Errors: failed, ColdStarts: coldStarts}
		if seconds > 0 && len(ok) > 0 {
			thr := float64(len(ok)) / seconds
			w.Throughput = Float(thr)
			if i == 0 && level == 1 {
				base = thr
			}
			if base > 0 {
				w.Efficiency = Float(thr / base / float64(level))
			}
		}
		if i == 0 {
			first = durs
		}
		out = append(out, w)
	}
	if len(out) == 0 || out[0].N == 0 {
		_, failed, firstErr := measured(res.Rows, false)
		return out, nil, noSamples(failed, firstErr)
	}
	return out, first, nil
}

// StateFrom reads the counter's results: consecutive warm activations of one instance, and
// fresh instances.
func StateFrom(warm, fresh []loadgen.Row) *State {
	count := func(r loadgen.Row) (int, bool) {
		var v struct {
			Count *int `json:"count"`
		}
		if json.Unmarshal(r.Result, &v) != nil || v.Count == nil {
			return 0, false
		}
		return *v.Count, true
	}
	st := &State{WarmCounts: []int{}, FreshCounts: []int{}}
	container := ""
	for _, r := range warm {
		if r.Warmup || r.Status != loadgen.StatusSuccess {
			continue
		}
		if container == "" {
			container = r.ContainerID
		}
		if r.ContainerID != container {
			continue
		}
		if n, ok := count(r); ok {
			st.WarmCounts = append(st.WarmCounts, n)
		}
	}
	for _, r := range fresh {
		if n, ok := count(r); ok && r.Status == loadgen.StatusSuccess {
			st.FreshCounts = append(st.FreshCounts, n)
		}
	}
	st.Kept = len(st.WarmCounts) >= 2
	for i := 1; i < len(st.WarmCounts); i++ {
		if st.WarmCounts[i] != st.WarmCounts[i-1]+1 {
			st.Kept = false
		}
	}
	return st
}

// ContainerMemory summarises the measured containers of a memory report: the median of the idle
// ones' bytes, and the peak of the container that ran the peak activation.
func ContainerMemory(idle *loadgen.MemoryReport, peak *loadgen.MemoryReport, peakContainer string, gib int) Memory {
	var m Memory
	if idle == nil {
		m.Unavailable = "no memory report"
		return m
	}
	var bytes []float64
	for _, c := range idle.Containers {
		if c.Memory == nil || c.Memory.Bytes == nil || c.Busy || c.State != "warm" {
			continue
		}
		bytes = append(bytes, float64(*c.Memory.Bytes)/mib)
		if m.Method == "" {
			m.Method = c.Memory.Method
		}
	}
	if len(bytes) == 0 {
		m.Unavailable = "the backend does not measure its containers"
		for _, c := range idle.Containers {
			if c.Error != "" {
				m.Unavailable = "container memory: " + c.Error
				break
			}
		}
		return m
	}
	m.IdleSamples = len(bytes)
	idleMiB := loadgen.Summarize(bytes).P50
	m.IdleMiB = Float(round1(idleMiB))
	m.PerGiB = Float(math.Floor(float64(gib) / idleMiB))
	if peak != nil {
		for _, c := range peak.Containers {
			if c.ID == peakContainer && c.Memory != nil && c.Memory.PeakBytes != nil {
				m.PeakMiB = Float(round1(float64(*c.Memory.PeakBytes) / mib))
			}
		}
	}
	return m
}

// HostMemory summarises the wasm host's density run: the server's PSS against the number of
// warm instances (the slope is the memory of one more instance), each instance's linear memory,
// and the server's resident growth during one activation.
func HostMemory(points []int, reports []*loadgen.MemoryReport, beforePeak, afterPeak *loadgen.MemoryReport, gib int) Memory {
	m := Memory{Method: "wasm host: slope of the server process's PSS (/proc/<pid>/smaps_rollup) over warm instances; " +
		"peak: that share plus the growth of the server's resident high-water mark (VmHWM) during one warm activation"}
	if len(points) != len(reports) || len(points) < 2 {
		m.Unavailable = "too few density points"
		return m
	}
	fit := &Fit{Instances: slices.Clone(points)}
	var linear []float64
	xs := make([]float64, len(points))
	for i, rep := range reports {
		if rep == nil {
			m.Unavailable = "no memory report"
			return m
		}
		xs[i] = float64(points[i])
		fit.PSSMiB = append(fit.PSSMiB, round1(float64(rep.Server.PSSBytes)/mib))
		if i == len(reports)-1 {
			for _, c := range rep.Containers {
				if c.Memory != nil && c.Memory.LinearMemoryBytes != nil {
					linear = append(linear, float64(*c.Memory.LinearMemoryBytes)/mib)
				}
			}
		}
	}
	fit.SlopeMiB, fit.BaseMiB, fit.R2 = leastSquares(xs, fit.PSSMiB)
	fit.SlopeMiB, fit.BaseMiB, fit.R2 = round1(fit.SlopeMiB), round1(fit.BaseMiB), math.Round(fit.R2*1000)/1000
	m.Fit = fit
	m.IdleSamples = len(points)
	if fit.SlopeMiB > 0 {
		m.IdleMiB = Float(fit.SlopeMiB)
		m.PerGiB = Float(math.Floor(float64(gib) / fit.SlopeMiB))
	}
	if len(linear) > 0 {
		m.LinearMiB = Float(round1(loadgen.Summarize(linear).P50))
	}
	if beforePeak != nil && afterPeak != nil && m.IdleMiB != nil {
		grew := float64(afterPeak.Server.PeakRSSBytes-beforePeak.Server.RSSBytes) / mib
		m.PeakMiB = Float(round1(*m.IdleMiB + max(grew, 0)))
	}
	return m
}

// leastSquares fits y = slope·x + base (gonum's ordinary least squares) and returns R²: NaN
// when every x is the same, 1 when every y is (a flat line fits exactly).
func leastSquares(x, y []float64) (slope, base, r2 float64) {
	if stat.Variance(x, nil) == 0 {
		return math.NaN(), math.NaN(), math.NaN()
	}
	base, slope = stat.LinearRegression(x, y, nil, false)
	if stat.Variance(y, nil) == 0 {
		return slope, base, 1
	}
	return slope, base, stat.RSquared(x, y, nil, base, slope)
}

// Compare tests a row's samples against the baseline's.
func Compare(row, baseline Series) *Versus {
	v := &Versus{}
	ratio := func(a, b []float64) (*float64, *float64) {
		if len(a) == 0 || len(b) == 0 {
			return nil, nil
		}
		r := loadgen.Summarize(a).P50 / loadgen.Summarize(b).P50
		return Float(math.Round(r*100) / 100), Float(loadgen.MannWhitneyU(a, b).P)
	}
	v.ColdRatio, v.ColdP = ratio(row.ColdTotals, baseline.ColdTotals)
	v.WarmRatio, v.WarmP = ratio(row.WarmDur, baseline.WarmDur)
	return v
}

func round1(v float64) float64 { return math.Round(v*10) / 10 }

// NewMethod returns a Method with the statistical levels this package uses.
func NewMethod() Method {
	return Method{CIPercent: int(math.Round(ciLevel * 100)), SignificancePercent: int(math.Round(significance * 100)), GiBMiB: 1024}
}
