package gradcam

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"pneumoscan/resnet"
	"testing"
)

func readF32(t *testing.T, name string, n int) []float32 {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name + ".f32")
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != 4*n {
		t.Fatalf("%s: %d bytes, want %d", name, len(b), 4*n)
	}
	v := make([]float32, n)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return v
}

// The reference comes from tools/gradcam_reference.py (PyTorch autograd).
func TestMapMatchesAutograd(t *testing.T) {
	var meta struct {
		K, U, H, W, S  int
		NegativeHidden int `json:"negative_hidden"`
	}
	b, err := os.ReadFile("testdata/meta.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &meta); err != nil {
		t.Fatal(err)
	}
	if meta.NegativeHidden == 0 {
		t.Fatal("fixture does not exercise the ReLU gate")
	}
	h := &resnet.Head{Features: meta.K, Hidden: meta.U,
		FC1: readF32(t, "w1", meta.K*meta.U), B1: readF32(t, "b1", meta.U), FC2: readF32(t, "w2", meta.U), B2: []float32{0}}
	feats := readF32(t, "features", meta.K*meta.H*meta.W)
	want := readF32(t, "cam", meta.S*meta.S)
	got, err := Map(h, feats, meta.H, meta.W, meta.S)
	if err != nil {
		t.Fatal(err)
	}
	var worst float64
	for i := range want {
		worst = math.Max(worst, math.Abs(float64(got[i]-want[i])))
	}
	t.Logf("max |Go - autograd| = %.3g over %dx%d (K=%d U=%d, %d hidden units gated off)",
		worst, meta.S, meta.S, meta.K, meta.U, meta.NegativeHidden)
	if worst > 1e-3 {
		t.Fatalf("max diff %.3g > 1e-3", worst)
	}

	// Without the ReLU gate the map must differ: the fixture would not catch a missing gate otherwise.
	open := *h
	open.B1 = make([]float32, h.Hidden)
	for j := range open.B1 {
		open.B1[j] = 1e6
	}
	ungated, _ := Map(&open, feats, meta.H, meta.W, meta.S)
	var d float64
	for i := range want {
		d = math.Max(d, math.Abs(float64(ungated[i]-want[i])))
	}
	if d < 1e-2 {
		t.Errorf("ungated map within %.3g of the reference: gate not exercised", d)
	}
}

func TestUpsampleHalfPixel(t *testing.T) {
	// 2 -> 4 along x, align_corners=False: sources -0.25(clamped 0), 0.25, 0.75, 1.25(clamped to 1).
	got := Upsample([]float32{0, 4}, 1, 2, 1, 4)
	want := []float32{0, 1, 3, 4}
	for i := range want {
		if math.Abs(float64(got[i]-want[i])) > 1e-6 {
			t.Fatalf("got %v, want %v", got, want)
		}
	}
}

func TestZeroMapStaysZero(t *testing.T) {
	h := &resnet.Head{Features: 1, Hidden: 1, FC1: []float32{1}, B1: []float32{-5}, FC2: []float32{1}, B2: []float32{0}} // unit gated off
	m, err := Map(h, []float32{1, 2, 3, 4}, 2, 2, 8)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range m {
		if v != 0 || math.IsNaN(float64(v)) {
			t.Fatalf("map = %v, want all zero", m)
		}
	}
}

func TestBadSizes(t *testing.T) {
	h := &resnet.Head{Features: 2, Hidden: 1, FC1: []float32{1, 1}, B1: []float32{0}, FC2: []float32{1}, B2: []float32{0}}
	if _, err := CAM(h, make([]float32, 7), 2, 2); err == nil {
		t.Error("wrong feature count: no error")
	}
	if _, err := CAM(&resnet.Head{Features: 2, Hidden: 2, FC1: []float32{1}}, make([]float32, 8), 2, 2); err == nil {
		t.Error("wrong weight sizes: no error")
	}
}

func TestJet(t *testing.T) {
	img := Jet([]float32{0, 0.5, 1, 2}, 2)
	if img.Bounds().Dx() != 2 || img.Bounds().Dy() != 2 {
		t.Fatalf("bounds %v", img.Bounds())
	}
	px := func(i int) []uint8 { return img.Pix[4*i : 4*i+4] }
	if p := px(0); p[3] != 0 || p[0]|p[1]|p[2] != 0 {
		t.Errorf("0 -> %v, want transparent", p)
	}
	if p := px(1); !(p[1] > p[0] && p[1] > p[2]) || p[3] != 77 {
		t.Errorf("0.5 -> %v, want green-dominant with alpha 77", p)
	}
	if p := px(2); p[0] != 77 || p[1] != 0 || p[2] != 0 || p[3] != 153 {
		t.Errorf("1 -> %v, want dark red premultiplied [77 0 0 153]", p)
	}
	if p, q := px(3), px(2); p[0] != q[0] || p[3] != q[3] {
		t.Errorf("2 -> %v, want clamped like 1 (%v)", p, q)
	}
	for i := 0; i < 4; i++ {
		if p := px(i); p[0] > p[3] || p[1] > p[3] || p[2] > p[3] {
			t.Errorf("pixel %d %v not premultiplied", i, p)
		}
	}
}

// The legend is the overlay's own colours: each column of Ramp is what Jet draws its value as.
func TestRampIsJet(t *testing.T) {
	const w, h = 9, 3
	ramp := Ramp(w, h)
	if ramp.Bounds().Dx() != w || ramp.Bounds().Dy() != h {
		t.Fatalf("bounds %v", ramp.Bounds())
	}
	for x := 0; x < w; x++ {
		want := Jet([]float32{float32(x) / (w - 1)}, 1).Pix
		for y := 0; y < h; y++ {
			if got := ramp.Pix[ramp.PixOffset(x, y):][:4]; string(got) != string(want) {
				t.Errorf("column %d row %d: %v, Jet gives %v", x, y, got, want)
			}
		}
	}
	if first, last := ramp.Pix[3], ramp.Pix[ramp.PixOffset(w-1, 0)+3]; first != 0 || last != 153 {
		t.Errorf("alpha runs %d -> %d, want 0 (low: film untouched) -> 153 (high)", first, last)
	}
}
