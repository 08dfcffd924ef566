package nn

// gemm computes C += A·B for row-major A (m×k, row stride lda), B (k×n, ldb), C (m×n, ldc).
// Every element of C accumulates its k products in increasing k order.
func gemm(m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	if m == 0 || n == 0 || k == 0 {
		return
	}
	gemmGo(m, n, k, a, lda, b, ldb, c, ldc)
}

// gemmBiasActGo computes C = clamp(bias + A·B, lo, hi) (a nil bias is zero; lo = -Inf and
// hi = +Inf for no activation). It is gemmGo with the bias written into each strip of C before
// the products are added and the clamp applied to the strip while it is still in cache, so an
// element gets exactly the bits of "fill with bias, gemm, clamp" done as three passes. Four
// rows of C are updated with four (then two, then one) rows of B per pass over the strip, the
// products of one element still added one at a time in increasing k order.
func gemmBiasActGo(m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int,
	bias []float32, lo, hi float32) {
	for n0 := 0; n0 < n; n0 += gemmTileN {
		n1 := min(n0+gemmTileN, n)
		w := n1 - n0
		i := 0
		for ; i+4 <= m; i += 4 {
			c0 := c[i*ldc+n0 : i*ldc+n1]
			c1 := c[(i+1)*ldc+n0 : (i+1)*ldc+n1][:w]
			c2 := c[(i+2)*ldc+n0 : (i+2)*ldc+n1][:w]
			c3 := c[(i+3)*ldc+n0 : (i+3)*ldc+n1][:w]
			var v [4]float32
			if bias != nil {
				copy(v[:], bias[i:i+4])
			}
			p := 0
			if k >= 4 {
				// The first pass writes C from the bias instead of reading a filled C.
				axpy4x4Set(b[n0:n1], b[ldb+n0:ldb+n1], b[2*ldb+n0:2*ldb+n1], b[3*ldb+n0:3*ldb+n1], c0, c1, c2, c3,
					a[i*lda:i*lda+4], a[(i+1)*lda:(i+1)*lda+4], a[(i+2)*lda:(i+2)*lda+4], a[(i+3)*lda:(i+3)*lda+4], v[:])
				p = 4
			} else {
				for j := range c0 {
					c0[j], c1[j], c2[j], c3[j] = v[0], v[1], v[2], v[3]
				}
			}
			for ; p+4 <= k; p += 4 {
				axpy4x4(b[p*ldb+n0:p*ldb+n1], b[(p+1)*ldb+n0:(p+1)*ldb+n1], b[(p+2)*ldb+n0:(p+2)*ldb+n1],
					b[(p+3)*ldb+n0:(p+3)*ldb+n1], c0, c1, c2, c3,
					a[i*lda+p:i*lda+p+4], a[(i+1)*lda+p:(i+1)*lda+p+4], a[(i+2)*lda+p:(i+2)*lda+p+4], a[(i+3)*lda+p:(i+3)*lda+p+4])
			}
			for ; p+2 <= k; p += 2 {
				r0, r1, r2, r3 := a[i*lda+p:i*lda+p+2], a[(i+1)*lda+p:(i+1)*lda+p+2], a[(i+2)*lda+p:(i+2)*lda+p+2], a[(i+3)*lda+p:(i+3)*lda+p+2]
				axpy4x2(b[p*ldb+n0:p*ldb+n1], b[(p+1)*ldb+n0:(p+1)*ldb+n1], c0, c1, c2, c3,
					r0[0], r0[1], r1[0], r1[1], r2[0], r2[1], r3[0], r3[1])
			}
			for ; p < k; p++ {
				a0, a1, a2, a3 := a[i*lda+p], a[(i+1)*lda+p], a[(i+2)*lda+p], a[(i+3)*lda+p]
				axpy4(b[p*ldb+n0:p*ldb+n1], c0, c1, c2, c3, a0, a1, a2, a3)
			}
			clamp(c0, c0, lo, hi)
			clamp(c1, c1, lo, hi)
			clamp(c2, c2, lo, hi)
			clamp(c3, c3, lo, hi)
		}
		for ; i < m; i++ {
			c0 := c[i*ldc+n0 : i*ldc+n1]
			var v0 float32
			if bias != nil {
				v0 = bias[i]
			}
			for j := range c0 {
				c0[j] = v0
			}
			for p := 0; p < k; p++ {
				a0 := a[i*lda+p]
				bp := b[p*ldb+n0 : p*ldb+n1][:w]
				for j, bv := range bp {
					c0[j] += float32(a0 * bv)
				}
			}
			clamp(c0, c0, lo, hi)
		}
	}
}

// axpy4 adds a0·b, a1·b, a2·b and a3·b to c0..c3, rounding each product. It is a separate leaf
// function so that its loop gets registers of its own.
//
//go:noinline
func axpy4(b, c0, c1, c2, c3 []float32, a0, a1, a2, a3 float32) {
	n := len(b)
	c0, c1, c2, c3 = c0[:n], c1[:n], c2[:n], c3[:n]
	for j, bv := range b {
		c0[j] += float32(a0 * bv)
		c1[j] += float32(a1 * bv)
		c2[j] += float32(a2 * bv)
		c3[j] += float32(a3 * bv)
	}
}

// axpy4x4 is four steps of axpy4 (rows b0..b3) in one pass over c; r0..r3 hold the four
// coefficients of each row of c. Four steps rather than two cost ~2 % natively (the sixteen
// coefficients do not all fit in registers) and gain ~8 % in wasm, where each loop iteration
// carries more overhead; the bits are the same either way.
//
//go:noinline
func axpy4x4(b0, b1, b2, b3, c0, c1, c2, c3, r0, r1, r2, r3 []float32) {
	n := len(b0)
	b1, b2, b3, c0, c1, c2, c3 = b1[:n], b2[:n], b3[:n], c0[:n], c1[:n], c2[:n], c3[:n]
	r0, r1, r2, r3 = r0[:4], r1[:4], r2[:4], r3[:4]
	a00, a01, a02, a03 := r0[0], r0[1], r0[2], r0[3]
	a10, a11, a12, a13 := r1[0], r1[1], r1[2], r1[3]
	a20, a21, a22, a23 := r2[0], r2[1], r2[2], r2[3]
	a30, a31, a32, a33 := r3[0], r3[1], r3[2], r3[3]
	for j, x0 := range b0 {
		x1, x2, x3 := b1[j], b2[j], b3[j]
		c0[j] = c0[j] + float32(a00*x0) + float32(a01*x1) + float32(a02*x2) + float32(a03*x3)
		c1[j] = c1[j] + float32(a10*x0) + float32(a11*x1) + float32(a12*x2) + float32(a13*x3)
		c2[j] = c2[j] + float32(a20*x0) + float32(a21*x1) + float32(a22*x2) + float32(a23*x3)
		c3[j] = c3[j] + float32(a30*x0) + float32(a31*x1) + float32(a32*x2) + float32(a33*x3)
	}
}

// axpy4x4Set is axpy4x4 onto C rows that hold the biases v[0..3]: it writes C without reading
// it, giving the same bits as filling C with the biases first.
//
//go:noinline
func axpy4x4Set(b0, b1, b2, b3, c0, c1, c2, c3, r0, r1, r2, r3, v []float32) {
	n := len(b0)
	b1, b2, b3, c0, c1, c2, c3 = b1[:n], b2[:n], b3[:n], c0[:n], c1[:n], c2[:n], c3[:n]
	r0, r1, r2, r3, v = r0[:4], r1[:4], r2[:4], r3[:4], v[:4]
	a00, a01, a02, a03 := r0[0], r0[1], r0[2], r0[3]
	a10, a11, a12, a13 := r1[0], r1[1], r1[2], r1[3]
	a20, a21, a22, a23 := r2[0], r2[1], r2[2], r2[3]
	a30, a31, a32, a33 := r3[0], r3[1], r3[2], r3[3]
	v0, v1, v2, v3 := v[0], v[1], v[2], v[3]
	for j, x0 := range b0 {
		x1, x2, x3 := b1[j], b2[j], b3[j]
		c0[j] = v0 + float32(a00*x0) + float32(a01*x1) + float32(a02*x2) + float32(a03*x3)
		c1[j] = v1 + float32(a10*x0) + float32(a11*x1) + float32(a12*x2) + float32(a13*x3)
		c2[j] = v2 + float32(a20*x0) + float32(a21*x1) + float32(a22*x2) + float32(a23*x3)
		c3[j] = v3 + float32(a30*x0) + float32(a31*x1) + float32(a32*x2) + float32(a33*x3)
	}
}

// axpy4x2 is two steps of axpy4 (rows b0 then b1) in one pass over c: each element still gets
// its two products added one after the other, with half the loads and stores of c.
//
//go:noinline
func axpy4x2(b0, b1, c0, c1, c2, c3 []float32, a00, a01, a10, a11, a20, a21, a30, a31 float32) {
	n := len(b0)
	b1, c0, c1, c2, c3 = b1[:n], c0[:n], c1[:n], c2[:n], c3[:n]
	for j, x0 := range b0 {
		x1 := b1[j]
		c0[j] = c0[j] + float32(a00*x0) + float32(a01*x1)
		c1[j] = c1[j] + float32(a10*x0) + float32(a11*x1)
		c2[j] = c2[j] + float32(a20*x0) + float32(a21*x1)
		c3[j] = c3[j] + float32(a30*x0) + float32(a31*x1)
	}
}

// gemmTileN is the width of the column strip of B and C kept hot in cache by gemmGo.
const gemmTileN = 256

// gemmGo is the portable general GEMM (ONNX Gemm and MatMul): four rows of C at a time over a
// strip of columns, so each loaded row of B feeds four multiply-adds. Products are rounded
// before the addition (no fused multiply-add), so it gives the same bits on every architecture.
func gemmGo(m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	for n0 := 0; n0 < n; n0 += gemmTileN {
		n1 := n0 + gemmTileN
		if n1 > n {
			n1 = n
		}
		w := n1 - n0
		i := 0
		for ; i+4 <= m; i += 4 {
			c0 := c[i*ldc+n0 : i*ldc+n1]
			c1 := c[(i+1)*ldc+n0 : (i+1)*ldc+n1][:w]
			c2 := c[(i+2)*ldc+n0 : (i+2)*ldc+n1][:w]
			c3 := c[(i+3)*ldc+n0 : (i+3)*ldc+n1][:w]
			for p := 0; p < k; p++ {
				a0, a1, a2, a3 := a[i*lda+p], a[(i+1)*lda+p], a[(i+2)*lda+p], a[(i+3)*lda+p]
				bp := b[p*ldb+n0 : p*ldb+n1][:w]
				for j, bv := range bp {
					c0[j] += float32(a0 * bv)
					c1[j] += float32(a1 * bv)
					c2[j] += float32(a2 * bv)
					c3[j] += float32(a3 * bv)
				}
			}
		}
		for ; i < m; i++ {
			c0 := c[i*ldc+n0 : i*ldc+n1]
			for p := 0; p < k; p++ {
				a0 := a[i*lda+p]
				bp := b[p*ldb+n0 : p*ldb+n1][:w]
				for j, bv := range bp {
					c0[j] += float32(a0 * bv)
				}
			}
		}
	}
}

// A convolution's weights as a GEMM left operand, packed once at load: rows (output channels)
// in panels of mr, and inside a panel k-major (the mr weights of input channel 0, then of
// channel 1, ...), so the micro-kernel reads them sequentially. Rows past m are zero.
type packedA struct {
	m, k, mr int
	data     []float32
}

func packA(m, k, mr int, a []float32, lda int) *packedA {
	panels := (m + mr - 1) / mr
	p := &packedA{m: m, k: k, mr: mr, data: make([]float32, panels*mr*k)}
	for i := 0; i < m; i++ {
		base := (i/mr)*mr*k + i%mr
		row := a[i*lda : i*lda+k]
		for kk, v := range row {
			p.data[base+kk*mr] = v
		}
	}
	return p
}

// gemmKernel is a register-blocked (assembly) micro-kernel. micro computes one mr×nr tile,
// C = clamp(bias + A·B, lo, hi), from a packed A panel (k×mr), nr columns of k rows of B, ldb
// floats apart (a packed strip or B itself), and mr biases, writing rows of nr floats ldc apart
// (c[0], c[ldc], ...), for np panels of A in a row (A contiguous, the rows of C and the biases
// following on). It starts from the bias and adds the k products in increasing k order
// with fused multiply-adds. Plain Go does better with gemmBiasActGo: without SIMD, a register
// tile of sixteen scalars spills.
type gemmKernel struct {
	mr, nr int
	micro  func(k int, a, b []float32, ldb int, bias []float32, lo, hi float32, c []float32, ldc, np int)
	// half, if set, is an mr×(nr/2) micro-kernel used for narrow column tails.
	half func(k int, a, b []float32, ldb int, bias []float32, lo, hi float32, c []float32, ldc, np int)
}

// gemmScratch holds the buffers of gemmPacked, reused between runs (a Model is single-threaded).
type gemmScratch struct {
	b    []float32 // packed B strip: k×nr
	bias []float32 // bias padded to whole panels
	tile []float32 // a partial tile of C
}

func grow(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n)
	}
	return s[:n]
}

// gemmPacked computes, with gk, C = clamp(bias + A·B, lo, hi) for packed A (m×k), row-major B (k×n, row
// stride ldb) and C (m×n, ldc); a nil bias is zero. Pass lo = -Inf and hi = +Inf for no
// activation. NaN passes through the clamp.
func gemmPacked(gk *gemmKernel, pa *packedA, n int, b []float32, ldb int, c []float32, ldc int,
	bias []float32, lo, hi float32, s *gemmScratch) {
	m, k, mr, nr := pa.m, pa.k, pa.mr, gk.nr
	if m == 0 || n == 0 {
		return
	}
	panels := (m + mr - 1) / mr
	s.bias = grow(s.bias, panels*mr)
	clear(s.bias)
	if bias != nil {
		copy(s.bias, bias[:m])
	}
	s.b = grow(s.b, k*nr)
	s.tile = grow(s.tile, mr*nr)
	if k == 0 {
		for i := 0; i < m; i++ {
			row := c[i*ldc : i*ldc+n]
			for j := range row {
				row[j] = s.bias[i]
			}
			clamp(row, row, lo, hi)
		}
		return
	}
	// The last strip, if partial, is packed once with zeros past column n; whole strips are read
	// from B in place.
	strips := (n + nr - 1) / nr
	tailW := n - (strips-1)*nr
	tailBW := nr
	if tailW <= nr/2 && gk.half != nil {
		tailBW = nr / 2
	}
	if tailW != nr {
		j0 := (strips - 1) * nr
		bp := s.b[:k*tailBW]
		for kk := 0; kk < k; kk++ {
			dst := bp[kk*tailBW : kk*tailBW+tailBW]
			copy(dst, b[kk*ldb+j0:kk*ldb+j0+tailW])
			clear(dst[tailW:])
		}
	}
	fullPanels := m / mr
	// tiles computes panels [p0, p1) of strip js: whole panels in one call, a partial panel or
	// strip through s.tile.
	tiles := func(p0, p1, js int) {
		j0 := js * nr
		micro, bs, ldbs, w, bw := gk.micro, b[j0:], ldb, nr, nr
		if js == strips-1 && tailW != nr {
			bs, ldbs, w, bw = s.b, tailBW, tailW, tailBW
			if bw != nr {
				micro = gk.half
			}
		}
		if w == bw && p1 > fullPanels {
			if p0 < fullPanels {
				micro(k, pa.data[p0*mr*k:], bs, ldbs, s.bias[p0*mr:], lo, hi, c[p0*mr*ldc+j0:], ldc, fullPanels-p0)
			}
			p0 = max(p0, fullPanels)
		} else if w == bw {
			micro(k, pa.data[p0*mr*k:], bs, ldbs, s.bias[p0*mr:], lo, hi, c[p0*mr*ldc+j0:], ldc, p1-p0)
			return
		}
		for p := p0; p < p1; p++ {
			i0 := p * mr
			rows := min(mr, m-i0)
			t := s.tile[:mr*bw]
			micro(k, pa.data[p*mr*k:], bs, ldbs, s.bias[i0:], lo, hi, t, bw, 1)
			for r := 0; r < rows; r++ {
				copy(c[(i0+r)*ldc+j0:(i0+r)*ldc+j0+w], t[r*bw:r*bw+w])
			}
		}
	}
	// When B is small (the 7×7 and 14×14 layers) it stays in L2 while each panel of A, read once,
	// sweeps all strips; otherwise a strip of B stays in L1 while the panels of A sweep it.
	if k*n <= gemmSmallB {
		for p := 0; p < panels; p++ {
			for js := 0; js < strips; js++ {
				tiles(p, p+1, js)
			}
		}
		return
	}
	for js := 0; js < strips; js++ {
		tiles(0, panels, js)
	}
}

// gemmSmallB is the size (floats) up to which gemmPacked keeps all of B in cache, A outer.
const gemmSmallB = 64 << 10
