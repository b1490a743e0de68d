package gradcam

import (
	"image"
	"math"
)

// MaxAlpha is the opacity of the hottest point of a Jet overlay: enough to read the colour,
// little enough to see the film beneath.
const MaxAlpha = 0.6

// Jet colours a size x size map with values in [0,1] (row-major) for drawing over the image:
// the classic jet ramp (blue, cyan, yellow, red) with opacity rising linearly from 0 at 0 to
// MaxAlpha at 1, so cold regions leave the film untouched. image.RGBA is alpha-premultiplied,
// so it can be drawn with draw.Over as is. Values outside [0,1] are clamped.
func Jet(m []float32, size int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, size, size))
	for i := 0; i < size*size && i < len(m); i++ {
		pixel(img.Pix[4*i:4*i+4], float64(m[i]))
	}
	return img
}

// Ramp is the legend of a Jet overlay: width x height pixels whose column x has the value
// x/(width-1), 0 (left) to 1 (right), in exactly the colour and opacity Jet gives that value.
func Ramp(width, height int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, width, height))
	for x := 0; x < width; x++ {
		v := 0.0
		if width > 1 {
			v = float64(x) / float64(width-1)
		}
		for y := 0; y < height; y++ {
			pixel(img.Pix[img.PixOffset(x, y):][:4], v)
		}
	}
	return img
}

// pixel writes the premultiplied RGBA of the value v (clamped to [0,1]) into p.
func pixel(p []uint8, v float64) {
	v = math.Min(math.Max(v, 0), 1)
	r, g, b := jet(v)
	a := MaxAlpha * v
	p[0], p[1], p[2], p[3] = to8(r*a), to8(g*a), to8(b*a), to8(a)
}

// jet is the piecewise-linear jet colormap.
func jet(v float64) (r, g, b float64) {
	c := func(x float64) float64 { return math.Min(math.Max(1.5-math.Abs(x), 0), 1) }
	return c(4*v - 3), c(4*v - 2), c(4*v - 1)
}

func to8(x float64) uint8 { return uint8(math.Round(255 * x)) }
