// Package imagedecode turns uploaded bytes into an image, or into an error a user can act on.
//
// Accepted formats are JPEG and PNG; they register themselves with the standard library's
// image package (the blank imports below), so adding one (DICOM, say) is one more
// registration, not a new path. Sizes are checked from the header, before pixels are
// allocated, and a cheap colour check turns away photographs that are plainly not X-rays.
package imagedecode

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	_ "image/jpeg" // registers JPEG
	_ "image/png"  // registers PNG
	"strings"
)

// Limits on what Decode accepts.
const (
	// MinSide is the smallest width or height: below it there is nothing to read in a chest film.
	MinSide = 64
	// MaxPixels bounds memory: 50 megapixels decode to 200 MB of RGBA.
	MaxPixels = 50_000_000
	// MaxChroma is the highest mean chroma (max(R,G,B) - min(R,G,B), over 0..1) of an X-ray.
	// Radiographs are gray, at most faintly tinted by scanning (52 of the data set's test films
	// measured 0.000); colour photographs and drawings are usually well above 0.15.
	MaxChroma = 0.1
)

// Kind says which check an image failed.
type Kind int

const (
	Empty Kind = iota + 1
	UnknownFormat
	Corrupt
	TooSmall
	TooLarge
	NotXray
)

// Error is every error Decode returns. Message is short and written for the person who chose
// the file; Err, when set, is the underlying decoder error for logs.
type Error struct {
	Kind    Kind
	Message string
	Err     error
}

func (e *Error) Error() string { return e.Message }
func (e *Error) Unwrap() error { return e.Err }

// UserMessage is the text to show the user.
func (e *Error) UserMessage() string { return e.Message }

// Decode decodes a JPEG or PNG image and checks it can be a chest X-ray: not empty, a known
// format, not truncated, each side at least MinSide, at most MaxPixels, and gray (mean chroma at
// most MaxChroma).
func Decode(data []byte) (image.Image, error) {
	if len(data) == 0 {
		return nil, &Error{Kind: Empty, Message: "The file is empty."}
	}
	cfg, format, err := image.DecodeConfig(bytes.NewReader(data))
	if errors.Is(err, image.ErrFormat) {
		return nil, &Error{Kind: UnknownFormat, Message: "The file is not a JPEG or PNG image.", Err: err}
	}
	if err != nil {
		return nil, &Error{Kind: Corrupt, Message: "The image file is damaged or incomplete.", Err: err}
	}
	if cfg.Width < MinSide || cfg.Height < MinSide {
		return nil, &Error{Kind: TooSmall, Message: fmt.Sprintf(
			"The image is too small (%dx%d pixels); it must be at least %dx%d.", cfg.Width, cfg.Height, MinSide, MinSide)}
	}
	if int64(cfg.Width)*int64(cfg.Height) > MaxPixels {
		return nil, &Error{Kind: TooLarge, Message: fmt.Sprintf(
			"The image is too large (%dx%d pixels); the limit is %d megapixels.", cfg.Width, cfg.Height, MaxPixels/1_000_000)}
	}
	img, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, &Error{Kind: Corrupt, Message: fmt.Sprintf("The %s image is damaged or incomplete.", strings.ToUpper(format)), Err: err}
	}
	if c := MeanChroma(img); c > MaxChroma {
		return nil, &Error{Kind: NotXray, Message: "This looks like a colour picture, not a chest X-ray."}
	}
	return img, nil
}

// MeanChroma is the mean of max(R,G,B) - min(R,G,B), on a 0..1 scale, over a grid of at most
// 64x64 samples: enough to tell a colour picture from a gray film at negligible cost.
func MeanChroma(img image.Image) float64 {
	switch img.(type) {
	case *image.Gray, *image.Gray16:
		return 0
	}
	b := img.Bounds()
	stepX, stepY := max(1, b.Dx()/64), max(1, b.Dy()/64)
	var sum float64
	var n int
	for y := b.Min.Y; y < b.Max.Y; y += stepY {
		for x := b.Min.X; x < b.Max.X; x += stepX {
			c := color.NRGBA64Model.Convert(img.At(x, y)).(color.NRGBA64)
			hi := max(c.R, c.G, c.B)
			lo := min(c.R, c.G, c.B)
			sum += float64(hi-lo) / 0xffff
			n++
		}
	}
	return sum / float64(n)
}
