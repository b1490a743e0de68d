package preprocess

import (
	"image"
	"image/color"
	"math"
	"testing"

	"pneumoscan/model"
)

// firstYCbCr is the index of the first YCbCr kind in fuzzKinds.
const firstYCbCr = 6

// fuzzKinds are the image types the decoders hand to Tensor (imagedecode: gray and 16-bit
// gray films, colour and paletted PNG/GIF/BMP/TIFF/WebP, YCbCr and CMYK JPEGs), YCbCr in every
// chroma subsampling JPEG and WebP use.
var fuzzKinds = []func(r image.Rectangle, pix []byte) image.Image{
	func(r image.Rectangle, pix []byte) image.Image {
		m := image.NewGray(r)
		fill(m.Pix, pix)
		return m
	},
	func(r image.Rectangle, pix []byte) image.Image {
		m := image.NewGray16(r)
		fill(m.Pix, pix)
		return m
	},
	func(r image.Rectangle, pix []byte) image.Image {
		m := image.NewNRGBA(r)
		fill(m.Pix, pix)
		return m
	},
	func(r image.Rectangle, pix []byte) image.Image {
		m := image.NewRGBA(r)
		fill(m.Pix, pix)
		premultiply8(m.Pix)
		return m
	},
	func(r image.Rectangle, pix []byte) image.Image {
		m := image.NewNRGBA64(r)
		fill(m.Pix, pix)
		return m
	},
	func(r image.Rectangle, pix []byte) image.Image {
		m := image.NewRGBA64(r)
		fill(m.Pix, pix)
		premultiply16(m.Pix)
		return m
	},
	ycbcr(image.YCbCrSubsampleRatio444),
	ycbcr(image.YCbCrSubsampleRatio422),
	ycbcr(image.YCbCrSubsampleRatio420),
	ycbcr(image.YCbCrSubsampleRatio440),
	ycbcr(image.YCbCrSubsampleRatio411),
	ycbcr(image.YCbCrSubsampleRatio410),
	func(r image.Rectangle, pix []byte) image.Image {
		pal := make(color.Palette, 256)
		for i := range pal {
			pal[i] = color.NRGBA{byteAt(pix, 3*i), byteAt(pix, 3*i+1), byteAt(pix, 3*i+2), byteAt(pix, i+7)}
		}
		m := image.NewPaletted(r, pal)
		fill(m.Pix, pix)
		return m
	},
	func(r image.Rectangle, pix []byte) image.Image {
		m := image.NewCMYK(r)
		fill(m.Pix, pix)
		return m
	},
}

func ycbcr(ratio image.YCbCrSubsampleRatio) func(image.Rectangle, []byte) image.Image {
	return func(r image.Rectangle, pix []byte) image.Image {
		m := image.NewYCbCr(r, ratio)
		fill(m.Y, pix)
		fill(m.Cb, pix[min(len(pix), 1):])
		fill(m.Cr, pix[min(len(pix), 2):])
		return m
	}
}

func byteAt(b []byte, i int) byte {
	if len(b) == 0 {
		return byte(i)
	}
	return b[i%len(b)]
}

// fill repeats src over dst (a ramp when src is empty), so a short input still gives every
// pixel a value.
func fill(dst, src []byte) {
	for i := range dst {
		dst[i] = byteAt(src, i)
	}
}

// premultiply8 makes RGBA pixels valid (each colour at most its alpha).
func premultiply8(p []byte) {
	for i := 0; i+3 < len(p); i += 4 {
		for c := 0; c < 3; c++ {
			p[i+c] = min(p[i+c], p[i+3])
		}
	}
}

// premultiply16 is premultiply8 for big-endian 16-bit RGBA64 pixels.
func premultiply16(p []byte) {
	for i := 0; i+7 < len(p); i += 8 {
		a := uint16(p[i+6])<<8 | uint16(p[i+7])
		for c := 0; c < 6; c += 2 {
			if v := uint16(p[i+c])<<8 | uint16(p[i+c+1]); v > a {
				p[i+c], p[i+c+1] = p[i+6], p[i+7]
			}
		}
	}
}

// wantRGB is the 0..255 RGB value Tensor's documented rule gives the pixel at (x, y): by the
// image's type (a paletted image's NRGBA colours go through 16-bit NRGBA like any other).
func wantRGB(img image.Image, x, y int) [3]float32 {
	switch m := img.(type) {
	case *image.Gray:
		v := float32(m.GrayAt(x, y).Y)
		return [3]float32{v, v, v}
	case *image.NRGBA:
		c := m.NRGBAAt(x, y)
		return [3]float32{float32(c.R), float32(c.G), float32(c.B)}
	case *image.YCbCr:
		c := m.YCbCrAt(x, y)
		r, g, b := color.YCbCrToRGB(c.Y, c.Cb, c.Cr)
		return [3]float32{float32(r), float32(g), float32(b)}
	}
	c := color.NRGBA64Model.Convert(img.At(x, y)).(color.NRGBA64)
	return [3]float32{float32(c.R) / 257, float32(c.G) / 257, float32(c.B) / 257}
}

// FuzzTensor feeds Tensor images of every decoded type, of arbitrary size (1..384 a side),
// origin and content, at model sizes 1..256, with the ImageNet constants of the shipped model
// or (params set) fuzzed scale, mean and std. It must never panic; with the ImageNet constants
// every value must lie in the range the 0..255 scale maps to, a gray image must give three
// equal planes, and an image already at the model size must come out pixel for pixel. Fuzzed
// constants that are not positive and finite must be refused.
func FuzzTensor(f *testing.F) {
	f.Add(uint16(63), uint16(63), int16(0), int16(0), uint8(0), uint16(63), false, float32(0), float32(0), float32(0), []byte{0, 128, 255})
	f.Add(uint16(223), uint16(223), int16(0), int16(0), uint8(1), uint16(223), false, float32(0), float32(0), float32(0), []byte{})
	f.Add(uint16(300), uint16(17), int16(-5), int16(9), uint8(8), uint16(31), false, float32(0), float32(0), float32(0), []byte("radiograph"))
	f.Add(uint16(0), uint16(0), int16(3), int16(-3), uint8(11), uint16(0), false, float32(0), float32(0), float32(0), []byte{7})
	f.Add(uint16(40), uint16(90), int16(1), int16(1), uint8(12), uint16(64), false, float32(0), float32(0), float32(0), []byte{1, 2, 3, 4, 5})
	f.Add(uint16(10), uint16(10), int16(0), int16(0), uint8(13), uint16(8), true, float32(255), float32(0.5), float32(0.25), []byte{9, 200})
	f.Add(uint16(10), uint16(10), int16(0), int16(0), uint8(0), uint16(8), true, float32(0), float32(0.5), float32(-1), []byte{9})
	f.Add(uint16(10), uint16(10), int16(0), int16(0), uint8(0), uint16(8), true, float32(math.NaN()), float32(0.5), float32(1), []byte{9})
	f.Fuzz(func(t *testing.T, w, h uint16, x0, y0 int16, kind uint8, size uint16, params bool, scale, mean, std float32, pix []byte) {
		k := int(kind) % len(fuzzKinds)
		if k >= firstYCbCr && k < firstYCbCr+6 {
			// The standard library's YCbCr.COffset truncates negative coordinates toward zero,
			// so a subsampled YCbCr image with a negative origin reads past its own chroma
			// planes even through At (Go 1.26); decoders always give (0,0).
			x0, y0 = max(x0, -x0, 0), max(y0, -y0, 0)
		}
		r := image.Rect(int(x0), int(y0), int(x0)+1+int(w)%384, int(y0)+1+int(h)%384)
		img := fuzzKinds[k](r, pix)
		s := 1 + int(size)%256
		p := model.ImageNetPreprocess(s)
		if kind&0x80 != 0 {
			p.Channels = "BGR"
		}
		if params {
			p.Scale, p.Mean, p.Std = scale, [3]float32{mean, mean, mean}, [3]float32{std, std, std}
		}
		out, err := Tensor(img, p)
		if params {
			usable := func(v float32) bool { return v > 0 && !math.IsInf(float64(v), 0) }
			finite := !math.IsNaN(float64(mean)) && !math.IsInf(float64(mean), 0)
			if !usable(scale) || !usable(std) || !finite {
				if err == nil {
					t.Fatalf("scale %v, mean %v, std %v accepted", scale, mean, std)
				}
				return
			}
		}
		if err != nil {
			t.Fatalf("%T %v to %d: %v", img, r, s, err)
		}
		if len(out) != 3*s*s {
			t.Fatalf("%d values, want %d", len(out), 3*s*s)
		}
		if params {
			return // fuzzed constants may overflow float32; only the refusals above are checked
		}
		var order [3]int
		if p.Channels == "RGB" {
			order = [3]int{0, 1, 2}
		} else {
			order = [3]int{2, 1, 0}
		}
		plane := s * s
		for c := 0; c < 3; c++ {
			lo, hi := (0-p.Mean[c])/p.Std[c], (1-p.Mean[c])/p.Std[c]
			for i, v := range out[c*plane : (c+1)*plane] {
				if !(v >= lo-1e-5 && v <= hi+1e-5) {
					t.Fatalf("%T %v to %d: plane %d value %d = %v outside [%v, %v]", img, r, s, c, i, v, lo, hi)
				}
			}
		}
		// Back to the 0..255 scale, the way Tensor's rule is written.
		unscaled := func(c, i int) float64 {
			return (float64(out[c*plane+i])*float64(p.Std[c]) + float64(p.Mean[c])) * float64(p.Scale)
		}
		switch img.(type) {
		case *image.Gray, *image.Gray16:
			for i := 0; i < plane; i++ {
				if a, b, c := unscaled(0, i), unscaled(1, i), unscaled(2, i); math.Abs(a-b) > 1e-3 || math.Abs(a-c) > 1e-3 {
					t.Fatalf("%T %v to %d: gray pixel %d gives planes %v %v %v", img, r, s, i, a, b, c)
				}
			}
		}
		if r.Dx() == s && r.Dy() == s {
			for y := 0; y < s; y++ {
				for x := 0; x < s; x++ {
					want := wantRGB(img, r.Min.X+x, r.Min.Y+y)
					for c := 0; c < 3; c++ {
						if got := unscaled(c, y*s+x); math.Abs(got-float64(want[order[c]])) > 1e-3 {
							t.Fatalf("%T %v: pixel (%d,%d) plane %d = %v, want %v", img, r, x, y, c, got, want[order[c]])
						}
					}
				}
			}
		}
	})
}
