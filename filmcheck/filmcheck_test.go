package filmcheck

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"strings"
	"testing"

	"pneumoscan/imagedecode"
)

// The committed fixture films (Kermany test split, 224x224).
var fixtures = []string{
	"../testdata/xray/normal-IM-0001-0001.jpeg",
	"../testdata/xray/pneumonia-person100_bacteria_475.jpeg",
}

// film decodes a fixture the way screen does and returns it as 8-bit gray.
func film(t *testing.T, path string) *image.Gray {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	img, err := imagedecode.Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	b := img.Bounds()
	g := image.NewGray(b)
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			g.Set(x, y, img.At(x, y))
		}
	}
	return g
}

func uniform(w, h int, v uint8) *image.Gray {
	g := image.NewGray(image.Rect(0, 0, w, h))
	for i := range g.Pix {
		g.Pix[i] = v
	}
	return g
}

func TestFixtureFilmsPass(t *testing.T) {
	for _, f := range fixtures {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		img, err := imagedecode.Decode(data)
		if err != nil {
			t.Fatal(err)
		}
		s := Measure(img)
		t.Logf("%s: %+v", f, s)
		if err := s.Check(); err != nil {
			t.Errorf("%s refused: %v", f, err)
		}
		if s.Std < 2*MinStd || s.Spread < 2*MinSpread || s.Levels < 2*MinLevels {
			t.Errorf("%s: %+v within a factor 2 of the thresholds: the margin the data showed is gone", f, s)
		}
	}
}

// TestSyntheticNegatives: each kind of image that holds no film is refused with its own Kind.
func TestSyntheticNegatives(t *testing.T) {
	base := film(t, fixtures[1])
	rng := rand.New(rand.NewPCG(1, 2))

	noise := image.NewGray(image.Rect(0, 0, 512, 512))
	for i := range noise.Pix {
		noise.Pix[i] = uint8(128 - 5 + rng.IntN(11)) // uniform in 123..133: 4% of the range
	}
	// A film squeezed into 40 of 256 levels (a washed-out copy): structure, no contrast.
	washed := image.NewGray(base.Bounds())
	for i, v := range base.Pix {
		washed.Pix[i] = 140 + uint8(int(v)*40/255)
	}
	// The film thresholded at its median: two levels, full range, full structure.
	twoLevel := image.NewGray(base.Bounds())
	for i, v := range base.Pix {
		if v >= 128 {
			twoLevel.Pix[i] = 230
		} else {
			twoLevel.Pix[i] = 20
		}
	}
	// A strip cut from the film's rows and stretched: film content, banner shape.
	strip := image.NewGray(image.Rect(0, 0, 2000, 300))
	for y := 0; y < 300; y++ {
		for x := 0; x < 2000; x++ {
			strip.Pix[y*strip.Stride+x] = base.GrayAt(x*224/2000, 80+y*60/300).Y
		}
	}
	tall := image.NewGray(image.Rect(0, 0, 300, 2000))
	for y := 0; y < 2000; y++ {
		for x := 0; x < 300; x++ {
			tall.Pix[y*tall.Stride+x] = strip.Pix[x*strip.Stride+y]
		}
	}
	for _, c := range []struct {
		name string
		img  image.Image
		want Kind
		says string
	}{
		{"pure black 512x512", uniform(512, 512, 0), Blank, "almost uniform"},
		{"pure white 512x512", uniform(512, 512, 255), Blank, "almost uniform"},
		{"mid-gray 512x512", uniform(512, 512, 128), Blank, "almost uniform"},
		{"uniform noise of amplitude 5/255", noise, Blank, "almost uniform"},
		{"film in 40 gray levels", washed, LowContrast, "too little contrast"},
		{"two-level film", twoLevel, FewGrayLevels, "only 2 shades of gray"},
		{"2000x300 strip", strip, ExtremeAspect, "6.7 times wider than high"},
		{"300x2000 strip", tall, ExtremeAspect, "6.7 times higher than wide"},
	} {
		err := Check(c.img)
		var fe *Error
		if !errors.As(err, &fe) {
			t.Errorf("%s: Check = %v (%+v), want a %s refusal", c.name, err, Measure(c.img), c.want)
			continue
		}
		t.Logf("%s %+v: %s: %s", c.name, Measure(c.img), fe.Kind, fe.Message)
		if fe.Kind != c.want || !strings.Contains(fe.Message, c.says) {
			t.Errorf("%s: %s %q (%+v), want %s saying %q", c.name, fe.Kind, fe.Message, Measure(c.img), c.want, c.says)
		}
	}
}

// TestSixteenBit: 16-bit gray is read at its full 16-bit range, as preprocess reads it
// (value/257), not through its low or high byte alone.
func TestSixteenBit(t *testing.T) {
	g := film(t, fixtures[0])
	b := g.Bounds()
	full := image.NewGray16(b) // the film on the full 16-bit scale, with sub-8-bit detail
	low := image.NewGray16(b)  // the film's 8-bit values as 16-bit numbers: nearly black
	fine := image.NewGray16(b) // a range of 48 of 65,536 values, in steps of 1/65535
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			v := uint16(g.GrayAt(x, y).Y)
			full.SetGray16(x, y, color.Gray16{Y: v*257 + uint16((x*7+y*13)%257)})
			low.SetGray16(x, y, color.Gray16{Y: v})
			fine.SetGray16(x, y, color.Gray16{Y: 40000 + v*48/255})
		}
	}
	s8, s16 := Measure(g), Measure(full)
	if math.Abs(s8.Std-s16.Std) > 0.005 || math.Abs(s8.Spread-s16.Spread) > 0.005 || s16.Levels < s8.Levels-5 || s16.Levels > s8.Levels+5 {
		t.Errorf("the same film measures %+v in 8 bits and %+v in 16", s8, s16)
	}
	if err := Check(full); err != nil {
		t.Errorf("16-bit film refused: %v", err)
	}
	var fe *Error
	if err := Check(low); !errors.As(err, &fe) || fe.Kind != Blank {
		t.Errorf("16-bit values 0..255 (black at full range): %v (%+v), want blank", err, Measure(low))
	}
	if err := Check(fine); !errors.As(err, &fe) || fe.Kind != Blank {
		t.Errorf("16-bit values in a band of 48: %v (%+v), want blank", err, Measure(fine))
	}

	// Through the decoder: a 16-bit PNG comes back as *image.Gray16 and passes.
	var buf bytes.Buffer
	if err := png.Encode(&buf, full); err != nil {
		t.Fatal(err)
	}
	img, err := imagedecode.Decode(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := img.(*image.Gray16); !ok {
		t.Fatalf("16-bit PNG decoded as %T", img)
	}
	if d := Measure(img); d != s16 {
		t.Errorf("decoded 16-bit PNG measures %+v, the image %+v", d, s16)
	}
}

// TestColourModels: the same film in the colour models decoders return measures the same.
func TestColourModels(t *testing.T) {
	g := film(t, fixtures[1])
	b := g.Bounds()
	nrgba := image.NewNRGBA(b)
	rgba := image.NewRGBA(b)
	rgba64 := image.NewRGBA64(b)
	paletted := image.NewPaletted(b, color.Palette(grayPalette())) // through its colour model
	ycc := image.NewYCbCr(b, image.YCbCrSubsampleRatio420)
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			v := g.GrayAt(x, y).Y
			nrgba.SetNRGBA(x, y, color.NRGBA{v, v, v, 255})
			rgba.SetRGBA(x, y, color.RGBA{v, v, v, 255})
			rgba64.SetRGBA64(x, y, color.RGBA64{uint16(v) * 257, uint16(v) * 257, uint16(v) * 257, 0xffff})
			paletted.SetColorIndex(x, y, v)
			ycc.Y[ycc.YOffset(x, y)] = v
		}
	}
	for i := range ycc.Cb {
		ycc.Cb[i], ycc.Cr[i] = 128, 128
	}
	want := Measure(g)
	for name, img := range map[string]image.Image{"NRGBA": nrgba, "RGBA": rgba, "RGBA64": rgba64, "Paletted": paletted, "YCbCr": ycc} {
		if got := Measure(img); got != want {
			t.Errorf("%s measures %+v, gray %+v", name, got, want)
		}
	}
}

func grayPalette() []color.Color {
	p := make([]color.Color, 256)
	for i := range p {
		p[i] = color.Gray{uint8(i)}
	}
	return p
}

// TestSmallImage: an image smaller than the grid is sampled at every pixel.
func TestSmallImage(t *testing.T) {
	g := image.NewGray(image.Rect(10, 20, 74, 84)) // 64x64, origin not at zero
	for i := range g.Pix {
		g.Pix[i] = uint8(i % 256)
	}
	s := Measure(g)
	if s.Levels != 256 || s.Width != 64 || s.Height != 64 || s.Aspect != 1 {
		t.Errorf("64x64 ramp of all 256 levels: %+v", s)
	}
	if err := s.Check(); err != nil {
		t.Errorf("ramp refused: %v", err)
	}
}

func TestKindCodes(t *testing.T) {
	for k, want := range map[Kind]string{Blank: "blank", LowContrast: "low_contrast", FewGrayLevels: "few_gray_levels", ExtremeAspect: "extreme_aspect"} {
		if k.String() != want {
			t.Errorf("%d.String() = %q, want %q", int(k), k.String(), want)
		}
	}
}

// BenchmarkMeasure times the checks on large films: the grid keeps them far under a
// millisecond whatever the size.
func BenchmarkMeasure(b *testing.B) {
	gray16 := image.NewGray16(image.Rect(0, 0, 3000, 3000))
	for i := range gray16.Pix {
		gray16.Pix[i] = uint8(i * 31)
	}
	ycc := image.NewYCbCr(image.Rect(0, 0, 3000, 3000), image.YCbCrSubsampleRatio420)
	for i := range ycc.Y {
		ycc.Y[i] = uint8(i * 31)
	}
	rgba64 := image.NewRGBA64(image.Rect(0, 0, 3000, 3000))
	for i := range rgba64.Pix {
		rgba64.Pix[i] = 0xff // opaque white: the decoders' 16-bit colour
	}
	cmyk := image.NewCMYK(image.Rect(0, 0, 3000, 3000)) // through its colour model
	for name, img := range map[string]image.Image{"Gray16-3000x3000": gray16, "YCbCr-3000x3000": ycc, "RGBA64-3000x3000": rgba64, "CMYK-3000x3000": cmyk} {
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				Measure(img)
			}
		})
	}
}
