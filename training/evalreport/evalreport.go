// Package evalreport evaluates one run of a classifier (scores and labels
// of one split) and writes metrics.json, metrics.md and the PNG plots
// roc.png, pr.png, confusion.png and reliability.png.
package evalreport

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"pneumoscan/atomicfile"
	"strings"

	"pneumoscan/metrics"
	"pneumoscan/model"
)

// Run is what one evaluation is made from.
type Run struct {
	Name string // the split, e.g. "validation" or "test"
	// Scores are the model's raw P(pneumonia), before temperature scaling.
	Scores []float64
	Labels []int // 0 NORMAL, 1 PNEUMONIA
	// Temperature is applied to Scores before every metric (0 or 1: none),
	// so the thresholds are on the calibrated probabilities the app shows.
	Temperature float64
	Thresholds  []model.Threshold
	// Bootstrap resamples for the AUC interval (0: DefaultBootstrap) and
	// their seed.
	Bootstrap int
	Seed      uint64
	Bins      int // reliability bins (0: DefaultBins)
}

// Defaults for Run's zero fields.
const (
	DefaultBootstrap = 2000
	DefaultBins      = 10
	ciLevel          = 0.95
)

// Operating is the outcome at one named threshold.
type Operating struct {
	model.Threshold
	Confusion   metrics.Confusion `json:"confusion"`
	Accuracy    float64           `json:"accuracy"`
	Precision   float64           `json:"precision"`
	Recall      float64           `json:"recall"`
	Specificity float64           `json:"specificity"`
	F1          float64           `json:"f1"`
}

// Report is the content of metrics.json.
type Report struct {
	Name        string           `json:"name"`
	N           int              `json:"n"`
	Positives   int              `json:"positives"`
	Negatives   int              `json:"negatives"`
	Temperature float64          `json:"temperature"`
	AUC         float64          `json:"roc_auc"`
	AUCCI       metrics.Interval `json:"roc_auc_ci"`
	AP          float64          `json:"average_precision"`
	// ECE of the calibrated scores, and of the raw ones for comparison.
	ECE         float64         `json:"ece"`
	ECERaw      float64         `json:"ece_raw"`
	Reliability []metrics.Bin   `json:"reliability"`
	Operating   []Operating     `json:"operating_points"`
	ROC         []metrics.Point `json:"-"` // plotted, not stored: its first threshold is +Inf
	PR          []metrics.Point `json:"-"`
}

// Evaluate computes the report of a run.
func Evaluate(run Run) (*Report, error) {
	if run.Name == "" {
		return nil, errors.New("evalreport: the run has no name")
	}
	t := run.Temperature
	if t == 0 {
		t = 1
	}
	if !(t > 0) || math.IsInf(t, 0) {
		return nil, fmt.Errorf("evalreport: temperature %v is not a positive number", run.Temperature)
	}
	if len(run.Thresholds) == 0 {
		return nil, errors.New("evalreport: no thresholds to report at")
	}
	seen := map[string]bool{}
	for _, th := range run.Thresholds {
		if th.Name == "" || seen[th.Name] || !(th.Value >= 0 && th.Value <= 1) {
			return nil, fmt.Errorf("evalreport: threshold %q = %v: names must be unique and non-empty, values in [0, 1]", th.Name, th.Value)
		}
		seen[th.Name] = true
	}
	b, bins := run.Bootstrap, run.Bins
	if b == 0 {
		b = DefaultBootstrap
	}
	if bins == 0 {
		bins = DefaultBins
	}
	r := &Report{Name: run.Name, N: len(run.Scores), Temperature: t}
	_, eceRaw, err := metrics.Reliability(run.Scores, run.Labels, bins)
	if err != nil {
		return nil, err
	}
	r.ECERaw = eceRaw
	s := metrics.ApplyTemperatureAll(run.Scores, t)
	if r.Reliability, r.ECE, err = metrics.Reliability(s, run.Labels, bins); err != nil {
		return nil, err
	}
	if r.AUC, err = metrics.AUC(s, run.Labels); err != nil {
		return nil, err
	}
	if r.AUCCI, err = metrics.BootstrapAUC(s, run.Labels, b, ciLevel, run.Seed); err != nil {
		return nil, err
	}
	if r.ROC, err = metrics.ROC(s, run.Labels); err != nil {
		return nil, err
	}
	if r.PR, r.AP, err = metrics.PR(s, run.Labels); err != nil {
		return nil, err
	}
	for _, y := range run.Labels {
		r.Positives += y
	}
	r.Negatives = r.N - r.Positives
	for _, th := range run.Thresholds {
		c, err := metrics.ConfusionAt(s, run.Labels, th.Value)
		if err != nil {
			return nil, err
		}
		r.Operating = append(r.Operating, Operating{Threshold: th, Confusion: c, Accuracy: c.Accuracy(),
			Precision: c.Precision(), Recall: c.Recall(), Specificity: c.Specificity(), F1: c.F1()})
	}
	return r, nil
}

// Write evaluates the run and writes its files into dir (created if
// needed), each atomically.
func Write(dir string, run Run) (*Report, error) {
	r, err := Evaluate(run)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("evalreport: %w", err)
	}
	js, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("evalreport: %w", err)
	}
	files := []struct {
		name string
		make func() ([]byte, error)
	}{
		{"metrics.json", func() ([]byte, error) { return append(js, '\n'), nil }},
		{"metrics.md", func() ([]byte, error) { return []byte(r.Markdown()), nil }},
		{"roc.png", r.rocPNG},
		{"pr.png", r.prPNG},
		{"confusion.png", r.confusionPNG},
		{"reliability.png", r.reliabilityPNG},
	}
	for _, f := range files {
		b, err := f.make()
		if err != nil {
			return nil, fmt.Errorf("evalreport: %s: %w", f.name, err)
		}
		path := filepath.Join(dir, f.name)
		if err := atomicfile.Write(path, b); err != nil {
			return nil, fmt.Errorf("evalreport: writing %s: %w", path, err)
		}
	}
	return r, nil
}

// Markdown renders the report as the text of metrics.md.
func (r *Report) Markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Evaluation: %s\n\n", r.Name)
	fmt.Fprintf(&b, "%d images: %d PNEUMONIA, %d NORMAL. Temperature %.4g. ", r.N, r.Positives, r.Negatives, r.Temperature)
	fmt.Fprintf(&b, "ROC-AUC %.4f (%.0f%% CI %.4f-%.4f, stratified bootstrap, %d resamples, seed %d), average precision %.4f, ECE %.4f (raw %.4f).\n\n",
		r.AUC, 100*r.AUCCI.Level, r.AUCCI.Lo, r.AUCCI.Hi, r.AUCCI.B, r.AUCCI.Seed, r.AP, r.ECE, r.ECERaw)
	b.WriteString("| threshold | value | accuracy | ROC-AUC (95% CI) | precision | recall (sensitivity) | specificity | F1 | TP | FP | TN | FN |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, o := range r.Operating {
		fmt.Fprintf(&b, "| %s | %.4f | %.4f | %.4f (%.4f-%.4f) | %.4f | %.4f | %.4f | %.4f | %d | %d | %d | %d |\n",
			o.Name, o.Value, o.Accuracy, r.AUC, r.AUCCI.Lo, r.AUCCI.Hi, o.Precision, o.Recall, o.Specificity, o.F1,
			o.Confusion.TP, o.Confusion.FP, o.Confusion.TN, o.Confusion.FN)
	}
	b.WriteString("\nPositive means P(pneumonia) >= threshold. Thresholds:\n\n")
	for _, o := range r.Operating {
		crit := o.Criterion
		if crit == "" {
			crit = "(no criterion recorded)"
		}
		fmt.Fprintf(&b, "- %s: %s\n", o.Name, crit)
	}
	return b.String()
}
