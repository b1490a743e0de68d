package metrics

import (
	"fmt"
	"math"
	"time"

	"pneumoscan/model"
)

// Site calibration: what a site's own labelled films say about a model's operating points,
// and the threshold that reaches a sensitivity the site asks for on them. The page's worker
// (wasm/bridge, "calibrate") and the trainer (go run ./training calibrate) both measure with
// Site and write the result with SiteCalibration.Profile, so a profile made in the browser
// and one made on the command line from the same scores are the same numbers.

// The site calibration's fixed settings: the intervals' level, and the AUC's bootstrap
// resamples and seed (fixed, so the same films give the same interval in the page and the
// trainer).
const (
	SiteLevel     = 0.95
	SiteBootstrap = 2000
	SiteSeed      = 1
)

// Wilson is the Wilson score interval of k successes in n trials at the given level. Unlike
// the normal approximation it stays inside [0, 1] and is fair near 0 and 1, where
// sensitivities live.
func Wilson(k, n int, level float64) (Interval, error) {
	if n <= 0 || k < 0 || k > n {
		return Interval{}, fmt.Errorf("metrics: %d successes in %d trials", k, n)
	}
	if !(level > 0 && level < 1) {
		return Interval{}, fmt.Errorf("metrics: confidence level %v not in (0, 1)", level)
	}
	z := math.Sqrt2 * math.Erfinv(level)
	p, nf := float64(k)/float64(n), float64(n)
	centre := (p + z*z/(2*nf)) / (1 + z*z/nf)
	half := z * math.Sqrt(p*(1-p)/nf+z*z/(4*nf*nf)) / (1 + z*z/nf)
	// Rounding can leave an end a hair outside [0, 1] or the estimate (k = 0 or n).
	return Interval{Lo: max(0, min(p, centre-half)), Hi: min(1, max(p, centre+half)), Level: level}, nil
}

// RatesAt is how one threshold does on labelled scores: the confusion counts, sensitivity and
// specificity with their Wilson intervals.
type RatesAt struct {
	Name          string    `json:"name"`
	Threshold     float64   `json:"threshold"`
	Confusion     Confusion `json:"confusion"`
	Sensitivity   float64   `json:"sensitivity"`
	SensitivityCI Interval  `json:"sensitivity_ci"`
	Specificity   float64   `json:"specificity"`
	SpecificityCI Interval  `json:"specificity_ci"`
}

// Rates measures the classifier "score >= threshold" (ConfusionAt) with intervals at level.
func Rates(scores []float64, labels []int, name string, threshold, level float64) (RatesAt, error) {
	if _, _, err := checkBoth(scores, labels); err != nil {
		return RatesAt{}, err
	}
	c, err := ConfusionAt(scores, labels, threshold)
	if err != nil {
		return RatesAt{}, err
	}
	r := RatesAt{Name: name, Threshold: threshold, Confusion: c, Sensitivity: c.Recall(), Specificity: c.Specificity()}
	if r.SensitivityCI, err = Wilson(c.TP, c.TP+c.FN, level); err != nil {
		return RatesAt{}, err
	}
	if r.SpecificityCI, err = Wilson(c.TN, c.TN+c.FP, level); err != nil {
		return RatesAt{}, err
	}
	return r, nil
}

// SiteCalibration is what Site measures.
type SiteCalibration struct {
	Normal    int      `json:"normal"`
	Pneumonia int      `json:"pneumonia"`
	AUC       float64  `json:"auc"`
	AUCCI     Interval `json:"auc_ci"`
	// ROC is the curve as (1 - specificity, sensitivity) pairs from (0, 0) to (1, 1), one
	// per distinct score (ROC's points without their thresholds, the first of which is +Inf).
	ROC [][2]float64 `json:"roc"`
	// Presets are the model's operating points on these films, in the file's order.
	Presets []RatesAt `json:"presets"`
	// Target is the sensitivity asked for, Site the largest threshold reaching it
	// (ThresholdForSensitivity) and its rates.
	Target float64 `json:"target"`
	Site   RatesAt `json:"site"`
}

// Site measures a model on a site's labelled films: probs are P(pneumonia) after the model's
// temperature (what its thresholds are on, screen.Result.Prob), labels 1 for PNEUMONIA.
// thresholds are the model file's operating points; target the sensitivity the site asks of
// its own point. Both classes are needed.
func Site(probs []float64, labels []int, thresholds []model.Threshold, target float64) (SiteCalibration, error) {
	pos, neg, err := checkBoth(probs, labels)
	if err != nil {
		return SiteCalibration{}, err
	}
	if err := checkProbs(probs); err != nil {
		return SiteCalibration{}, err
	}
	c := SiteCalibration{Normal: neg, Pneumonia: pos, Target: target}
	if c.AUC, err = AUC(probs, labels); err != nil {
		return SiteCalibration{}, err
	}
	if c.AUCCI, err = BootstrapAUC(probs, labels, SiteBootstrap, SiteLevel, SiteSeed); err != nil {
		return SiteCalibration{}, err
	}
	roc, err := ROC(probs, labels)
	if err != nil {
		return SiteCalibration{}, err
	}
	for _, p := range roc {
		c.ROC = append(c.ROC, [2]float64{p.X, p.Y})
	}
	for _, t := range thresholds {
		r, err := Rates(probs, labels, t.Name, t.Value, SiteLevel)
		if err != nil {
			return SiteCalibration{}, err
		}
		c.Presets = append(c.Presets, r)
	}
	th, err := ThresholdForSensitivity(probs, labels, target)
	if err != nil {
		return SiteCalibration{}, err
	}
	if c.Site, err = Rates(probs, labels, "", th, SiteLevel); err != nil {
		return SiteCalibration{}, err
	}
	return c, nil
}

// Profile writes the calibration as the site profile of the model file m (its sha256),
// labelled label, made at created. The profile validates before it is returned.
func (c SiteCalibration) Profile(m model.Metadata, sha256, label string, created time.Time) (model.SiteProfile, error) {
	if err := model.CheckSiteLabel(label); err != nil {
		return model.SiteProfile{}, err
	}
	created = created.UTC().Truncate(time.Second)
	name := model.SiteName(label, c.Target, c.Normal+c.Pneumonia, created)
	site := siteRates(c.Site)
	site.Name = name
	p := model.SiteProfile{
		Format: model.SiteProfileFormat, Version: model.SiteProfileVersion,
		Model: model.SiteModel{Name: m.Name, Version: m.Version, SHA256: sha256},
		Label: label, Created: created.Format(time.RFC3339),
		Normal: c.Normal, Pneumonia: c.Pneumonia,
		AUC: c.AUC, AUCCI: [2]float64{c.AUCCI.Lo, c.AUCCI.Hi}, CILevel: SiteLevel, Bootstrap: c.AUCCI.B, Seed: c.AUCCI.Seed,
		TargetSensitivity: c.Target,
		Operating: model.Threshold{
			Name: name, Value: c.Site.Threshold, Criterion: model.SiteCriterion(c.Target, c.Normal, c.Pneumonia, created),
			Validation: &model.Rates{Sensitivity: c.Site.Sensitivity, Specificity: c.Site.Specificity,
				Images: c.Normal + c.Pneumonia, Pneumonia: c.Pneumonia, Normal: c.Normal},
		},
		Site: site,
	}
	for _, r := range c.Presets {
		p.Presets = append(p.Presets, siteRates(r))
	}
	return p, p.Validate()
}

func siteRates(r RatesAt) model.SiteRates {
	return model.SiteRates{
		Name: r.Name, Threshold: r.Threshold,
		Sensitivity: r.Sensitivity, SensitivityCI: [2]float64{r.SensitivityCI.Lo, r.SensitivityCI.Hi},
		Specificity: r.Specificity, SpecificityCI: [2]float64{r.SpecificityCI.Lo, r.SpecificityCI.Hi},
		TP: r.Confusion.TP, FN: r.Confusion.FN, TN: r.Confusion.TN, FP: r.Confusion.FP,
	}
}
