package convnet

import (
	"math"

	"pneumoscan/sgemm"
)

// conv is a convolution with bias and optionally a fused ReLU, as the product
// W[out, c*kh*kw] x X[c*kh*kw, oh*ow] on NCHW planes: a 1x1 stride-1 unpadded convolution
// reads its input as X directly, the others go through im2col.
type conv struct {
	x, y   *value
	win    window
	w      *sgemm.Packed
	bias   []float32
	res    *value // a fused Add's other input (the residual shortcut), or nil
	relu   bool
	direct bool
}

func (c *conv) inputs() []*value {
	if c.res != nil {
		return []*value{c.x, c.res}
	}
	return []*value{c.x}
}
func (c *conv) output() *value { return c.y }

func (c *conv) run(n *Net) {
	x, y := c.x.data(n), c.y.data(n)
	cols := c.win.oh * c.win.ow
	if !c.direct {
		k := c.win.c * c.win.kh * c.win.kw
		x = n.col[:k*cols]
		im2col(x, c.x.data(n), &c.win)
	}
	var res []float32
	if c.res != nil {
		res = c.res.data(n)
	}
	c.w.MulResidual(y, cols, x, cols, cols, c.bias, res, c.relu, &n.ws)
}

// im2col lays out, for each (channel, ky, kx), the input values under that kernel tap for
// every output position, zeros where the tap falls in the padding.
func im2col(dst, src []float32, w *window) {
	cols := w.oh * w.ow
	r := 0
	for ch := 0; ch < w.c; ch++ {
		plane := src[ch*w.h*w.w : (ch+1)*w.h*w.w]
		for ky := 0; ky < w.kh; ky++ {
			for kx := 0; kx < w.kw; kx++ {
				row := dst[r*cols : (r+1)*cols]
				r++
				// Output columns ox in [lo, hi) read inside the input row.
				off := kx*w.dw - w.pl
				lo := max(0, (-off+w.sw-1)/w.sw)
				hi := min(w.ow, (w.w-off+w.sw-1)/w.sw)
				hi = max(hi, lo)
				for oy := 0; oy < w.oh; oy++ {
					out := row[oy*w.ow : (oy+1)*w.ow]
					iy := oy*w.sh - w.pt + ky*w.dh
					if iy < 0 || iy >= w.h {
						clear(out)
						continue
					}
					in := plane[iy*w.w : (iy+1)*w.w]
					clear(out[:lo])
					clear(out[hi:])
					if w.sw == 1 {
						copy(out[lo:hi], in[lo+off:hi+off])
						continue
					}
					for ox := lo; ox < hi; ox++ {
						out[ox] = in[ox*w.sw+off]
					}
				}
			}
		}
	}
}

// maxPool takes the maximum over each window; padding never wins.
type maxPool struct {
	x, y *value
	win  window
}

func (p *maxPool) inputs() []*value { return []*value{p.x} }
func (p *maxPool) output() *value   { return p.y }

func (p *maxPool) run(n *Net) {
	x, y := p.x.data(n), p.y.data(n)
	w := &p.win
	for ch := 0; ch < w.c; ch++ {
		plane := x[ch*w.h*w.w : (ch+1)*w.h*w.w]
		out := y[ch*w.oh*w.ow : (ch+1)*w.oh*w.ow]
		for oy := 0; oy < w.oh; oy++ {
			for ox := 0; ox < w.ow; ox++ {
				m := float32(math.Inf(-1))
				for ky := 0; ky < w.kh; ky++ {
					iy := oy*w.sh - w.pt + ky*w.dh
					if iy < 0 || iy >= w.h {
						continue
					}
					for kx := 0; kx < w.kw; kx++ {
						ix := ox*w.sw - w.pl + kx*w.dw
						if ix >= 0 && ix < w.w && plane[iy*w.w+ix] > m {
							m = plane[iy*w.w+ix]
						}
					}
				}
				out[oy*w.ow+ox] = m
			}
		}
	}
}

// add is y = x + z for two values of one shape, or y = x + c with a constant c repeated
// over x's leading axes; ReLU fused when relu is set.
type add struct {
	x, z *value
	c    []float32
	y    *value
	relu bool
}

func (a *add) inputs() []*value {
	if a.z != nil {
		return []*value{a.x, a.z}
	}
	return []*value{a.x}
}
func (a *add) output() *value { return a.y }

func (a *add) run(n *Net) {
	x, y := a.x.data(n), a.y.data(n)
	if a.z != nil {
		z := a.z.data(n)[:len(x)]
		y = y[:len(x)]
		for i, v := range x {
			v += z[i]
			if a.relu && v < 0 {
				v = 0
			}
			y[i] = v
		}
		return
	}
	for i, v := range x {
		v += a.c[i%len(a.c)]
		if a.relu && v < 0 {
			v = 0
		}
		y[i] = v
	}
}

type unary struct {
	x, y *value
	f    func(dst, src []float32)
}

func (u *unary) inputs() []*value { return []*value{u.x} }
func (u *unary) output() *value   { return u.y }
func (u *unary) run(n *Net)       { u.f(u.y.data(n), u.x.data(n)) }

func reluFunc(dst, src []float32) {
	dst = dst[:len(src)]
	for i, v := range src {
		dst[i] = max(v, 0)
	}
}

func sigmoidFunc(dst, src []float32) {
	dst = dst[:len(src)]
	for i, v := range src {
		dst[i] = float32(1 / (1 + math.Exp(-float64(v))))
	}
}

type globalAveragePool struct{ x, y *value }

func (g *globalAveragePool) inputs() []*value { return []*value{g.x} }
func (g *globalAveragePool) output() *value   { return g.y }

func (g *globalAveragePool) run(n *Net) {
	x, y := g.x.data(n), g.y.data(n)
	hw := len(x) / len(y)
	for ch := range y {
		var s float32
		for _, v := range x[ch*hw : (ch+1)*hw] {
			s += v
		}
		y[ch] = s / float32(hw)
	}
}

// matmul is x [M,K] times a constant w [K,N]: the head's small products.
type matmul struct {
	x, y *value
	w    []float32
	k, n int
}

func (m *matmul) inputs() []*value { return []*value{m.x} }
func (m *matmul) output() *value   { return m.y }

func (m *matmul) run(net *Net) {
	x, y := m.x.data(net), m.y.data(net)
	rows := len(x) / m.k
	for r := 0; r < rows; r++ {
		out := y[r*m.n : (r+1)*m.n]
		clear(out)
		for q, v := range x[r*m.k : (r+1)*m.k] {
			w := m.w[q*m.n : (q+1)*m.n]
			for j := range out {
				out[j] += v * w[j]
			}
		}
	}
}
