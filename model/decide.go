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

// Verdict is what a screen says about one film at one operating point.
type Verdict string

// The verdicts. Indeterminate exists only where the threshold has a band (Indeterminate > 0).
const (
	Positive      Verdict = "positive"
	Negative      Verdict = "negative"
	Indeterminate Verdict = "indeterminate"
)

// Text is the verdict in plain language, the sentence the page and reports show. It names
// what to do rather than the statistics: the operating point, the score and what they mean
// are shown beside it.
func (v Verdict) Text() string {
	switch v {
	case Positive:
		return "Pneumonia suspected: refer for review"
	case Negative:
		return "No pneumonia detected at this operating point"
	case Indeterminate:
		return "Indeterminate: review the film"
	}
	return string(v)
}

// Decision is the model file's verdict on one raw output.
type Decision struct {
	Prob      float64   // P(pneumonia) after the temperature
	Positive  bool      // Prob >= Threshold.Value, the band aside (what the API has always said)
	Verdict   Verdict   // the verdict to show: Indeterminate inside the threshold's band
	Threshold Threshold // the operating point decided at
}

// Decide applies the temperature and the operating threshold named by the metadata (or the
// threshold named by operating, when not empty) to the graph's raw output. Inside the
// threshold's band, Value - Indeterminate < Prob < Value + Indeterminate, the verdict is
// Indeterminate; the band's edges belong to the side they bound, so a band of half-width 0
// (none) leaves every film positive or negative.
func (m Metadata) Decide(raw float64, operating string) (Decision, error) {
	name := operating
	if name == "" {
		name = m.Operating
	}
	for _, t := range m.Thresholds {
		if t.Name == name {
			p := ApplyTemperature(raw, m.Temperature)
			d := Decision{Prob: p, Positive: p >= t.Value, Verdict: Negative, Threshold: t}
			switch {
			case t.Indeterminate > 0 && p > t.Value-t.Indeterminate && p < t.Value+t.Indeterminate:
				d.Verdict = Indeterminate
			case d.Positive:
				d.Verdict = Positive
			}
			return d, nil
		}
	}
	return Decision{}, fmt.Errorf("model metadata: operating threshold %q is not among the thresholds", name)
}
