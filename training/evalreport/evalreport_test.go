package evalreport

import (
	"bytes"
	"encoding/json"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"pneumoscan/model"
)

// fakeRun makes scores that separate the classes imperfectly and are twice
// too confident: labels are drawn from sigmoid(z), the scores are
// sigmoid(2z), so temperature 2 calibrates them.
func fakeRun() Run {
	r := rand.New(rand.NewPCG(4, 4))
	var s []float64
	var y []int
	for range 300 {
		z := 0.7 + 2.5*r.NormFloat64()
		label := 0
		if r.Float64() < 1/(1+math.Exp(-z)) {
			label = 1
		}
		s, y = append(s, 1/(1+math.Exp(-2*z))), append(y, label)
	}
	return Run{
		Name: "validation", Scores: s, Labels: y, Temperature: 2, Bootstrap: 200, Seed: 1,
		Thresholds: []model.Threshold{
			{Name: "screening", Value: 0.3, Criterion: "sensitivity >= 0.95 on validation"},
			{Name: "youden", Value: 0.55, Criterion: "max Youden's J on validation"},
		},
	}
}

func TestWrite(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "report")
	run := fakeRun()
	rep, err := Write(dir, run)
	if err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	want := []string{"confusion.png", "metrics.json", "metrics.md", "pr.png", "reliability.png", "roc.png"}
	if !reflect.DeepEqual(names, want) {
		t.Errorf("files %v, want %v (no temp files left)", names, want)
	}
	for _, name := range want {
		if !strings.HasSuffix(name, ".png") {
			continue
		}
		b, _ := os.ReadFile(filepath.Join(dir, name))
		img, err := png.Decode(bytes.NewReader(b))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		w, h := img.Bounds().Dx(), img.Bounds().Dy()
		wantW := 480
		if name == "confusion.png" {
			wantW = 2 * 384 // one 4-inch panel per threshold
		}
		if w != wantW || h < 300 || h > 600 {
			t.Errorf("%s is %dx%d, want %d wide and 300-600 high", name, w, h, wantW)
		}
	}

	b, err := os.ReadFile(filepath.Join(dir, "metrics.json"))
	if err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	rep.ROC, rep.PR = nil, nil // not stored
	if !reflect.DeepEqual(&back, rep) {
		t.Errorf("metrics.json does not round-trip:\n got %+v\nwant %+v", back, *rep)
	}
	if back.N != 300 || back.Positives+back.Negatives != 300 || back.Positives < 150 || len(back.Operating) != 2 {
		t.Errorf("counts: %+v", back)
	}
	if back.Operating[0].Name != "screening" || back.Operating[0].Confusion.TP+back.Operating[0].Confusion.FN != back.Positives {
		t.Errorf("operating point: %+v", back.Operating[0])
	}
	if !(back.AUCCI.Lo < back.AUC && back.AUC < back.AUCCI.Hi) || back.AUC < 0.75 {
		t.Errorf("AUC %v outside its CI %+v, or implausibly low for this data", back.AUC, back.AUCCI)
	}
	// The scores were made twice too confident; T = 2 must lower the ECE.
	if !(back.ECE < back.ECERaw) {
		t.Errorf("ECE %v not below the raw %v", back.ECE, back.ECERaw)
	}

	md, _ := os.ReadFile(filepath.Join(dir, "metrics.md"))
	for _, want := range []string{"| screening | 0.3000 |", "| youden | 0.5500 |", "ROC-AUC (95% CI)", "sensitivity >= 0.95 on validation"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("metrics.md lacks %q:\n%s", want, md)
		}
	}
}

func TestEvaluateErrors(t *testing.T) {
	for name, mutate := range map[string]func(*Run){
		"no name":           func(r *Run) { r.Name = "" },
		"negative T":        func(r *Run) { r.Temperature = -1 },
		"no thresholds":     func(r *Run) { r.Thresholds = nil },
		"duplicate names":   func(r *Run) { r.Thresholds[1].Name = r.Thresholds[0].Name },
		"threshold above 1": func(r *Run) { r.Thresholds[0].Value = 1.5 },
		"one class":         func(r *Run) { r.Labels = make([]int, len(r.Scores)) },
		"length mismatch":   func(r *Run) { r.Labels = r.Labels[:10] },
	} {
		run := fakeRun()
		mutate(&run)
		if _, err := Evaluate(run); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	// Nothing is written for a bad run.
	dir := filepath.Join(t.TempDir(), "out")
	run := fakeRun()
	run.Name = ""
	if _, err := Write(dir, run); err == nil {
		t.Error("Write accepted a bad run")
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("Write left %s behind: %v", dir, err)
	}
}
