package convnet

import "pneumoscan/sgemm"

// winograd is a 3x3 stride-1 convolution computed as Winograd F(2x2,3x3) (Lavin & Gray,
// "Fast Algorithms for Convolutional Neural Networks", 2015): each 2x2 block of outputs
// comes from a 4x4 input tile in 16 multiplications per (input, output) channel pair
// instead of 36. The input tiles are transformed (B^T d B), then for each of the 16 tile
// positions one GEMM [out, in] x [in, tiles] runs on weights transformed once at load
// (G g G^T), and the 16 products are transformed back (A^T m A).
type winograd struct {
	x, y   *value
	win    window
	u      [16]*sgemm.Packed // transformed weights, one [out, in] matrix per tile position
	bias   []float32
	relu   bool
	th, tw int // tiles down and across
}

// canWinograd is the convolution shape winograd handles.
func canWinograd(w *window) bool {
	return w.kh == 3 && w.kw == 3 && w.sh == 1 && w.sw == 1 && w.dh == 1 && w.dw == 1
}

func newWinograd(x, y *value, win window, weights, bias []float32, out int) *winograd {
	c := win.c
	var u [16][]float32
	for i := range u {
		u[i] = make([]float32, out*c)
	}
	for o := 0; o < out; o++ {
		for ch := 0; ch < c; ch++ {
			g := weights[(o*c+ch)*9 : (o*c+ch)*9+9]
			// t = G g (4x3), then t G^T (4x4); G = [1 0 0; .5 .5 .5; .5 -.5 .5; 0 0 1].
			var t [4][3]float32
			for j := 0; j < 3; j++ {
				g0, g1, g2 := g[j], g[3+j], g[6+j]
				t[0][j], t[1][j], t[2][j], t[3][j] = g0, (g0+g1+g2)/2, (g0-g1+g2)/2, g2
			}
			for r := 0; r < 4; r++ {
				t0, t1, t2 := t[r][0], t[r][1], t[r][2]
				v := [4]float32{t0, (t0 + t1 + t2) / 2, (t0 - t1 + t2) / 2, t2}
				for q := 0; q < 4; q++ {
					u[r*4+q][o*c+ch] = v[q]
				}
			}
		}
	}
	w := &winograd{x: x, y: y, win: win, bias: bias, th: (win.oh + 1) / 2, tw: (win.ow + 1) / 2}
	for i := range u {
		w.u[i] = sgemm.Pack(out, c, u[i], c)
	}
	return w
}

func (w *winograd) inputs() []*value { return []*value{w.x} }
func (w *winograd) output() *value   { return w.y }

// scratch is the float count of the transformed input (16 x in x tiles) and of the products
// (16 x out x tiles).
func (w *winograd) scratch() (in, out int) {
	t := w.th * w.tw
	return 16 * w.win.c * t, 16 * w.u[0].Rows() * t
}

func (w *winograd) run(n *Net) {
	x, y := w.x.data(n), w.y.data(n)
	win := &w.win
	tiles := w.th * w.tw
	c, out := win.c, w.u[0].Rows()
	vin, vout := w.scratch()
	v, m := n.col[:vin], n.wino[:vout]

	// Input transform: V[i][ch][t] = (B^T d B)[i] for the 4x4 tile d at (2ty-pt, 2tx-pl),
	// B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1].
	for ch := 0; ch < c; ch++ {
		plane := x[ch*win.h*win.w : (ch+1)*win.h*win.w]
		for ty := 0; ty < w.th; ty++ {
			for tx := 0; tx < w.tw; tx++ {
				var d [4][4]float32
				y0, x0 := 2*ty-win.pt, 2*tx-win.pl
				for r := 0; r < 4; r++ {
					iy := y0 + r
					if iy < 0 || iy >= win.h {
						continue
					}
					row := plane[iy*win.w : (iy+1)*win.w]
					for q := 0; q < 4; q++ {
						if ix := x0 + q; ix >= 0 && ix < win.w {
							d[r][q] = row[ix]
						}
					}
				}
				var b [4][4]float32
				for q := 0; q < 4; q++ {
					b[0][q] = d[0][q] - d[2][q]
					b[1][q] = d[1][q] + d[2][q]
					b[2][q] = d[2][q] - d[1][q]
					b[3][q] = d[1][q] - d[3][q]
				}
				t := ty*w.tw + tx
				for r := 0; r < 4; r++ {
					e := [4]float32{b[r][0] - b[r][2], b[r][1] + b[r][2], b[r][2] - b[r][1], b[r][1] - b[r][3]}
					for q := 0; q < 4; q++ {
						v[((r*4+q)*c+ch)*tiles+t] = e[q]
					}
				}
			}
		}
	}
	for i := 0; i < 16; i++ {
		w.u[i].Mul(m[i*out*tiles:(i+1)*out*tiles], tiles, v[i*c*tiles:(i+1)*c*tiles], tiles, tiles, nil, false, &n.ws)
	}
	// Output transform: Y = A^T M A, A^T = [1 1 1 0; 0 1 -1 -1], then bias and ReLU.
	for o := 0; o < out; o++ {
		dst := y[o*win.oh*win.ow : (o+1)*win.oh*win.ow]
		var bias float32
		if w.bias != nil {
			bias = w.bias[o]
		}
		for t := 0; t < tiles; t++ {
			var mm [16]float32
			for i := range mm {
				mm[i] = m[(i*out+o)*tiles+t]
			}
			var a [2][4]float32
			for q := 0; q < 4; q++ {
				a[0][q] = mm[q] + mm[4+q] + mm[8+q]
				a[1][q] = mm[4+q] - mm[8+q] - mm[12+q]
			}
			oy, ox := 2*(t/w.tw), 2*(t%w.tw)
			for r := 0; r < 2 && oy+r < win.oh; r++ {
				res := [2]float32{a[r][0] + a[r][1] + a[r][2], a[r][1] - a[r][2] - a[r][3]}
				for q := 0; q < 2 && ox+q < win.ow; q++ {
					val := res[q] + bias
					if w.relu && val < 0 {
						val = 0
					}
					dst[(oy+r)*win.ow+ox+q] = val
				}
			}
		}
	}
}
