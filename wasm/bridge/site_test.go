package bridge

import (
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"pneumoscan/metrics"
	"pneumoscan/model"
)

func calibMetadata() model.Metadata {
	return model.Metadata{
		Name: "m", Version: "2", Trained: true, Preprocess: model.ImageNetPreprocess(224), Classes: []string{"NORMAL", "PNEUMONIA"},
		Thresholds: []model.Threshold{{Name: "screening", Value: 0.55, Criterion: "c"}, {Name: "banded", Value: 0.65, Criterion: "c", Indeterminate: 0.05}},
		Operating:  "screening", Temperature: 1.3,
	}
}

// calibScores are temperature-applied scores, as the page sends them, and the raw outputs
// they came from.
func calibScores(m model.Metadata) (raw, probs []float64, labels []int) {
	for i := range 60 {
		y := i % 2
		r := 0.2 + 0.6*float64((i*37)%60)/60 + 0.1*float64(y)
		r = math.Min(r, 0.99)
		raw = append(raw, r)
		probs = append(probs, model.ApplyTemperature(r, m.Temperature))
		labels = append(labels, y)
	}
	return raw, probs, labels
}

// TestCalibrationBridge: the worker's "calibrate" answer is metrics.Site on the page's scores
// and a valid profile for the loaded model; checkSite takes that profile back and refuses
// another model's; a result's verdicts are Decide's at every operating point, the site
// point's included and marked.
func TestCalibrationBridge(t *testing.T) {
	m := calibMetadata()
	sha := strings.Repeat("c3", 32)
	raw, probs, labels := calibScores(m)
	req, _ := json.Marshal(calibrateRequest{Probs: probs, Labels: labels, Target: 0.95, Label: "site A"})
	out, err := calibrate(m, sha, req, time.Date(2026, 12, 3, 8, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	var ans calibrateAnswer
	if err := json.Unmarshal(out, &ans); err != nil {
		t.Fatal(err)
	}
	want, err := metrics.Site(probs, labels, m.Thresholds, 0.95)
	if err != nil {
		t.Fatal(err)
	}
	auc, _ := metrics.AUC(probs, labels)
	th, _ := metrics.ThresholdForSensitivity(probs, labels, 0.95)
	c := ans.Calibration
	if c.AUC != auc || c.AUCCI != want.AUCCI || c.Site.Threshold != th || c.Site.SpecificityCI != want.Site.SpecificityCI ||
		len(c.ROC) != len(want.ROC) || len(c.Presets) != 2 || c.Presets[1] != want.Presets[1] {
		t.Fatalf("calibrate answered %+v\nwant %+v", c, want)
	}
	p, err := model.ParseSiteProfile([]byte(ans.Profile))
	if err != nil {
		t.Fatal(err)
	}
	if p.Model.SHA256 != sha || p.Operating.Value != th || p.AUC != auc || p.Operating.Name != "site: site A (sens ≥ 0.95 on 60 films, 2026-12-03)" {
		t.Errorf("profile %+v", p)
	}

	back, err := checkSite(m, sha, []byte(ans.Profile))
	if err != nil || string(back) != ans.Profile {
		t.Errorf("checkSite of its own profile: %v\n%s", err, back)
	}
	if _, err := checkSite(m, strings.Repeat("d4", 32), []byte(ans.Profile)); !errors.Is(err, model.ErrOtherModel) {
		t.Errorf("checkSite for another model: %v", err)
	}
	if _, err := checkSite(m, sha, []byte(`{"format":`)); err == nil {
		t.Error("checkSite took broken JSON")
	}

	ws, _ := m.WithSite(p)
	for i, r := range raw {
		ds, siteErr, err := decisions(m, sha, r, ans.Profile)
		if err != nil || siteErr != nil || len(ds) != 3 {
			t.Fatalf("decisions: %v, %v, %+v", err, siteErr, ds)
		}
		for _, d := range ds {
			ref, _ := ws.Decide(r, d.Name)
			if d.Verdict != ref.Verdict || d.Site != (d.Name == p.Operating.Name) {
				t.Fatalf("film %d at %q: %+v, Decide says %s", i, d.Name, d, ref.Verdict)
			}
		}
		// The site point decides as its threshold says on the very scores it was set from.
		if got := ds[2].Verdict == model.Positive; got != (probs[i] >= th) {
			t.Fatalf("film %d scored %v: site verdict %s at threshold %v", i, probs[i], ds[2].Verdict, th)
		}
	}
	ds, siteErr, err := decisions(m, strings.Repeat("d4", 32), raw[0], ans.Profile)
	if err != nil || !errors.Is(siteErr, model.ErrOtherModel) || len(ds) != 2 {
		t.Errorf("another model's profile: %v, %v, %d verdicts (want the file's 2)", err, siteErr, len(ds))
	}

	for name, r := range map[string]calibrateRequest{
		"one class": {Probs: probs[:3], Labels: []int{1, 1, 1}, Target: 0.95, Label: "x"},
		"no label":  {Probs: probs, Labels: labels, Target: 0.95},
		"target 0":  {Probs: probs, Labels: labels, Label: "x"},
	} {
		b, _ := json.Marshal(r)
		if _, err := calibrate(m, sha, b, time.Now()); err == nil {
			t.Errorf("%s: calibrated", name)
		}
	}
}
