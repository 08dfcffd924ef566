// Package stats holds the one definition of a quantile in wasmwhisk, so that a "median" or a
// "p50" means the same thing in the load generator's tables and in every benchmark: linear
// interpolation between the closest ranks (Hyndman & Fan type 7, the default of R's quantile and
// numpy's percentile). For sorted values x[0..n-1] and probability p, h = (n-1)·p and the
// p-quantile is x[⌊h⌋] + (h−⌊h⌋)·(x[⌊h⌋+1]−x[⌊h⌋]); the median of an even count is the mean of
// the two middle values.
package stats

import (
	"math"
	"slices"
	"time"
)

// Quantile returns the p-quantile (0 ≤ p ≤ 1) of values; NaN for no values or p outside [0, 1].
// values is not modified.
func Quantile(values []float64, p float64) float64 {
	if len(values) == 0 || !(p >= 0 && p <= 1) {
		return math.NaN()
	}
	sorted := slices.Clone(values)
	slices.Sort(sorted)
	return QuantileSorted(sorted, p)
}

// QuantileSorted is Quantile for values already sorted in ascending order, without a copy.
func QuantileSorted(sorted []float64, p float64) float64 {
	if len(sorted) == 0 || !(p >= 0 && p <= 1) {
		return math.NaN()
	}
	h := float64(len(sorted)-1) * p
	lo := math.Floor(h)
	i := int(lo)
	if i+1 >= len(sorted) {
		return sorted[len(sorted)-1]
	}
	return sorted[i] + (h-lo)*(sorted[i+1]-sorted[i])
}

// Median is Quantile(values, 0.5).
func Median(values []float64) float64 { return Quantile(values, 0.5) }

// Milliseconds converts durations to milliseconds, the unit benchmarks report, for Quantile.
func Milliseconds(durations []time.Duration) []float64 {
	ms := make([]float64, len(durations))
	for i, d := range durations {
		ms[i] = float64(d) / float64(time.Millisecond)
	}
	return ms
}
