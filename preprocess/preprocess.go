// Package preprocess turns a decoded image into the model's input tensor, following only the
// model's metadata (model.Preprocess): resize, channel order, scale, mean and std. The page,
// the server and the trainer all call Tensor, so a model sees the same numbers everywhere.
package preprocess

import (
	"fmt"
	"image"
	"image/color"
	"math"

	"golang.org/x/image/draw"

	"pneumoscan/model"
)

// Tensor returns the NCHW float32 tensor [1,3,S,S] for img, S = p.Size:
//
//  1. "stretch": each axis scaled on its own to S, bilinear (x/image/draw.BiLinear); an image
//     already S x S is used as is, without resampling.
//  2. RGB values on the 0..255 scale (a gray image gives three equal planes; YCbCr JPEGs are
//     converted with the standard 8-bit color.YCbCrToRGB; other colour models go through
//     16-bit NRGBA / 257), in the order p.Channels names. Alpha is ignored.
//  3. x / p.Scale, then (x - p.Mean[c]) / p.Std[c].
func Tensor(img image.Image, p model.Preprocess) ([]float32, error) {
	if p.Resize != "stretch" {
		return nil, fmt.Errorf("preprocess: unknown resize rule %q", p.Resize)
	}
	var order [3]int // plane i takes colour component order[i] (0=R, 1=G, 2=B)
	switch p.Channels {
	case "RGB":
		order = [3]int{0, 1, 2}
	case "BGR":
		order = [3]int{2, 1, 0}
	default:
		return nil, fmt.Errorf("preprocess: unknown channel order %q", p.Channels)
	}
	// Written as !(x > 0) and with a finiteness check so NaN and infinite constants, which pass
	// a plain x <= 0 test, are refused instead of filling the tensor with NaN.
	positive := func(v float32) bool { return v > 0 && !math.IsInf(float64(v), 1) }
	if p.Size <= 0 || !positive(p.Scale) || !positive(p.Std[0]) || !positive(p.Std[1]) || !positive(p.Std[2]) {
		return nil, fmt.Errorf("preprocess: size %d, scale %v and std %v must be positive and finite", p.Size, p.Scale, p.Std)
	}
	for _, m := range p.Mean {
		if math.IsNaN(float64(m)) || math.IsInf(float64(m), 0) {
			return nil, fmt.Errorf("preprocess: mean %v must be finite", p.Mean)
		}
	}
	b := img.Bounds()
	if b.Empty() {
		return nil, fmt.Errorf("preprocess: empty image")
	}
	s := p.Size
	if b.Dx() != s || b.Dy() != s {
		dst := image.NewNRGBA(image.Rect(0, 0, s, s))
		draw.BiLinear.Scale(dst, dst.Bounds(), img, b, draw.Src, nil)
		img, b = dst, dst.Bounds()
	}
	// Computed as written, (x/Scale - Mean)/Std in float32, so any reference that follows the
	// metadata literally gets the same bits.
	out := make([]float32, 3*s*s)
	plane := s * s
	put := func(i int, rgb [3]float32) {
		for c := 0; c < 3; c++ {
			out[c*plane+i] = (rgb[order[c]]/p.Scale - p.Mean[c]) / p.Std[c]
		}
	}
	switch src := img.(type) {
	case *image.Gray:
		for y := 0; y < s; y++ {
			row := src.Pix[src.PixOffset(b.Min.X, b.Min.Y+y):]
			for x := 0; x < s; x++ {
				v := float32(row[x])
				put(y*s+x, [3]float32{v, v, v})
			}
		}
	case *image.NRGBA:
		for y := 0; y < s; y++ {
			row := src.Pix[src.PixOffset(b.Min.X, b.Min.Y+y):]
			for x := 0; x < s; x++ {
				q := row[4*x:]
				put(y*s+x, [3]float32{float32(q[0]), float32(q[1]), float32(q[2])})
			}
		}
	case *image.YCbCr:
		// 8-bit conversion, as JPEG decoders hand out RGB; a gray film (Cb = Cr = 128) gives
		// R = G = B = Y exactly.
		for y := 0; y < s; y++ {
			for x := 0; x < s; x++ {
				yi, ci := src.YOffset(b.Min.X+x, b.Min.Y+y), src.COffset(b.Min.X+x, b.Min.Y+y)
				r, g, bl := color.YCbCrToRGB(src.Y[yi], src.Cb[ci], src.Cr[ci])
				put(y*s+x, [3]float32{float32(r), float32(g), float32(bl)})
			}
		}
	default:
		for y := 0; y < s; y++ {
			for x := 0; x < s; x++ {
				c := color.NRGBA64Model.Convert(img.At(b.Min.X+x, b.Min.Y+y)).(color.NRGBA64)
				put(y*s+x, [3]float32{float32(c.R) / 257, float32(c.G) / 257, float32(c.B) / 257})
			}
		}
	}
	return out, nil
}
