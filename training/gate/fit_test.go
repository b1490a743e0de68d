package gate

import (
	"math"
	"math/rand/v2"
	"testing"

	"pneumoscan/model"
)

// Three separable clusters in 6 dimensions: the folded weights classify them all, applied
// the way a reader does (f·W + b on the raw features).
func TestSoftmaxSeparates(t *testing.T) {
	const d, per = 6, 40
	r := rand.New(rand.NewPCG(1, 2))
	var x []float32
	var labels []int
	for c := range 3 {
		for range per {
			for j := range d {
				v := r.NormFloat64()*0.5 + 10 // an offset and scale the standardisation must undo
				if j == c {
					v += 3
				}
				x = append(x, float32(v))
			}
			labels = append(labels, c)
		}
	}
	w, b, err := Softmax(x, d, labels, 3, 1e-3, 300)
	if err != nil {
		t.Fatal(err)
	}
	wrong := 0
	for i, l := range labels {
		logits := make([]float64, 3)
		for c := range 3 {
			logits[c] = float64(b[c])
			for j := range d {
				logits[c] += float64(x[i*d+j]) * float64(w[j*3+c])
			}
		}
		p := model.Softmax(logits)
		best := 0
		for c := range p {
			if p[c] > p[best] {
				best = c
			}
		}
		if best != l {
			wrong++
		}
	}
	if wrong > 0 {
		t.Errorf("%d of %d training points misclassified", wrong, len(labels))
	}
	if _, _, err := Softmax(x, d, labels, 4, 1e-3, 10); err == nil {
		t.Error("a class with no example was accepted")
	}
}

// Data with variance 9 along one axis and 1 along the rest: the first principal direction is
// that axis, its variance about 9, and the rest's mean variance about 1.
func TestPrincipal(t *testing.T) {
	const d, n = 8, 400
	r := rand.New(rand.NewPCG(3, 4))
	x := make([]float32, n*d)
	for i := range n {
		for j := range d {
			s := 1.0
			if j == 2 {
				s = 3
			}
			x[i*d+j] = float32(5 + s*r.NormFloat64())
		}
	}
	mean, basis, variance, err := Principal(x, d, 1)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(float64(mean[0])-5) > 0.3 {
		t.Errorf("mean %v, want about 5", mean[0])
	}
	if math.Abs(math.Abs(float64(basis[2]))-1) > 0.02 {
		t.Errorf("first direction %v, want the third axis", basis)
	}
	if math.Abs(float64(variance[0])-9) > 1.5 || math.Abs(float64(variance[1])-1) > 0.2 {
		t.Errorf("variances %v, want about 9 and 1", variance)
	}
}

func TestHoldOutWholeSources(t *testing.T) {
	var negs []Negative
	add := func(cat, src string, n int) {
		for range n {
			negs = append(negs, Negative{Item: Item{Source: src}, Category: cat})
		}
	}
	add("xray-chest-lateral", "chexval", 33)
	add("xray-chest-lateral", "iuxray", 2)
	add("xray-chest-lateral", "cxrview", 3)
	add("photo", "a", 10)
	holdOut(negs, 0.3, 1)
	held := map[string]bool{}
	for _, n := range negs {
		if n.Held != held[n.Source] && held[n.Source] {
			t.Fatalf("source %s split between held-out and fitted", n.Source)
		}
		held[n.Source] = held[n.Source] || n.Held
	}
	if held["chexval"] || !held["iuxray"] || !held["cxrview"] {
		t.Errorf("held out %v; want the two small lateral sources, not the large one", held)
	}
	if held["a"] {
		t.Error("a category's only source was held out: nothing left to fit on")
	}
}
