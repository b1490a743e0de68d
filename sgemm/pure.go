//go:build !openblas || !cgo

package sgemm

// Block sizes, measured (docs/performance.md): kc*(mr+nr) floats of panels (14 KiB) stay in
// L1, a kc x nc block of B (1 MiB) mostly in L2.
const (
	kc = 512
	nc = 512
)

// Packed is an m x k row-major matrix stored as panels of mr rows (mr: its micro-kernel's):
// panel i holds rows i*mr..i*mr+mr-1 column by column (k groups of mr values), rows past m
// are zero.
type Packed struct {
	m, k int
	data []float32
	kern *microKernel
}

// Pack copies the m x k row-major matrix a (row stride lda) into panels for the active
// micro-kernel (see Use).
func Pack(m, k int, a []float32, lda int) *Packed {
	checkPack(m, k, a, lda)
	kern := active
	mr := kern.mr
	panels := (m + mr - 1) / mr
	p := &Packed{m: m, k: k, data: make([]float32, panels*mr*k), kern: kern}
	for i := 0; i < panels; i++ {
		dst := p.data[i*mr*k : (i+1)*mr*k]
		for r := 0; r < mr && i*mr+r < m; r++ {
			row := a[(i*mr+r)*lda : (i*mr+r)*lda+k]
			for q, v := range row {
				dst[q*mr+r] = v
			}
		}
	}
	return p
}

// Rows and Cols are the packed matrix's m and k.
func (p *Packed) Rows() int { return p.m }
func (p *Packed) Cols() int { return p.k }

// Workspace holds the packed block of B between calls, so that repeated products allocate
// nothing. The zero value is ready to use; a Workspace is not safe for concurrent use.
type Workspace struct {
	b []float32
	t tile // the kernels' result; here, not on Mul's stack, which an indirect call would move to the heap
}

// Mul sets C = A·B + bias, then C = max(C, 0) when relu is set: A is p (m x k), B is k x n
// row-major with row stride ldb, C is m x n row-major with row stride ldc, bias has m values
// (one per row of C) or is nil.
func (p *Packed) Mul(c []float32, ldc int, b []float32, ldb, n int, bias []float32, relu bool, w *Workspace) {
	p.MulResidual(c, ldc, b, ldb, n, bias, nil, relu, w)
}

// MulResidual is Mul with a residual: C = A·B + bias + R, then the ReLU, where R (res) is laid
// out like C (m x n, row stride ldc) and may be nil. It is a residual network's "conv, add the
// shortcut, ReLU" in one pass over C instead of three.
func (p *Packed) MulResidual(c []float32, ldc int, b []float32, ldb, n int, bias, res []float32, relu bool, w *Workspace) {
	m, k := p.m, p.k
	check(m, k, n, c, ldc, b, ldb, bias)
	checkResidual(m, n, ldc, res)
	kern := p.kern
	mr, nr := kern.mr, kern.nr
	ncols := (nc + nr - 1) / nr * nr // a block's columns, its last panel padded
	if cap(w.b) < kc*ncols {
		w.b = make([]float32, kc*ncols)
	}
	t := &w.t
	for j0 := 0; j0 < n; j0 += nc {
		nb := min(nc, n-j0)
		for p0 := 0; p0 < k; p0 += kc {
			kb := min(kc, k-p0)
			packB(w.b, b[p0*ldb+j0:], ldb, kb, nb, nr)
			first, last := p0 == 0, p0+kb == k
			for i0 := 0; i0 < m; i0 += mr {
				ap := p.data[i0*k+p0*mr : i0*k+(p0+kb)*mr]
				rows := min(mr, m-i0)
				for jj := 0; jj < nb; jj += nr {
					bp := w.b[jj*kb : jj*kb+nr*kb]
					kern.run(ap, bp, t)
					var r []float32
					if last && res != nil {
						r = res[i0*ldc+j0+jj:]
					}
					store(c[i0*ldc+j0+jj:], ldc, t, mr, rows, min(nr, nb-jj), bias, r, i0, first, last, relu)
				}
			}
		}
	}
}

// packB copies a kb x nb block of B into panels of nr columns, each kb groups of nr values,
// zero-padding the last panel.
func packB(dst, b []float32, ldb, kb, nb, nr int) {
	for jj := 0; jj < nb; jj += nr {
		panel := dst[jj*kb : jj*kb+nr*kb]
		cols := min(nr, nb-jj)
		if cols == nr {
			for q := 0; q < kb; q++ {
				copy(panel[q*nr:q*nr+nr], b[q*ldb+jj:q*ldb+jj+nr])
			}
			continue
		}
		for q := 0; q < kb; q++ {
			d := panel[q*nr : q*nr+nr]
			copy(d, b[q*ldb+jj:q*ldb+jj+cols])
			clear(d[cols:])
		}
	}
}

// store writes a tile (column-major, mr rows) into C: the first k block starts from the
// bias, later ones add to C, and the last adds the residual res (laid out like C, or nil)
// and applies the ReLU. It runs once per element of C
// and k block, so with a SIMD kernel it costs as much as a sixth of the product: the cases
// are split outside the loops, which then do one thing each.
func store(c []float32, ldc int, t *tile, mr, rows, cols int, bias, res []float32, i0 int, first, last, relu bool) {
	for r := 0; r < rows; r++ {
		row := c[r*ldc : r*ldc+cols]
		switch {
		case first && bias != nil:
			b0 := bias[i0+r]
			for j := range row {
				row[j] = t[j*mr+r] + b0
			}
		case first:
			for j := range row {
				row[j] = t[j*mr+r]
			}
		default:
			for j := range row {
				row[j] += t[j*mr+r]
			}
		}
		if res != nil {
			for j, v := range res[r*ldc : r*ldc+cols] {
				row[j] += v
			}
		}
		if last && relu {
			for j, v := range row {
				row[j] = max(v, 0)
			}
		}
	}
}

// Size is the number of float32 values the packed matrix holds, padding included.
func (p *Packed) Size() int { return len(p.data) }

// Size is the number of float32 values the workspace holds.
func (w *Workspace) Size() int { return cap(w.b) }

// SingleThreaded is a no-op in the pure-Go build, which never starts threads of its own.
func SingleThreaded() (restore func()) { return func() {} }
