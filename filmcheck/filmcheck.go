// Package filmcheck refuses, before the model runs, decoded images that cannot be a readable
// chest film: blank or near-constant, too little contrast, only a few gray levels, or far from
// square. Each check has its own Kind and a message written for the clinician who chose the
// file. The statistics come from a grid of at most Grid x Grid samples, so a check costs tens
// of microseconds whatever the film's size.
//
// It is the image-content counterpart of imagedecode's colour check (MeanChroma): imagedecode
// refuses what is not a gray picture, filmcheck what is gray but holds no film to read.
// screen calls Check on every decoded image, so the page, the API, the trainer's evaluation
// and the batch tools refuse the same images with the same words.
package filmcheck

import (
	"fmt"
	"image"
	"image/color"
	"math"
)

// Grid is the most samples taken along each axis.
const Grid = 128

// Thresholds, set from the statistics Measure gives on every frontal chest film at hand:
// chest_xray train (5,216) and test (624), the training population (Kermany et al.: children
// aged 1-5, one hospital), and adult_cxr (448 adult films of another hospital, NIH). Each has a
// clear margin beyond the extreme film; data_test.go repeats the measurement (go test -v
// -run FilmsPass) and fails if any of those films is refused. Measured 2026-12-02:
//
//	statistic   train min   test min   adult_cxr min   threshold
//	Std         0.0780      0.0980     0.1088          0.02 (a quarter of the lowest)
//	Spread      0.3333      0.4591     0.3922          0.15 (under half of the lowest)
//	Levels      89          125        100             32 (about a third of the lowest)
//
// Below MinStd an image is within about 5 of 256 gray levels everywhere: blank. Spread tells a
// washed-out or dark image (the low-contrast hand films of not_cxr measure 0.10-0.15) from a
// film. Levels tells a drawing, text page or thresholded image (not_cxr's documents and
// screenshots: median 27) from a film, whatever the black border around it: a border fills one
// level and leaves the others' count alone (unlike the histogram's entropy: an adult film in a
// black frame filling half the image measured 4.2 bits, a typical film 7.3).
const (
	// MinStd is the least standard deviation of luminance (0..1).
	MinStd = 0.02
	// MinSpread is the least spread between the 1st and 99th percentiles of luminance (0..1).
	MinSpread = 0.15
	// MinLevels is the least number of the 256 gray levels that each hold at least 0.1% of
	// the samples.
	MinLevels = 32
	// MaxAspect is the most the long side may be of the short side. The films at hand cannot
	// set it: chest_xray's copies were all squashed to 224x224 before they reached us and
	// adult_cxr's are 512x512 (NIH's 1024x1024), so every one measures 1.00. It comes from the
	// formats chest films are taken on instead: 35x43 cm portrait or landscape (1.23), 43x43,
	// 24x30 (1.25) and 18x24 cm (1.33) for infants; 2.5 is about twice the longest of these.
	// (not_cxr's images, aspect kept, measure at most 3.13: a screenshot.)
	MaxAspect = 2.5
)

// Kind says which check an image failed.
type Kind int

const (
	// Blank: nearly one gray level everywhere (a blank, black or overexposed image).
	Blank Kind = iota + 1
	// LowContrast: gray levels confined to a narrow band (washed out or underexposed).
	LowContrast
	// FewGrayLevels: only a handful of gray levels (a drawing, text, a thresholded picture).
	FewGrayLevels
	// ExtremeAspect: far wider than high, or higher than wide (a strip, a banner, a crop).
	ExtremeAspect
)

// String is the Kind's code for programs (an API's error code): "blank", "low_contrast",
// "few_gray_levels", "extreme_aspect".
func (k Kind) String() string {
	switch k {
	case Blank:
		return "blank"
	case LowContrast:
		return "low_contrast"
	case FewGrayLevels:
		return "few_gray_levels"
	case ExtremeAspect:
		return "extreme_aspect"
	}
	return fmt.Sprintf("filmcheck.Kind(%d)", int(k))
}

// Error is every error Check returns; Message is written for the person who chose the file.
type Error struct {
	Kind    Kind
	Message string
}

func (e *Error) Error() string { return e.Message }

// UserMessage is the text to show the user.
func (e *Error) UserMessage() string { return e.Message }

// Stats are the measurements the checks decide on.
type Stats struct {
	Width, Height int
	// Aspect is the long side over the short side (1 for a square image).
	Aspect float64
	// Std is the standard deviation of luminance, on a 0..1 scale.
	Std float64
	// Spread is the 99th minus the 1st percentile of luminance, on a 0..1 scale.
	Spread float64
	// Levels is how many of 256 equal luminance bins (8-bit gray levels) each hold at least
	// 0.1% of the samples: the shades of gray the image really uses.
	Levels int
}

// Check measures img and refuses it when a statistic is beyond its threshold, the checks
// taken in the order aspect, blank, contrast, gray levels. It returns nil or an *Error.
func Check(img image.Image) error { return Measure(img).Check() }

// Check applies the thresholds to measurements already taken.
func (s Stats) Check() error {
	switch {
	case s.Aspect > MaxAspect:
		side := "wider than high"
		if s.Height > s.Width {
			side = "higher than wide"
		}
		return &Error{Kind: ExtremeAspect, Message: fmt.Sprintf(
			"The image is %.1f times %s; a chest film is roughly square.", s.Aspect, side)}
	case s.Std < MinStd:
		return &Error{Kind: Blank, Message: "The image is almost uniform (blank or overexposed); there is no film to read."}
	case s.Spread < MinSpread:
		return &Error{Kind: LowContrast, Message: fmt.Sprintf(
			"The image has too little contrast to read (its gray levels span only %.0f%% of the range); "+
				"a chest film shows bone, soft tissue and lung from light to dark.", 100*s.Spread)}
	case s.Levels < MinLevels:
		return &Error{Kind: FewGrayLevels, Message: fmt.Sprintf(
			"The image has only %d shades of gray, like a drawing, text or a thresholded picture; "+
				"a chest film shows continuous shades.", s.Levels)}
	}
	return nil
}

// Measure takes the statistics of img's luminance over a grid of at most Grid x Grid samples,
// at full precision: 16-bit images are read as 16-bit, 8-bit ones scaled by 257, colour ones
// through the Rec. 601 luma of their unpremultiplied 16-bit RGB (as preprocess reads them).
func Measure(img image.Image) Stats {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	s := Stats{Width: w, Height: h}
	if w <= 0 || h <= 0 {
		return s
	}
	s.Aspect = float64(max(w, h)) / float64(min(w, h))

	xs, ys := grid(b.Min.X, w), grid(b.Min.Y, h)
	lum := make([]uint16, 0, len(xs)*len(ys))
	sample(img, xs, ys, func(v uint16) { lum = append(lum, v) })

	// Percentiles from a 4096-bin histogram (16-bit values, top 12 bits): 1/4096 of the
	// range is finer than any threshold here, and counting is cheaper than sorting.
	var fine [4096]int32
	var coarse [256]int32
	var sum, sum2 float64
	for _, v := range lum {
		fine[v>>4]++
		coarse[v>>8]++
		f := float64(v) / 0xffff
		sum += f
		sum2 += f * f
	}
	n := float64(len(lum))
	mean := sum / n
	s.Std = math.Sqrt(max(0, sum2/n-mean*mean))
	s.Spread = (percentile(fine[:], len(lum), 0.99) - percentile(fine[:], len(lum), 0.01)) / float64(len(fine)-1)
	for _, c := range coarse {
		if 1000*int(c) >= len(lum) {
			s.Levels++
		}
	}
	return s
}

// grid returns the sample positions along one axis of n pixels from min: the centres of
// min(n, Grid) equal cells.
func grid(min, n int) []int {
	k := n
	if k > Grid {
		k = Grid
	}
	pos := make([]int, k)
	for i := range pos {
		pos[i] = min + (2*i+1)*n/(2*k)
	}
	return pos
}

// percentile returns the bin index below which a fraction q of the n counted values lie
// (the lowest bin whose cumulative count reaches ceil(q*n)).
func percentile(hist []int32, n int, q float64) float64 {
	target := int(math.Ceil(q * float64(n)))
	if target < 1 {
		target = 1
	}
	var cum int
	for i, c := range hist {
		cum += int(c)
		if cum >= target {
			return float64(i)
		}
	}
	return float64(len(hist) - 1)
}

// convert is the Rec. 601 luma of any colour, from its unpremultiplied 16-bit RGB.
func convert(c color.Color) uint16 {
	n := color.NRGBA64Model.Convert(c).(color.NRGBA64)
	return luma(uint32(n.R), uint32(n.G), uint32(n.B))
}

// luma weighs 16-bit R, G and B as color.GrayModel does (Rec. 601, 16.16 fixed point).
func luma(r, g, b uint32) uint16 { return uint16((19595*r + 38470*g + 7471*b + 1<<15) >> 16) }

// sample calls put with the 16-bit luminance at every grid point, reading the pixel buffers
// of the types the decoders return directly and anything else through its colour model.
func sample(img image.Image, xs, ys []int, put func(uint16)) {
	switch m := img.(type) {
	case *image.Gray:
		for _, y := range ys {
			for _, x := range xs {
				put(uint16(m.Pix[m.PixOffset(x, y)]) * 257)
			}
		}
	case *image.Gray16:
		for _, y := range ys {
			for _, x := range xs {
				i := m.PixOffset(x, y)
				put(uint16(m.Pix[i])<<8 | uint16(m.Pix[i+1]))
			}
		}
	case *image.YCbCr:
		// A gray JPEG's luma is its Y plane; a tinted one's luma is Y too (Y is Rec. 601 luma).
		for _, y := range ys {
			for _, x := range xs {
				put(uint16(m.Y[m.YOffset(x, y)]) * 257)
			}
		}
	case *image.NRGBA:
		for _, y := range ys {
			for _, x := range xs {
				q := m.Pix[m.PixOffset(x, y):]
				put(luma(uint32(q[0])*257, uint32(q[1])*257, uint32(q[2])*257))
			}
		}
	case *image.RGBA: // PNG's 8-bit colour; premultiplied, so only opaque pixels are read as is
		for _, y := range ys {
			for _, x := range xs {
				if q := m.Pix[m.PixOffset(x, y):]; q[3] == 0xff {
					put(luma(uint32(q[0])*257, uint32(q[1])*257, uint32(q[2])*257))
				} else {
					put(convert(m.At(x, y)))
				}
			}
		}
	case *image.RGBA64: // 16-bit colour PNG and TIFF, likewise
		for _, y := range ys {
			for _, x := range xs {
				if c := m.RGBA64At(x, y); c.A == 0xffff {
					put(luma(uint32(c.R), uint32(c.G), uint32(c.B)))
				} else {
					put(convert(c))
				}
			}
		}
	default:
		for _, y := range ys {
			for _, x := range xs {
				put(convert(img.At(x, y)))
			}
		}
	}
}
