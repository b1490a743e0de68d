package site

import (
	"bytes"
	"image"
	"image/color"
	"image/draw"
	"image/png"

	"pneumoscan/gradcam"
)

// legendGray is the backdrop the heatmap legend is drawn over: a mid-gray film, so the
// legend shows the overlay as it looks on a film (cold values leave the film untouched).
var legendGray = color.RGBA{0x80, 0x80, 0x80, 0xff}

// heatmapLegend draws the heatmap's colour ramp (gradcam.Ramp, the colours screen's heatmaps
// are drawn with) over legendGray as a PNG, at generation time: the page imports no project
// package, so it shows this file rather than spelling the colours out a second time.
func heatmapLegend() []byte {
	const w, h = 256, 12
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.Draw(img, img.Bounds(), image.NewUniform(legendGray), image.Point{}, draw.Src)
	draw.Draw(img, img.Bounds(), gradcam.Ramp(w, h), image.Point{}, draw.Over)
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		panic(err) // encoding an in-memory RGBA cannot fail
	}
	return b.Bytes()
}
