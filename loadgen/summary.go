package loadgen

import (
	"cmp"
	"slices"
)

// LevelSummary is the statistics of one action at one concurrency level,
// pooled over repeats. Times are milliseconds.
//
// The statistics use the measured rows: not warm-up, a completed activation
// with status success and, with -cold, a cold record. Everything else is
// counted beside them instead of being mixed in.
type LevelSummary struct {
	Action      string `json:"action"`
	Kind        string `json:"kind"`
	Concurrency int    `json:"concurrency"`
	// Count is the number of rows in the statistics.
	Count int `json:"count"`
	// Cold is how many of them were cold starts.
	Cold int `json:"cold"`
	// NonCold counts warm activations in a -cold run (excluded from statistics).
	NonCold int `json:"noncold"`
	// Errors counts completed activations whose status was not success.
	Errors     int `json:"errors"`
	Throttled  int `json:"throttled"`
	Overloaded int `json:"overloaded"`
	Failed     int `json:"failed"`
	Dropped    int `json:"dropped"`

	AvgInit     float64 `json:"avg_init"`
	MaxWait     float64 `json:"max_wait"`
	AvgDuration float64 `json:"avg_duration"`
	AvgTotal    float64 `json:"avg_total"`

	// Total is waitTime + duration; Client is loadgen's own end-to-end latency.
	Total    Sample `json:"total"`
	Wait     Sample `json:"wait"`
	Init     Sample `json:"init"`
	Run      Sample `json:"run"`
	Duration Sample `json:"duration"`
	Client   Sample `json:"client"`

	totals []float64
}

// Comparison sets two actions side by side at one level.
type Comparison struct {
	Concurrency int    `json:"concurrency"`
	A           string `json:"a"`
	B           string `json:"b"`
	// Ratio is mean total of A over mean total of B.
	Ratio float64 `json:"ratio"`
	// MannWhitney tests whether the totals of A and B differ.
	MannWhitney MannWhitney `json:"mannWhitney"`
}

// Summary is everything the tables and plots show.
type Summary struct {
	Cold        bool           `json:"cold"`
	Actions     []string       `json:"actions"`
	Levels      []LevelSummary `json:"levels"`
	Comparisons []Comparison   `json:"comparisons,omitempty"`
}

// SummarizeRows computes the per-action, per-level statistics of a run, and,
// when several actions were run, compares every other action with the first.
func SummarizeRows(res *Result) Summary {
	cold := res.Meta.Plan.Cold
	actions := slices.Clone(res.Meta.Plan.Actions)
	type key struct {
		action string
		level  int
	}
	byKey := map[key]*LevelSummary{}
	var order []key
	get := func(k key) *LevelSummary {
		if s, ok := byKey[k]; ok {
			return s
		}
		s := &LevelSummary{Action: k.action, Concurrency: k.level}
		byKey[k] = s
		order = append(order, k)
		if !slices.Contains(actions, k.action) {
			actions = append(actions, k.action)
		}
		return s
	}
	type series struct{ wait, init, run, dur, total, client []float64 }
	data := map[key]*series{}
	for _, r := range res.Rows {
		if r.Warmup {
			continue
		}
		k := key{r.Action, r.Concurrency}
		s := get(k)
		if s.Kind == "" {
			s.Kind = r.Kind
		}
		switch {
		case r.Status == StatusThrottled:
			s.Throttled++
			continue
		case r.Status == StatusOverloaded:
			s.Overloaded++
			continue
		case !r.HasRecord():
			s.Failed++
			continue
		case r.Status != StatusSuccess:
			s.Errors++
			continue
		case cold && !r.Cold:
			s.NonCold++
			continue
		}
		d := data[k]
		if d == nil {
			d = &series{}
			data[k] = d
		}
		if r.Cold {
			s.Cold++
		}
		d.wait = append(d.wait, float64(r.WaitTime))
		d.init = append(d.init, float64(r.InitTime))
		d.run = append(d.run, float64(r.Run))
		d.dur = append(d.dur, float64(r.Duration))
		d.total = append(d.total, float64(r.Total()))
		d.client = append(d.client, r.ClientLatency)
	}
	for _, dr := range res.Meta.Dropped {
		get(key{dr.Action, dr.Concurrency}).Dropped += dr.Count
	}
	sum := Summary{Cold: cold, Actions: actions}
	for _, k := range order {
		s := byKey[k]
		d := data[k]
		if d == nil {
			d = &series{}
		}
		s.Wait, s.Init, s.Run = Summarize(d.wait), Summarize(d.init), Summarize(d.run)
		s.Duration, s.Total, s.Client = Summarize(d.dur), Summarize(d.total), Summarize(d.client)
		s.Count = s.Total.N
		s.AvgInit, s.MaxWait, s.AvgDuration, s.AvgTotal = s.Init.Mean, s.Wait.Max, s.Duration.Mean, s.Total.Mean
		s.totals = d.total
		sum.Levels = append(sum.Levels, *s)
	}
	rank := map[string]int{}
	for i, a := range actions {
		rank[a] = i
	}
	slices.SortStableFunc(sum.Levels, func(a, b LevelSummary) int {
		return cmp.Or(cmp.Compare(rank[a.Action], rank[b.Action]), cmp.Compare(a.Concurrency, b.Concurrency))
	})
	if len(actions) >= 2 {
		first := actions[0]
		for _, other := range actions[1:] {
			for _, a := range sum.Levels {
				if a.Action != first {
					continue
				}
				for _, b := range sum.Levels {
					if b.Action != other || b.Concurrency != a.Concurrency {
						continue
					}
					sum.Comparisons = append(sum.Comparisons, Comparison{
						Concurrency: a.Concurrency, A: first, B: other,
						Ratio:       a.AvgTotal / b.AvgTotal,
						MannWhitney: MannWhitneyU(a.totals, b.totals),
					})
				}
			}
		}
	}
	return sum
}
