package site

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
)

// icons draws the app icons (a white ring on the theme colour) at generation time, so the
// manifest points at our own origin and no binary icon needs committing.
func icons() map[string][]byte {
	out := map[string][]byte{}
	for _, size := range []int{192, 512} {
		img := image.NewRGBA(image.Rect(0, 0, size, size))
		bg := color.RGBA{0x1f, 0x4e, 0x79, 0xff}
		fg := color.RGBA{0xff, 0xff, 0xff, 0xff}
		c := float64(size) / 2
		for y := 0; y < size; y++ {
			for x := 0; x < size; x++ {
				dx, dy := float64(x)+0.5-c, float64(y)+0.5-c
				r2 := (dx*dx + dy*dy) / (c * c)
				if r2 > 0.30 && r2 < 0.42 {
					img.Set(x, y, fg)
				} else {
					img.Set(x, y, bg)
				}
			}
		}
		var b bytes.Buffer
		if err := png.Encode(&b, img); err != nil {
			panic(err) // encoding an in-memory RGBA cannot fail
		}
		if size == 192 {
			out["web/icon-192.png"] = b.Bytes()
		} else {
			out["web/icon-512.png"] = b.Bytes()
		}
	}
	out["web/icon.svg"] = []byte(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 100 100"><rect width="100" height="100" fill="#1f4e79"/><circle cx="50" cy="50" r="30" fill="none" stroke="#fff" stroke-width="6"/></svg>` + "\n")
	return out
}
