package sgemm

// Micro-tile shape. Go's wasm port has 16 float registers and amd64 15 usable XMM registers,
// so the mr*nr accumulators plus the mr values of A and one of B must stay near that.
const (
	mr = 4
	nr = 4
)

// kernel computes the mr x nr tile sum_q a[q*mr+r] * b[q*nr+j] into t. Re-slicing a and b by
// whole groups after a length check lets the compiler drop every bounds check in the loop.
func kernel(a, b []float32, t *[mr * nr]float32) {
	var c00, c01, c02, c03 float32
	var c10, c11, c12, c13 float32
	var c20, c21, c22, c23 float32
	var c30, c31, c32, c33 float32
	for len(a) >= mr && len(b) >= nr {
		a0, a1, a2, a3 := a[0], a[1], a[2], a[3]
		b0 := b[0]
		c00 += a0 * b0
		c10 += a1 * b0
		c20 += a2 * b0
		c30 += a3 * b0
		b1 := b[1]
		c01 += a0 * b1
		c11 += a1 * b1
		c21 += a2 * b1
		c31 += a3 * b1
		b2 := b[2]
		c02 += a0 * b2
		c12 += a1 * b2
		c22 += a2 * b2
		c32 += a3 * b2
		b3 := b[3]
		c03 += a0 * b3
		c13 += a1 * b3
		c23 += a2 * b3
		c33 += a3 * b3
		a, b = a[mr:], b[nr:]
	}
	t[0], t[1], t[2], t[3] = c00, c01, c02, c03
	t[4], t[5], t[6], t[7] = c10, c11, c12, c13
	t[8], t[9], t[10], t[11] = c20, c21, c22, c23
	t[12], t[13], t[14], t[15] = c30, c31, c32, c33
}
