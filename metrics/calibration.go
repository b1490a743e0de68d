package metrics

import (
	"errors"
	"fmt"
	"math"
	"pneumoscan/model"
)

// probEps keeps logit finite when fitting on probabilities of exactly 0 or 1
// (float32 outputs saturate there).
const probEps = 1e-7

func logit(p float64) float64 { return math.Log(p) - math.Log1p(-p) }

func sigmoid(z float64) float64 {
	if z >= 0 {
		return 1 / (1 + math.Exp(-z))
	}
	e := math.Exp(z)
	return e / (1 + e)
}

// ApplyTemperatureAll maps model.ApplyTemperature (what a model file's temperature means) over probs into a new slice.
func ApplyTemperatureAll(probs []float64, t float64) []float64 {
	out := make([]float64, len(probs))
	for i, p := range probs {
		out[i] = model.ApplyTemperature(p, t)
	}
	return out
}

// NLL is the mean negative log-likelihood (binary cross-entropy) of the
// labels under the probabilities scaled by temperature t.
func NLL(probs []float64, labels []int, t float64) float64 {
	var sum float64
	for i, p := range probs {
		z := logit(math.Min(math.Max(p, probEps), 1-probEps)) / t
		// log sigmoid(z) = -log(1 + e^-z), computed without overflow.
		if labels[i] == 1 {
			sum += softplus(-z)
		} else {
			sum += softplus(z)
		}
	}
	return sum / float64(len(probs))
}

func softplus(x float64) float64 {
	if x > 0 {
		return x + math.Log1p(math.Exp(-x))
	}
	return math.Log1p(math.Exp(x))
}

// Temperature search range: beyond it the scores either carry no usable
// signal (T -> inf) or the labels are perfectly separated (T -> 0).
const (
	minTemperature = 0.01
	maxTemperature = 100
)

// FitTemperature finds T > 0 minimising NLL on validation probabilities by
// golden-section search on log T. The NLL is convex in 1/T, hence unimodal
// in log T. It fails when the optimum is at an end of [0.01, 100]: the
// scores are then unrelated to (or anti-correlated with) the labels, or
// separate them perfectly, and no temperature is meaningful.
func FitTemperature(probs []float64, labels []int) (float64, error) {
	if _, _, err := checkBoth(probs, labels); err != nil {
		return 0, err
	}
	if err := checkProbs(probs); err != nil {
		return 0, err
	}
	f := func(u float64) float64 { return NLL(probs, labels, math.Exp(u)) }
	a, b := math.Log(minTemperature), math.Log(maxTemperature)
	g := (math.Sqrt(5) - 1) / 2
	c, d := b-g*(b-a), a+g*(b-a)
	fc, fd := f(c), f(d)
	for b-a > 1e-9 {
		if fc <= fd {
			b, d, fd = d, c, fc
			c = b - g*(b-a)
			fc = f(c)
		} else {
			a, c, fc = c, d, fd
			d = a + g*(b-a)
			fd = f(d)
		}
	}
	u := (a + b) / 2
	if u-math.Log(minTemperature) < 1e-6 || math.Log(maxTemperature)-u < 1e-6 {
		return 0, fmt.Errorf("metrics: temperature fit ran to the end of [%v, %v] (T = %.3g): the scores separate the labels perfectly or carry no signal",
			minTemperature, maxTemperature, math.Exp(u))
	}
	return math.Exp(u), nil
}

// Bin is one bin of a reliability diagram.
type Bin struct {
	Lo            float64 `json:"lo"`
	Hi            float64 `json:"hi"`
	MeanPredicted float64 `json:"mean_predicted"` // 0 when Count is 0
	Observed      float64 `json:"observed"`       // share of positives; 0 when Count is 0
	Count         int     `json:"count"`
}

// Reliability bins probabilities into n equal-width bins on [0, 1] (a
// probability of exactly 1 goes in the last) and returns the bins and the
// expected calibration error ECE = sum_b (count_b / N) |observed_b - mean_b|.
func Reliability(probs []float64, labels []int, n int) ([]Bin, float64, error) {
	if _, _, err := check(probs, labels); err != nil {
		return nil, 0, err
	}
	if err := checkProbs(probs); err != nil {
		return nil, 0, err
	}
	if n < 1 {
		return nil, 0, errors.New("metrics: reliability needs at least one bin")
	}
	bins := make([]Bin, n)
	sumP := make([]float64, n)
	sumY := make([]int, n)
	for i, p := range probs {
		k := min(int(p*float64(n)), n-1)
		sumP[k] += p
		sumY[k] += labels[i]
		bins[k].Count++
	}
	var ece float64
	for k := range bins {
		bins[k].Lo, bins[k].Hi = float64(k)/float64(n), float64(k+1)/float64(n)
		if c := bins[k].Count; c > 0 {
			bins[k].MeanPredicted = sumP[k] / float64(c)
			bins[k].Observed = float64(sumY[k]) / float64(c)
			ece += float64(c) / float64(len(probs)) * math.Abs(bins[k].Observed-bins[k].MeanPredicted)
		}
	}
	return bins, ece, nil
}
