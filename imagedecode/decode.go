// Package imagedecode turns uploaded bytes into an image, or into an error a user can act on.
//
// Every accepted format is a registered Format (formats.go: JPEG, PNG, GIF, BMP, TIFF, WebP;
// dicom.go: DICOM): its magic bytes, a header reader that gives the size without decoding pixels,
// and a decoder. Decode finds the format by its magic, checks the size from the header before
// any pixels are allocated, decodes, and turns away colour pictures with a cheap chroma check.
// Callers never special-case a format; adding one is one more RegisterFormat call.
//
// This is a foundation package: it imports no other pneumoscan package.
package imagedecode

import (
	"errors"
	"fmt"
	"image"
	"image/color"
	"strings"
	"sync"
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
	// Unsupported: a known format in an encoding pneumoscan cannot decode (a DICOM transfer
	// syntax such as JPEG Lossless or JPEG 2000, colour DICOM pixel data, 32-bit samples).
	Unsupported
	// NotChestXray: a medical image that says it is something else (a CT or MR series, a
	// lateral view, another body part).
	NotChestXray
)

// String is the Kind's code for programs (an API's error code, the page's refusal category).
func (k Kind) String() string {
	switch k {
	case Empty:
		return "empty"
	case UnknownFormat:
		return "unknown_format"
	case Corrupt:
		return "corrupt"
	case TooSmall:
		return "too_small"
	case TooLarge:
		return "too_large"
	case NotXray:
		return "not_xray"
	case Unsupported:
		return "unsupported"
	case NotChestXray:
		return "not_chest_xray"
	}
	return fmt.Sprintf("imagedecode.Kind(%d)", int(k))
}

// Error is every error Decode returns. Message is short and written for the person who chose
// the file; Err, when set, is the underlying decoder error for logs. Neither ever holds patient
// identifiers from a DICOM file.
type Error struct {
	Kind    Kind
	Message string
	Err     error
}

func (e *Error) Error() string { return e.Message }
func (e *Error) Unwrap() error { return e.Err }

// UserMessage is the text to show the user.
func (e *Error) UserMessage() string { return e.Message }

// Info is what Decode learned about the file besides its pixels. Only non-identifying
// acquisition facts are kept: a DICOM file's patient, dates, institution and accession number
// are never read into it.
type Info struct {
	// Format is the registered format's name: "JPEG", "PNG", "DICOM", ...
	Format string
	// Width and Height are the decoded image's size in pixels.
	Width, Height int
	// BitDepth is the precision of the decoded samples: 8 or 16.
	BitDepth int

	// DICOM only (empty otherwise).
	Modality       string     // (0008,0060), e.g. "CR", "DX"
	ViewPosition   string     // (0018,5101), e.g. "PA", "AP"
	BodyPart       string     // (0018,0015), e.g. "CHEST"
	PixelSpacing   [2]float64 // mm between rows, columns: (0028,0030), else (0018,1164); zero when absent
	TransferSyntax string     // (0002,0010) UID
}

// Format is one decodable file format.
type Format struct {
	// Name is shown to users ("JPEG") and returned in Info.Format.
	Name string
	// Extensions are the file name extensions files of this format usually have, lower case,
	// with the dot (".jpeg"). Decode never looks at names; listers of folders do (Extensions).
	Extensions []string
	// Match reports whether data starts with this format's magic.
	Match func(data []byte) bool
	// Config reads the image size from the header without decoding pixels. It may return an
	// *Error (a refusal decided from the header alone); any other error means the file is damaged.
	Config func(data []byte) (image.Config, error)
	// Decode decodes the image (the first frame or page of a multi-image file) and fills what it
	// knows of Info beyond Format, Width, Height and BitDepth. Errors as for Config.
	Decode func(data []byte) (image.Image, Info, error)
}

var (
	formatsMu sync.RWMutex
	formats   []Format
)

// RegisterFormat adds a format. Formats are tried in registration order.
func RegisterFormat(f Format) {
	formatsMu.Lock()
	defer formatsMu.Unlock()
	formats = append(formats, f)
}

// Formats lists the registered formats' names, in registration order.
func Formats() []string {
	formatsMu.RLock()
	defer formatsMu.RUnlock()
	names := make([]string, len(formats))
	for i, f := range formats {
		names[i] = f.Name
	}
	return names
}

// Extensions lists the registered formats' file name extensions (Format.Extensions), in
// registration order.
func Extensions() []string {
	formatsMu.RLock()
	defer formatsMu.RUnlock()
	var exts []string
	for _, f := range formats {
		exts = append(exts, f.Extensions...)
	}
	return exts
}

func lookup(data []byte) (Format, bool) {
	formatsMu.RLock()
	defer formatsMu.RUnlock()
	for _, f := range formats {
		if f.Match(data) {
			return f, true
		}
	}
	return Format{}, false
}

// matchMagic reports whether data starts with magic, '?' matching any byte (as image.RegisterFormat).
func matchMagic(magic string) func([]byte) bool {
	return func(data []byte) bool {
		if len(data) < len(magic) {
			return false
		}
		for i := 0; i < len(magic); i++ {
			if magic[i] != '?' && magic[i] != data[i] {
				return false
			}
		}
		return true
	}
}

// acceptedList is "DICOM, JPEG, PNG, GIF, BMP, TIFF or WebP".
func acceptedList() string {
	names := Formats()
	switch len(names) {
	case 0:
		return "none"
	case 1:
		return names[0]
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

// DecodeConfig finds data's format as Decode does and reads the image size from its header
// alone, without decoding pixels and without Decode's size limits: for listing many files
// quickly. It returns the format's name (Format.Name). Errors are *Error, as from Decode:
// UnknownFormat, Corrupt, or a refusal the header decides (a DICOM file of a CT, or in a
// transfer syntax pneumoscan cannot decode).
func DecodeConfig(data []byte) (image.Config, string, error) {
	if len(data) == 0 {
		return image.Config{}, "", &Error{Kind: Empty, Message: "The file is empty."}
	}
	f, ok := lookup(data)
	if !ok {
		return image.Config{}, "", unknownFormat()
	}
	cfg, err := f.Config(data)
	if err != nil {
		return image.Config{}, "", asError(err, f.Name)
	}
	return cfg, f.Name, nil
}

func unknownFormat() *Error {
	return &Error{Kind: UnknownFormat, Message: fmt.Sprintf(
		"The file is not an image pneumoscan can read; accepted formats are %s.", acceptedList())}
}

// Decode decodes an image in any registered format and checks it can be a chest X-ray: not
// empty, a known format, not truncated, each side at least MinSide, at most MaxPixels, and gray
// (mean chroma at most MaxChroma). 16-bit gray images (16-bit PNG and TIFF, DICOM) come back as
// *image.Gray16 so their precision reaches preprocessing.
func Decode(data []byte) (image.Image, error) {
	img, _, err := DecodeInfo(data)
	return img, err
}

// DecodeInfo is Decode that also returns what the file says about the image (Info).
func DecodeInfo(data []byte) (image.Image, Info, error) {
	if len(data) == 0 {
		return nil, Info{}, &Error{Kind: Empty, Message: "The file is empty."}
	}
	f, ok := lookup(data)
	if !ok {
		return nil, Info{}, unknownFormat()
	}
	cfg, err := f.Config(data)
	if err != nil {
		return nil, Info{}, asError(err, f.Name)
	}
	if err := checkSize(cfg.Width, cfg.Height); err != nil {
		return nil, Info{}, err
	}
	img, info, err := f.Decode(data)
	if err != nil {
		return nil, Info{}, asError(err, f.Name)
	}
	b := img.Bounds()
	if b.Dx() != cfg.Width || b.Dy() != cfg.Height {
		// A decoder that disagrees with its own header: check again rather than trust either.
		if err := checkSize(b.Dx(), b.Dy()); err != nil {
			return nil, Info{}, err
		}
	}
	if c := MeanChroma(img); c > MaxChroma {
		return nil, Info{}, &Error{Kind: NotXray, Message: "This looks like a colour picture, not a chest X-ray."}
	}
	info.Format, info.Width, info.Height = f.Name, b.Dx(), b.Dy()
	info.BitDepth = 8
	switch img.(type) {
	case *image.Gray16, *image.RGBA64, *image.NRGBA64:
		info.BitDepth = 16
	}
	return img, info, nil
}

func checkSize(w, h int) error {
	if w < MinSide || h < MinSide {
		return &Error{Kind: TooSmall, Message: fmt.Sprintf(
			"The image is too small (%dx%d pixels); it must be at least %dx%d.", w, h, MinSide, MinSide)}
	}
	if int64(w)*int64(h) > MaxPixels {
		return &Error{Kind: TooLarge, Message: fmt.Sprintf(
			"The image is too large (%dx%d pixels); the limit is %d megapixels.", w, h, MaxPixels/1_000_000)}
	}
	return nil
}

// asError passes an *Error through and wraps anything else as Corrupt.
func asError(err error, format string) error {
	var de *Error
	if errors.As(err, &de) {
		return de
	}
	return &Error{Kind: Corrupt, Message: fmt.Sprintf("The %s file is damaged or incomplete.", format), Err: err}
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
