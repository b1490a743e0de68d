// Package operating fits a model's operating points on validation: the temperature, the
// named thresholds written into the model's metadata, and how each threshold does on the
// validation images (model.Threshold.Validation, which the page shows beside each operating
// point). Both trainers (the CPU one in training/ and gputrain) export through
// it, so their models carry the same names, criteria and numbers.
package operating

import (
	"fmt"

	"pneumoscan/metrics"
	"pneumoscan/model"
)

// The operating points written into exported models.
const (
	// Screening is the threshold with validation sensitivity >= MinSensitivity, the one
	// the product screens with (model.Metadata.Operating).
	Screening = "screening"
	// Youden is the threshold of maximum Youden J (sensitivity + specificity - 1).
	Youden = "youden"
	// MinSensitivity is the screening threshold's validation sensitivity floor.
	MinSensitivity = 0.95
)

// Fit is the result of Points.
type Fit struct {
	// Temperature is fitted on the raw validation probabilities; the thresholds apply to
	// the probabilities after it, as the screening path applies it.
	Temperature float64
	// Thresholds are Screening then Youden, each with its validation rates.
	Thresholds []model.Threshold
}

// Points fits the temperature and the two thresholds on raw validation probabilities
// (before any temperature) and their labels (1: pneumonia).
func Points(raw []float64, labels []int) (*Fit, error) {
	temp, err := metrics.FitTemperature(raw, labels)
	if err != nil {
		return nil, fmt.Errorf("fitting the temperature on validation: %w", err)
	}
	cal := metrics.ApplyTemperatureAll(raw, temp)
	screening, err := metrics.ThresholdForSensitivity(cal, labels, MinSensitivity)
	if err != nil {
		return nil, err
	}
	youden, _, err := metrics.YoudenThreshold(cal, labels)
	if err != nil {
		return nil, err
	}
	n := len(raw)
	f := &Fit{
		Temperature: temp,
		Thresholds: []model.Threshold{
			{Name: Screening, Value: screening, Criterion: fmt.Sprintf("sensitivity >= %.2f on validation (%d images)", MinSensitivity, n)},
			{Name: Youden, Value: youden, Criterion: fmt.Sprintf("maximum Youden J on validation (%d images)", n)},
		},
	}
	for i, t := range f.Thresholds {
		c, err := metrics.ConfusionAt(cal, labels, t.Value)
		if err != nil {
			return nil, err
		}
		f.Thresholds[i].Validation = &model.Rates{
			Sensitivity: c.Recall(), Specificity: c.Specificity(),
			Images: n, Pneumonia: c.TP + c.FN, Normal: c.TN + c.FP,
		}
	}
	return f, nil
}

// Point is the threshold called name, with its validation rates; ok is false when there is
// none.
func (f *Fit) Point(name string) (t model.Threshold, ok bool) {
	for _, t := range f.Thresholds {
		if t.Name == name {
			return t, true
		}
	}
	return model.Threshold{}, false
}
