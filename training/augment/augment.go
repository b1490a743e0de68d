// Package augment makes seeded random variants of training images: rotation,
// zoom, width/height shifts and horizontal flips, as the seed notebook's
// Keras ImageDataGenerator did, in one affine transform with bilinear
// sampling.
//
// It works on the decoded image, before the model's preprocessing (resize,
// normalisation), because that preprocessing is defined by the model file's
// metadata and applied elsewhere: augmenting first keeps this package free of
// those constants, and "black" fill means a black pixel, not whatever the
// normalised zero happens to be.
package augment

import (
	"fmt"
	"image"
	"image/draw"
	"math"
	"math/rand/v2"
)

// Fill modes for output pixels whose source lies outside the image.
const (
	// FillEdge repeats the nearest edge pixel (Keras' fill_mode="nearest",
	// its default): no artificial black borders for the model to learn.
	FillEdge = "edge"
	// FillBlack fills with opaque black (Keras' fill_mode="constant", cval 0).
	FillBlack = "black"
)

// Params sets the random ranges. A zero field turns its augmentation off,
// so Params{} is the identity.
type Params struct {
	// RotationDeg: angle drawn uniformly from [-RotationDeg, RotationDeg]
	// degrees, positive counterclockwise as seen on screen.
	RotationDeg float64 `json:"rotation_deg"`
	// Zoom: scale drawn uniformly from [1-Zoom, 1+Zoom], the same on both
	// axes (aspect kept); above 1 magnifies (zooms in).
	Zoom float64 `json:"zoom"`
	// WidthShift, HeightShift: shift drawn uniformly from [-f, f] times the
	// image width or height; positive moves the content right or down.
	WidthShift  float64 `json:"width_shift"`
	HeightShift float64 `json:"height_shift"`
	// FlipProb: probability of a horizontal (left-right) flip.
	FlipProb float64 `json:"flip_prob"`
	// Fill: FillEdge (also when empty) or FillBlack.
	Fill string `json:"fill,omitempty"`
}

// Default returns the seed notebook's kind of augmentation with mild
// ranges: a few degrees and a tenth of zoom or shift keep the lungs inside
// the frame of a 224x224 AP film. Flips follow the seed notebook (and the
// reference run in docs/measurements.md), although a flip puts the heart on
// the wrong side; set FlipProb to 0 to train without them.
func Default() Params {
	return Params{RotationDeg: 10, Zoom: 0.1, WidthShift: 0.1, HeightShift: 0.1, FlipProb: 0.5, Fill: FillEdge}
}

// Validate rejects ranges that would turn an image inside out or off the frame.
func (p Params) Validate() error {
	switch {
	case !(p.RotationDeg >= 0 && p.RotationDeg <= 180):
		return fmt.Errorf("augment: rotation_deg %v not in [0, 180]", p.RotationDeg)
	case !(p.Zoom >= 0 && p.Zoom < 1):
		return fmt.Errorf("augment: zoom %v not in [0, 1)", p.Zoom)
	case !(p.WidthShift >= 0 && p.WidthShift < 1):
		return fmt.Errorf("augment: width_shift %v not in [0, 1)", p.WidthShift)
	case !(p.HeightShift >= 0 && p.HeightShift < 1):
		return fmt.Errorf("augment: height_shift %v not in [0, 1)", p.HeightShift)
	case !(p.FlipProb >= 0 && p.FlipProb <= 1):
		return fmt.Errorf("augment: flip_prob %v not in [0, 1]", p.FlipProb)
	case p.Fill != "" && p.Fill != FillEdge && p.Fill != FillBlack:
		return fmt.Errorf("augment: fill %q is neither %q nor %q", p.Fill, FillEdge, FillBlack)
	}
	return nil
}

// Transform is one drawn augmentation.
type Transform struct {
	AngleDeg float64 // counterclockwise on screen
	Scale    float64 // 1 = unchanged; 0 is taken as 1 so Transform{} is the identity
	ShiftX   float64 // fraction of the width, positive right
	ShiftY   float64 // fraction of the height, positive down
	Flip     bool    // horizontal flip, applied first
}

// NewRand returns the random stream for one image: index is the image's
// position (and the caller folds the epoch into seed), so results do not
// depend on the order or the parallelism in which images are processed.
func NewRand(seed, index uint64) *rand.Rand {
	return rand.New(rand.NewPCG(seed, index))
}

// Sample draws a transform. It always draws the same five numbers in the
// same order, so turning one augmentation off leaves the others' draws as
// they were.
func (p Params) Sample(r *rand.Rand) Transform {
	sym := func(a float64) float64 { return (2*r.Float64() - 1) * a }
	return Transform{
		AngleDeg: sym(p.RotationDeg),
		Scale:    1 + sym(p.Zoom),
		ShiftX:   sym(p.WidthShift),
		ShiftY:   sym(p.HeightShift),
		Flip:     r.Float64() < p.FlipProb,
	}
}

// Augment draws the transform of image index under seed and applies it.
func (p Params) Augment(img image.Image, seed, index uint64) (*image.RGBA, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return p.Sample(NewRand(seed, index)).Apply(img, p.Fill), nil
}

// Apply maps img through the transform (flip, then rotation and zoom about
// the centre, then shift) with bilinear sampling. fill is FillEdge (or "")
// or FillBlack. The output has img's size, origin (0, 0).
func (t Transform) Apply(img image.Image, fill string) *image.RGBA {
	src := toRGBA(img)
	w, h := src.Rect.Dx(), src.Rect.Dy()
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	if w == 0 || h == 0 {
		return dst
	}
	cx, cy := float64(w)/2, float64(h)/2
	tx, ty := t.ShiftX*float64(w), t.ShiftY*float64(h)
	sin, cos := math.Sincos(t.AngleDeg * math.Pi / 180)
	if t.AngleDeg == 0 {
		sin, cos = 0, 1 // keeps the identity exact
	}
	inv := 1.0
	if t.Scale != 0 {
		inv = 1 / t.Scale
	}
	edge := fill != FillBlack
	for y := range h {
		for x := range w {
			// Inverse map of the output pixel's centre into the source.
			ux := float64(x) + 0.5 - cx - tx
			uy := float64(y) + 0.5 - cy - ty
			sx := (ux*cos - uy*sin) * inv
			sy := (ux*sin + uy*cos) * inv
			if t.Flip {
				sx = -sx
			}
			sample(src, sx+cx-0.5, sy+cy-0.5, edge, dst.Pix[y*dst.Stride+4*x:y*dst.Stride+4*x+4])
		}
	}
	return dst
}

// sample writes the bilinear interpolation of src at pixel coordinates
// (fx, fy), integer at pixel centres, into out (4 bytes, RGBA).
func sample(src *image.RGBA, fx, fy float64, edge bool, out []byte) {
	w, h := src.Rect.Dx(), src.Rect.Dy()
	x0, y0 := math.Floor(fx), math.Floor(fy)
	ax, ay := fx-x0, fy-y0
	ix, iy := int(x0), int(y0)
	var acc [4]float64
	for _, c := range [4]struct {
		dx, dy int
		wt     float64
	}{{0, 0, (1 - ax) * (1 - ay)}, {1, 0, ax * (1 - ay)}, {0, 1, (1 - ax) * ay}, {1, 1, ax * ay}} {
		if c.wt == 0 {
			continue
		}
		px, py := ix+c.dx, iy+c.dy
		if px < 0 || px >= w || py < 0 || py >= h {
			if !edge {
				acc[3] += 255 * c.wt // opaque black
				continue
			}
			px, py = min(max(px, 0), w-1), min(max(py, 0), h-1)
		}
		p := src.Pix[py*src.Stride+4*px:]
		for i := range acc {
			acc[i] += c.wt * float64(p[i])
		}
	}
	for i, v := range acc {
		out[i] = uint8(min(max(math.Round(v), 0), 255))
	}
}

// toRGBA returns img as an *image.RGBA with origin (0, 0), copying only
// when it has to (gray, paletted or offset images).
func toRGBA(img image.Image) *image.RGBA {
	if m, ok := img.(*image.RGBA); ok && m.Rect.Min == (image.Point{}) {
		return m
	}
	b := img.Bounds()
	m := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	draw.Draw(m, m.Rect, img, b.Min, draw.Src)
	return m
}
