package web

import (
	"regexp"
	"strings"
	"testing"
)

func TestScoreText(t *testing.T) {
	for p, want := range map[float64]string{
		0: "below 5%", 0.049: "below 5%", 0.05: "about 10%", 0.3: "about 30%", 0.6996: "about 70%",
		0.74: "about 70%", 0.76: "about 80%", 0.949: "about 90%", 0.95: "above 95%", 1: "above 95%",
	} {
		if got := scoreText(p); got != want {
			t.Errorf("scoreText(%v) = %q, want %q", p, got, want)
		}
	}
}

// threeDecimals is what the page must never print for a score.
var threeDecimals = regexp.MustCompile(`\d\.\d{3}`)

func TestMeaningFromTheMetadata(t *testing.T) {
	op := operatingPoint{Name: "screening", Value: 0.7304,
		Validation: &rates{Sensitivity: 0.9501, Specificity: 0.9851, Images: 782},
		Test:       &rates{Sensitivity: 0.9667, Specificity: 0.7436, Images: 624, Pneumonia: 390, Normal: 234}}
	if got, want := op.meaning(), "finds about 97 of 100 pneumonias and flags about 26 of 100 normal films (test split, 624 films"; !strings.Contains(got, want) {
		t.Errorf("meaning %q lacks %q", got, want)
	}
	op.Test = nil
	if got := op.meaning(); !strings.Contains(got, "about 95 of 100 pneumonias and flags about 1 of 100 normal films (validation split, 782 films") {
		t.Errorf("meaning from validation: %q", got)
	}
	op.Validation, op.Indeterminate = nil, 0.05
	if got := op.meaning(); !strings.Contains(got, "not recorded") || !strings.Contains(got, "within 5 percentage points") {
		t.Errorf("meaning without figures: %q", got)
	}
	label := operatingPoint{Name: "youden", Value: 0.5784, Validation: &rates{Sensitivity: 0.9656, Specificity: 0.9801, Images: 782}}.label()
	if label != "youden (threshold 0.58) · validation: sensitivity 97%, specificity 98% (782 films) · test: not recorded" {
		t.Errorf("label %q", label)
	}
	for _, s := range []string{label, op.meaning()} {
		if threeDecimals.MatchString(s) {
			t.Errorf("%q shows three decimals", s)
		}
	}
}

func TestWilson(t *testing.T) {
	// 377 of 390: 96.7%, Wilson 95% interval 0.9438-0.9804 (computed independently).
	if got := wilson(377, 390); got != "95% CI 94%-98%" {
		t.Errorf("wilson(377, 390) = %q", got)
	}
	if got := wilson(0, 10); got != "95% CI 0%-28%" {
		t.Errorf("wilson(0, 10) = %q", got)
	}
	if got := ratesDetail(&rates{Sensitivity: 377.0 / 390, Specificity: 174.0 / 234, Images: 624, Pneumonia: 390, Normal: 234}); !strings.Contains(got, "377 of 390 pneumonia films") || !strings.Contains(got, "174 of 234 normal films") {
		t.Errorf("ratesDetail: %q", got)
	}
}

func TestMeasured(t *testing.T) {
	got := strings.Join(measured(modelInfo{Metrics: map[string]float64{
		"test_auc": 0.9467, "test_auc_ci_lo": 0.928, "test_auc_ci_hi": 0.9631, "test_auc_ci_level": 0.95, "test_images": 624, "best_epoch": 50,
	}}), "\n")
	for _, want := range []string{"test ROC-AUC 0.947 (95% CI 0.928-0.963)", "test images: 624", "best epoch: 50"} {
		if !strings.Contains(got, want) {
			t.Errorf("measured:\n%s\nlacks %q", got, want)
		}
	}
	if got := measured(modelInfo{}); len(got) != 1 || !strings.Contains(got[0], "no measured figures") {
		t.Errorf("measured of nothing: %q", got)
	}
}

func TestPopulationText(t *testing.T) {
	if got := populationText(modelInfo{Population: "children aged 1-5 from one hospital."}); !strings.HasPrefix(got, "Validated on children aged 1-5 from one hospital. ") {
		t.Errorf("populationText = %q", got)
	}
	if got := populationText(modelInfo{}); !strings.Contains(got, "not recorded") {
		t.Errorf("populationText without a population = %q", got)
	}
}
