package imagedecode

import (
	"bytes"
	"encoding/binary"
	"errors"
	"image"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// losslessFixtures are the JPEG lossless files of tools/make_dicom_fixtures.sh, each with its
// reference: an uncompressed file whose samples the script checked equal dcmdjpeg's
// decompression of it (for a point transform, the decompression itself), and the stream's
// parameters, checked here so the list says what it covers.
var losslessFixtures = []struct {
	file, ref            string
	ts                   string
	prec, pred, pt, rows int // rows: restart interval in rows, 0 for none
}{
	{"jpeg_lossless_sv1.dcm", "explicit_le.dcm", tsJPEGSV1, 8, 1, 0, 0},
	{"jpeg_lossless_sv2.dcm", "explicit_le.dcm", tsJPEGLossless, 8, 2, 0, 0},
	{"jpeg_lossless_sv3.dcm", "explicit_le.dcm", tsJPEGLossless, 8, 3, 0, 0},
	{"jpeg_lossless_sv4.dcm", "explicit_le.dcm", tsJPEGLossless, 8, 4, 0, 0},
	{"jpeg_lossless_sv5.dcm", "explicit_le.dcm", tsJPEGLossless, 8, 5, 0, 0},
	{"jpeg_lossless.dcm", "explicit_le.dcm", tsJPEGLossless, 8, 6, 0, 0},
	{"jpeg_lossless_sv7.dcm", "explicit_le.dcm", tsJPEGLossless, 8, 7, 0, 0},
	{"jpeg_lossless_sv1_pt2.dcm", "jpeg_lossless_sv1_pt2.dcmdjpeg.dcm", tsJPEGSV1, 8, 1, 2, 0},
	{"gray16_lossless_sv1.dcm", "gray16_window.dcm", tsJPEGSV1, 16, 1, 0, 0},
	{"gray16_lossless_sv7_pt3.dcm", "gray16_lossless_sv7_pt3.dcmdjpeg.dcm", tsJPEGLossless, 16, 7, 3, 0},
	{"gray16_lossless_mono1.dcm", "gray16_window_mono1.dcm", tsJPEGSV1, 16, 1, 0, 0},
	{"gray16_lossless_signed.dcm", "gray16_signed.dcm", tsJPEGLossless, 16, 5, 0, 0},
	// 16 bits stored, with differences of exactly 32768 (category 16).
	{"gray16_bits16_lossless.dcm", "gray16_bits16.dcm", tsJPEGSV1, 16, 1, 0, 0},
	{"gray12_lossless_sv5_rst8.dcm", "gray16_window.dcm", tsJPEGSV1, 12, 5, 0, 8},
	{"gray12_lossless_sv6_pt1_rst5.dcm", "gray12_lossless_sv6_pt1_rst5.dcmdjpeg.dcm", tsJPEGSV1, 12, 6, 1, 5},
	{"gray6_lossless_sv4_rst16.dcm", "gray6.dcm", tsJPEGSV1, 6, 4, 0, 16},
}

// streamParams reads a lossless JPEG stream's precision, predictor, point transform and restart
// interval from its headers, independently of the decoder.
func streamParams(t *testing.T, frame []byte) (prec, pred, pt, restart int) {
	t.Helper()
	for p := 2; p+4 <= len(frame); {
		m, n := frame[p+1], int(binary.BigEndian.Uint16(frame[p+2:]))
		seg := frame[p+4 : p+2+n]
		switch m {
		case 0xc3:
			prec = int(seg[0])
		case 0xdd:
			restart = int(binary.BigEndian.Uint16(seg))
		case 0xda:
			return prec, int(seg[3]), int(seg[5] & 0x0f), restart
		}
		p += 2 + n
	}
	t.Fatal("no scan header")
	return
}

func TestJPEGLosslessAgainstDcmtk(t *testing.T) {
	for _, tc := range losslessFixtures {
		t.Run(tc.file, func(t *testing.T) {
			data, refData := readFixture(t, tc.file), readFixture(t, tc.ref)
			f, err := parseDICOM(data)
			if err != nil {
				t.Fatal(err)
			}
			if f.attrs.ts != tc.ts {
				t.Fatalf("transfer syntax %s, want %s", f.attrs.ts, tc.ts)
			}
			frame, err := f.firstFragmentedFrame(true)
			if err != nil {
				t.Fatal(err)
			}
			prec, pred, pt, restart := streamParams(t, frame)
			if prec != tc.prec || pred != tc.pred || pt != tc.pt || restart != tc.rows*f.attrs.cols {
				t.Fatalf("stream: precision %d, predictor %d, point transform %d, restart interval %d; the table says %d, %d, %d, %d rows",
					prec, pred, pt, restart, tc.prec, tc.pred, tc.pt, tc.rows)
			}
			got, err := f.losslessStored()
			if err != nil {
				t.Fatal(err)
			}
			r, err := parseDICOM(refData)
			if err != nil {
				t.Fatal(err)
			}
			if r.attrs.ts != tsExplicitLE || r.ds.encaps {
				t.Fatalf("reference %s is not native explicit little endian", tc.ref)
			}
			want := r.attrs.unpack(r.ds.pixels, binary.LittleEndian)
			if len(got) != len(want) {
				t.Fatalf("%d samples, dcmtk %d", len(got), len(want))
			}
			differ, first := 0, -1
			for i := range want {
				if got[i] != want[i] {
					if first < 0 {
						first = i
					}
					differ++
				}
			}
			if differ > 0 {
				w := f.attrs.cols
				t.Fatalf("%d of %d samples differ from dcmtk's; first at (%d,%d): %d, dcmtk %d",
					differ, len(want), first%w, first/w, got[first], want[first])
			}
			// And the rendered images, which apply the same attributes, are identical.
			img, info, err := DecodeInfo(data)
			if err != nil {
				t.Fatal(err)
			}
			refImg, err := Decode(refData)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(img.(*image.Gray16).Pix, refImg.(*image.Gray16).Pix) {
				t.Fatal("rendered image differs from the reference's")
			}
			if info.TransferSyntax != tc.ts || info.Format != "DICOM" {
				t.Fatalf("info %+v", info)
			}
			checkNoSecrets(t, info.TransferSyntax+info.Modality)
		})
	}
}

// withFrame is data (a single-frame encapsulated DICOM file) with its frame replaced by frame.
func withFrame(t *testing.T, data, frame []byte) []byte {
	t.Helper()
	f, err := parseDICOM(data)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.ds.fragments) != 1 {
		t.Fatalf("%d fragments", len(f.ds.fragments))
	}
	at := bytes.Index(data, f.ds.fragments[0]) - 8 // the item header
	if at < 0 || !bytes.Equal(data[at:at+4], []byte{0xfe, 0xff, 0x00, 0xe0}) {
		t.Fatal("frame item not found")
	}
	frame = append([]byte(nil), frame...)
	if len(frame)%2 == 1 {
		frame = append(frame, 0)
	}
	out := append([]byte(nil), data[:at]...)
	out = binary.LittleEndian.AppendUint16(out, 0xfffe)
	out = binary.LittleEndian.AppendUint16(out, 0xe000)
	out = binary.LittleEndian.AppendUint32(out, uint32(len(frame)))
	out = append(out, frame...)
	return append(out, 0xfe, 0xff, 0xdd, 0xe0, 0, 0, 0, 0)
}

func fixtureFrame(t *testing.T, name string) (data, frame []byte) {
	t.Helper()
	data = readFixture(t, name)
	f, err := parseDICOM(data)
	if err != nil {
		t.Fatal(err)
	}
	return data, f.ds.fragments[0]
}

func TestJPEGLosslessDamaged(t *testing.T) {
	data, frame := fixtureFrame(t, "gray12_lossless_sv5_rst8.dcm")
	// The file rebuilt around its own frame still decodes: the edits below are what fails.
	if _, err := Decode(withFrame(t, data, frame)); err != nil {
		t.Fatal(err)
	}
	sos := bytes.Index(frame, []byte{0xff, 0xda})
	rst3 := bytes.Index(frame, []byte{0xff, 0xd3})
	sof := bytes.Index(frame, []byte{0xff, 0xc3})
	if sos < 0 || rst3 < 0 || sof < 0 {
		t.Fatal("fixture lacks SOS, RST3 or SOF3")
	}
	edit := func(at int, b ...byte) []byte {
		out := append([]byte(nil), frame...)
		copy(out[at:], b)
		return out
	}
	for _, tc := range []struct {
		what  string
		frame []byte
		want  string
	}{
		{"cut in the first restart interval", frame[:sos+200], "lossless JPEG data ends early"},
		{"cut in the middle", frame[:len(frame)/2], "lossless JPEG data ends early"},
		{"cut before the last bytes", frame[:len(frame)-40], "lossless JPEG data ends early"},
		{"cut in the headers", frame[:sof+5], "lossless JPEG data ends early"},
		{"no start of image", frame[2:], "no start-of-image marker"},
		{"RST3 made RST5", edit(rst3+1, 0xd5), "restart marker RST3 missing"},
		{"baseline frame header", edit(sof+1, 0xc0), "another process (marker 0xC0), not SOF3"},
		{"predictor 0", edit(sos+7, 0), "predictor 0 outside 1..7"},
		{"missing Huffman table", edit(sos+6, 0x10), "Huffman table is missing"},
		{"point transform 12 of 12 bits", edit(sos+9, 12), "point transform 12 for 12-bit samples"},
		{"precision 17", edit(sof+4, 17), "precision 17 bits outside 2..16"},
		{"height 0", edit(sof+5, 0, 0), "frame size 128x0"},
		{"entropy data all ones", append(append([]byte(nil), frame[:sos+10]...), bytes.Repeat([]byte{0xff, 0x00}, 200)...), "a code that is in no Huffman table"},
	} {
		t.Run(tc.what, func(t *testing.T) {
			_, err := Decode(withFrame(t, data, tc.frame))
			var de *Error
			if !errors.As(err, &de) || de.Kind != Corrupt {
				t.Fatalf("err = %v, want Corrupt", err)
			}
			if de.Err == nil || !strings.Contains(de.Err.Error(), tc.want) {
				t.Fatalf("underlying error %v, want %q", de.Err, tc.want)
			}
			checkNoSecrets(t, de.Error()+de.Err.Error())
		})
	}
}

func TestJPEGLosslessRefusals(t *testing.T) {
	data, frame := fixtureFrame(t, "jpeg_lossless_sv1.dcm")
	// Three components (a colour lossless JPEG in a data set that says grayscale).
	sof3 := []byte{0xff, 0xd8, 0xff, 0xc3, 0, 17, 8, 0, 128, 0, 128, 3, 1, 0x11, 0, 2, 0x11, 0, 3, 0x11, 0}
	_, err := Decode(withFrame(t, data, sof3))
	var de *Error
	if !errors.As(err, &de) || de.Kind != Unsupported ||
		de.Message != "This DICOM file's lossless JPEG frame has 3 components; pneumoscan reads grayscale (one-component) radiographs." {
		t.Fatalf("err = %v", err)
	}
	// A restart interval that is not whole rows (here 100 samples of a 128-sample row).
	sos := bytes.Index(frame, []byte{0xff, 0xda})
	dri := []byte{0xff, 0xdd, 0, 4, 0, 100}
	withDRI := append(append(append([]byte(nil), frame[:sos]...), dri...), frame[sos:]...)
	_, err = Decode(withFrame(t, data, withDRI))
	if !errors.As(err, &de) || de.Kind != Unsupported || !strings.Contains(de.Message, "restart interval (100 samples) is not a whole number of rows (128 samples)") {
		t.Fatalf("err = %v", err)
	}
	// JPEG samples wider than the data set's pixel cells.
	_, frame16 := fixtureFrame(t, "gray16_lossless_sv1.dcm")
	_, err = Decode(withFrame(t, data, frame16))
	if !errors.As(err, &de) || de.Kind != Corrupt || !strings.Contains(de.Err.Error(), "16-bit JPEG samples in 8-bit pixel cells") {
		t.Fatalf("err = %v", err)
	}
}

// FuzzJPEGLossless: no stream, however damaged, panics or decodes to the wrong size. Its seeds,
// run by every go test, are fixture streams with bytes changed at 200 places each.
func FuzzJPEGLossless(f *testing.F) {
	for _, name := range []string{"jpeg_lossless.dcm", "gray12_lossless_sv5_rst8.dcm", "gray16_bits16_lossless.dcm"} {
		data, err := os.ReadFile(filepath.Join("testdata", "dicom", name))
		if err != nil {
			f.Fatal(err)
		}
		d, err := parseDICOM(data)
		if err != nil {
			f.Fatal(err)
		}
		frame := d.ds.fragments[0]
		f.Add(frame)
		rng := rand.New(rand.NewPCG(1, uint64(len(frame))))
		for range 200 {
			m := append([]byte(nil), frame...)
			m[rng.IntN(len(m))] = byte(rng.IntN(256))
			f.Add(m)
		}
	}
	f.Fuzz(func(t *testing.T, frame []byte) {
		lf, err := decodeLosslessJPEG(frame)
		if err == nil && len(lf.pix) != lf.width*lf.height {
			t.Fatalf("%d samples for %dx%d", len(lf.pix), lf.width, lf.height)
		}
	})
}
