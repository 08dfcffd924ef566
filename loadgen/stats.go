package loadgen

import (
	"math"
	"slices"

	"gonum.org/v1/gonum/stat"
	"gonum.org/v1/gonum/stat/distuv"

	"github.com/wasmwhisk/wasmwhisk/internal/stats"
)

// Sample summarises one set of measurements (milliseconds in practice).
//
// Percentiles are internal/stats quantiles (linear interpolation between the closest ranks,
// Hyndman & Fan type 7), the definition every benchmark of the project uses too. Mean and
// StdDev are gonum's (the sample standard deviation, n−1 denominator).
//
// The 95 % confidence interval of the mean is mean ± t(0.975, n−1)·s/√n with
// Student's t quantile and the sample standard deviation s (n−1 denominator).
// It is NaN for fewer than two values.
type Sample struct {
	N      int     `json:"n"`
	Mean   float64 `json:"mean"`
	StdDev float64 `json:"stddev"`
	Min    float64 `json:"min"`
	Max    float64 `json:"max"`
	P50    float64 `json:"p50"`
	P95    float64 `json:"p95"`
	P99    float64 `json:"p99"`
	// CI95 is the half-width of the 95 % confidence interval of the mean.
	CI95 float64 `json:"ci95"`
}

// Summarize computes the descriptive statistics of values; the input is not modified.
// An empty input gives N = 0 and NaN everywhere else.
func Summarize(values []float64) Sample {
	nan := math.NaN()
	s := Sample{N: len(values), Mean: nan, StdDev: nan, Min: nan, Max: nan, P50: nan, P95: nan, P99: nan, CI95: nan}
	if len(values) == 0 {
		return s
	}
	sorted := slices.Clone(values)
	slices.Sort(sorted)
	s.Min, s.Max = sorted[0], sorted[len(sorted)-1]
	s.Mean = stat.Mean(sorted, nil)
	s.StdDev = stat.StdDev(sorted, nil)
	s.P50 = stats.QuantileSorted(sorted, 0.50)
	s.P95 = stats.QuantileSorted(sorted, 0.95)
	s.P99 = stats.QuantileSorted(sorted, 0.99)
	s.CI95 = CIHalfWidth(sorted, 0.95)
	return s
}

// TQuantile is the p-quantile of Student's t distribution with df degrees of freedom.
func TQuantile(p, df float64) float64 {
	return distuv.StudentsT{Mu: 0, Sigma: 1, Nu: df}.Quantile(p)
}

// CIHalfWidth is the half-width of the two-sided confidence interval of the
// mean at the given level (e.g. 0.95), using Student's t with n−1 degrees of
// freedom; NaN for fewer than two values.
func CIHalfWidth(values []float64, level float64) float64 {
	n := len(values)
	if n < 2 {
		return math.NaN()
	}
	t := TQuantile(1-(1-level)/2, float64(n-1))
	return t * stat.StdDev(values, nil) / math.Sqrt(float64(n))
}

// MannWhitney is the result of a two-sided Mann-Whitney U (Wilcoxon rank-sum) test.
type MannWhitney struct {
	// U is the statistic of the first sample: the number of pairs (x, y) with
	// x > y, counting ties as one half.
	U float64 `json:"u"`
	// P is the two-sided p-value.
	P float64 `json:"p"`
	// Exact says P comes from the exact null distribution rather than the
	// normal approximation.
	Exact bool `json:"exact"`
}

// exactLimit bounds the sample sizes for which the exact distribution is used.
const exactLimit = 20

// MannWhitneyU tests whether x and y come from the same distribution.
//
// Without ties and with both samples of at most 20 values, P is exact: twice
// the probability, under the null hypothesis, of a U at least as extreme, from
// the permutation distribution of U (capped at 1). Otherwise P uses the normal
// approximation with tie correction and a continuity correction of ½:
//
//	σ² = n1·n2/12 · ((N+1) − Σ(t³−t)/(N(N−1))),   z = (|U − n1·n2/2| − ½)/σ,   P = 2·(1 − Φ(z))
//
// where t runs over the sizes of the groups of tied values and N = n1+n2.
// An empty sample gives U = NaN and P = NaN; if every value is tied, P = 1.
func MannWhitneyU(x, y []float64) MannWhitney {
	n1, n2 := len(x), len(y)
	if n1 == 0 || n2 == 0 {
		return MannWhitney{U: math.NaN(), P: math.NaN()}
	}
	type obs struct {
		v     float64
		fromX bool
	}
	all := make([]obs, 0, n1+n2)
	for _, v := range x {
		all = append(all, obs{v, true})
	}
	for _, v := range y {
		all = append(all, obs{v, false})
	}
	slices.SortFunc(all, func(a, b obs) int {
		switch {
		case a.v < b.v:
			return -1
		case a.v > b.v:
			return 1
		}
		return 0
	})
	// Mid-ranks (1-based) and the tie term Σ(t³−t).
	var rankSumX, tieTerm float64
	ties := false
	for i := 0; i < len(all); {
		j := i
		for j < len(all) && all[j].v == all[i].v {
			j++
		}
		t := float64(j - i)
		if t > 1 {
			ties = true
			tieTerm += t*t*t - t
		}
		mid := float64(i+1+j) / 2 // average of ranks i+1..j
		for k := i; k < j; k++ {
			if all[k].fromX {
				rankSumX += mid
			}
		}
		i = j
	}
	fn1, fn2 := float64(n1), float64(n2)
	u1 := rankSumX - fn1*(fn1+1)/2
	res := MannWhitney{U: u1}

	if !ties && n1 <= exactLimit && n2 <= exactLimit {
		res.Exact = true
		uMin := math.Min(u1, fn1*fn2-u1)
		res.P = math.Min(1, 2*exactCDF(int(math.Round(uMin)), n1, n2))
		return res
	}

	n := fn1 + fn2
	variance := fn1 * fn2 / 12 * ((n + 1) - tieTerm/(n*(n-1)))
	if variance <= 0 {
		res.P = 1
		return res
	}
	z := (math.Abs(u1-fn1*fn2/2) - 0.5) / math.Sqrt(variance)
	if z < 0 {
		z = 0
	}
	res.P = math.Min(1, 2*distuv.UnitNormal.Survival(z))
	return res
}

// exactCDF is P(U ≤ u) for sample sizes m and n without ties, from the
// recurrence f(u; m, n) = f(u−n; m−1, n) + f(u; m, n−1) on the number of
// arrangements, divided by C(m+n, m).
func exactCDF(u, m, n int) float64 {
	if u < 0 {
		return 0
	}
	maxU := m * n
	if u >= maxU {
		return 1
	}
	// counts[j][k] = number of arrangements of j x's and the current n' y's with U = k.
	// Iterate over n' from 0 to n, keeping one row per j.
	prev := make([][]float64, m+1)
	for j := range prev {
		prev[j] = make([]float64, maxU+1)
		prev[j][0] = 1 // with no y values, U is 0
	}
	for nn := 1; nn <= n; nn++ {
		cur := make([][]float64, m+1)
		cur[0] = make([]float64, maxU+1)
		cur[0][0] = 1
		for j := 1; j <= m; j++ {
			cur[j] = make([]float64, maxU+1)
			for k := 0; k <= j*nn; k++ {
				// Largest value is an x (beats all nn y's) or a y (beats nothing).
				v := prev[j][k]
				if k-nn >= 0 {
					v += cur[j-1][k-nn]
				}
				cur[j][k] = v
			}
		}
		prev = cur
	}
	var total, below float64
	for k, c := range prev[m] {
		total += c
		if k <= u {
			below += c
		}
	}
	return below / total
}

// Interval is a confidence interval with the probability that it covers the true value.
type Interval struct {
	Lo float64 `json:"lo"`
	Hi float64 `json:"hi"`
	// Coverage is the interval's exact confidence level; below the level asked for when the
	// sample is too small to reach it (then Lo and Hi are the minimum and maximum).
	Coverage float64 `json:"coverage"`
}

// MedianCI is the distribution-free confidence interval of the median from order statistics:
// for sorted x(1) ≤ … ≤ x(n), [x(k), x(n−k+1)] covers the median with probability
// 1 − 2·P(B ≤ k−1), B ~ Binomial(n, ½); k is the largest rank reaching the level. With fewer than
// 6 values no interval reaches 95 % and [min, max] is returned with its coverage. NaN for fewer
// than two values.
func MedianCI(values []float64, level float64) Interval {
	n := len(values)
	if n < 2 {
		return Interval{Lo: math.NaN(), Hi: math.NaN(), Coverage: math.NaN()}
	}
	sorted := slices.Clone(values)
	slices.Sort(sorted)
	b := distuv.Binomial{N: float64(n), P: 0.5}
	k := 1
	for next := 2; next <= n/2; next++ {
		if 1-2*b.CDF(float64(next-1)) < level {
			break
		}
		k = next
	}
	return Interval{Lo: sorted[k-1], Hi: sorted[n-k], Coverage: 1 - 2*b.CDF(float64(k-1))}
}
