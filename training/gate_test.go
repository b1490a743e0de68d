package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"pneumoscan/convnet"
	"pneumoscan/internal/testmodel"
	"pneumoscan/model"
	"pneumoscan/screen"
)

// negatives writes a small not_cxr: two categories of two sources each, images that pass
// the checks before the model (so the gate has to refuse them).
func negatives(t *testing.T) string {
	dir := t.TempDir()
	r := rand.New(rand.NewPCG(7, 7))
	var rows [][]string
	rows = append(rows, []string{"path", "category", "source_repository", "original_path", "licence", "notes"})
	for _, c := range []struct{ cat, src string }{{"ct-mri", "ringa"}, {"ct-mri", "ringb"}, {"photo", "stripesa"}, {"photo", "stripesb"}} {
		if err := os.MkdirAll(filepath.Join(dir, c.cat), 0o755); err != nil {
			t.Fatal(err)
		}
		for i := range 6 {
			img := image.NewGray(image.Rect(0, 0, 160, 160))
			for y := range 160 {
				for x := range 160 {
					var v float64
					if c.cat == "ct-mri" { // a bright ring on black, like a slice
						rr := math.Hypot(float64(x-80), float64(y-80))
						v = 20 + 200*math.Exp(-math.Pow((rr-50)/8, 2)) + r.NormFloat64()*15
					} else {
						v = 128 + 100*math.Sin(float64(x+y*(i+1))/7) + r.NormFloat64()*20
					}
					img.SetGray(x, y, color.Gray{uint8(max(0, min(255, v)))})
				}
			}
			rel := fmt.Sprintf("%s/%s_%d.png", c.cat, c.src, i)
			var b bytes.Buffer
			if err := png.Encode(&b, img); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, rel), b.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			rows = append(rows, []string{rel, c.cat, "test/" + c.src, rel, "test", ""})
		}
	}
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	if err := w.WriteAll(rows); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "MANIFEST.csv"), b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestGateCommand runs the gate command end to end on the tiny model and generated data: it
// writes a contract-2 file that screens a test film exactly as the input model does, a
// report, and a cache that makes a rerun extract nothing.
func TestGateCommand(t *testing.T) {
	data := synthData(t)
	negs := negatives(t)
	dir := t.TempDir()
	in := filepath.Join(dir, "tiny.onnx")
	if err := os.WriteFile(in, testmodel.Tiny(t), 0o644); err != nil {
		t.Fatal(err)
	}
	outModel, out := filepath.Join(dir, "gated.onnx"), filepath.Join(dir, "gate")
	args := []string{"gate", "--model", in, "--data", data, "--negatives", negs, "--adult", "", "-o", outModel, "--out", out,
		"--workers", "1", "--train-images", "0", "--orient-images", "30", "--eval-rotations", "5", "--synthetic", "54",
		"--per-source", "0", "--val-images", "0", "--components", "8", "--hold-out", "0.5"}
	var stdout, stderr bytes.Buffer
	if code := program.Run(context.Background(), args, &stdout, &stderr); code != 0 {
		t.Fatalf("gate: exit %d\n%s%s", code, stdout.String(), stderr.String())
	}
	t.Log(stdout.String())
	if !strings.Contains(stderr.String(), "features train-upright") {
		t.Errorf("the first run shows no extraction progress:\n%s", stderr.String())
	}
	gatedBytes, err := os.ReadFile(outModel)
	if err != nil {
		t.Fatal(err)
	}
	gated, err := screen.New(gatedBytes, convnet.Engine)
	if err != nil {
		t.Fatal(err)
	}
	if gated.Gate() == nil || gated.Metadata().Gate.Measured["test_kept"] == 0 && gated.Metadata().Gate.Measured["validation_kept"] == 0 {
		t.Fatalf("the written file has no gate or no measured figures: %+v", gated.Metadata().Gate)
	}
	var rep struct {
		Films       map[string]struct{ Images int } `json:"films"`
		Negatives   []struct{ Name string }         `json:"negatives"`
		Orientation map[string][]struct{ Images int }
	}
	b, err := os.ReadFile(filepath.Join(out, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Films["test"].Images != 20 || len(rep.Negatives) != 2 || len(rep.Orientation["test"]) != 4 {
		t.Errorf("report: %d test films, %d held-out categories, %d orientation rows; want 20, 2, 4", rep.Films["test"].Images, len(rep.Negatives), len(rep.Orientation["test"]))
	}
	for _, f := range []string{"report.md", "distances.png"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Error(err)
		}
	}
	// The classifier is untouched: a film the gate passes gets the input model's score.
	plain, err := screen.New(testmodel.Tiny(t), convnet.Engine)
	if err != nil {
		t.Fatal(err)
	}
	films, _ := filepath.Glob(filepath.Join(data, "test", "*", "*.jpeg"))
	same := 0
	for _, f := range films {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		r1, err1 := plain.Screen(b)
		r2, err2 := gated.Screen(b)
		if err1 != nil {
			t.Fatal(err1)
		}
		if err2 != nil || r2.Correction != "" {
			continue // refused or corrected: the gate's doing, counted in the report
		}
		if r1.RawProb != r2.RawProb {
			t.Fatalf("%s: raw score %v with the gate, %v without", filepath.Base(f), r2.RawProb, r1.RawProb)
		}
		same++
	}
	if same == 0 {
		t.Error("the gate screened none of the test films as supplied")
	}
	// A rerun reads every feature back from the cache.
	stdout.Reset()
	stderr.Reset()
	if code := program.Run(context.Background(), args, &stdout, &stderr); code != 0 {
		t.Fatalf("rerun: exit %d\n%s", code, stderr.String())
	}
	if strings.Contains(stderr.String(), "features ") {
		t.Errorf("the rerun extracted features again:\n%s", stderr.String())
	}
	again, err := os.ReadFile(outModel)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again, gatedBytes) {
		t.Error("the rerun wrote a different model file from the same features")
	}
	_ = model.FrontalClass
}
