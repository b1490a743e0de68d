package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"pneumoscan/internal/testmodel"
	"pneumoscan/model"
	"pneumoscan/modelfile"
	"pneumoscan/onnxpb"
)

func readMeta(t *testing.T, path string) (model.Metadata, *onnxpb.ModelProto) {
	t.Helper()
	mp, err := modelfile.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	md, err := model.ParseMetadata(mp.MetadataProps)
	if err != nil {
		t.Fatal(err)
	}
	return md, mp
}

func graphBytes(t *testing.T, mp *onnxpb.ModelProto) []byte {
	t.Helper()
	b, err := modelfile.Marshal(&onnxpb.ModelProto{Graph: mp.Graph})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestMetadataCommand: on the tiny model with validation figures stored the old way (as
// metrics), the command moves them into the threshold, records a test report, a population
// and a band, and leaves the graph byte for byte as it was.
func TestMetadataCommand(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.onnx")
	old, _, err := modelfile.RewriteMetadata(testmodel.Tiny(t), func(m *model.Metadata) error {
		m.Metrics = map[string]float64{"val_images": 40, "val_sensitivity_balanced": 0.9, "val_specificity_balanced": 0.8, "val_auc": 0.95}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(in, old, 0o644); err != nil {
		t.Fatal(err)
	}
	report := filepath.Join(dir, "metrics.json")
	rep := `{"name":"tiny on test","n":10,"positives":6,"negatives":4,"temperature":1.5,"roc_auc":0.8,
	  "roc_auc_ci":{"lo":0.6,"hi":0.9,"level":0.95,"resamples":100,"seed":1},"average_precision":0.85,"ece":0.1,
	  "operating_points":[{"name":"balanced","value":0.5,"criterion":"x","confusion":{"tp":5,"fp":1,"tn":3,"fn":1}}]}`
	if err := os.WriteFile(report, []byte(rep), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out.onnx")
	var stdout, stderr bytes.Buffer
	if code := run([]string{"metadata", in, "-o", out, "--validation-from-metrics", "--test-report", report,
		"--population", "ten test films", "--indeterminate", "balanced=0.04"}, &stdout, &stderr); code != 0 {
		t.Fatalf("metadata: code %d: %s", code, stderr.String())
	}
	md, mp := readMeta(t, out)
	th := md.Thresholds[0]
	if th.Validation == nil || *th.Validation != (model.Rates{Sensitivity: 0.9, Specificity: 0.8, Images: 40}) {
		t.Errorf("validation rates %+v", th.Validation)
	}
	if th.Test == nil || *th.Test != (model.Rates{Sensitivity: 5.0 / 6, Specificity: 0.75, Images: 10, Pneumonia: 6, Normal: 4}) {
		t.Errorf("test rates %+v", th.Test)
	}
	if th.Indeterminate != 0.04 || md.Population != "ten test films" {
		t.Errorf("band %v, population %q", th.Indeterminate, md.Population)
	}
	if _, ok := md.Metrics["val_sensitivity_balanced"]; ok || md.Metrics["val_auc"] != 0.95 || md.Metrics["test_auc_ci_lo"] != 0.6 || md.Metrics["test_images"] != 10 {
		t.Errorf("metrics %v", md.Metrics)
	}
	_, before := readMeta(t, in)
	if !bytes.Equal(graphBytes(t, mp), graphBytes(t, before)) {
		t.Error("the graph changed")
	}
	if !strings.Contains(stdout.String(), "test sensitivity 0.8333") {
		t.Errorf("output %q does not show the recorded test rates", stdout.String())
	}

	// Errors change nothing: a report of another model, a band of a threshold that does not
	// exist, validation figures that are not recorded.
	orig, _ := os.ReadFile(out)
	bad := filepath.Join(dir, "other.json")
	os.WriteFile(bad, []byte(strings.Replace(rep, `"temperature":1.5`, `"temperature":1.2`, 1)), 0o644)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--test-report", bad}, "another model"},
		{[]string{"--indeterminate", "nosuch=0.1"}, `no threshold "nosuch"`},
		{[]string{"--validation-from-metrics"}, "not recorded"}, // moved already
		{[]string{"--indeterminate", "balanced=0.6"}, "indeterminate half-width"},
	} {
		stderr.Reset()
		if code := run(append([]string{"metadata", out, "-o", out}, c.args...), &stdout, &stderr); code != 1 || !strings.Contains(stderr.String(), c.want) {
			t.Errorf("%v: code %d, %q; want an error saying %q", c.args, code, stderr.String(), c.want)
		}
		if now, _ := os.ReadFile(out); !bytes.Equal(now, orig) {
			t.Fatalf("%v: a failed rewrite changed the file", c.args)
		}
	}
	stderr.Reset()
	if code := run([]string{"metadata", out, "-o", out}, &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), "nothing to change") {
		t.Errorf("no change asked: code %d, %q", code, stderr.String())
	}
}

// TestMetadataShippedReport reads the real evaluation report of the shipped model (the
// format training/evalreport writes) into a copy of the shipped model.
func TestMetadataShippedReport(t *testing.T) {
	shipped := testmodel.Shipped(t)
	in := filepath.Join(t.TempDir(), "m.onnx")
	if err := os.WriteFile(in, shipped, 0o644); err != nil {
		t.Fatal(err)
	}
	report := filepath.Join(testmodel.Root, "docs", "runs", "gpu-20261127-run3", "metrics.json")
	var stdout, stderr bytes.Buffer
	if code := run([]string{"metadata", in, "-o", in, "--test-report", report}, &stdout, &stderr); code != 0 {
		t.Fatalf("code %d: %s", code, stderr.String())
	}
	md, _ := readMeta(t, in)
	for _, th := range md.Thresholds {
		if th.Test == nil || th.Test.Images != 624 || th.Test.Pneumonia != 390 || th.Test.Normal != 234 {
			t.Errorf("threshold %s: test rates %+v, want 624 images (390 pneumonia, 234 normal)", th.Name, th.Test)
		}
	}
	if md.Metrics["test_auc"] < 0.9 || md.Metrics["test_auc_ci_lo"] >= md.Metrics["test_auc"] {
		t.Errorf("test metrics %v", md.Metrics)
	}
}
