package augment

import (
	"bytes"
	"encoding/json"
	"image"
	"image/color"
	"math/rand/v2"
	"testing"
)

// noise returns a w x h image of seeded random opaque pixels.
func noise(w, h int) *image.RGBA {
	m := image.NewRGBA(image.Rect(0, 0, w, h))
	r := rand.New(rand.NewPCG(1, 2))
	for i := range m.Pix {
		m.Pix[i] = uint8(r.IntN(256))
		if i%4 == 3 {
			m.Pix[i] = 255
		}
	}
	return m
}

// marked returns a black w x h image with one white pixel at (x, y).
func marked(w, h, x, y int) *image.RGBA {
	m := image.NewRGBA(image.Rect(0, 0, w, h))
	draw := color.RGBA{0, 0, 0, 255}
	for py := range h {
		for px := range w {
			m.SetRGBA(px, py, draw)
		}
	}
	m.SetRGBA(x, y, color.RGBA{255, 255, 255, 255})
	return m
}

// brightest returns the position of the brightest red value.
func brightest(m *image.RGBA) (int, int, uint8) {
	bx, by, bv := -1, -1, uint8(0)
	for y := range m.Rect.Dy() {
		for x := range m.Rect.Dx() {
			if v := m.RGBAAt(x, y).R; v > bv {
				bx, by, bv = x, y, v
			}
		}
	}
	return bx, by, bv
}

func TestIdentityIsExact(t *testing.T) {
	src := noise(37, 23)
	out, err := Params{}.Augment(src, 5, 9)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.Pix, src.Pix) {
		t.Fatal("all-off augmentation changed pixels")
	}
	if &out.Pix[0] == &src.Pix[0] {
		t.Fatal("output aliases the input")
	}
	// A gray image with an offset origin goes through the same path.
	g := image.NewGray(image.Rect(3, 4, 13, 10))
	for i := range g.Pix {
		g.Pix[i] = uint8(i * 7)
	}
	out = Transform{}.Apply(g, FillBlack)
	for y := range 6 {
		for x := range 10 {
			want := g.GrayAt(x+3, y+4).Y
			if c := out.RGBAAt(x, y); c != (color.RGBA{want, want, want, 255}) {
				t.Fatalf("gray identity at %d,%d = %v, want %d", x, y, c, want)
			}
		}
	}
}

func TestFlipIsExact(t *testing.T) {
	src := noise(16, 9)
	out := Transform{Scale: 1, Flip: true}.Apply(src, FillEdge)
	for y := range 9 {
		for x := range 16 {
			if out.RGBAAt(x, y) != src.RGBAAt(15-x, y) {
				t.Fatalf("flip at %d,%d = %v, want %v", x, y, out.RGBAAt(x, y), src.RGBAAt(15-x, y))
			}
		}
	}
}

func TestGeometryMovesMarkedPixel(t *testing.T) {
	// 21x21: the centre is pixel (10, 10). A mark 5 px right of it:
	for _, c := range []struct {
		name   string
		tr     Transform
		wx, wy int
	}{
		// 90 degrees counterclockwise on screen: right of centre goes up.
		{"rotate +90", Transform{AngleDeg: 90, Scale: 1}, 10, 5},
		{"rotate -90", Transform{AngleDeg: -90, Scale: 1}, 10, 15},
		{"rotate 180", Transform{AngleDeg: 180, Scale: 1}, 5, 10},
		// Zoom 1.4 about the centre: offset 5 -> 7.
		{"zoom", Transform{Scale: 1.4}, 17, 10},
		// Shift 3/21 of the width right, 2/21 of the height up.
		{"shift", Transform{Scale: 1, ShiftX: 3.0 / 21, ShiftY: -2.0 / 21}, 18, 8},
		// Flip first, then rotate +90: the mark goes left of centre, then down.
		{"flip+rotate", Transform{AngleDeg: 90, Scale: 1, Flip: true}, 10, 15},
	} {
		out := c.tr.Apply(marked(21, 21, 15, 10), FillBlack)
		x, y, v := brightest(out)
		if x != c.wx || y != c.wy || v < 250 {
			t.Errorf("%s: mark at %d,%d (value %d), want %d,%d at full value", c.name, x, y, v, c.wx, c.wy)
		}
	}
	// A 30 degree turn lands between pixels; the brightest one is the nearest
	// to the exact spot (10+5cos30, 10-5sin30) = (14.33, 7.5) -> 14, 7 or 8.
	x, y, _ := brightest(Transform{AngleDeg: 30, Scale: 1}.Apply(marked(21, 21, 15, 10), FillBlack))
	if x != 14 || (y != 7 && y != 8) {
		t.Errorf("rotate 30: mark at %d,%d, want 14,7 or 14,8", x, y)
	}
}

func TestFill(t *testing.T) {
	white := image.NewRGBA(image.Rect(0, 0, 20, 20))
	for i := range white.Pix {
		white.Pix[i] = 255
	}
	tr := Transform{AngleDeg: 45, Scale: 1}
	if c := tr.Apply(white, FillBlack).RGBAAt(0, 0); c != (color.RGBA{0, 0, 0, 255}) {
		t.Errorf("black fill corner = %v, want opaque black", c)
	}
	if c := tr.Apply(white, FillEdge).RGBAAt(0, 0); c != (color.RGBA{255, 255, 255, 255}) {
		t.Errorf("edge fill corner = %v, want white", c)
	}
	if c := tr.Apply(white, FillBlack).RGBAAt(10, 10); c != (color.RGBA{255, 255, 255, 255}) {
		t.Errorf("centre = %v, want white", c)
	}
}

func TestDeterminism(t *testing.T) {
	p := Default()
	src := noise(32, 32)
	a, err := p.Augment(src, 42, 7)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := p.Augment(src, 42, 7)
	if !bytes.Equal(a.Pix, b.Pix) {
		t.Error("same seed and index gave different images")
	}
	c, _ := p.Augment(src, 42, 8)
	d, _ := p.Augment(src, 43, 7)
	if bytes.Equal(a.Pix, c.Pix) || bytes.Equal(a.Pix, d.Pix) {
		t.Error("another index or seed gave the same image")
	}
	// Turning rotation off leaves the other draws unchanged.
	q := p
	q.RotationDeg = 0
	tp, tq := p.Sample(NewRand(1, 1)), q.Sample(NewRand(1, 1))
	if tq.AngleDeg != 0 || tp.Scale != tq.Scale || tp.ShiftX != tq.ShiftX || tp.ShiftY != tq.ShiftY || tp.Flip != tq.Flip {
		t.Errorf("draws moved when rotation was turned off: %+v vs %+v", tp, tq)
	}
}

func TestSampleRanges(t *testing.T) {
	p := Default()
	r := NewRand(3, 0)
	flips := 0
	for range 2000 {
		tr := p.Sample(r)
		if tr.AngleDeg < -10 || tr.AngleDeg > 10 || tr.Scale < 0.9 || tr.Scale > 1.1 ||
			tr.ShiftX < -0.1 || tr.ShiftX > 0.1 || tr.ShiftY < -0.1 || tr.ShiftY > 0.1 {
			t.Fatalf("draw out of range: %+v", tr)
		}
		if tr.Flip {
			flips++
		}
	}
	// Binomial(2000, 0.5): sd 22; 900..1100 is over 4 sd.
	if flips < 900 || flips > 1100 {
		t.Errorf("%d flips in 2000 at p=0.5", flips)
	}
}

func TestValidateAndJSON(t *testing.T) {
	for _, bad := range []Params{
		{RotationDeg: -1}, {RotationDeg: 181}, {Zoom: 1}, {WidthShift: -0.1},
		{HeightShift: 1.5}, {FlipProb: 1.1}, {Fill: "mirror"},
	} {
		if err := bad.Validate(); err == nil {
			t.Errorf("%+v accepted", bad)
		}
		if _, err := bad.Augment(noise(2, 2), 0, 0); err == nil {
			t.Errorf("Augment accepted %+v", bad)
		}
	}
	b, err := json.Marshal(Default())
	if err != nil {
		t.Fatal(err)
	}
	var back Params
	if err := json.Unmarshal(b, &back); err != nil || back != Default() {
		t.Errorf("JSON round trip: %s -> %+v, %v", b, back, err)
	}
	if err := Default().Validate(); err != nil {
		t.Error(err)
	}
}
