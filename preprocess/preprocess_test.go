package preprocess

import (
	"image"
	"image/color"
	"math"
	"testing"

	"pneumoscan/model"
)

var imagenet = model.Preprocess{Resize: "stretch", Size: 2, Channels: "RGB", Scale: 255,
	Mean: [3]float32{0.485, 0.456, 0.406}, Std: [3]float32{0.229, 0.224, 0.225}}

func near(t *testing.T, what string, got, want []float32) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: len %d, want %d", what, len(got), len(want))
	}
	for i := range want {
		if math.Abs(float64(got[i]-want[i])) > 1e-6 {
			t.Fatalf("%s: [%d] = %v, want %v\ngot  %v\nwant %v", what, i, got[i], want[i], got, want)
		}
	}
}

func TestGrayReplicatedNoResample(t *testing.T) {
	// A 2x2 gray image at the model size, offset bounds to catch Pix indexing mistakes.
	img := image.NewGray(image.Rect(5, 7, 7, 9))
	img.SetGray(5, 7, color.Gray{0})
	img.SetGray(6, 7, color.Gray{255})
	img.SetGray(5, 8, color.Gray{51})
	img.SetGray(6, 8, color.Gray{102})
	got, err := Tensor(img, imagenet)
	if err != nil {
		t.Fatal(err)
	}
	var want []float32
	for c := 0; c < 3; c++ {
		for _, v := range []float32{0, 1, 0.2, 0.4} {
			want = append(want, (v-imagenet.Mean[c])/imagenet.Std[c])
		}
	}
	near(t, "gray", got, want)
}

func TestChannelOrderAndColour(t *testing.T) {
	img := image.NewNRGBA(image.Rect(0, 0, 2, 2))
	for i := 0; i < 4; i++ {
		img.Set(i%2, i/2, color.NRGBA{uint8(10 * i), uint8(100 + i), 200, 255})
	}
	p := model.Preprocess{Resize: "stretch", Size: 2, Channels: "BGR", Scale: 100,
		Mean: [3]float32{1, 2, 3}, Std: [3]float32{0.5, 2, 4}}
	got, err := Tensor(img, p)
	if err != nil {
		t.Fatal(err)
	}
	want := []float32{
		// plane 0 = B: (2 - 1) / 0.5
		2, 2, 2, 2,
		// plane 1 = G: ((100+i)/100 - 2) / 2
		-0.5, -0.495, -0.49, -0.485,
		// plane 2 = R: ((10 i)/100 - 3) / 4
		-0.75, -0.725, -0.7, -0.675,
	}
	near(t, "BGR", got, want)

	// The same pixels as YCbCr (gray: Cb = Cr = 128) and through the generic path.
	yc := image.NewYCbCr(image.Rect(0, 0, 2, 2), image.YCbCrSubsampleRatio444)
	for i := range yc.Y {
		yc.Y[i], yc.Cb[i], yc.Cr[i] = uint8(60*i), 128, 128
	}
	g16 := image.NewGray16(image.Rect(0, 0, 2, 2))
	for i := 0; i < 4; i++ {
		g16.SetGray16(i%2, i/2, color.Gray16{uint16(60*i) * 257})
	}
	p.Channels, p.Size = "RGB", 2
	a, _ := Tensor(yc, p)
	b, _ := Tensor(g16, p)
	var want2 []float32
	for c := 0; c < 3; c++ {
		for i := 0; i < 4; i++ {
			want2 = append(want2, (float32(60*i)/100-p.Mean[c])/p.Std[c])
		}
	}
	near(t, "ycbcr", a, want2)
	near(t, "gray16", b, want2)
}

func TestStretchResize(t *testing.T) {
	// A uniform 7x3 image stays uniform when stretched to 4x4; a left/right split keeps its
	// halves (bilinear only blends across the middle).
	img := image.NewGray(image.Rect(0, 0, 8, 3))
	for y := 0; y < 3; y++ {
		for x := 0; x < 8; x++ {
			if x >= 4 {
				img.SetGray(x, y, color.Gray{255})
			}
		}
	}
	p := model.Preprocess{Resize: "stretch", Size: 4, Channels: "RGB", Scale: 255, Std: [3]float32{1, 1, 1}}
	got, err := Tensor(img, p)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3*16 {
		t.Fatalf("len %d", len(got))
	}
	for y := 0; y < 4; y++ {
		if got[y*4] != 0 || got[y*4+3] != 1 {
			t.Fatalf("row %d = %v, want 0 at the left edge and 1 at the right", y, got[y*4:y*4+4])
		}
		if got[y*4+1] > got[y*4+2] {
			t.Fatalf("row %d not increasing: %v", y, got[y*4:y*4+4])
		}
	}
}

func TestRefusesBadPreprocess(t *testing.T) {
	img := image.NewGray(image.Rect(0, 0, 2, 2))
	for _, p := range []model.Preprocess{
		{Resize: "crop", Size: 2, Channels: "RGB", Scale: 1, Std: [3]float32{1, 1, 1}},
		{Resize: "stretch", Size: 2, Channels: "RGBA", Scale: 1, Std: [3]float32{1, 1, 1}},
		{Resize: "stretch", Size: 2, Channels: "RGB", Scale: 1, Std: [3]float32{1, 0, 1}},
		{Resize: "stretch", Size: 0, Channels: "RGB", Scale: 1, Std: [3]float32{1, 1, 1}},
	} {
		if _, err := Tensor(img, p); err == nil {
			t.Errorf("%+v: no error", p)
		}
	}
}
