package model

import (
	"fmt"
	"math"
)

// ApplyTemperature is what the file's temperature means: P = sigmoid(logit(p) / T) for the
// graph's raw output p. T > 1 softens over-confident scores, T < 1 sharpens them; 0 and 1
// stay put, T = 1 is the identity, and the order of scores (so ROC-AUC) never changes. The
// trainer fits T with this function and every reader applies it with this function.
func ApplyTemperature(p, t float64) float64 {
	if t == 1 {
		return p
	}
	z := (math.Log(p) - math.Log1p(-p)) / t
	if z >= 0 {
		return 1 / (1 + math.Exp(-z))
	}
	e := math.Exp(z)
	return e / (1 + e)
}

// Decision is the model file's verdict on one raw output.
type Decision struct {
	Prob      float64   // P(pneumonia) after the temperature
	Positive  bool      // Prob >= Threshold.Value
	Threshold Threshold // the operating point decided at
}

// Decide applies the temperature and the operating threshold named by the metadata (or the
// threshold named by operating, when not empty) to the graph's raw output.
func (m Metadata) Decide(raw float64, operating string) (Decision, error) {
	name := operating
	if name == "" {
		name = m.Operating
	}
	for _, t := range m.Thresholds {
		if t.Name == name {
			p := ApplyTemperature(raw, m.Temperature)
			return Decision{Prob: p, Positive: p >= t.Value, Threshold: t}, nil
		}
	}
	return Decision{}, fmt.Errorf("model metadata: operating threshold %q is not among the thresholds", name)
}
