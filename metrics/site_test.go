package metrics

import (
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"pneumoscan/model"
)

// TestCalibrationWilson: the Wilson interval against values computed independently (377 of
// 390: 0.9438-0.9804; 0 of 10: 0-0.2775; 10 of 10: 0.7225-1), and its refusals.
func TestCalibrationWilson(t *testing.T) {
	for _, c := range []struct {
		k, n   int
		lo, hi float64
	}{{377, 390, 0.94383, 0.98042}, {0, 10, 0, 0.27753}, {10, 10, 0.72247, 1}, {5, 10, 0.23659, 0.76341}} {
		iv, err := Wilson(c.k, c.n, 0.95)
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(iv.Lo-c.lo) > 1e-4 || math.Abs(iv.Hi-c.hi) > 1e-4 || iv.Level != 0.95 {
			t.Errorf("Wilson(%d, %d) = %+v, want %.5f-%.5f", c.k, c.n, iv, c.lo, c.hi)
		}
	}
	for _, bad := range [][3]float64{{1, 0, 0.95}, {3, 2, 0.95}, {-1, 2, 0.95}, {1, 2, 1}, {1, 2, 0}} {
		if _, err := Wilson(int(bad[0]), int(bad[1]), bad[2]); err == nil {
			t.Errorf("Wilson%v: no error", bad)
		}
	}
}

func siteScores(n int, seed uint64) ([]float64, []int) {
	r := rand.New(rand.NewPCG(seed, 3))
	probs, labels := make([]float64, n), make([]int, n)
	for i := range n {
		labels[i] = i % 3 % 2 // 1 in 3 positive
		z := r.NormFloat64() + 1.4*float64(labels[i])
		probs[i] = 1 / (1 + math.Exp(-z))
	}
	return probs, labels
}

// TestCalibrationSite: Site is made of the package's own measures (AUC, its bootstrap
// interval, ROC, ConfusionAt, ThresholdForSensitivity, Wilson) on the same scores, and its
// profile carries the same numbers, decides through model.Metadata.Decide at the site
// threshold, and validates.
func TestCalibrationSite(t *testing.T) {
	probs, labels := siteScores(150, 7)
	thresholds := []model.Threshold{{Name: "screening", Value: 0.6, Criterion: "c"}, {Name: "youden", Value: 0.7, Criterion: "c"}}
	c, err := Site(probs, labels, thresholds, 0.9)
	if err != nil {
		t.Fatal(err)
	}
	auc, _ := AUC(probs, labels)
	ci, _ := BootstrapAUC(probs, labels, SiteBootstrap, SiteLevel, SiteSeed)
	th, _ := ThresholdForSensitivity(probs, labels, 0.9)
	roc, _ := ROC(probs, labels)
	if c.AUC != auc || c.AUCCI != ci || c.Site.Threshold != th || len(c.ROC) != len(roc) || c.Normal != 100 || c.Pneumonia != 50 {
		t.Fatalf("Site: AUC %v CI %+v threshold %v, %d ROC points, %d/%d; want %v %+v %v %d 100/50", c.AUC, c.AUCCI, c.Site.Threshold, len(c.ROC), c.Normal, c.Pneumonia, auc, ci, th, len(roc))
	}
	for i, p := range roc {
		if c.ROC[i] != [2]float64{p.X, p.Y} {
			t.Fatalf("ROC point %d: %v, want %v", i, c.ROC[i], p)
		}
	}
	for i, r := range append(c.Presets, c.Site) {
		conf, _ := ConfusionAt(probs, labels, r.Threshold)
		sens, _ := Wilson(conf.TP, conf.TP+conf.FN, SiteLevel)
		spec, _ := Wilson(conf.TN, conf.TN+conf.FP, SiteLevel)
		if r.Confusion != conf || r.Sensitivity != conf.Recall() || r.Specificity != conf.Specificity() || r.SensitivityCI != sens || r.SpecificityCI != spec {
			t.Errorf("rates %d %+v: want %+v, %+v, %+v", i, r, conf, sens, spec)
		}
	}
	if c.Presets[0].Name != "screening" || c.Presets[1].Threshold != 0.7 || c.Site.Sensitivity < 0.9 {
		t.Errorf("presets %+v, site %+v", c.Presets, c.Site)
	}

	m := model.Metadata{Name: "m", Version: "1", Thresholds: thresholds, Operating: "screening", Temperature: 1}
	sha := strings.Repeat("ab", 32)
	created := time.Date(2026, 12, 3, 10, 11, 12, 999, time.UTC)
	p, err := c.Profile(m, sha, "CR room 2", created)
	if err != nil {
		t.Fatal(err)
	}
	if want := "site: CR room 2 (sens ≥ 0.9 on 150 films, 2026-12-03)"; p.Operating.Name != want || p.Created != "2026-12-03T10:11:12Z" {
		t.Errorf("profile named %q, created %q; want %q", p.Operating.Name, p.Created, want)
	}
	if p.AUC != auc || p.AUCCI != [2]float64{ci.Lo, ci.Hi} || p.Site.TN != c.Site.Confusion.TN || len(p.Presets) != 2 || p.Presets[1].FP != c.Presets[1].Confusion.FP {
		t.Errorf("profile %+v does not carry the calibration %+v", p, c)
	}
	withSite, err := m.WithSite(p)
	if err != nil {
		t.Fatal(err)
	}
	for i, pr := range probs {
		d, err := withSite.Decide(pr, p.Operating.Name)
		if err != nil {
			t.Fatal(err)
		}
		if d.Positive != (pr >= th) {
			t.Fatalf("film %d scored %v: Decide at the site point says positive=%v, threshold %v", i, pr, d.Positive, th)
		}
	}
	if _, err := c.Profile(m, sha, " padded", created); err == nil {
		t.Error("a padded label made a profile")
	}
	if _, err := Site(probs[:2], []int{1, 1}, thresholds, 0.9); !errors.Is(err, ErrOneClass) {
		t.Errorf("one class: %v", err)
	}
	if _, err := Site([]float64{0.2, 1.5}, []int{0, 1}, thresholds, 0.9); err == nil {
		t.Error("a score above 1 was calibrated")
	}
}
