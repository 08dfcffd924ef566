package stats

import (
	"math"
	"slices"
	"testing"
)

// The expected values are R's quantile(x, p) (type 7).
func TestQuantile(t *testing.T) {
	ten := []float64{10, 9, 8, 7, 6, 5, 4, 3, 2, 1}
	cases := []struct {
		name   string
		values []float64
		p      float64
		want   float64
	}{
		{"one value", []float64{4}, 0.5, 4},
		{"median of an odd count", []float64{3, 1, 2}, 0.5, 2},
		{"median of an even count", []float64{4, 1, 3, 2}, 0.5, 2.5},
		{"lower quartile", []float64{3, 1, 2}, 0.25, 1.5},
		{"p95 of 1..10", ten, 0.95, 9.55},
		{"p99 of 1..10", ten, 0.99, 9.91},
		{"minimum", ten, 0, 1},
		{"maximum", ten, 1, 10},
		{"ties", []float64{2, 2, 2, 5}, 0.5, 2},
		// By hand: h = 0.75 between 10 and 20, h = 2.7 between 30 and 40.
		{"between ranks", []float64{40, 10, 30, 20}, 0.25, 17.5},
		{"between the top ranks", []float64{40, 10, 30, 20}, 0.9, 37},
		{"no values", nil, 0.5, math.NaN()},
		{"p below 0", ten, -0.1, math.NaN()},
		{"p above 1", ten, 1.1, math.NaN()},
		{"p NaN", ten, math.NaN(), math.NaN()},
	}
	for _, c := range cases {
		in := slices.Clone(c.values)
		got := Quantile(in, c.p)
		if ok := math.Abs(got-c.want) <= 1e-12 || math.IsNaN(got) && math.IsNaN(c.want); !ok {
			t.Errorf("%s: Quantile(%v, %v) = %v, want %v", c.name, c.values, c.p, got, c.want)
		}
		if !slices.Equal(in, c.values) {
			t.Errorf("%s: Quantile modified its input: %v", c.name, in)
		}
	}
}

func TestQuantileSortedAgrees(t *testing.T) {
	values := []float64{0.5, 7, 3.25, 3.25, 1, 12, 8}
	sorted := slices.Sorted(slices.Values(values))
	for _, p := range []float64{0, 0.1, 0.5, 0.9, 0.95, 1} {
		if a, b := Quantile(values, p), QuantileSorted(sorted, p); a != b {
			t.Errorf("p=%v: Quantile %v, QuantileSorted %v", p, a, b)
		}
	}
	if got := QuantileSorted(nil, 0.5); !math.IsNaN(got) {
		t.Errorf("QuantileSorted(nil) = %v, want NaN", got)
	}
}

func TestMedian(t *testing.T) {
	if got := Median([]float64{5, 1, 4, 2}); got != 3 {
		t.Errorf("Median = %v, want 3", got)
	}
	if got := Median(nil); !math.IsNaN(got) {
		t.Errorf("Median(nil) = %v, want NaN", got)
	}
}
