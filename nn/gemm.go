package nn

// gemm computes C += A·B for row-major A (m×k, row stride lda), B (k×n, ldb), C (m×n, ldc).
// Every element of C accumulates its k products in increasing k order.
func gemm(m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	if m == 0 || n == 0 || k == 0 {
		return
	}
	gemmImpl(m, n, k, a, lda, b, ldb, c, ldc)
}

// gemmTileN is the width of the column strip of B and C kept hot in cache by gemmGo.
const gemmTileN = 256

// gemmGo is the portable GEMM: four rows of C at a time over a strip of columns, so each loaded
// row of B feeds four multiply-adds. Products are rounded before the addition (no fused
// multiply-add), so it gives the same bits on every architecture.
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
