package operating

import (
	"math/rand/v2"
	"testing"

	"pneumoscan/metrics"
	"pneumoscan/model"
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
	for i, w := range want {
		th := f.Thresholds[i]
		if p, ok := f.Point(w.name); th.Name != w.name || th.Criterion != w.criterion || th.Value != w.value || !ok || p.Value != w.value {
			t.Errorf("threshold %d = %+v, want %s %q %v", i, th, w.name, w.criterion, w.value)
		}
		c, _ := metrics.ConfusionAt(cal, y, w.value)
		want := model.Rates{Sensitivity: c.Recall(), Specificity: c.Specificity(), Images: 200, Pneumonia: 100, Normal: 100}
		if th.Validation == nil || *th.Validation != want {
			t.Errorf("%s: validation rates %+v, want %+v", w.name, th.Validation, want)
		}
	}
	if sc, _ := f.Point(Screening); sc.Validation.Sensitivity < MinSensitivity {
		t.Errorf("screening sensitivity %v below %v", sc.Validation.Sensitivity, MinSensitivity)
	}
	if _, ok := f.Point("missing"); ok {
		t.Error("Point found a threshold that is not there")
	}
	// The rates travel in the model's metadata and come back from it.
	md := model.Metadata{Name: "m", Version: "1", Preprocess: model.ImageNetPreprocess(224), Classes: []string{"N", "P"},
		Thresholds: f.Thresholds, Operating: Screening, Temperature: f.Temperature}
	ps, err := md.Props()
	if err != nil {
		t.Fatal(err)
	}
	back, err := model.ParseMetadata(ps)
	if err != nil {
		t.Fatal(err)
	}
	if *back.Thresholds[0].Validation != *f.Thresholds[0].Validation {
		t.Errorf("validation rates after the metadata round trip: %+v, want %+v", back.Thresholds[0].Validation, f.Thresholds[0].Validation)
	}
	if _, err := Points([]float64{0.5, 0.6}, []int{1, 1}); err == nil {
		t.Error("one class only must be an error")
	}
}
