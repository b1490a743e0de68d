// Package sgemm multiplies float32 matrices for the convolutions of a network whose weights
// are fixed: the left matrix is packed once (Pack) and reused, the right one is packed per
// call into a reusable Workspace. The default is pure Go, the same code natively and in the
// browser; with the build tag openblas (and cgo) native builds call OpenBLAS's cblas_sgemm
// instead.
//
// The pure-Go build has several micro-kernels (kernels.go): a scalar one, always there and
// the fallback, and, when built with GOEXPERIMENT=simd (Go 1.27), SIMD ones from
// simd/archsimd: WebAssembly's 128-bit SIMD in the browser, AVX2+FMA and AVX-512 on amd64,
// chosen once at start from the CPU's features (never assumed) and switchable with Use or
// the PNEUMOSCAN_SGEMM environment variable.
//
// The pure-Go layout is the classic one of GotoBLAS/BLIS: the right matrix is cut into
// blocks of kc rows by nc columns that stay in cache, packed into panels of nr columns; the
// left matrix is stored in panels of mr rows; a micro-kernel keeps an mr x nr tile of C in
// local variables (or vector registers) while it walks k, reading both panels contiguously.
package sgemm

import "fmt"

// check panics on a product whose matrices do not fit their sizes: a programming error.
func check(m, k, n int, c []float32, ldc int, b []float32, ldb int, bias []float32) {
	if n <= 0 || ldb < n || ldc < n || len(b) < (k-1)*ldb+n || len(c) < (m-1)*ldc+n || (bias != nil && len(bias) < m) {
		panic(fmt.Sprintf("sgemm: Mul %dx%dx%d: len(b) %d ldb %d, len(c) %d ldc %d, len(bias) %d do not fit",
			m, k, n, len(b), ldb, len(c), ldc, len(bias)))
	}
}

func checkPack(m, k int, a []float32, lda int) {
	if m <= 0 || k <= 0 || lda < k || len(a) < (m-1)*lda+k {
		panic(fmt.Sprintf("sgemm: Pack(%d, %d, len %d, lda %d): matrix does not fit", m, k, len(a), lda))
	}
}

func checkResidual(m, n, ldc int, res []float32) {
	if res != nil && len(res) < (m-1)*ldc+n {
		panic(fmt.Sprintf("sgemm: residual of %d values does not fit %dx%d (ldc %d)", len(res), m, n, ldc))
	}
}
