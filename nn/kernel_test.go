package nn

import (
	"fmt"
	"math"
	"math/rand"
	"testing"
)

func randSlice(r *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(r.NormFloat64())
	}
	return s
}

// refBiasGemmClamp is the three-pass reference: fill C with the bias, C += A·B with gemmGo,
// clamp.
func refBiasGemmClamp(m, n, k int, a, b, bias []float32, lo, hi float32) []float32 {
	c := make([]float32, m*n)
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			if bias != nil {
				c[i*n+j] = bias[i]
			}
		}
	}
	gemm(m, n, k, a, k, b, n, c, n)
	clamp(c, c, lo, hi)
	return c
}

// gemmShapes are edge sizes around the tiles (4-row strips, 256-column strips, 6×16 and 6×8
// register tiles) and MobileNetV2's 1x1 shapes.
var gemmShapes = [][3]int{ // m, k, n
	{1, 1, 1}, {3, 5, 7}, {4, 2, 16}, {5, 3, 17}, {6, 16, 8}, {7, 9, 9}, {13, 27, 300}, {12, 31, 49},
	{16, 32, 257}, {24, 144, 196}, {1, 7, 600}, {35, 1, 33}, {64, 0, 5}, {96, 16, 784}, {1280, 320, 49},
	{20, 40, 2000}, {32, 27, 12544}, {7, 300, 230},
}

// TestGemmBiasActGoBitExact checks that the fused pure-Go GEMM gives exactly the bits of the
// three-pass reference (same operations in the same order), with and without bias and clamp.
func TestGemmBiasActGoBitExact(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	inf := float32(math.Inf(1))
	for _, sh := range gemmShapes {
		m, k, n := sh[0], sh[1], sh[2]
		a, b := randSlice(r, m*k), randSlice(r, k*n)
		for _, tc := range []struct {
			bias   []float32
			lo, hi float32
		}{{nil, -inf, inf}, {randSlice(r, m), 0, 6}, {randSlice(r, m), 0, inf}} {
			t.Run(fmt.Sprintf("%dx%dx%d/lo%v", m, k, n, tc.lo), func(t *testing.T) {
				want := refBiasGemmClamp(m, n, k, a, b, tc.bias, tc.lo, tc.hi)
				got := make([]float32, m*n)
				for i := range got {
					got[i] = float32(math.NaN()) // every element must be written
				}
				gemmBiasActGo(m, n, k, a, k, b, n, got, n, tc.bias, tc.lo, tc.hi)
				for i := range want {
					if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
						t.Fatalf("element %d: got %v, want %v", i, got[i], want[i])
					}
				}
			})
		}
	}
}

// dwCase is a depthwise convolution geometry.
type dwCase struct{ c, h, w, s, pt, pl, pb, pr int }

var dwCases = []dwCase{
	{1, 1, 1, 1, 1, 1, 1, 1}, {2, 3, 3, 1, 1, 1, 1, 1}, {3, 7, 9, 1, 1, 1, 1, 1}, {2, 8, 8, 2, 0, 0, 1, 1},
	{2, 9, 10, 2, 1, 1, 1, 1}, {1, 5, 4, 1, 0, 0, 0, 0}, {2, 6, 11, 2, 0, 0, 0, 0}, {1, 2, 2, 2, 2, 2, 2, 2},
	{3, 4, 17, 1, 2, 0, 0, 2}, {32, 112, 112, 1, 1, 1, 1, 1}, {96, 112, 112, 2, 0, 0, 1, 1},
	{5, 14, 14, 2, 1, 1, 1, 1}, {4, 7, 7, 1, 1, 1, 1, 1}, {2, 1, 40, 1, 1, 1, 1, 1}, {2, 40, 1, 2, 1, 1, 1, 1},
}

func (d dwCase) kernel(act bool) *convKernel {
	k := &convKernel{batch: 1, c: d.c, m: d.c, group: d.c, h: d.h, w: d.w, kh: 3, kw: 3,
		sh: d.s, sw: d.s, dh: 1, dw: 1, pt: d.pt, pl: d.pl, mode: convDepthwise}
	k.oh = (d.h+d.pt+d.pb-3)/d.s + 1
	k.ow = (d.w+d.pl+d.pr-3)/d.s + 1
	k.lo, k.hi = float32(math.Inf(-1)), float32(math.Inf(1))
	if act {
		k.act, k.lo, k.hi = true, 0, 6
	}
	return k
}

// refDepthwise is the reference: bias fill, depthwiseGo (one tap at a time), clamp.
func refDepthwise(k *convKernel, x, wt, bias []float32) []float32 {
	plane := k.oh * k.ow
	y := make([]float32, k.c*plane)
	for ch := 0; ch < k.c; ch++ {
		for i := 0; i < plane; i++ {
			y[ch*plane+i] = bias[ch]
		}
	}
	depthwiseGo(k, x, wt, y)
	if k.act {
		clamp(y, y, k.lo, k.hi)
	}
	return y
}

// TestDepthwise3x3GoBitExact checks the direct 3×3 kernel against the tap-at-a-time reference,
// bit for bit, over strides 1 and 2, asymmetric padding and planes smaller than the kernel.
func TestDepthwise3x3GoBitExact(t *testing.T) {
	r := rand.New(rand.NewSource(2))
	for _, d := range dwCases {
		for _, act := range []bool{false, true} {
			k := d.kernel(act)
			if k.oh <= 0 || k.ow <= 0 {
				t.Fatalf("bad case %+v", d)
			}
			t.Run(fmt.Sprintf("%+v/act=%v", d, act), func(t *testing.T) {
				x, wt, bias := randSlice(r, d.c*d.h*d.w), randSlice(r, d.c*9), randSlice(r, d.c)
				want := refDepthwise(k, x, wt, bias)
				got := make([]float32, len(want))
				for i := range got {
					got[i] = float32(math.NaN())
				}
				depthwise3x3Go(k, x, wt, bias, got)
				for i := range want {
					if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
						t.Fatalf("element %d: got %v, want %v", i, got[i], want[i])
					}
				}
			})
		}
	}
}

// TestClampPathsAgree checks that clamp's two numeric paths, min/max builtins (amd64, arm64)
// and the bit select (wasm and the rest), give the same bits, so that native pure Go and wasm
// agree, including on signed zeros, infinities, values at the bounds and NaN.
func TestClampPathsAgree(t *testing.T) {
	r := rand.New(rand.NewSource(6))
	inf, nan := float32(math.Inf(1)), float32(math.NaN())
	negZero := float32(math.Copysign(0, -1))
	xs := []float32{0, negZero, 6, -6, inf, -inf, nan, 1e-45, -1e-45, 5.9999995, 6.0000005}
	xs = append(xs, randSlice(r, 200)...)
	for _, b := range [][2]float32{{0, 6}, {0, inf}, {-inf, inf}, {-1, 1}, {negZero, 0}, {2, 1}, {6, 6}} {
		lo, hi := b[0], b[1]
		got := make([]float32, len(xs))
		clampSelect(got, xs, lo, hi)
		for i, x := range xs {
			want := min(max(x, lo), hi) + 0
			g := got[i]
			if x != x {
				if g == g {
					t.Errorf("clamp(NaN, %v, %v) = %v, want NaN", lo, hi, g)
				}
				continue
			}
			if math.Float32bits(g) != math.Float32bits(want) {
				t.Errorf("clamp(%v, %v, %v): select path %v (%#x), min/max path %v (%#x)", x, lo, hi, g,
					math.Float32bits(g), want, math.Float32bits(want))
			}
		}
		// In place, as the kernels use it.
		in := append([]float32(nil), xs...)
		clampSelect(in, in, lo, hi)
		for i := range in {
			if math.Float32bits(in[i]) != math.Float32bits(got[i]) && in[i] == in[i] {
				t.Fatalf("in place differs at %d", i)
			}
		}
	}
	// NaN bounds keep the comparisons' meaning: nothing is clamped against a NaN.
	y := []float32{-3, 3}
	clamp(y, y, nan, 2)
	if y[0] != -3 || y[1] != 2 {
		t.Errorf("clamp with NaN lo: %v", y)
	}
}

func absSlice(s []float32) []float32 {
	if s == nil {
		return nil
	}
	r := make([]float32, len(s))
	for i, v := range s {
		r[i] = float32(math.Abs(float64(v)))
	}
	return r
}

// closeEnough reports whether got is within FMA rounding of want: each of the n additions may
// differ by one rounding of a partial sum, bounded by the sum of magnitudes mag.
func closeEnough(got, want, mag float32, n int) bool {
	if math.IsNaN(float64(want)) {
		return math.IsNaN(float64(got))
	}
	return math.Abs(float64(got-want)) <= 2e-7*float64(n+2)*float64(mag)+1e-30
}

// TestGemmAsmMatchesGo checks the assembly GEMM (packed weights, 6×16 and 6×8 tiles, fused
// bias and clamp) against the pure-Go reference within FMA rounding, on sizes that are not
// multiples of the tiles.
func TestGemmAsmMatchesGo(t *testing.T) {
	if gemmAsm == nil {
		t.Skip("no assembly GEMM in this build or on this CPU")
	}
	r := rand.New(rand.NewSource(3))
	inf := float32(math.Inf(1))
	var s gemmScratch
	for _, sh := range append(gemmShapes, [3]int{7, 40, 24}, [3]int{11, 3, 8}, [3]int{6, 1, 1}) {
		m, k, n := sh[0], sh[1], sh[2]
		a, b := randSlice(r, m*k), randSlice(r, k*n)
		for _, tc := range []struct {
			bias   []float32
			lo, hi float32
		}{{nil, -inf, inf}, {randSlice(r, m), 0, 6}, {randSlice(r, m), -0.5, 0.5}} {
			t.Run(fmt.Sprintf("%dx%dx%d/lo%v", m, k, n, tc.lo), func(t *testing.T) {
				want := refBiasGemmClamp(m, n, k, a, b, tc.bias, tc.lo, tc.hi)
				mag := refBiasGemmClamp(m, n, k, absSlice(a), absSlice(b), absSlice(tc.bias), -inf, inf)
				// C has a wider row stride than n: the kernel must keep to its columns.
				ldc := n + 3
				got := make([]float32, m*ldc)
				for i := range got {
					got[i] = 12345
				}
				pa := packA(m, k, gemmAsm.mr, a, k)
				gemmPacked(gemmAsm, pa, n, b, n, got, ldc, tc.bias, tc.lo, tc.hi, &s)
				for i := 0; i < m; i++ {
					for j := 0; j < ldc; j++ {
						g := got[i*ldc+j]
						if j >= n {
							if g != 12345 {
								t.Fatalf("wrote outside C at row %d column %d", i, j)
							}
							continue
						}
						if !closeEnough(g, want[i*n+j], mag[i*n+j], k) {
							t.Fatalf("C[%d][%d] = %v, want %v (magnitude %v)", i, j, g, want[i*n+j], mag[i*n+j])
						}
					}
				}
			})
		}
	}
}

// TestDepthwise3x3AsmMatchesGo checks the selected depthwise 3×3 kernel (assembly on AVX2
// machines) against the pure-Go one within FMA rounding, including planes narrower than a
// chunk of 8 and padding on one side only.
func TestDepthwise3x3AsmMatchesGo(t *testing.T) {
	if gemmAsm == nil {
		t.Skip("no assembly kernels in this build or on this CPU")
	}
	r := rand.New(rand.NewSource(4))
	cases := append(dwCases, dwCase{3, 17, 33, 2, 1, 1, 1, 1}, dwCase{2, 9, 16, 1, 1, 1, 1, 1},
		dwCase{2, 16, 16, 2, 1, 1, 0, 0}, dwCase{1, 3, 3, 1, 0, 0, 0, 0})
	for _, d := range cases {
		for _, act := range []bool{false, true} {
			k := d.kernel(act)
			t.Run(fmt.Sprintf("%+v/act=%v", d, act), func(t *testing.T) {
				x, wt, bias := randSlice(r, d.c*d.h*d.w), randSlice(r, d.c*9), randSlice(r, d.c)
				want := make([]float32, d.c*k.oh*k.ow)
				depthwise3x3Go(k, x, wt, bias, want)
				ka := d.kernel(false)
				mag := make([]float32, len(want))
				depthwise3x3Go(ka, absSlice(x), absSlice(wt), absSlice(bias), mag)
				// Twice, so that a second run over the same padded plane is checked too.
				for run := 0; run < 2; run++ {
					got := make([]float32, len(want)+8)
					for i := range got {
						got[i] = 12345
					}
					depthwise3x3Impl(k, x, wt, bias, got)
					for i := range want {
						if !closeEnough(got[i], want[i], mag[i], 9) {
							t.Fatalf("run %d element %d: got %v, want %v", run, i, got[i], want[i])
						}
					}
					for _, v := range got[len(want):] {
						if v != 12345 {
							t.Fatal("wrote past the output")
						}
					}
				}
			})
		}
	}
}

// TestIm2colMatchesDirect checks im2col against a direct reading of the receptive fields, with
// strides, dilations and padding.
func TestIm2colMatchesDirect(t *testing.T) {
	r := rand.New(rand.NewSource(5))
	for _, g := range []struct{ c, h, w, kh, kw, s, d, pt, pl, pb, pr int }{
		{3, 224, 224, 3, 3, 2, 1, 1, 1, 1, 1}, {2, 5, 7, 3, 3, 1, 1, 0, 0, 0, 0}, {1, 6, 6, 3, 2, 2, 2, 2, 1, 0, 3},
		{2, 4, 9, 1, 5, 3, 1, 0, 2, 0, 2}, {1, 3, 3, 3, 3, 1, 1, 2, 2, 2, 2},
	} {
		k := &convKernel{c: g.c, h: g.h, w: g.w, kh: g.kh, kw: g.kw, sh: g.s, sw: g.s, dh: g.d, dw: g.d, pt: g.pt, pl: g.pl}
		k.oh = (g.h+g.pt+g.pb-(g.kh-1)*g.d-1)/g.s + 1
		k.ow = (g.w+g.pl+g.pr-(g.kw-1)*g.d-1)/g.s + 1
		k.col = make([]float32, g.c*g.kh*g.kw*k.oh*k.ow)
		for i := range k.col {
			k.col[i] = 12345
		}
		x := randSlice(r, g.c*g.h*g.w)
		k.im2col(x, g.c)
		row := 0
		for ci := 0; ci < g.c; ci++ {
			for i := 0; i < g.kh; i++ {
				for j := 0; j < g.kw; j++ {
					for oy := 0; oy < k.oh; oy++ {
						for ox := 0; ox < k.ow; ox++ {
							iy, ix := oy*g.s-g.pt+i*g.d, ox*g.s-g.pl+j*g.d
							want := float32(0)
							if iy >= 0 && iy < g.h && ix >= 0 && ix < g.w {
								want = x[ci*g.h*g.w+iy*g.w+ix]
							}
							if got := k.col[(row*k.oh+oy)*k.ow+ox]; got != want {
								t.Fatalf("%+v: row %d (%d,%d) = %v, want %v", g, row, oy, ox, got, want)
							}
						}
					}
					row++
				}
			}
		}
	}
}
