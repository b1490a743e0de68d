//go:build !openblas || !cgo

package sgemm

// The scalar micro-kernel is the fallback everywhere (and what CI checks the SIMD kernels
// against). Its tile shape was chosen by measurement (docs/performance.md): Go's wasm port
// has 16 float registers and amd64 15 usable XMM registers, and 3x4 accumulators + 3 values
// of A + 1 of B fill exactly 16, so nothing spills; 4x4 spills and ran 10-40% slower in wasm.
var scalar = &microKernel{name: "scalar", mr: 3, nr: 4, run: kernelScalar, rank: 0}

// unroll is how many k steps one trip of the kernel's main loop takes: the loop's own cost
// (re-slicing, compare, branch) is a large share of a 12-multiply step without it.
const unroll = 8

// kernelScalar computes the 3x4 tile sum_q a[q*3+r] * b[q*4+j] into t (column-major: t[j*3+r],
// the layout every kernel writes, see microKernel). After the
// length check the compiler proves every index in range, so the loop has no bounds checks
// (go build -gcflags=-d=ssa/check_bce reports none here). The body is unrolled mechanically.
func kernelScalar(a, b []float32, t *tile) {
	var c00, c01, c02, c03 float32
	var c10, c11, c12, c13 float32
	var c20, c21, c22, c23 float32
	for len(a) >= 24 && len(b) >= 32 {
		a0, a1, a2 := a[0], a[1], a[2]
		bj := b[0]
		c00 += a0 * bj
		c10 += a1 * bj
		c20 += a2 * bj
		bj = b[1]
		c01 += a0 * bj
		c11 += a1 * bj
		c21 += a2 * bj
		bj = b[2]
		c02 += a0 * bj
		c12 += a1 * bj
		c22 += a2 * bj
		bj = b[3]
		c03 += a0 * bj
		c13 += a1 * bj
		c23 += a2 * bj
		a0, a1, a2 = a[3], a[4], a[5]
		bj = b[4]
		c00 += a0 * bj
		c10 += a1 * bj
		c20 += a2 * bj
		bj = b[5]
		c01 += a0 * bj
		c11 += a1 * bj
		c21 += a2 * bj
		bj = b[6]
		c02 += a0 * bj
		c12 += a1 * bj
		c22 += a2 * bj
		bj = b[7]
		c03 += a0 * bj
		c13 += a1 * bj
		c23 += a2 * bj
		a0, a1, a2 = a[6], a[7], a[8]
		bj = b[8]
		c00 += a0 * bj
		c10 += a1 * bj
		c20 += a2 * bj
		bj = b[9]
		c01 += a0 * bj
		c11 += a1 * bj
		c21 += a2 * bj
		bj = b[10]
		c02 += a0 * bj
		c12 += a1 * bj
		c22 += a2 * bj
		bj = b[11]
		c03 += a0 * bj
		c13 += a1 * bj
		c23 += a2 * bj
		a0, a1, a2 = a[9], a[10], a[11]
		bj = b[12]
		c00 += a0 * bj
		c10 += a1 * bj
		c20 += a2 * bj
		bj = b[13]
		c01 += a0 * bj
		c11 += a1 * bj
		c21 += a2 * bj
		bj = b[14]
		c02 += a0 * bj
		c12 += a1 * bj
		c22 += a2 * bj
		bj = b[15]
		c03 += a0 * bj
		c13 += a1 * bj
		c23 += a2 * bj
		a0, a1, a2 = a[12], a[13], a[14]
		bj = b[16]
		c00 += a0 * bj
		c10 += a1 * bj
		c20 += a2 * bj
		bj = b[17]
		c01 += a0 * bj
		c11 += a1 * bj
		c21 += a2 * bj
		bj = b[18]
		c02 += a0 * bj
		c12 += a1 * bj
		c22 += a2 * bj
		bj = b[19]
		c03 += a0 * bj
		c13 += a1 * bj
		c23 += a2 * bj
		a0, a1, a2 = a[15], a[16], a[17]
		bj = b[20]
		c00 += a0 * bj
		c10 += a1 * bj
		c20 += a2 * bj
		bj = b[21]
		c01 += a0 * bj
		c11 += a1 * bj
		c21 += a2 * bj
		bj = b[22]
		c02 += a0 * bj
		c12 += a1 * bj
		c22 += a2 * bj
		bj = b[23]
		c03 += a0 * bj
		c13 += a1 * bj
		c23 += a2 * bj
		a0, a1, a2 = a[18], a[19], a[20]
		bj = b[24]
		c00 += a0 * bj
		c10 += a1 * bj
		c20 += a2 * bj
		bj = b[25]
		c01 += a0 * bj
		c11 += a1 * bj
		c21 += a2 * bj
		bj = b[26]
		c02 += a0 * bj
		c12 += a1 * bj
		c22 += a2 * bj
		bj = b[27]
		c03 += a0 * bj
		c13 += a1 * bj
		c23 += a2 * bj
		a0, a1, a2 = a[21], a[22], a[23]
		bj = b[28]
		c00 += a0 * bj
		c10 += a1 * bj
		c20 += a2 * bj
		bj = b[29]
		c01 += a0 * bj
		c11 += a1 * bj
		c21 += a2 * bj
		bj = b[30]
		c02 += a0 * bj
		c12 += a1 * bj
		c22 += a2 * bj
		bj = b[31]
		c03 += a0 * bj
		c13 += a1 * bj
		c23 += a2 * bj
		a, b = a[24:], b[32:]
	}
	for len(a) >= 3 && len(b) >= 4 {
		a0, a1, a2 := a[0], a[1], a[2]
		bj := b[0]
		c00 += a0 * bj
		c10 += a1 * bj
		c20 += a2 * bj
		bj = b[1]
		c01 += a0 * bj
		c11 += a1 * bj
		c21 += a2 * bj
		bj = b[2]
		c02 += a0 * bj
		c12 += a1 * bj
		c22 += a2 * bj
		bj = b[3]
		c03 += a0 * bj
		c13 += a1 * bj
		c23 += a2 * bj
		a, b = a[3:], b[4:]
	}
	t[0], t[1], t[2] = c00, c10, c20
	t[3], t[4], t[5] = c01, c11, c21
	t[6], t[7], t[8] = c02, c12, c22
	t[9], t[10], t[11] = c03, c13, c23
}
