package imagedecode

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"image/color/palette"
	"image/gif"
	"image/png"
	"os"
	"strings"
	"testing"

	"golang.org/x/image/bmp"
	"golang.org/x/image/tiff"
)

// gray16Ramp is a 16-bit gradient whose low byte varies too.
func gray16Ramp(w, h int) *image.Gray16 {
	img := image.NewGray16(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.SetGray16(x, y, color.Gray16{Y: uint16((x*w + y) * 65535 / (w * h))})
		}
	}
	return img
}

func encodeWith(t testing.TB, img image.Image, enc func(*bytes.Buffer, image.Image) error) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := enc(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestEveryFormat(t *testing.T) {
	g8 := grayRamp(96, 80)
	g16 := gray16Ramp(96, 80)
	gifEnc := func(b *bytes.Buffer, img image.Image) error {
		// Two frames: the first (the ramp) is what must come back.
		pal := make(color.Palette, 256)
		for i := range pal {
			pal[i] = color.Gray{uint8(i)}
		}
		f0 := image.NewPaletted(img.Bounds(), pal)
		f1 := image.NewPaletted(img.Bounds(), palette.Plan9)
		for i, v := range img.(*image.Gray).Pix {
			f0.Pix[i] = v
		}
		return gif.EncodeAll(b, &gif.GIF{Image: []*image.Paletted{f0, f1}, Delay: []int{0, 0}})
	}
	tiffEnc := func(b *bytes.Buffer, img image.Image) error { return tiff.Encode(b, img, nil) }
	tiffDeflate := func(b *bytes.Buffer, img image.Image) error {
		return tiff.Encode(b, img, &tiff.Options{Compression: tiff.Deflate, Predictor: true})
	}
	bmpEnc := func(b *bytes.Buffer, img image.Image) error { return bmp.Encode(b, img) }
	pngEnc := func(b *bytes.Buffer, img image.Image) error { return png.Encode(b, img) }
	for _, tc := range []struct {
		name, format string
		data         []byte
		want         image.Image // pixels that must come back exactly
		depth        int
	}{
		{"png 8-bit", "PNG", encodeWith(t, g8, pngEnc), g8, 8},
		{"png 16-bit", "PNG", encodeWith(t, g16, pngEnc), g16, 16},
		{"gif first frame", "GIF", encodeWith(t, g8, gifEnc), g8, 8},
		{"bmp", "BMP", encodeWith(t, g8, bmpEnc), g8, 8},
		{"tiff 8-bit", "TIFF", encodeWith(t, g8, tiffEnc), g8, 8},
		{"tiff 16-bit", "TIFF", encodeWith(t, g16, tiffEnc), g16, 16},
		{"tiff 16-bit deflate", "TIFF", encodeWith(t, g16, tiffDeflate), g16, 16},
		{"jpeg", "JPEG", encodeJPEG(t, g8), nil, 8},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, name, err := DecodeConfig(tc.data)
			if err != nil || name != tc.format || cfg.Width != 96 || cfg.Height != 80 {
				t.Fatalf("DecodeConfig: %+v, %q, %v", cfg, name, err)
			}
			img, info, err := DecodeInfo(tc.data)
			if err != nil {
				t.Fatal(err)
			}
			if info.Format != tc.format || info.BitDepth != tc.depth || info.Width != 96 || info.Height != 80 {
				t.Fatalf("info %+v", info)
			}
			if tc.depth == 16 {
				if _, ok := img.(*image.Gray16); !ok {
					t.Fatalf("%T, want *image.Gray16", img)
				}
			}
			if tc.want == nil {
				return
			}
			for y := 0; y < 80; y++ {
				for x := 0; x < 96; x++ {
					g, w := color.Gray16Model.Convert(img.At(x, y)), color.Gray16Model.Convert(tc.want.At(x, y))
					if g != w {
						t.Fatalf("(%d,%d) = %v, want %v", x, y, g, w)
					}
				}
			}
		})
	}
}

func TestWebP(t *testing.T) {
	// Made with cwebp by tools/make_dicom_fixtures.sh from the 8-bit DICOM reference rendering.
	ref, err := png.Decode(bytes.NewReader(readFixture(t, "explicit_le.ref.png")))
	if err != nil {
		t.Fatal(err)
	}
	for file, tol := range map[string]int{"gray-lossless.webp": 0, "gray-lossy.webp": 40} {
		data, err := os.ReadFile("testdata/" + file)
		if err != nil {
			t.Fatal(err)
		}
		img, info, err := DecodeInfo(data)
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		if info.Format != "WebP" || info.Width != 128 || info.Height != 128 {
			t.Fatalf("%s: info %+v", file, info)
		}
		worst := 0
		for y := 0; y < 128; y++ {
			for x := 0; x < 128; x++ {
				r, _, _, _ := img.At(x, y).RGBA()
				w, _, _, _ := ref.At(x, y).RGBA()
				worst = max(worst, int(r>>8)-int(w>>8), int(w>>8)-int(r>>8))
			}
		}
		t.Logf("%s: max |difference| %d of 255", file, worst)
		if worst > tol {
			t.Fatalf("%s: max |difference| %d > %d", file, worst, tol)
		}
	}
}

func TestFormatRegistry(t *testing.T) {
	want := []string{"DICOM", "JPEG", "PNG", "GIF", "BMP", "TIFF", "WebP"}
	if got := Formats(); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("Formats() = %v, want %v", got, want)
	}
	_, err := Decode([]byte("hello, this is not an image at all"))
	var de *Error
	if !errors.As(err, &de) || de.Kind != UnknownFormat {
		t.Fatalf("err = %v", err)
	}
	if want := "accepted formats are DICOM, JPEG, PNG, GIF, BMP, TIFF or WebP."; !strings.HasSuffix(de.Message, want) {
		t.Fatalf("message %q, want it to end %q", de.Message, want)
	}
	// Colour in any format is still refused.
	colour := image.NewRGBA(image.Rect(0, 0, 80, 80))
	for i := range colour.Pix {
		colour.Pix[i] = uint8(i * 37)
	}
	for _, enc := range []func(*bytes.Buffer, image.Image) error{
		func(b *bytes.Buffer, img image.Image) error { return bmp.Encode(b, img) },
		func(b *bytes.Buffer, img image.Image) error { return tiff.Encode(b, img, nil) },
	} {
		if _, err := Decode(encodeWith(t, colour, enc)); !errors.As(err, &de) || de.Kind != NotXray {
			t.Fatalf("colour: err = %v, want NotXray", err)
		}
	}
	// Truncated files of the new formats are Corrupt, with the format's name.
	gifData := encodeWith(t, grayRamp(80, 80), func(b *bytes.Buffer, img image.Image) error { return gif.Encode(b, img, nil) })
	if _, err := Decode(gifData[:len(gifData)/2]); !errors.As(err, &de) || de.Kind != Corrupt || !strings.Contains(de.Message, "GIF") {
		t.Fatalf("truncated gif: err = %v", err)
	}
}

func TestDecodeConfig(t *testing.T) {
	// The header alone: a file too small for Decode still gives its size and format.
	small := encodeWith(t, grayRamp(6, 5), func(b *bytes.Buffer, img image.Image) error { return png.Encode(b, img) })
	if cfg, name, err := DecodeConfig(small); err != nil || name != "PNG" || cfg.Width != 6 || cfg.Height != 5 {
		t.Fatalf("small PNG: %+v, %q, %v", cfg, name, err)
	}
	if _, err := Decode(small); err == nil {
		t.Fatal("Decode accepted a 6x5 image")
	}
	if cfg, name, err := DecodeConfig(readFixture(t, "gray16_lossless_sv1.dcm")); err != nil || name != "DICOM" || cfg.Width != 128 || cfg.Height != 128 {
		t.Fatalf("lossless DICOM: %+v, %q, %v", cfg, name, err)
	}
	for _, tc := range []struct {
		what string
		data []byte
		kind Kind
	}{
		{"empty", nil, Empty},
		{"text", []byte("hello, this is not an image at all"), UnknownFormat},
		{"damaged JPEG header", []byte("\xff\xd8garbage"), Corrupt},
		{"CT DICOM", readFixture(t, "ct.dcm"), NotChestXray},
		{"JPEG 2000 DICOM", withTransferSyntax(t, readFixture(t, "explicit_le.dcm"), "1.2.840.10008.1.2.4.90"), Unsupported},
	} {
		_, _, err := DecodeConfig(tc.data)
		var de *Error
		if !errors.As(err, &de) || de.Kind != tc.kind {
			t.Errorf("%s: err = %v, want kind %v", tc.what, err, tc.kind)
		}
	}
}

func TestExtensions(t *testing.T) {
	want := ".dcm .dicom .jpeg .jpg .png .gif .bmp .tif .tiff .webp"
	if got := strings.Join(Extensions(), " "); got != want {
		t.Fatalf("Extensions() = %s, want %s", got, want)
	}
}
