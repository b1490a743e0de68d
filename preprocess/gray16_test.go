package preprocess

import (
	"image"
	"image/color"
	"math"
	"testing"

	"pneumoscan/model"
)

// A 16-bit gray image (a DICOM film, a 16-bit PNG or TIFF) keeps its whole range: its tensor is
// its 8-bit equivalent's within 1/255, resized or not.
func TestGray16MatchesGray8(t *testing.T) {
	unit := model.Preprocess{Resize: "stretch", Channels: "RGB", Scale: 255, Std: [3]float32{1, 1, 1}}
	for _, tc := range []struct{ w, h, size int }{{64, 64, 64}, {200, 150, 64}, {40, 90, 64}} {
		g16 := image.NewGray16(image.Rect(0, 0, tc.w, tc.h))
		g8 := image.NewGray(g16.Bounds())
		for y := 0; y < tc.h; y++ {
			for x := 0; x < tc.w; x++ {
				// A gradient over the whole 16-bit range whose low byte varies too.
				v := uint16((x*tc.h + y) * 65535 / (tc.w*tc.h - 1))
				g16.SetGray16(x, y, color.Gray16{Y: v})
				g8.SetGray(x, y, color.Gray{Y: uint8((int(v) + 128) / 257)})
			}
		}
		p := unit
		p.Size = tc.size
		a, err := Tensor(g16, p)
		if err != nil {
			t.Fatal(err)
		}
		b, err := Tensor(g8, p)
		if err != nil {
			t.Fatal(err)
		}
		var worst float64
		lo, hi := float32(1), float32(0)
		for i := range a {
			worst = max(worst, math.Abs(float64(a[i]-b[i])))
			lo, hi = min(lo, a[i]), max(hi, a[i])
		}
		t.Logf("%dx%d -> %d: max |16-bit - 8-bit| %.5f (limit %.5f), range %.3f..%.3f", tc.w, tc.h, tc.size, worst, 1.0/255, lo, hi)
		if worst > 1.0/255+1e-6 {
			t.Fatalf("max difference %v > 1/255", worst)
		}
		if tc.w == tc.size && (lo != 0 || hi != 1) { // unresampled: the full range arrives
			t.Fatalf("range %v..%v, want 0..1", lo, hi)
		}
	}
}
