package main

import (
	"bytes"
	"context"
	"image"
	"image/jpeg"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"pneumoscan/convnet"
	"pneumoscan/internal/testmodel"
	"pneumoscan/metrics"
	"pneumoscan/model"
	"pneumoscan/screen"
)

// calibrationFolder writes NORMAL/ and PNEUMONIA/ folders of three films each, made from the
// X-ray fixtures (as supplied, mirrored, cropped) so their scores differ, and returns it.
func calibrationFolder(t *testing.T) string {
	dir := t.TempDir()
	for class, name := range map[string]string{"NORMAL": "normal-IM-0001-0001.jpeg", "PNEUMONIA": "pneumonia-person100_bacteria_475.jpeg"} {
		src := testmodel.XRay(t, name)
		img, err := jpeg.Decode(bytes.NewReader(src))
		if err != nil {
			t.Fatal(err)
		}
		b := img.Bounds()
		mirror := image.NewGray(b)
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for x := b.Min.X; x < b.Max.X; x++ {
				mirror.Set(b.Max.X-1-(x-b.Min.X), y, img.At(x, y))
			}
		}
		crop := image.NewGray(image.Rect(0, 0, b.Dx()*3/4, b.Dy()*3/4))
		for y := range crop.Rect.Dy() {
			for x := range crop.Rect.Dx() {
				crop.Set(x, y, img.At(b.Min.X+b.Dx()/8+x, b.Min.Y+b.Dy()/8+y))
			}
		}
		if err := os.MkdirAll(filepath.Join(dir, class), 0o755); err != nil {
			t.Fatal(err)
		}
		files := map[string][]byte{"a.jpeg": src}
		for n, im := range map[string]image.Image{"b.png": mirror, "c.png": crop} {
			var w bytes.Buffer
			if err := png.Encode(&w, im); err != nil {
				t.Fatal(err)
			}
			files[n] = w.Bytes()
		}
		for n, data := range files {
			if err := os.WriteFile(filepath.Join(dir, class, n), data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	return dir
}

// TestCalibrate: "calibrate" screens a labelled folder, prints the AUC and the rates, and
// writes a profile the page's reader accepts for this model (and refuses for another), whose
// numbers are metrics' on the films' own probabilities; a folder without the class folders
// is refused saying what it wants.
func TestCalibrate(t *testing.T) {
	dir := calibrationFolder(t)
	modelPath := filepath.Join(t.TempDir(), "tiny.onnx")
	if err := os.WriteFile(modelPath, testmodel.Tiny(t), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "site.json")
	var stdout, stderr bytes.Buffer
	if code := program.Run(context.Background(), []string{"calibrate", "--model", modelPath, "--data", dir, "-o", out,
		"--label", "CR room 2", "--sensitivity", "0.6"}, &stdout, &stderr); code != 0 {
		t.Fatalf("calibrate: exit %d\n%s%s", code, stdout.String(), stderr.String())
	}
	t.Logf("calibrate:\n%s", stdout.String())

	// The expected numbers, from the films screened one by one.
	s, err := screen.New(testmodel.Tiny(t), convnet.Engine)
	if err != nil {
		t.Fatal(err)
	}
	var probs, raws []float64
	var labels []int
	for label, class := range []string{"NORMAL", "PNEUMONIA"} {
		for _, n := range []string{"a.jpeg", "b.png", "c.png"} {
			data, err := os.ReadFile(filepath.Join(dir, class, n))
			if err != nil {
				t.Fatal(err)
			}
			r, err := s.Screen(data)
			if err != nil {
				t.Fatal(err)
			}
			probs, raws, labels = append(probs, r.Prob), append(raws, r.RawProb), append(labels, label)
		}
	}
	auc, err := metrics.AUC(probs, labels)
	if err != nil {
		t.Fatal(err)
	}
	th, err := metrics.ThresholdForSensitivity(probs, labels, 0.6)
	if err != nil {
		t.Fatal(err)
	}

	text, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	p, err := model.ParseSiteProfile(text)
	if err != nil {
		t.Fatalf("the page's reader refuses the profile: %v\n%s", err, text)
	}
	if p.Normal != 3 || p.Pneumonia != 3 || math.Abs(p.AUC-auc) > 1e-12 || p.Operating.Value != th || p.Label != "CR room 2" ||
		!model.IsSite(p.Operating.Name) || p.Model.SHA256 != s.SHA256() || len(p.Presets) != len(s.Metadata().Thresholds) {
		t.Errorf("profile %+v\nwant AUC %v, site threshold %v, model sha256 %s", p, auc, th, s.SHA256())
	}
	if err := p.For(s.Metadata(), s.SHA256()); err != nil {
		t.Errorf("For the model it was made with: %v", err)
	}
	if err := p.For(s.Metadata(), strings.Repeat("0", 64)); err == nil {
		t.Error("For another model's sha256 accepted the profile")
	}
	m, err := s.Metadata().WithSite(p)
	if err != nil {
		t.Fatal(err)
	}
	for i, raw := range raws {
		if d, err := m.Decide(raw, p.Operating.Name); err != nil || d.Positive != (probs[i] >= th) {
			t.Errorf("Decide at the site point (threshold %v) of a film of P %v: %+v, %v", th, probs[i], d, err)
		}
	}
	for _, want := range []string{"ROC-AUC", "site point", p.Operating.Name, "written to " + out} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("calibrate's output lacks %q:\n%s", want, stdout.String())
		}
	}
	if !strings.Contains(stderr.String(), "img/s") {
		t.Errorf("calibrate drew no progress with a rate:\n%s", stderr.String())
	}

	// A folder without PNEUMONIA/: refused before anything is screened, no profile written.
	if err := os.RemoveAll(filepath.Join(dir, "PNEUMONIA")); err != nil {
		t.Fatal(err)
	}
	out2 := filepath.Join(t.TempDir(), "none.json")
	stdout.Reset()
	stderr.Reset()
	if code := program.Run(context.Background(), []string{"calibrate", "--model", modelPath, "--data", dir, "-o", out2}, &stdout, &stderr); code != 1 ||
		!strings.Contains(stderr.String(), "has no PNEUMONIA/ folder") {
		t.Errorf("calibrate of a folder without PNEUMONIA/: exit %d, %q", code, stderr.String())
	}
	if _, err := os.Stat(out2); !os.IsNotExist(err) {
		t.Errorf("a refused calibration left %s: %v", out2, err)
	}
	if code := program.Run(context.Background(), []string{"calibrate", "--model", modelPath}, &stdout, &stderr); code != 2 {
		t.Errorf("calibrate without --data: exit %d, want 2", code)
	}
}
