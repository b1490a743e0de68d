package gpu

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/backends/simplego"

	"pneumoscan/resnet"
)

// tiny has ResNet50's layout at a size GoMLX's pure-Go backend runs in well under a second.
var tiny = Net{
	Arch:   resnet.Tiny,
	Size:   64,
	Hidden: 6, Dropout: 0.3, L2: 1e-4,
}

func cpuBackend(t *testing.T) backends.Backend {
	t.Helper()
	b, err := simplego.New("")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Finalize)
	return b
}

func randomInput(n Net, batch int, seed uint64) []float32 {
	r := rand.New(rand.NewPCG(seed, 2))
	x := make([]float32, batch*3*n.Size*n.Size)
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	return x
}

// TestParityTiny runs the GoMLX network in evaluation mode on the pure-Go backend and the
// resnet package's reference forward on the folded weights: the same check the GPU run makes
// on ResNet50.
func TestParityTiny(t *testing.T) {
	g, ref, err := Parity(cpuBackend(t), tiny, randomInput(tiny, 3, 1), 3)
	if err != nil {
		t.Fatal(err)
	}
	if d := MaxRelDiff(g, ref); d > 1e-5 {
		t.Errorf("GoMLX logits %v, folded reference %v: max relative diff %g", g, ref, d)
	}
	if g[0] == g[1] && g[1] == g[2] {
		t.Errorf("all logits equal (%v): the check would not see a wrong fold", g)
	}
	t.Logf("GoMLX %v reference %v", g, ref)
}

func TestMaxRelDiff(t *testing.T) {
	if d := MaxRelDiff([]float64{1, -2, 4.5}, []float64{1, -2, 4}); math.Abs(d-0.125) > 1e-12 {
		t.Errorf("MaxRelDiff = %v, want 0.125", d)
	}
}
