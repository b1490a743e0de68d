package operating

import (
	"math/rand/v2"
	"testing"

	"pneumoscan/metrics"
)

func TestPoints(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	var raw []float64
	var y []int
	for i := range 200 {
		l := i % 2
		p := min(0.99, max(0.01, 0.35+0.3*float64(l)+0.2*r.NormFloat64()))
		raw, y = append(raw, p), append(y, l)
	}
	f, err := Points(raw, y)
	if err != nil {
		t.Fatal(err)
	}
	temp, _ := metrics.FitTemperature(raw, y)
	cal := metrics.ApplyTemperatureAll(raw, temp)
	screening, _ := metrics.ThresholdForSensitivity(cal, y, MinSensitivity)
	youden, _, _ := metrics.YoudenThreshold(cal, y)
	if f.Temperature != temp || len(f.Thresholds) != 2 {
		t.Fatalf("fit %+v, want temperature %v and two thresholds", f, temp)
	}
	want := []struct {
		name, criterion string
		value           float64
	}{
		{Screening, "sensitivity >= 0.95 on validation (200 images)", screening},
		{Youden, "maximum Youden J on validation (200 images)", youden},
	}
	m := map[string]float64{}
	f.AddMetrics(m)
	for i, w := range want {
		th := f.Thresholds[i]
		if th.Name != w.name || th.Criterion != w.criterion || th.Value != w.value || f.Threshold(w.name) != w.value {
			t.Errorf("threshold %d = %+v, want %s %q %v", i, th, w.name, w.criterion, w.value)
		}
		c, _ := metrics.ConfusionAt(cal, y, w.value)
		if m["val_sensitivity_"+w.name] != c.Recall() || m["val_specificity_"+w.name] != c.Specificity() {
			t.Errorf("%s: metrics %v, want sensitivity %v specificity %v", w.name, m, c.Recall(), c.Specificity())
		}
	}
	if m["val_sensitivity_"+Screening] < MinSensitivity {
		t.Errorf("screening sensitivity %v below %v", m["val_sensitivity_"+Screening], MinSensitivity)
	}
	if _, err := Points([]float64{0.5, 0.6}, []int{1, 1}); err == nil {
		t.Error("one class only must be an error")
	}
}
