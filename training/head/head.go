// Package head trains the classifier that sits on a frozen backbone's pooled
// features: Dense(U, ReLU, L2) -> Dropout -> Dense(1) -> sigmoid, with a
// class-weighted binary cross-entropy, minibatch Adam and early stopping on
// validation ROC-AUC.
//
// gorgonia builds the graph and its gradients; the Adam update is done here on
// plain slices so that its moments, like the weights and the one random stream
// that draws the initial weights, the shuffles and the dropout masks, are part
// of State and a stopped run resumes bit for bit.
package head

import (
	"errors"
	"fmt"
	"math"
)

// Config sets the model and its training.
type Config struct {
	Dim     int     `json:"dim"`     // input features (2048 for ResNet50)
	Units   int     `json:"units"`   // hidden units U
	Dropout float64 `json:"dropout"` // rate in [0, 1)
	L2      float64 `json:"l2"`      // adds L2 * sum(W1^2) to the loss, as Keras' kernel_regularizer
	LR      float64 `json:"lr"`
	Beta1   float64 `json:"beta1"`
	Beta2   float64 `json:"beta2"`
	Eps     float64 `json:"eps"`
	Epochs  int     `json:"epochs"`
	Batch   int     `json:"batch"`
	// Patience stops training after that many epochs without a better
	// validation AUC; 0 never stops early.
	Patience int    `json:"patience"`
	Seed     uint64 `json:"seed"`
	// ClassWeights multiply each example's loss by its label's weight
	// (dataset.ClassWeights gives the balanced n/(2 n_c)); zero means 1, 1.
	ClassWeights [2]float64 `json:"class_weights"`
	// Standardize scales each input feature to zero mean and unit variance
	// on the training set; the scaling is folded into FC1 on export.
	Standardize bool `json:"standardize"`
}

// Default is a sensible starting point for a 2048-feature backbone.
func Default() Config {
	return Config{
		Dim: 2048, Units: 128, Dropout: 0.3, L2: 1e-4, LR: 1e-3,
		Beta1: 0.9, Beta2: 0.999, Eps: 1e-7, Epochs: 30, Batch: 32,
		Patience: 5, Seed: 1, Standardize: true,
	}
}

// Validate reports the first unusable setting.
func (c Config) Validate() error {
	switch {
	case c.Dim <= 0:
		return fmt.Errorf("head: feature dimension %d must be positive", c.Dim)
	case c.Units <= 0:
		return fmt.Errorf("head: units %d must be positive", c.Units)
	case c.Dropout < 0 || c.Dropout >= 1 || math.IsNaN(c.Dropout):
		return fmt.Errorf("head: dropout %v must be in [0, 1)", c.Dropout)
	case c.L2 < 0 || math.IsNaN(c.L2):
		return fmt.Errorf("head: L2 %v must be >= 0", c.L2)
	case !(c.LR > 0):
		return fmt.Errorf("head: learning rate %v must be positive", c.LR)
	case !(c.Beta1 >= 0 && c.Beta1 < 1) || !(c.Beta2 >= 0 && c.Beta2 < 1):
		return fmt.Errorf("head: Adam betas %v, %v must be in [0, 1)", c.Beta1, c.Beta2)
	case !(c.Eps > 0):
		return fmt.Errorf("head: Adam epsilon %v must be positive", c.Eps)
	case c.Epochs <= 0:
		return fmt.Errorf("head: epochs %d must be positive", c.Epochs)
	case c.Batch <= 0:
		return fmt.Errorf("head: batch size %d must be positive", c.Batch)
	case c.Patience < 0:
		return fmt.Errorf("head: patience %d must be >= 0", c.Patience)
	case c.ClassWeights[0] < 0 || c.ClassWeights[1] < 0:
		return fmt.Errorf("head: class weights %v must be >= 0", c.ClassWeights)
	}
	return nil
}

func (c Config) classWeights() [2]float64 {
	if c.ClassWeights == [2]float64{} {
		return [2]float64{1, 1}
	}
	return c.ClassWeights
}

// Data is a set of pooled feature vectors and their labels (0 NORMAL,
// 1 PNEUMONIA), X row-major [len(Labels), Dim].
type Data struct {
	Dim    int
	X      []float32
	Labels []int
}

// Check reports data that does not fit dim.
func (d Data) Check(dim int) error {
	if d.Dim != dim {
		return fmt.Errorf("head: features have dimension %d, the head wants %d", d.Dim, dim)
	}
	if len(d.Labels) == 0 {
		return errors.New("head: no examples")
	}
	if len(d.X) != len(d.Labels)*dim {
		return fmt.Errorf("head: %d feature values for %d examples of dimension %d", len(d.X), len(d.Labels), dim)
	}
	for i, y := range d.Labels {
		if y != 0 && y != 1 {
			return fmt.Errorf("head: example %d has label %d, want 0 or 1", i, y)
		}
	}
	for i, v := range d.X {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return fmt.Errorf("head: example %d has a non-finite feature", i/dim)
		}
	}
	return nil
}

// Params are the head's weights: W1 [Dim, U] row-major (the contract's MatMul
// layout), B1 [U], W2 [U] (a [U, 1] column), B2 [1]. They act on standardised
// features when the run standardises.
type Params struct {
	W1, B1, W2, B2 []float64
}

func newParams(dim, units int) Params {
	return Params{W1: make([]float64, dim*units), B1: make([]float64, units), W2: make([]float64, units), B2: make([]float64, 1)}
}

func (p Params) slices() [4][]float64 { return [4][]float64{p.W1, p.B1, p.W2, p.B2} }

// Clone returns a deep copy.
func (p Params) Clone() Params {
	c := Params{}
	c.W1 = append([]float64(nil), p.W1...)
	c.B1 = append([]float64(nil), p.B1...)
	c.W2 = append([]float64(nil), p.W2...)
	c.B2 = append([]float64(nil), p.B2...)
	return c
}

// copyFrom copies q's values into p's slices, keeping p's backing arrays
// (the training graph reads them).
func (p Params) copyFrom(q Params) {
	copy(p.W1, q.W1)
	copy(p.B1, q.B1)
	copy(p.W2, q.W2)
	copy(p.B2, q.B2)
}

func (p Params) check(dim, units int) error {
	if len(p.W1) != dim*units || len(p.B1) != units || len(p.W2) != units || len(p.B2) != 1 {
		return fmt.Errorf("head: parameter lengths %d, %d, %d, %d do not fit dim %d and %d units",
			len(p.W1), len(p.B1), len(p.W2), len(p.B2), dim, units)
	}
	return nil
}

// Norm is the per-feature standardisation x' = (x - Mean) / Std; empty
// slices mean none.
type Norm struct {
	Mean, Std []float64
}

// fitNorm computes the training set's mean and standard deviation per
// feature; a constant feature gets Std 1 so it maps to 0 instead of NaN.
func fitNorm(d Data) Norm {
	n := len(d.Labels)
	mean := make([]float64, d.Dim)
	std := make([]float64, d.Dim)
	for i := 0; i < n; i++ {
		row := d.X[i*d.Dim : (i+1)*d.Dim]
		for k, v := range row {
			mean[k] += float64(v)
		}
	}
	for k := range mean {
		mean[k] /= float64(n)
	}
	for i := 0; i < n; i++ {
		row := d.X[i*d.Dim : (i+1)*d.Dim]
		for k, v := range row {
			e := float64(v) - mean[k]
			std[k] += e * e
		}
	}
	for k := range std {
		std[k] = math.Sqrt(std[k] / float64(n))
		if std[k] < 1e-12 {
			std[k] = 1
		}
	}
	return Norm{Mean: mean, Std: std}
}

// row writes example i of d, standardised, into dst.
func (n Norm) row(dst []float64, d Data, i int) {
	src := d.X[i*d.Dim : (i+1)*d.Dim]
	if len(n.Mean) == 0 {
		for k, v := range src {
			dst[k] = float64(v)
		}
		return
	}
	for k, v := range src {
		dst[k] = (float64(v) - n.Mean[k]) / n.Std[k]
	}
}

func sigmoid(z float64) float64 { return 1 / (1 + math.Exp(-z)) }

// softplus is log(1 + e^z) without overflow.
func softplus(z float64) float64 {
	if z > 0 {
		return z + math.Log1p(math.Exp(-z))
	}
	return math.Log1p(math.Exp(z))
}

// logits runs the head (no dropout) on every example of d.
func logits(p Params, n Norm, units int, d Data) []float64 {
	out := make([]float64, len(d.Labels))
	x := make([]float64, d.Dim)
	h := make([]float64, units)
	for i := range out {
		n.row(x, d, i)
		copy(h, p.B1)
		for k, v := range x {
			if v == 0 {
				continue
			}
			w := p.W1[k*units : (k+1)*units]
			for u := range h {
				h[u] += v * w[u]
			}
		}
		z := p.B2[0]
		for u, v := range h {
			if v > 0 {
				z += v * p.W2[u]
			}
		}
		out[i] = z
	}
	return out
}

// weightedBCE is the mean class-weighted binary cross-entropy of logits z.
func weightedBCE(z []float64, labels []int, cw [2]float64) float64 {
	s := 0.0
	for i, zi := range z {
		// -[y log s(z) + (1-y) log(1-s(z))] = softplus(z) - y z
		s += cw[labels[i]] * (softplus(zi) - float64(labels[i])*zi)
	}
	return s / float64(len(z))
}

// FitNorm is the per-feature standardisation fitted on d (mean and standard deviation; a
// constant feature gets Std 1), as NewState fits it when Config.Standardize is set.
func FitNorm(d Data) Norm { return fitNorm(d) }
