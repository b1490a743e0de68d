package imagedecode

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"pneumoscan/internal/chestxray"
	"testing"
)

func encodePNG(t testing.TB, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func encodeJPEG(t testing.TB, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func grayRamp(w, h int) *image.Gray {
	img := image.NewGray(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = uint8(i * 7)
	}
	return img
}

// withPNGSize rewrites the IHDR width and height (and its CRC) of a PNG file.
func withPNGSize(data []byte, w, h uint32) []byte {
	out := append([]byte(nil), data...)
	// signature(8) length(4) "IHDR"(4) width(4) height(4) ... crc after 13 data bytes
	binary.BigEndian.PutUint32(out[16:], w)
	binary.BigEndian.PutUint32(out[20:], h)
	binary.BigEndian.PutUint32(out[29:], crc32.ChecksumIEEE(out[12:29]))
	return out
}

func TestDecodeErrors(t *testing.T) {
	good := encodeJPEG(t, grayRamp(128, 128))
	colourful := image.NewRGBA(image.Rect(0, 0, 128, 128))
	for y := 0; y < 128; y++ {
		for x := 0; x < 128; x++ {
			colourful.Set(x, y, color.RGBA{uint8(2 * x), uint8(255 - 2*y), 40, 255})
		}
	}
	for _, tc := range []struct {
		name string
		data []byte
		want Kind
	}{
		{"empty", nil, Empty},
		{"text", []byte("hello, this is not an image at all"), UnknownFormat},
		{"truncated jpeg", good[:len(good)/2], Corrupt},
		{"header only jpeg", good[:20], Corrupt},
		{"too small", encodePNG(t, grayRamp(10, 10)), TooSmall},
		{"too narrow", encodePNG(t, grayRamp(300, 40)), TooSmall},
		{"too large (header)", withPNGSize(encodePNG(t, grayRamp(64, 64)), 10000, 6000), TooLarge},
		{"colour photo", encodeJPEG(t, colourful), NotXray},
	} {
		t.Run(tc.name, func(t *testing.T) {
			img, err := Decode(tc.data)
			var de *Error
			if !errors.As(err, &de) {
				t.Fatalf("err = %v (%T), want *Error", err, err)
			}
			if de.Kind != tc.want {
				t.Fatalf("kind = %v (%q), want %v", de.Kind, de.Message, tc.want)
			}
			if img != nil || de.UserMessage() == "" {
				t.Fatalf("img = %v, message %q", img, de.UserMessage())
			}
			t.Logf("%s", de.UserMessage())
		})
	}
}

func TestDecodeAccepts(t *testing.T) {
	for name, data := range map[string][]byte{
		"gray png":  encodePNG(t, grayRamp(64, 80)),
		"gray jpeg": encodeJPEG(t, grayRamp(100, 64)),
	} {
		img, err := Decode(data)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if b := img.Bounds(); b.Dx() < 64 || b.Dy() < 64 {
			t.Fatalf("%s: bounds %v", name, b)
		}
	}
}

func TestDecodeFixtures(t *testing.T) {
	files, _ := filepath.Glob("../testdata/xray/*.jpeg")
	if len(files) != 2 {
		t.Fatalf("found %d fixtures, want 2", len(files))
	}
	checkDecodes(t, files)
}

// TestDecodeDataset decodes a sample of the data set's test split (skipped, naming where it
// looked, when the data set is not there: it is not part of the repository).
func TestDecodeDataset(t *testing.T) {
	root := chestxray.Dir(t)
	var files []string
	for _, class := range []string{"NORMAL", "PNEUMONIA"} {
		all, _ := filepath.Glob(filepath.Join(root, "test", class, "*.jpeg"))
		if len(all) == 0 {
			t.Fatalf("no images in %s", filepath.Join(root, "test", class))
		}
		for i := 0; i < len(all) && i < 25*7; i += 7 {
			files = append(files, all[i])
		}
	}
	checkDecodes(t, files)
}

func checkDecodes(t *testing.T, files []string) {
	t.Helper()
	t.Logf("checking %d images", len(files))
	var worst float64
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		img, err := Decode(data)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		worst = max(worst, MeanChroma(img))
	}
	t.Logf("highest mean chroma %.4f (limit %.2f)", worst, MaxChroma)
}
