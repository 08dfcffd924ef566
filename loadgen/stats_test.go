package loadgen

import (
	"math"
	"testing"
)

func near(a, b, tol float64) bool {
	if math.IsNaN(a) || math.IsNaN(b) {
		return math.IsNaN(a) && math.IsNaN(b)
	}
	return math.Abs(a-b) <= tol
}

// Reference values in these tests were computed by hand where the comment
// says so, and otherwise with numpy (np.percentile, ddof=1) and
// scipy.stats (t.ppf, mannwhitneyu two-sided, use_continuity=True).

func TestSummarize(t *testing.T) {
	tests := []struct {
		name   string
		values []float64
		want   Sample
	}{
		{
			name:   "seven values",
			values: []float64{12, 15, 11, 19, 14, 13, 18},
			want: Sample{N: 7, Mean: 14.571428571428571, StdDev: 2.9920529661723823, Min: 11, Max: 19,
				P50: 14, P95: 18.7, P99: 18.94, CI95: 2.7671874618456007},
		},
		{
			// By hand: mean 2, s = 1, t(0.975, 2) = 4.302652729911275, half-width t/√3.
			name:   "three values by hand",
			values: []float64{1, 2, 3},
			want: Sample{N: 3, Mean: 2, StdDev: 1, Min: 1, Max: 3,
				P50: 2, P95: 2.9, P99: 2.98, CI95: 4.302652729911275 / math.Sqrt(3)},
		},
		{
			name:   "single value has no spread",
			values: []float64{5},
			want: Sample{N: 1, Mean: 5, StdDev: math.NaN(), Min: 5, Max: 5,
				P50: 5, P95: 5, P99: 5, CI95: math.NaN()},
		},
		{
			name:   "empty",
			values: nil,
			want: Sample{N: 0, Mean: math.NaN(), StdDev: math.NaN(), Min: math.NaN(), Max: math.NaN(),
				P50: math.NaN(), P95: math.NaN(), P99: math.NaN(), CI95: math.NaN()},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Summarize(tt.values)
			w := tt.want
			if got.N != w.N {
				t.Fatalf("N = %d, want %d", got.N, w.N)
			}
			for _, f := range []struct {
				name      string
				got, want float64
			}{
				{"mean", got.Mean, w.Mean}, {"stddev", got.StdDev, w.StdDev}, {"min", got.Min, w.Min},
				{"max", got.Max, w.Max}, {"p50", got.P50, w.P50}, {"p95", got.P95, w.P95},
				{"p99", got.P99, w.P99}, {"ci95", got.CI95, w.CI95},
			} {
				// gonum's t quantile is accurate to about 1e-9 relative, hence 1e-7.
				if !near(f.got, f.want, 1e-7) {
					t.Errorf("%s = %v, want %v", f.name, f.got, f.want)
				}
			}
		})
	}
}

func TestSummarizeDoesNotReorderInput(t *testing.T) {
	in := []float64{3, 1, 2}
	Summarize(in)
	if in[0] != 3 || in[1] != 1 || in[2] != 2 {
		t.Fatalf("input reordered: %v", in)
	}
}

func TestTQuantile(t *testing.T) {
	tests := []struct{ df, want float64 }{
		{1, 12.706204736432095}, {6, 2.4469118487916806}, {29, 2.045229642132703}, {1000, 1.9623390808264074},
	}
	for _, tt := range tests {
		if got := TQuantile(0.975, tt.df); !near(got, tt.want, 1e-7) {
			t.Errorf("TQuantile(0.975, %v) = %v, want %v", tt.df, got, tt.want)
		}
	}
}

func TestMannWhitneyU(t *testing.T) {
	tests := []struct {
		name      string
		x, y      []float64
		wantU     float64
		wantP     float64
		wantExact bool
	}{
		{
			// By hand: U = 0; only 1 of C(6,3) = 20 arrangements is as extreme on each side: p = 2/20.
			name: "complete separation", x: []float64{1, 2, 3}, y: []float64{4, 5, 6},
			wantU: 0, wantP: 0.1, wantExact: true,
		},
		{
			// By hand: U = 3+4+2+4+4 = 17, min(U, 20−U) = 3; 7 of C(9,4) = 126 arrangements have U ≤ 3.
			name: "small exact", x: []float64{19, 22, 16, 29, 24}, y: []float64{20, 11, 17, 12},
			wantU: 17, wantP: 14.0 / 126, wantExact: true,
		},
		{
			name: "exact unequal sizes",
			x:    []float64{1.1, 2.5, 3.3, 4.8, 5.0, 7.2, 8.9}, y: []float64{3.0, 4.1, 6.6, 9.5, 10.2, 11.7},
			wantU: 11, wantP: 0.18065268065268064, wantExact: true,
		},
		{
			name: "ties use normal approximation with tie correction",
			x:    []float64{1, 2, 2, 3, 4, 5, 5, 5}, y: []float64{2, 3, 3, 6, 7, 7, 8, 9, 10},
			wantU: 15, wantP: 0.046754549920135495,
		},
		{
			name: "large samples use normal approximation",
			x:    seq(1, 30, 0), y: seq(1, 25, 7.5),
			wantU: 253, wantP: 0.04000233106564058,
		},
		{
			name: "all tied", x: []float64{1, 1, 1}, y: []float64{1, 1, 1},
			wantU: 4.5, wantP: 1,
		},
		{
			name: "empty sample", x: nil, y: []float64{1, 2},
			wantU: math.NaN(), wantP: math.NaN(),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := MannWhitneyU(tt.x, tt.y)
			if !near(got.U, tt.wantU, 1e-12) {
				t.Errorf("U = %v, want %v", got.U, tt.wantU)
			}
			if !near(got.P, tt.wantP, 1e-9) {
				t.Errorf("P = %v, want %v", got.P, tt.wantP)
			}
			if got.Exact != tt.wantExact {
				t.Errorf("Exact = %v, want %v", got.Exact, tt.wantExact)
			}
		})
	}
}

func TestMannWhitneySymmetric(t *testing.T) {
	x := []float64{19, 22, 16, 29, 24}
	y := []float64{20, 11, 17, 12}
	a, b := MannWhitneyU(x, y), MannWhitneyU(y, x)
	if a.U+b.U != float64(len(x)*len(y)) || !near(a.P, b.P, 1e-12) {
		t.Fatalf("not symmetric: %+v vs %+v", a, b)
	}
}

// seq returns from+offset .. to+offset in steps of one.
func seq(from, to int, offset float64) []float64 {
	var out []float64
	for i := from; i <= to; i++ {
		out = append(out, float64(i)+offset)
	}
	return out
}

func TestExactCDFSumsToOne(t *testing.T) {
	for _, mn := range [][2]int{{1, 1}, {3, 4}, {8, 8}, {20, 20}} {
		m, n := mn[0], mn[1]
		if got := exactCDF(m*n, m, n); got != 1 {
			t.Errorf("CDF(max) for %d,%d = %v", m, n, got)
		}
		// Symmetry of the null distribution: P(U ≤ k) = P(U ≥ mn−k) = 1 − P(U ≤ mn−k−1).
		k := m * n / 3
		if a, b := exactCDF(k, m, n), 1-exactCDF(m*n-k-1, m, n); !near(a, b, 1e-12) {
			t.Errorf("asymmetric CDF for %d,%d: %v vs %v", m, n, a, b)
		}
	}
}

func TestMedianCI(t *testing.T) {
	seq := func(n int) []float64 {
		v := make([]float64, n)
		for i := range v {
			v[n-1-i] = float64(i + 1) // reversed: MedianCI must sort
		}
		return v
	}
	tests := []struct {
		name          string
		values        []float64
		lo, hi, cov   float64
		belowLevel    bool
		wantUndefined bool
	}{
		{name: "one value", values: []float64{3}, wantUndefined: true},
		{name: "five: min..max at 93.75 %", values: seq(5), lo: 1, hi: 5, cov: 0.9375, belowLevel: true},
		{name: "six: min..max at 96.9 %", values: seq(6), lo: 1, hi: 6, cov: 1 - 2.0/64},
		// n = 10: P(B ≤ 1) = 11/1024, so k = 2 gives 1 − 22/1024 = 0.9785; k = 3 gives 0.8906.
		{name: "ten", values: seq(10), lo: 2, hi: 9, cov: 1 - 22.0/1024},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := MedianCI(tt.values, 0.95)
			if tt.wantUndefined {
				if !math.IsNaN(got.Lo) || !math.IsNaN(got.Coverage) {
					t.Fatalf("got %+v, want NaN", got)
				}
				return
			}
			if got.Lo != tt.lo || got.Hi != tt.hi || math.Abs(got.Coverage-tt.cov) > 1e-12 {
				t.Fatalf("got %+v, want [%g, %g] at %g", got, tt.lo, tt.hi, tt.cov)
			}
			if (got.Coverage < 0.95) != tt.belowLevel {
				t.Fatalf("coverage %g", got.Coverage)
			}
		})
	}
}
