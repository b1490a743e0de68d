package imagedecode

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"image/gif"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"golang.org/x/image/bmp"
	"golang.org/x/image/tiff"

	"pneumoscan/internal/testmodel"
)

// fuzzSecrets are the identifying values of the DICOM fixtures that an error or an Info
// must never hold. Narrower than the unit tests' secrets: a fuzzed file's sizes and bit
// counts are echoed in messages, and "12345" or "1950" can be one of those.
var fuzzSecrets = []string{"SECRET", "PATIENT", "HOSPITAL", "ACC1", "19500101"}

// maxFuzzAlloc bounds what one decode may allocate: a 50-megapixel image, 16-bit with its
// intermediate buffers, needs well under this; more means a size read from the file was
// trusted before it was checked.
const maxFuzzAlloc = 1 << 30

// decodeChecked runs DecodeInfo and checks what every answer must satisfy: an *Error with a
// known kind and a message, or an image within the limits whose Info matches it; and no more
// than maxFuzzAlloc allocated on the way.
func decodeChecked(t *testing.T, data []byte) (image.Image, Info, error) {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	img, info, err := DecodeInfo(data)
	runtime.ReadMemStats(&after)
	if n := after.TotalAlloc - before.TotalAlloc; n > maxFuzzAlloc {
		t.Fatalf("decoding %d bytes allocated %d MB (err %v)", len(data), n>>20, err)
	}
	if err != nil {
		var de *Error
		if !errors.As(err, &de) {
			t.Fatalf("error %T %q is not an *Error", err, err)
		}
		if de.Kind < Empty || de.Kind > NotChestXray || de.Message == "" {
			t.Fatalf("error kind %d message %q", de.Kind, de.Message)
		}
		if img != nil {
			t.Fatalf("an image with the error %q", err)
		}
		return nil, Info{}, err
	}
	b := img.Bounds()
	if b.Dx() < MinSide || b.Dy() < MinSide || int64(b.Dx())*int64(b.Dy()) > MaxPixels {
		t.Fatalf("accepted a %dx%d image", b.Dx(), b.Dy())
	}
	if info.Width != b.Dx() || info.Height != b.Dy() || (info.BitDepth != 8 && info.BitDepth != 16) {
		t.Fatalf("info %+v for a %v %T", info, b, img)
	}
	if !slices.Contains(Formats(), info.Format) {
		t.Fatalf("format %q", info.Format)
	}
	if c := MeanChroma(img); c > MaxChroma {
		t.Fatalf("accepted a colour image (chroma %v)", c)
	}
	return img, info, nil
}

// FuzzDecode feeds DecodeInfo (and so Decode, its wrapper) arbitrary bytes, from small valid
// and damaged files of every registered format: JPEG, PNG (8 and 16 bit, colour), GIF, BMP,
// TIFF (plain, deflate, 16 bit), WebP (the committed fixtures), DICOM, the X-ray fixture.
func FuzzDecode(f *testing.F) {
	g8, g16 := grayRamp(64, 64), gray16Ramp(64, 64)
	colour := image.NewNRGBA(image.Rect(0, 0, 64, 64))
	for i := range colour.Pix {
		colour.Pix[i] = byte(i * 37)
	}
	pal := make(color.Palette, 256)
	for i := range pal {
		pal[i] = color.Gray{uint8(i)}
	}
	paletted := image.NewPaletted(g8.Bounds(), pal)
	copy(paletted.Pix, g8.Pix)
	jpg := encodeJPEG(f, g8)
	seeds := [][]byte{
		jpg, jpg[:len(jpg)/2], encodePNG(f, g8), encodePNG(f, g16), encodePNG(f, colour),
		withPNGSize(encodePNG(f, g8), 1<<20, 1<<20), encodePNG(f, grayRamp(10, 10)),
		encodeWith(f, paletted, func(b *bytes.Buffer, img image.Image) error { return gif.Encode(b, img, nil) }),
		encodeWith(f, g8, func(b *bytes.Buffer, img image.Image) error { return bmp.Encode(b, img) }),
		encodeWith(f, g8, func(b *bytes.Buffer, img image.Image) error { return tiff.Encode(b, img, nil) }),
		encodeWith(f, g16, func(b *bytes.Buffer, img image.Image) error {
			return tiff.Encode(b, img, &tiff.Options{Compression: tiff.Deflate, Predictor: true})
		}),
		testmodel.XRay(f, "normal-IM-0001-0001.jpeg"),
		{}, []byte("\xff\xd8"), []byte("\x89PNG\r\n\x1a\n"), []byte("GIF89a"), []byte("BM\x00\x00\x00\x00\x00\x00\x00\x00"),
		[]byte("II*\x00"), []byte("MM\x00*"), []byte("RIFF\x00\x00\x00\x00WEBPVP8 "), []byte("not an image"),
	}
	for _, name := range []string{"gray-lossy.webp", "gray-lossless.webp", "dicom/jpeg_baseline.dcm", "dicom/rle.dcm"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		seeds = append(seeds, b)
	}
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) { decodeChecked(t, data) })
}

// dicomPrefix is what every DICOM file starts with: a 128-byte preamble and "DICM".
var dicomPrefix = append(make([]byte, 128), "DICM"...)

// FuzzDICOM feeds DecodeInfo DICOM files: the fuzzed bytes follow the preamble and "DICM",
// so every input is read as DICOM, from every fixture in testdata/dicom. Besides
// decodeChecked's checks, an error (with what it wraps) and an Info must never hold the
// fixtures' patient, date, institution or accession values, unless the file's own words
// are the reason: a value counts as leaked only if masking it in the file (X's) removes it
// from the answer, so text a message always holds is never mistaken for a leak.
func FuzzDICOM(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "dicom", "*.dcm"))
	if err != nil || len(files) == 0 {
		f.Fatalf("no DICOM fixtures: %v", err)
	}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		if len(b) < 132 || string(b[128:132]) != "DICM" {
			f.Fatalf("%s has no DICM magic", name)
		}
		f.Add(b[132:])
	}
	f.Add([]byte{})
	f.Add([]byte("\x02\x00\x10\x00UI\x14\x001.2.840.10008.1.2.1\x00"))

	answer := func(img image.Image, info Info, err error) string {
		var parts []string
		for e := err; e != nil; e = errors.Unwrap(e) {
			parts = append(parts, e.Error())
		}
		parts = append(parts, info.Modality, info.ViewPosition, info.BodyPart, info.TransferSyntax)
		return strings.ToUpper(strings.Join(parts, "\n"))
	}
	f.Fuzz(func(t *testing.T, rest []byte) {
		data := append(append([]byte(nil), dicomPrefix...), rest...)
		img, info, err := decodeChecked(t, data)
		if err == nil && info.Format != "DICOM" {
			t.Fatalf("a DICOM file decoded as %s", info.Format)
		}
		got := answer(img, info, err)
		for _, s := range fuzzSecrets {
			if !strings.Contains(got, s) {
				continue
			}
			masked := data
			for _, v := range [][]byte{[]byte(s), []byte(strings.ToLower(s))} {
				masked = bytes.ReplaceAll(masked, v, bytes.Repeat([]byte("X"), len(s)))
			}
			if again := answer(DecodeInfo(masked)); !strings.Contains(again, s) {
				t.Fatalf("%q from the file reached the answer:\n%s", s, got)
			}
		}
	})
}
