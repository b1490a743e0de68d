package model

import (
	"errors"
	"math"
	"strings"
	"testing"
)

// toyGate is a gate on 4 features: feature 0 says "frontal chest X-ray", feature 1 "photo";
// feature 2 says "rotated 90 degrees clockwise", feature 3 "inverted". The training films sit
// at the origin with unit variance along the one principal direction (feature 0) and 1 in the
// rest.
func toyGate(t *testing.T) *Gate {
	t.Helper()
	const d = 4
	p := GateParams{
		Dim:      d,
		Mean:     []float32{0, 0, 0, 0},
		Basis:    []float32{1, 0, 0, 0}, // [4,1]
		Variance: []float32{1, 1},
		// [4,2]: frontal, photo
		Weight: []float32{
			4, 0,
			0, 4,
			0, 0,
			0, 0,
		},
		Bias:         []float32{0, 0},
		OrientWeight: make([]float32, d*int(Orientations)),
		OrientBias:   []float32{1, 0, 0, 0, 0},
	}
	p.OrientWeight[2*int(Orientations)+int(Rotated90)] = 10
	p.OrientWeight[3*int(Orientations)+int(Inverted)] = 2
	q := make([]float64, 101)
	for i := range q {
		q[i] = float64(i) / 50 // distances 0..2
	}
	g, err := NewGate(p, GateSpec{Classes: []string{FrontalClass, "photograph"}, Accept: 0.5, RefuseDistance: 10, Correct: 0.9, Unsure: 0.3, Warn: 1.5, Quantiles: q})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func TestGateJudge(t *testing.T) {
	g := toyGate(t)
	noRerun := func(Orientation) ([]float32, error) {
		t.Fatal("rerun called for a film screened as supplied")
		return nil, nil
	}

	upright := []float32{1, 0, 0, 0}
	out, err := g.Judge(upright, noRerun)
	if err != nil || out.Refused != "" || out.Corrected() != Upright || !out.Inside {
		t.Fatalf("upright film: %+v, %v; want screened as supplied, inside the population", out, err)
	}

	photo := []float32{0, 1, 0, 0}
	out, _ = g.Judge(photo, noRerun)
	if out.Refused != RefusedNotChest || out.Gate.LooksLike != "photograph" || !strings.Contains(out.Message(), "looks like: photograph") {
		t.Fatalf("photo: refused %q looks like %q, message %q; want not_chest_xray, photograph", out.Refused, out.Gate.LooksLike, out.Message())
	}

	// Turned: the head is sure, the rerun gives the corrected film's features.
	turned := []float32{0.2, 0, 1, 0}
	var asked []Orientation
	out, err = g.Judge(turned, func(o Orientation) ([]float32, error) { asked = append(asked, o); return upright, nil })
	if err != nil || out.Refused != "" || out.Corrected() != Rotated90 || len(asked) != 1 || asked[0] != Rotated90 {
		t.Fatalf("turned film: %+v, %v, rerun %v; want corrected from %v", out, err, asked, Rotated90)
	}
	if c := out.Corrected().Correction(); c != "rotated 90 degrees counter-clockwise before screening" {
		t.Errorf("correction %q", c)
	}
	// The gate judges the corrected film, not the one supplied.
	if out.Gate.Frontal < 0.9 {
		t.Errorf("gate on the corrected film: P(frontal) %v, want that of the upright features", out.Gate.Frontal)
	}

	// Inverted, but the head is unsure (softmax of 1 vs 2 vs 0s): refused, not corrected.
	unsure := []float32{1, 0, 0, 1}
	out, _ = g.Judge(unsure, noRerun)
	if out.Refused != RefusedOrientation || !strings.Contains(out.Message(), "polarity inverted") {
		t.Fatalf("unsure film: %+v %q; want refused for its orientation", out, out.Message())
	}

	// Leaning to inverted but not sure, with P(upright) above Unsure: screened as supplied.
	g.Spec.Unsure = 0.1
	out, _ = g.Judge(unsure, noRerun)
	if out.Refused != "" || out.Corrected() != Upright {
		t.Fatalf("film leaning to inverted, P(upright) %.2f >= Unsure: %+v; want screened as supplied", out.Orientation.Probs[Upright], out)
	}
	g.Spec.Unsure = 0.3

	// Far from the training films: refused whatever the classifier says.
	far := []float32{1, 0, 0, 0}
	far[1] = -40 // P(frontal) ~1, distance sqrt(1+1600)/2 = 20 > 10
	out, _ = g.Judge(far, noRerun)
	if out.Refused != RefusedNotChest || out.Gate.Frontal < 0.5 || out.Gate.LooksLike != "nothing the model was trained on" {
		t.Fatalf("far image: %+v; want refused by the distance", out)
	}

	// Between Warn and RefuseDistance: screened, outside the population.
	odd := []float32{1, -4, 0, 0}
	out, _ = g.Judge(odd, noRerun)
	if out.Refused != "" || out.Inside || out.Percentile != 100 {
		t.Fatalf("unusual film: %+v; want screened, outside the population at the 100th percentile", out)
	}

	// A rerun error is the caller's.
	boom := errors.New("boom")
	if _, err := g.Judge(turned, func(Orientation) ([]float32, error) { return nil, boom }); !errors.Is(err, boom) {
		t.Fatalf("rerun error: %v", err)
	}
}

func TestGateDistanceAndPercentile(t *testing.T) {
	g := toyGate(t)
	// Variance 1 along feature 0, residual variance 1: the distance is |f|/sqrt(4).
	if d := g.Distance([]float32{2, 0, 0, 0}); math.Abs(d-1) > 1e-9 {
		t.Errorf("distance %v, want 1", d)
	}
	if d := g.Distance([]float32{0, 2, 2, 0}); math.Abs(d-math.Sqrt(8)/2) > 1e-9 {
		t.Errorf("residual distance %v, want %v", d, math.Sqrt(8)/2)
	}
	if p := g.Percentile(1); math.Abs(p-50) > 1e-9 {
		t.Errorf("percentile of 1 = %v, want 50", p)
	}
}

func TestGateSpecValidate(t *testing.T) {
	good := toyGate(t).Spec
	for name, edit := range map[string]func(*GateSpec){
		"first class not frontal": func(s *GateSpec) { s.Classes = []string{"photograph", FrontalClass} },
		"accept 1":                func(s *GateSpec) { s.Accept = 1 },
		"correct NaN":             func(s *GateSpec) { s.Correct = math.NaN() },
		"warn 0":                  func(s *GateSpec) { s.Warn = 0 },
		"quantiles short":         func(s *GateSpec) { s.Quantiles = s.Quantiles[:100] },
		"quantiles unsorted":      func(s *GateSpec) { s.Quantiles = append([]float64{5}, s.Quantiles[1:]...) },
	} {
		s := good
		s.Quantiles = append([]float64(nil), good.Quantiles...)
		edit(&s)
		if err := s.Validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestGateMetadataRoundTrip(t *testing.T) {
	m := testMetadata()
	props1, err := m.Props()
	if err != nil {
		t.Fatal(err)
	}
	spec := toyGate(t).Spec
	m.Gate = &spec
	props2, err := m.Props()
	if err != nil {
		t.Fatal(err)
	}
	kv := map[string]string{}
	for _, p := range props2 {
		kv[p.Key] = p.Value
	}
	if kv[KeyContract] != ContractVersionGate || kv[KeyGate] == "" {
		t.Fatalf("a file with a gate is contract %q, gate key %q", kv[KeyContract], kv[KeyGate])
	}
	for _, p := range props1 {
		if p.Key == KeyContract && p.Value != ContractVersion {
			t.Fatalf("a file without a gate is contract %q", p.Value)
		}
	}
	back, err := ParseMetadata(props2)
	if err != nil || back.Gate == nil || back.Gate.Accept != spec.Accept || len(back.Gate.Quantiles) != 101 {
		t.Fatalf("round trip: %+v, %v", back.Gate, err)
	}
	// Version 2 without the gate key, or 1 with it, is refused.
	for i, p := range props2 {
		if p.Key == KeyContract {
			props2[i].Value = ContractVersion
		}
	}
	if _, err := ParseMetadata(props2); err == nil {
		t.Error("contract 1 with a gate key accepted")
	}
}
