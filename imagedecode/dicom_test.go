package imagedecode

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The fixtures and dcmtk's renderings of them come from tools/make_dicom_fixtures.sh.

func readFixture(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "dicom", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// secrets are the identifying values every fixture carries.
var secrets = []string{"SECRET", "PATIENT", "12345", "HOSPITAL", "ACC1", "1970", "1950"}

func checkNoSecrets(t *testing.T, what string) {
	t.Helper()
	for _, s := range secrets {
		if strings.Contains(strings.ToUpper(what), s) {
			t.Fatalf("%q leaks %q", what, s)
		}
	}
}

// grayLevels returns img's pixels as 16-bit values (8-bit images scaled by 257).
func grayLevels(t *testing.T, img image.Image) (w, h int, v []int) {
	t.Helper()
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			if r != g || g != bl {
				t.Fatalf("pixel (%d,%d) is not gray: %d %d %d", x, y, r, g, bl)
			}
			v = append(v, int(r))
		}
	}
	return b.Dx(), b.Dy(), v
}

func TestDICOMAgainstDcmtk(t *testing.T) {
	for _, tc := range []struct {
		file, ref string
		wantDepth int
		// tol is the largest allowed difference, in the reference's own levels (8- or 16-bit).
		tol int
	}{
		{"explicit_le.dcm", "explicit_le.ref.png", 16, 0},
		{"implicit_le.dcm", "explicit_le.ref.png", 16, 0},
		{"big_endian.dcm", "explicit_le.ref.png", 16, 0},
		{"deflated.dcm", "explicit_le.ref.png", 16, 0},
		{"rle.dcm", "explicit_le.ref.png", 16, 0},
		{"jpeg_lossless_sv1.dcm", "explicit_le.ref.png", 16, 0},
		{"jpeg_lossless.dcm", "explicit_le.ref.png", 16, 0},
		// libjpeg's IDCT and Go's differ by a level or two.
		{"jpeg_baseline.dcm", "jpeg_baseline.ref.png", 16, 2},
		// 255-g exactly here; dcmtk's inversion rounds half its pixels one level up.
		{"monochrome1.dcm", "monochrome1.ref.png", 16, 1},
		{"window8.dcm", "window8.ref.png", 16, 1},
		// Without a window the 12-bit range maps onto 0..65535 here (4095 -> 65535), onto
		// 0..65520 in dcmtk (x16): up to 15 of 65536 levels, 1/17 of an 8-bit level.
		{"gray16_full.dcm", "gray16_full.ref.png", 16, 16},
		{"gray16_window.dcm", "gray16_window.ref.png", 16, 1},
		{"gray16_window_be.dcm", "gray16_window.ref.png", 16, 1},
		{"gray16_window_rle.dcm", "gray16_window.ref.png", 16, 1},
		{"gray16_window_mono1.dcm", "gray16_window_mono1.ref.png", 16, 1},
		{"gray16_lossless_sv1.dcm", "gray16_window.ref.png", 16, 1},
		{"gray12_lossless_sv5_rst8.dcm", "gray16_window.ref.png", 16, 1},
		{"gray16_lossless_mono1.dcm", "gray16_window_mono1.ref.png", 16, 1},
		// Signed, slope 0.5: dcmtk's range after the modality LUT is slightly narrower (its
		// rounding of the rescaled range); 46 of 65536 levels, under 1/5 of an 8-bit level.
		{"gray16_signed.dcm", "gray16_signed.ref.png", 16, 64},
	} {
		t.Run(tc.file, func(t *testing.T) {
			img, info, err := DecodeInfo(readFixture(t, tc.file))
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := img.(*image.Gray16); !ok {
				t.Fatalf("decoded to %T, want *image.Gray16", img)
			}
			if info.Format != "DICOM" || info.BitDepth != tc.wantDepth || info.Width != 128 || info.Height != 128 {
				t.Fatalf("info %+v", info)
			}
			if info.Modality != "DX" || info.ViewPosition != "PA" || info.BodyPart != "CHEST" || info.PixelSpacing != [2]float64{0.139, 0.139} {
				t.Fatalf("info %+v", info)
			}
			checkNoSecrets(t, fmt.Sprintf("%+v", info))
			ref, err := png.Decode(bytes.NewReader(readFixture(t, tc.ref)))
			if err != nil {
				t.Fatal(err)
			}
			scale := 1 // 16-bit reference: compare 16-bit levels
			if _, ok := ref.(*image.Gray); ok {
				scale = 257 // 8-bit reference: compare 8-bit levels
			}
			rw, rh, want := grayLevels(t, ref)
			w, h, got := grayLevels(t, img)
			if rw != w || rh != h {
				t.Fatalf("size %dx%d, reference %dx%d", w, h, rw, rh)
			}
			worst, worstAt, differ := 0, 0, 0
			for i := range got {
				g := got[i]
				if scale == 257 {
					g = (g + 128) / 257
				}
				d := max(g-want[i]/scale, want[i]/scale-g)
				if d > 0 {
					differ++
				}
				if d > worst {
					worst, worstAt = d, i
				}
			}
			t.Logf("max |difference| %d (of %d levels) at pixel %d; %d of %d pixels differ", worst, 65536/scale, worstAt, differ, len(got))
			if worst > tc.tol {
				t.Fatalf("max |difference| %d > %d at (%d,%d): got %d, dcmtk %d", worst, tc.tol, worstAt%w, worstAt/w, got[worstAt], want[worstAt])
			}
		})
	}
}

func TestDICOMRefusals(t *testing.T) {
	for _, tc := range []struct {
		file string
		kind Kind
		want string
	}{
		{"ct.dcm", NotChestXray, "This DICOM file is a CT image, not a chest radiograph."},
		{"lateral.dcm", NotChestXray, "This DICOM file is a lateral view; pneumoscan screens frontal (PA/AP) films."},
		{"knee.dcm", NotChestXray, "This DICOM file is an image of the knee, not of the chest."},
	} {
		t.Run(tc.file, func(t *testing.T) {
			img, info, err := DecodeInfo(readFixture(t, tc.file))
			var de *Error
			if !errors.As(err, &de) || de.Kind != tc.kind {
				t.Fatalf("err = %v (%T), want kind %v", err, err, tc.kind)
			}
			if img != nil || info != (Info{}) {
				t.Fatalf("img %v, info %+v with an error", img, info)
			}
			if !strings.HasPrefix(de.Message, tc.want) {
				t.Fatalf("message %q, want %q", de.Message, tc.want)
			}
			checkNoSecrets(t, de.Error())
			t.Log(de.Message)
		})
	}
}

// withTransferSyntax is a DICOM file whose meta group names ts, followed by base's data set.
func withTransferSyntax(t *testing.T, base []byte, ts string) []byte {
	t.Helper()
	_, end, err := readMeta(base)
	if err != nil {
		t.Fatal(err)
	}
	if len(ts)%2 == 1 {
		ts += "\x00"
	}
	var meta bytes.Buffer
	el := func(elem uint16, vr, v string) {
		binary.Write(&meta, binary.LittleEndian, [2]uint16{2, elem})
		meta.WriteString(vr)
		binary.Write(&meta, binary.LittleEndian, uint16(len(v)))
		meta.WriteString(v)
	}
	el(0x0010, "UI", ts)
	var out bytes.Buffer
	out.Write(make([]byte, 128))
	out.WriteString("DICM")
	binary.Write(&out, binary.LittleEndian, [2]uint16{2, 0})
	out.WriteString("UL")
	binary.Write(&out, binary.LittleEndian, uint16(4))
	binary.Write(&out, binary.LittleEndian, uint32(meta.Len()))
	out.Write(meta.Bytes())
	out.Write(base[end:])
	return out.Bytes()
}

func TestDICOMUnsupportedTransferSyntaxes(t *testing.T) {
	base := readFixture(t, "explicit_le.dcm")
	for ts, name := range map[string]string{
		"1.2.840.10008.1.2.4.90": "JPEG 2000 (Lossless Only)",
		"1.2.840.10008.1.2.4.91": "JPEG 2000",
		"1.2.840.10008.1.2.4.80": "JPEG-LS Lossless",
		"1.2.840.10008.1.2.4.51": "JPEG Extended (Process 2 & 4)",
		"1.2.3.4":                "",
	} {
		_, err := Decode(withTransferSyntax(t, base, ts))
		var de *Error
		if !errors.As(err, &de) || de.Kind != Unsupported {
			t.Fatalf("%s: err = %v, want Unsupported", ts, err)
		}
		want := "DICOM transfer syntax (an unregistered UID) is not supported yet"
		if name != "" {
			want = fmt.Sprintf("DICOM transfer syntax %s (%s) is not supported yet", name, ts)
		}
		if !strings.HasPrefix(de.Message, want) {
			t.Fatalf("message %q, want %q", de.Message, want)
		}
	}
	// The rebuilt meta group itself is sound: with the real syntax it decodes.
	if _, err := Decode(withTransferSyntax(t, base, tsExplicitLE)); err != nil {
		t.Fatal(err)
	}
}

func TestDICOMDamaged(t *testing.T) {
	for _, name := range []string{"explicit_le.dcm", "implicit_le.dcm", "deflated.dcm", "rle.dcm", "jpeg_baseline.dcm", "gray16_window_be.dcm", "jpeg_lossless.dcm"} {
		data := readFixture(t, name)
		for _, n := range []int{132, 140, len(data) / 3, len(data) - 100, len(data) - 1} {
			_, err := Decode(data[:n])
			var de *Error
			if !errors.As(err, &de) || de.Kind != Corrupt {
				t.Fatalf("%s cut to %d bytes: err = %v, want Corrupt", name, n, err)
			}
			checkNoSecrets(t, err.Error())
			if de.Err != nil {
				checkNoSecrets(t, de.Err.Error())
			}
		}
	}
	// A forged length near 4 GB must fail, not allocate.
	data := append([]byte(nil), readFixture(t, "explicit_le.dcm")...)
	i := bytes.Index(data, []byte{0xe0, 0x7f, 0x10, 0x00, 'O', 'B', 0, 0})
	if i < 0 {
		t.Fatal("no pixel data header")
	}
	binary.LittleEndian.PutUint32(data[i+8:], 0xfffffff0)
	if _, err := Decode(data); err == nil {
		t.Fatal("forged length accepted")
	}
}

func TestDICOMSizeFromHeader(t *testing.T) {
	// Rows 10: refused as too small from the header, before the pixel data is looked at.
	data := append([]byte(nil), readFixture(t, "explicit_le.dcm")...)
	i := bytes.Index(data, []byte{0x28, 0x00, 0x10, 0x00, 'U', 'S', 2, 0})
	if i < 0 {
		t.Fatal("no Rows")
	}
	binary.LittleEndian.PutUint16(data[i+8:], 10)
	_, err := Decode(data)
	var de *Error
	if !errors.As(err, &de) || de.Kind != TooSmall {
		t.Fatalf("err = %v, want TooSmall", err)
	}
	binary.LittleEndian.PutUint16(data[i+8:], 60000)
	j := bytes.Index(data, []byte{0x28, 0x00, 0x11, 0x00, 'U', 'S', 2, 0})
	binary.LittleEndian.PutUint16(data[j+8:], 60000)
	if _, err = Decode(data); !errors.As(err, &de) || de.Kind != TooLarge {
		t.Fatalf("err = %v, want TooLarge", err)
	}
}
