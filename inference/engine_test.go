package inference

import (
	"math"
	"slices"
	"testing"

	"pneumoscan/imagedecode"
	"pneumoscan/internal/testmodel"
	"pneumoscan/model"
	"pneumoscan/preprocess"
)

// The tiny contract model and its PyTorch reference come from tools/tiny_model.py
// (package testmodel reads them).

func TestRunMatchesPyTorchAndRepeats(t *testing.T) {
	e, err := Load(testmodel.Tiny(t))
	if err != nil {
		t.Fatal(err)
	}
	p := model.ImageNetPreprocess(224) // the tiny model's metadata says the same; screen tests read it from the file
	for name, want := range testmodel.References(t) {
		img, err := imagedecode.Decode(testmodel.Image(t, name))
		if err != nil {
			t.Fatal(err)
		}
		x, err := preprocess.Tensor(img, p)
		if err != nil {
			t.Fatal(err)
		}
		var first []float32
		var firstP float32
		for r := 0; r < 3; r++ {
			prob, feats, err := e.Run(x)
			if err != nil {
				t.Fatal(err)
			}
			if r == 0 {
				first, firstP = feats, prob
				if d := math.Abs(float64(prob) - want.ModelProb); d > 1e-5 {
					t.Errorf("%s: prob %v, PyTorch %v (|d| = %.2g)", name, prob, want.ModelProb, d)
				}
				t.Logf("%s: prob %v, PyTorch %v, features %v", name, prob, want.ModelProb, e.FeaturesShape())
				continue
			}
			if prob != firstP || !slices.Equal(feats, first) {
				t.Fatalf("%s: run %d differs: prob %v vs %v", name, r, prob, firstP)
			}
		}
	}
	if got := e.FeaturesShape(); !slices.Equal(got, []int{1, 16, 14, 14}) {
		t.Errorf("features shape %v, want [1 16 14 14]", got)
	}
}

func TestLoadAndRunErrors(t *testing.T) {
	if _, err := Load([]byte("not a model")); err == nil {
		t.Error("Load(garbage): no error")
	}
	e, err := Load(testmodel.Tiny(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.Run(make([]float32, 10)); err == nil {
		t.Error("Run(short input): no error")
	}
}
