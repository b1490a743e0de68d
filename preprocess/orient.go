package preprocess

import (
	"image"
	"image/color"

	"pneumoscan/model"
)

// Orient returns img as it looks under orientation o (model.Orientation): turned clockwise
// by o's quarter turns, or with its polarity inverted. The trainer makes its orientation
// examples with it; Correct undoes it. Upright returns img itself.
func Orient(img image.Image, o model.Orientation) image.Image {
	switch o {
	case model.Inverted:
		return invert(img)
	case model.Rotated90, model.Rotated180, model.Rotated270:
		return turn(img, int(o-model.Upright))
	}
	return img
}

// Correct undoes orientation o: the film a screener sees after it has found o. Upright
// returns img itself.
func Correct(img image.Image, o model.Orientation) image.Image {
	switch o {
	case model.Inverted:
		return invert(img)
	case model.Rotated90, model.Rotated180, model.Rotated270:
		return turn(img, 4-int(o-model.Upright))
	}
	return img
}

// turn rotates img clockwise by q quarter turns (1-3) into a gray image: a film that reaches
// this point has passed imagedecode's colour check, so luminance is all it holds.
func turn(img image.Image, q int) *image.Gray {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	ow, oh := w, h
	if q%2 == 1 {
		ow, oh = h, w
	}
	out := image.NewGray(image.Rect(0, 0, ow, oh))
	for y := range h {
		for x := range w {
			v := color.GrayModel.Convert(img.At(b.Min.X+x, b.Min.Y+y)).(color.Gray)
			var dx, dy int
			switch q {
			case 1: // clockwise: the left column becomes the top row
				dx, dy = h-1-y, x
			case 2:
				dx, dy = w-1-x, h-1-y
			case 3:
				dx, dy = y, w-1-x
			}
			out.Pix[dy*out.Stride+dx] = v.Y
		}
	}
	return out
}

// invert returns the negative of img, gray: dark bones on a light field.
func invert(img image.Image) *image.Gray {
	b := img.Bounds()
	out := image.NewGray(image.Rect(0, 0, b.Dx(), b.Dy()))
	for y := range b.Dy() {
		for x := range b.Dx() {
			v := color.GrayModel.Convert(img.At(b.Min.X+x, b.Min.Y+y)).(color.Gray)
			out.Pix[y*out.Stride+x] = 255 - v.Y
		}
	}
	return out
}
