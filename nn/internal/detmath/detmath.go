// Package detmath holds math functions computed the same way on every architecture, so that code
// built natively and for wasm gives the same bits (the standard library's math.Exp, for one, has
// an assembly version on amd64). Both the nn engine and the classifier's softmax use it.
package detmath

import "math"

// Exp is e**x: k = round(x/ln2), r = x - k*ln2 (with a two-part ln2), a degree-14 Taylor series
// of e**r by Horner, scaled by 2**k; every product is rounded before it is added (no fused
// multiply-add), so the result does not depend on the target.
func Exp(x float64) float64 {
	switch {
	case math.IsNaN(x) || math.IsInf(x, 1):
		return x
	case math.IsInf(x, -1) || x < -745:
		return 0
	case x > 709:
		return math.Inf(1)
	}
	const ln2 = 0.6931471805599453094172321214581765680755
	k := math.Floor(x/ln2 + 0.5)
	// Two-part ln2 keeps r exact enough: hi has few bits so k*hi is exact.
	const ln2hi = 6.93147180369123816490e-01
	const ln2lo = 1.90821492927058770002e-10
	r := float64(x-float64(k*ln2hi)) - float64(k*ln2lo)
	// Taylor series of e**r for |r| <= ln2/2, to degree 14 (Horner).
	p := 1.0 / 87178291200
	for i := 13; i >= 1; i-- {
		p = float64(p*r) + 1/factorials[i]
	}
	p = float64(p*r) + 1
	return math.Ldexp(p, int(k))
}

var factorials = func() [15]float64 {
	var f [15]float64
	f[0] = 1
	for i := 1; i < 15; i++ {
		f[i] = f[i-1] * float64(i)
	}
	return f
}()
