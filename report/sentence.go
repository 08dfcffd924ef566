package report

import (
	"fmt"
	"strings"
)

// Sentences computes every verdict row's sentence against the baseline row (Verdict.Baseline).
func (v *Verdict) Sentences() {
	var base *VerdictRow
	for i := range v.Rows {
		if v.Rows[i].ID == v.Baseline {
			base = &v.Rows[i]
		}
	}
	for i := range v.Rows {
		v.Rows[i].Sentence = sentence(&v.Rows[i], base)
	}
}

func sentence(r, base *VerdictRow) string {
	if r.Error != "" {
		return fmt.Sprintf("%s: not measured: %s.", r.Label, strings.TrimSuffix(r.Error, "."))
	}
	if base == nil || base.Error != "" || r == base {
		var parts []string
		if r.Cold != nil {
			parts = append(parts, fmt.Sprintf("cold %s ms at c=1 (median of %d)", ms(r.Cold.MedianMS), r.Cold.N))
		}
		if r.Warm != nil {
			parts = append(parts, fmt.Sprintf("warm %s ms (p50 of %d)", ms(r.Warm.P50MS), r.Warm.N))
		}
		parts = append(parts, memoryPhrase(r.Memory))
		what := "is the baseline"
		if r != base {
			what = "(no baseline to compare with)"
		}
		return fmt.Sprintf("%s %s: %s.", r.Label, what, strings.Join(parts, ", "))
	}
	var parts []string
	if r.Versus != nil && r.Versus.ColdRatio != nil && r.Cold != nil && base.Cold != nil {
		parts = append(parts, fmt.Sprintf("starts cold %s the %s (median %s ms against %s ms, %s)",
			factor(*r.Versus.ColdRatio, " than"), base.Label, ms(r.Cold.MedianMS), ms(base.Cold.MedianMS), significant(r.Versus.ColdP)))
	}
	if r.Versus != nil && r.Versus.WarmRatio != nil && r.Warm != nil && base.Warm != nil {
		parts = append(parts, fmt.Sprintf("runs warm %s (p50 %s ms against %s ms, %s)",
			factor(*r.Versus.WarmRatio, ""), ms(r.Warm.P50MS), ms(base.Warm.P50MS), significant(r.Versus.WarmP)))
	}
	switch {
	case r.Memory.IdleMiB != nil && base.Memory.IdleMiB != nil:
		parts = append(parts, fmt.Sprintf("holds a warm instance in %s MiB against %s MiB (%s against %s per GiB)",
			num1(r.Memory.IdleMiB), num1(base.Memory.IdleMiB), num0(r.Memory.PerGiB), num0(base.Memory.PerGiB)))
	default:
		parts = append(parts, memoryPhrase(r.Memory))
	}
	return r.Label + " " + strings.Join(parts, "; ") + "."
}

// factor says a ratio row/baseline as "2.50× faster" or "1.10× slower", followed by than
// (" than" or "").
func factor(ratio float64, than string) string {
	switch {
	case ratio > 0 && ratio < 1:
		return times(1/ratio) + " faster" + than
	case ratio > 1:
		return times(ratio) + " slower" + than
	}
	if than == "" {
		return "as fast"
	}
	return "as fast as"
}

func times(f float64) string {
	if f >= 10 {
		return fmt.Sprintf("%.1f×", f)
	}
	return fmt.Sprintf("%.2f×", f)
}

func significant(p *float64) string {
	if p == nil {
		return "no test"
	}
	if *p < significance {
		return "Mann–Whitney p = " + pval(*p) + ", significant"
	}
	return "Mann–Whitney p = " + pval(*p) + ", not significant at 5%"
}

func memoryPhrase(m Memory) string {
	if m.IdleMiB == nil {
		reason := m.Unavailable
		if reason == "" {
			reason = "not measured"
		}
		return "memory unavailable (" + reason + ")"
	}
	return fmt.Sprintf("%s MiB per warm instance (%s per GiB)", num1(m.IdleMiB), num0(m.PerGiB))
}
