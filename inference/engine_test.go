package inference

import (
	"encoding/json"
	"math"
	"os"
	"slices"
	"testing"

	"pneumoscan/imagedecode"
	"pneumoscan/model"
	"pneumoscan/preprocess"
)

// The tiny contract model and its PyTorch reference come from tools/tiny_model.py.
const tinyModel = "../screen/testdata/tiny.onnx"

func TestRunMatchesPyTorchAndRepeats(t *testing.T) {
	b, err := os.ReadFile(tinyModel)
	if err != nil {
		t.Fatal(err)
	}
	e, err := Load(b)
	if err != nil {
		t.Fatal(err)
	}
	var ref map[string]struct {
		ModelProb float64 `json:"model_prob"`
	}
	raw, err := os.ReadFile("../screen/testdata/reference.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &ref); err != nil {
		t.Fatal(err)
	}
	if len(ref) != 2 {
		t.Fatalf("reference has %d images", len(ref))
	}
	p := model.ImageNetPreprocess(224) // the tiny model's metadata says the same; screen tests read it from the file
	for name, want := range ref {
		data, err := os.ReadFile("../screen/testdata/" + name)
		if err != nil {
			t.Fatal(err)
		}
		img, err := imagedecode.Decode(data)
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
	b, err := os.ReadFile(tinyModel)
	if err != nil {
		t.Fatal(err)
	}
	e, err := Load(b)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.Run(make([]float32, 10)); err == nil {
		t.Error("Run(short input): no error")
	}
}
