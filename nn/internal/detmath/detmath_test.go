package detmath

import (
	"math"
	"testing"
)

func TestExp(t *testing.T) {
	for x := -740.0; x <= 709; x += 0.37 {
		got, want := Exp(x), math.Exp(x)
		if math.Abs(got-want) > 4e-16*want {
			t.Fatalf("Exp(%v) = %v, math.Exp %v", x, got, want)
		}
	}
	for _, c := range []struct{ x, want float64 }{
		{0, 1}, {math.Inf(1), math.Inf(1)}, {math.Inf(-1), 0}, {-800, 0}, {710, math.Inf(1)},
	} {
		if got := Exp(c.x); got != c.want {
			t.Errorf("Exp(%v) = %v, want %v", c.x, got, c.want)
		}
	}
	if !math.IsNaN(Exp(math.NaN())) {
		t.Error("Exp(NaN) is not NaN")
	}
}
