package gate

import (
	"errors"
	"fmt"
	"math"
	"sort"

	"gonum.org/v1/gonum/mat"

	"pneumoscan/model"
)

// Softmax fits a multinomial logistic regression of labels (0..classes-1) on the rows of x
// (n x d, row-major), classes weighted to equal total weight, with an L2 penalty on the
// weights of standardised features, by full-batch Adam. It returns the weights [d,classes]
// and biases folded back onto the raw features, so a reader applies f·W + b and nothing else.
func Softmax(x []float32, d int, labels []int, classes int, l2 float64, iters int) (w, b []float32, err error) {
	n := len(labels)
	if n == 0 || len(x) != n*d {
		return nil, nil, fmt.Errorf("gate: %d rows of %d values for %d labels", len(x)/max(d, 1), d, n)
	}
	count := make([]int, classes)
	for _, l := range labels {
		if l < 0 || l >= classes {
			return nil, nil, fmt.Errorf("gate: label %d outside 0..%d", l, classes-1)
		}
		count[l]++
	}
	for c, k := range count {
		if k == 0 {
			return nil, nil, fmt.Errorf("gate: no example of class %d", c)
		}
	}
	// Standardise: mean and std per feature (std floored, some pooled features are all 0).
	mu, sd := make([]float64, d), make([]float64, d)
	for i := range n {
		for j := range d {
			mu[j] += float64(x[i*d+j])
		}
	}
	for j := range d {
		mu[j] /= float64(n)
	}
	for i := range n {
		for j := range d {
			v := float64(x[i*d+j]) - mu[j]
			sd[j] += v * v
		}
	}
	for j := range d {
		sd[j] = math.Max(math.Sqrt(sd[j]/float64(n)), 1e-3)
	}
	z := mat.NewDense(n, d, nil)
	for i := range n {
		for j := range d {
			z.Set(i, j, (float64(x[i*d+j])-mu[j])/sd[j])
		}
	}
	weight := make([]float64, n) // per row: total weight of each class is n/classes
	for i, l := range labels {
		weight[i] = float64(n) / float64(classes*count[l]) / float64(n)
	}
	W := mat.NewDense(d, classes, nil)
	bias := make([]float64, classes)
	mW, vW := mat.NewDense(d, classes, nil), mat.NewDense(d, classes, nil)
	mb, vb := make([]float64, classes), make([]float64, classes)
	logits := mat.NewDense(n, classes, nil)
	grad := mat.NewDense(n, classes, nil)
	gW := mat.NewDense(d, classes, nil)
	const lr, b1, b2, eps = 0.01, 0.9, 0.999, 1e-8
	for it := 1; it <= iters; it++ {
		logits.Mul(z, W)
		gb := make([]float64, classes)
		for i := range n {
			row := make([]float64, classes)
			for c := range classes {
				row[c] = logits.At(i, c) + bias[c]
			}
			p := model.Softmax(row)
			for c := range classes {
				g := p[c]
				if c == labels[i] {
					g--
				}
				g *= weight[i]
				grad.Set(i, c, g)
				gb[c] += g
			}
		}
		gW.Mul(z.T(), grad)
		gW.Apply(func(r, c int, v float64) float64 { return v + l2*W.At(r, c) }, gW)
		t := float64(it)
		c1, c2 := 1-math.Pow(b1, t), 1-math.Pow(b2, t)
		for r := range d {
			for c := range classes {
				g := gW.At(r, c)
				m := b1*mW.At(r, c) + (1-b1)*g
				v := b2*vW.At(r, c) + (1-b2)*g*g
				mW.Set(r, c, m)
				vW.Set(r, c, v)
				W.Set(r, c, W.At(r, c)-lr*(m/c1)/(math.Sqrt(v/c2)+eps))
			}
		}
		for c := range classes {
			mb[c] = b1*mb[c] + (1-b1)*gb[c]
			vb[c] = b2*vb[c] + (1-b2)*gb[c]*gb[c]
			bias[c] -= lr * (mb[c] / c1) / (math.Sqrt(vb[c]/c2) + eps)
		}
	}
	w, b = make([]float32, d*classes), make([]float32, classes)
	for c := range classes {
		s := bias[c]
		for j := range d {
			s -= W.At(j, c) * mu[j] / sd[j]
			w[j*classes+c] = float32(W.At(j, c) / sd[j])
		}
		b[c] = float32(s)
	}
	return w, b, nil
}

// Principal returns the mean of the rows of x (n x d), the k leading principal directions
// (orthonormal columns, [d,k] row-major), their variances and, last, the mean variance of the
// d-k directions left out. With n < d it diagonalises the n x n Gram matrix.
func Principal(x []float32, d, k int) (mean, basis, variance []float32, err error) {
	n := len(x) / d
	if n < 2 || k < 1 || k >= min(n, d) {
		return nil, nil, nil, fmt.Errorf("gate: %d principal directions from %d rows of %d values", k, n, d)
	}
	mu := make([]float64, d)
	for i := range n {
		for j := range d {
			mu[j] += float64(x[i*d+j])
		}
	}
	for j := range d {
		mu[j] /= float64(n)
	}
	c := mat.NewDense(n, d, nil)
	for i := range n {
		for j := range d {
			c.Set(i, j, float64(x[i*d+j])-mu[j])
		}
	}
	var g mat.SymDense
	g.SymOuterK(1, c)
	var eig mat.EigenSym
	if !eig.Factorize(&g, true) {
		return nil, nil, nil, errors.New("gate: the eigendecomposition of the features' Gram matrix failed")
	}
	vals := eig.Values(nil)
	var vecs mat.Dense
	eig.VectorsTo(&vecs)
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	sort.Slice(order, func(a, b int) bool { return vals[order[a]] > vals[order[b]] })
	total := 0.0
	for _, v := range vals {
		total += math.Max(v, 0)
	}
	total /= float64(n - 1)
	mean = make([]float32, d)
	for j := range d {
		mean[j] = float32(mu[j])
	}
	basis = make([]float32, d*k)
	variance = make([]float32, k+1)
	kept := 0.0
	for a := range k {
		e := order[a]
		s := vals[e]
		if !(s > 0) {
			return nil, nil, nil, fmt.Errorf("gate: principal direction %d has variance %v; use fewer components", a, s)
		}
		// v = C^T u / sqrt(s): the unit feature-space direction of Gram eigenvector u.
		for j := range d {
			v := 0.0
			for i := range n {
				v += c.At(i, j) * vecs.At(i, e)
			}
			basis[j*k+a] = float32(v / math.Sqrt(s))
		}
		variance[a] = float32(s / float64(n-1))
		kept += s / float64(n-1)
	}
	variance[k] = float32(math.Max((total-kept)/float64(d-k), 1e-12))
	return mean, basis, variance, nil
}

// Quantile is the q-quantile (0..1) of xs by linear interpolation; xs is not changed.
func Quantile(xs []float64, q float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s) == 0 {
		return math.NaN()
	}
	pos := q * float64(len(s)-1)
	lo := int(math.Floor(pos))
	hi := min(lo+1, len(s)-1)
	return s[lo] + (pos-float64(lo))*(s[hi]-s[lo])
}
