package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"

	"pneumoscan/internal/cli"
	"pneumoscan/model"
	"pneumoscan/modelfile"
)

// runMetadata rewrites only the metadata of a model file (modelfile.RewriteMetadataFile: the
// weights are checked to be untouched and the file is written atomically). It records what
// was measured elsewhere, never anything new: the validation rates a file already holds as
// val_sensitivity_<name> / val_specificity_<name> metrics (the form trainers wrote before
// thresholds carried them), the test figures of a `training evaluate` report, the population
// in words, and an indeterminate band.
func runMetadata(_ context.Context, fs *flag.FlagSet, args []string, stdout, stderr io.Writer) error {
	out := cli.OutputModel(fs, "")
	fromMetrics := fs.Bool("validation-from-metrics", false, "move each threshold's val_sensitivity_<name>/val_specificity_<name> metrics into its validation rates")
	report := fs.String("test-report", "", "metrics.json of `training evaluate` on a test split: its figures at each threshold, its AUC and interval")
	population := fs.String("population", "", "who the model's figures were measured on, in words")
	bands := bandFlag{}
	fs.Var(bands, "indeterminate", "NAME=HALFWIDTH: an indeterminate band around threshold NAME (0 removes it); repeatable")
	pos, err := cli.ParseInterspersed(fs, args)
	if err != nil {
		return err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if len(pos) != 1 || *out == "" || !(*fromMetrics || *report != "" || set["population"] || len(bands) > 0) {
		if len(pos) == 1 && *out != "" {
			fmt.Fprintln(stderr, "metadata: nothing to change (give --validation-from-metrics, --test-report, --population or --indeterminate)")
		}
		fs.Usage()
		return cli.ErrUsage
	}
	var rep *testReport
	if *report != "" {
		if rep, err = readTestReport(*report); err != nil {
			return err
		}
	}
	md, err := modelfile.RewriteMetadataFile(pos[0], *out, func(m *model.Metadata) error {
		if *fromMetrics {
			if err := validationFromMetrics(m); err != nil {
				return err
			}
		}
		if rep != nil {
			if err := rep.apply(m); err != nil {
				return fmt.Errorf("%s: %w", *report, err)
			}
		}
		if set["population"] {
			m.Population = strings.TrimSpace(*population)
		}
		for name, w := range bands {
			i := thresholdIndex(*m, name)
			if i < 0 {
				return fmt.Errorf("--indeterminate: the model has no threshold %q", name)
			}
			m.Thresholds[i].Indeterminate = w
		}
		return nil
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s (metadata only; weights unchanged)\n", *out)
	for _, t := range md.Thresholds {
		fmt.Fprintf(stdout, "threshold %s\n", describeThreshold(t))
	}
	if md.Population != "" {
		fmt.Fprintf(stdout, "population %s\n", md.Population)
	}
	return nil
}

func thresholdIndex(m model.Metadata, name string) int {
	for i, t := range m.Thresholds {
		if t.Name == name {
			return i
		}
	}
	return -1
}

// validationFromMetrics moves val_sensitivity_<name> and val_specificity_<name> into each
// threshold's validation rates, with val_images as the image count. A threshold lacking
// either figure is an error: the rates are recorded or they are not, never guessed.
func validationFromMetrics(m *model.Metadata) error {
	n := m.Metrics["val_images"]
	if n <= 0 || n != math.Trunc(n) {
		return errors.New("--validation-from-metrics: the metrics have no val_images count")
	}
	for i, t := range m.Thresholds {
		se, ok1 := m.Metrics["val_sensitivity_"+t.Name]
		sp, ok2 := m.Metrics["val_specificity_"+t.Name]
		if !ok1 || !ok2 {
			return fmt.Errorf("--validation-from-metrics: threshold %q: val_sensitivity_%s or val_specificity_%s is not recorded", t.Name, t.Name, t.Name)
		}
		m.Thresholds[i].Validation = &model.Rates{Sensitivity: se, Specificity: sp, Images: int(n)}
		delete(m.Metrics, "val_sensitivity_"+t.Name)
		delete(m.Metrics, "val_specificity_"+t.Name)
	}
	return nil
}

// testReport is the part of `training evaluate`'s metrics.json (training/evalreport.Report)
// that a model's metadata records. The trainer's report type serves the trainer only, so the
// fields are named here again; readTestReport refuses a file that lacks any of them.
type testReport struct {
	N           int     `json:"n"`
	Positives   int     `json:"positives"`
	Negatives   int     `json:"negatives"`
	Temperature float64 `json:"temperature"`
	AUC         float64 `json:"roc_auc"`
	AUCCI       struct {
		Lo    float64 `json:"lo"`
		Hi    float64 `json:"hi"`
		Level float64 `json:"level"`
	} `json:"roc_auc_ci"`
	AP        float64 `json:"average_precision"`
	ECE       float64 `json:"ece"`
	Operating []struct {
		Name      string  `json:"name"`
		Value     float64 `json:"value"`
		Confusion struct {
			TP int `json:"tp"`
			FP int `json:"fp"`
			TN int `json:"tn"`
			FN int `json:"fn"`
		} `json:"confusion"`
	} `json:"operating_points"`
}

func readTestReport(path string) (*testReport, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r testReport
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%s: not an evaluation report: %w", path, err)
	}
	switch {
	case r.N <= 0 || r.Positives <= 0 || r.Negatives <= 0 || r.Positives+r.Negatives != r.N:
		return nil, fmt.Errorf("%s: not an evaluation report: n %d, positives %d, negatives %d", path, r.N, r.Positives, r.Negatives)
	case r.AUC <= 0 || r.AUCCI.Level <= 0 || r.Temperature <= 0:
		return nil, fmt.Errorf("%s: not an evaluation report: no ROC-AUC with its interval, or no temperature", path)
	case len(r.Operating) == 0:
		return nil, fmt.Errorf("%s: the report has no operating points", path)
	}
	for _, o := range r.Operating {
		c := o.Confusion
		if c.TP+c.FN != r.Positives || c.TN+c.FP != r.Negatives {
			return nil, fmt.Errorf("%s: operating point %q: its confusion counts do not add up to %d pneumonia and %d normal images", path, o.Name, r.Positives, r.Negatives)
		}
	}
	return &r, nil
}

// apply records the report's test figures in m. The report must be of this model: the same
// temperature, and each of its operating points a threshold of m with the same value.
func (r *testReport) apply(m *model.Metadata) error {
	if math.Abs(r.Temperature-m.Temperature) > 1e-12 {
		return fmt.Errorf("the report was made with temperature %v, the model has %v: a report of another model", r.Temperature, m.Temperature)
	}
	for _, o := range r.Operating {
		i := thresholdIndex(*m, o.Name)
		if i < 0 || math.Abs(m.Thresholds[i].Value-o.Value) > 1e-12 {
			return fmt.Errorf("its operating point %q = %v is not a threshold of the model: a report of another model", o.Name, o.Value)
		}
		c := o.Confusion
		m.Thresholds[i].Test = &model.Rates{
			Sensitivity: float64(c.TP) / float64(c.TP+c.FN), Specificity: float64(c.TN) / float64(c.TN+c.FP),
			Images: r.N, Pneumonia: c.TP + c.FN, Normal: c.TN + c.FP,
		}
	}
	if m.Metrics == nil {
		m.Metrics = map[string]float64{}
	}
	for k, v := range map[string]float64{
		"test_images": float64(r.N), "test_auc": r.AUC, "test_auc_ci_lo": r.AUCCI.Lo, "test_auc_ci_hi": r.AUCCI.Hi,
		"test_auc_ci_level": r.AUCCI.Level, "test_average_precision": r.AP, "test_ece": r.ECE,
	} {
		m.Metrics[k] = v
	}
	return nil
}

// bandFlag collects --indeterminate NAME=HALFWIDTH.
type bandFlag map[string]float64

func (b bandFlag) String() string { return "" }

func (b bandFlag) Set(s string) error {
	name, v, ok := strings.Cut(s, "=")
	w, err := strconv.ParseFloat(v, 64)
	if !ok || name == "" || err != nil {
		return fmt.Errorf("want NAME=HALFWIDTH, e.g. screening=0.05; got %q", s)
	}
	b[name] = w
	return nil
}

// describeThreshold is one threshold with what the metadata records about it.
func describeThreshold(t model.Threshold) string {
	s := fmt.Sprintf("%s = %g (%s)", t.Name, t.Value, t.Criterion)
	rates := func(what string, r *model.Rates) string {
		if r == nil {
			return "; " + what + " not recorded"
		}
		return fmt.Sprintf("; %s sensitivity %.4f specificity %.4f (%d images)", what, r.Sensitivity, r.Specificity, r.Images)
	}
	s += rates("validation", t.Validation) + rates("test", t.Test)
	if t.Indeterminate > 0 {
		s += fmt.Sprintf("; indeterminate within %g of it", t.Indeterminate)
	}
	return s
}
