package screen

import (
	"errors"
	"image"
	"testing"

	"pneumoscan/convnet"
	"pneumoscan/imagedecode"
	"pneumoscan/internal/testmodel"
	"pneumoscan/model"
	"pneumoscan/modelfile"
	"pneumoscan/preprocess"
)

// tinyGate builds a gate for the tiny model from the features of one fixture film: the
// training films sit around them; the orientation head tells that film from its copy turned
// 90 degrees clockwise by the difference of their features; refuse makes the classifier
// call everything a photograph.
func tinyGate(t *testing.T, s *Screener, film image.Image, refuse bool) model.GateParams {
	t.Helper()
	up, _, err := s.PooledFeatures(film)
	if err != nil {
		t.Fatal(err)
	}
	turned, _, err := s.PooledFeatures(preprocess.Orient(film, model.Rotated90))
	if err != nil {
		t.Fatal(err)
	}
	d := len(up)
	p := model.GateParams{Dim: d, Mean: up, Basis: make([]float32, d), Variance: []float32{1, 1},
		Weight: make([]float32, 2*d), Bias: []float32{2, 0},
		OrientWeight: make([]float32, d*int(model.Orientations)), OrientBias: make([]float32, model.Orientations)}
	p.Basis[0] = 1
	if refuse {
		p.Bias = []float32{0, 2}
	}
	// logit(Rotated90) = k (turned - up)·(f - (turned + up)/2): positive for the turned copy,
	// negative for the upright film.
	var dot, mid float64
	for i := range up {
		w := float64(turned[i] - up[i])
		dot += w * w
		mid += w * float64(turned[i]+up[i]) / 2
	}
	k := 40 / dot
	for i := range up {
		p.OrientWeight[i*int(model.Orientations)+int(model.Rotated90)] = float32(k * float64(turned[i]-up[i]))
	}
	p.OrientBias[model.Rotated90] = float32(-k * mid)
	return p
}

func withGate(t *testing.T, data []byte, p model.GateParams) []byte {
	t.Helper()
	q := make([]float64, 101)
	for i := range q {
		q[i] = float64(i)
	}
	out, md, err := modelfile.WithGate(data, p, func(m *model.Metadata) error {
		m.Gate = &model.GateSpec{Classes: []string{model.FrontalClass, "photograph"}, Accept: 0.5, Correct: 0.9, Warn: 1e6, Quantiles: q}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if md.Gate == nil {
		t.Fatal("no gate in the metadata written")
	}
	return out
}

func TestGateOnTinyModel(t *testing.T) {
	tiny := testmodel.Tiny(t)
	plain, err := New(tiny, convnet.Engine)
	if err != nil {
		t.Fatal(err)
	}
	file := testmodel.Image(t, "pneumonia-person100_bacteria_475.png")
	img, err := imagedecode.Decode(file)
	if err != nil {
		t.Fatal(err)
	}
	// A gray copy: the corrected film is gray, so the upright reference must be too.
	gray := preprocess.Orient(preprocess.Orient(img, model.Inverted), model.Inverted)

	// Contract 1: screened, and the result says there is no gate.
	r0, err := plain.ScreenImage(gray)
	if err != nil {
		t.Fatal(err)
	}
	if r0.Gate.Available || r0.Gate.Note != NoGate || r0.Population != nil || r0.Correction != "" {
		t.Fatalf("contract-1 result: gate %+v, population %v, correction %q; want no gate", r0.Gate, r0.Population, r0.Correction)
	}

	gated, err := New(withGate(t, tiny, tinyGate(t, plain, gray, false)), convnet.Engine)
	if err != nil {
		t.Fatal(err)
	}
	if gated.Gate() == nil || gated.Metadata().Gate == nil {
		t.Fatal("the contract-2 file loaded without its gate")
	}
	// The upright film passes, with the same score and heatmap as without the gate.
	r1, err := gated.ScreenImage(gray)
	if err != nil {
		t.Fatal(err)
	}
	if !r1.Gate.Available || r1.Correction != "" || r1.Population == nil || !r1.Population.Inside {
		t.Fatalf("upright film: gate %+v, correction %q, population %+v", r1.Gate, r1.Correction, r1.Population)
	}
	if r1.RawProb != r0.RawProb || len(r1.Heatmap) != len(r0.Heatmap) {
		t.Fatalf("the gate changed the score: %v, without it %v", r1.RawProb, r0.RawProb)
	}
	for i := range r1.Heatmap {
		if r1.Heatmap[i] != r0.Heatmap[i] {
			t.Fatalf("the gate changed the heatmap at %d", i)
		}
	}
	// The turned copy is corrected and screened as the upright film.
	r2, err := gated.ScreenImage(preprocess.Orient(gray, model.Rotated90))
	if err != nil {
		t.Fatal(err)
	}
	if r2.Correction != model.Rotated90.Correction() || r2.RawProb != r0.RawProb {
		t.Fatalf("turned film: correction %q, raw %v; want %q and the upright film's %v", r2.Correction, r2.RawProb, model.Rotated90.Correction(), r0.RawProb)
	}

	// A gate that refuses: no score, a Refusal with its code and message.
	refusing, err := New(withGate(t, tiny, tinyGate(t, plain, gray, true)), convnet.Engine)
	if err != nil {
		t.Fatal(err)
	}
	r3, err := refusing.Screen(file)
	var ref *Refusal
	if !errors.As(err, &ref) || ref.Code != model.RefusedNotChest || ref.LooksLike != "photograph" || r3.Heatmap != nil || r3.Prob != 0 {
		t.Fatalf("refused image: %+v, %v; want a not_chest_xray Refusal and no result", r3, err)
	}
	if want := "This does not look like a frontal chest X-ray (looks like: photograph)"; len(ref.Message) < len(want) || ref.Message[:len(want)] != want {
		t.Errorf("message %q", ref.Message)
	}
}

// A file whose metadata names a gate but lacks its tensors, or holds them without the
// metadata, is refused when loaded.
func TestGateFileMismatch(t *testing.T) {
	tiny := testmodel.Tiny(t)
	plain, err := New(tiny, convnet.Engine)
	if err != nil {
		t.Fatal(err)
	}
	img, err := imagedecode.Decode(testmodel.Image(t, "normal-IM-0001-0001.png"))
	if err != nil {
		t.Fatal(err)
	}
	gated := withGate(t, tiny, tinyGate(t, plain, img, false))
	mp, err := modelfile.Unmarshal(gated)
	if err != nil {
		t.Fatal(err)
	}
	modelfile.StripGate(mp)
	noTensors, err := modelfile.Marshal(mp)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := New(noTensors, convnet.Engine); err == nil {
		t.Error("a contract-2 file without its gate tensors loaded")
	}
}
