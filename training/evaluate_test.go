package main

import (
	"bytes"
	"context"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"pneumoscan/internal/testmodel"
)

// TestEvaluateSkipsRefused: evaluate screens through the same path as the page and the API,
// so an image with no film to read (filmcheck) is skipped and listed with its reason, not
// scored into the metrics.
func TestEvaluateSkipsRefused(t *testing.T) {
	dir := t.TempDir()
	write := func(rel string, data []byte) {
		p := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	encode := func(img image.Image) []byte {
		var b bytes.Buffer
		if err := png.Encode(&b, img); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	write("NORMAL/a.jpeg", testmodel.XRay(t, "normal-IM-0001-0001.jpeg"))
	write("NORMAL/blank.png", encode(image.NewGray(image.Rect(0, 0, 512, 512))))
	write("PNEUMONIA/b.jpeg", testmodel.XRay(t, "pneumonia-person100_bacteria_475.jpeg"))
	write("PNEUMONIA/strip.png", encode(image.NewGray(image.Rect(0, 0, 2000, 300))))
	model := filepath.Join(t.TempDir(), "tiny.onnx")
	if err := os.WriteFile(model, testmodel.Tiny(t), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if code := program.Run(context.Background(), []string{"evaluate", "--model", model, "--data", dir, "--out", filepath.Join(t.TempDir(), "eval")}, &out, &errb); code != 0 {
		t.Fatalf("evaluate: exit %d\n%s%s", code, out.String(), errb.String())
	}
	if !strings.Contains(out.String(), "2 images (2 skipped)") {
		t.Errorf("evaluate output %q: want the two films scored and the two refusals skipped", out.String())
	}
	for _, want := range []string{"blank.png: The image is almost uniform", "strip.png: The image is 6.7 times wider than high"} {
		if !strings.Contains(errb.String(), want) {
			t.Errorf("evaluate's log lacks %q:\n%s", want, errb.String())
		}
	}
}

// TestEvaluateReadsDICOM: evaluate lists DICOM files (dataset.Labelled) and screens them
// through imagedecode, JPEG lossless included; a DICOM file of another modality is skipped
// with imagedecode's reason.
func TestEvaluateReadsDICOM(t *testing.T) {
	dir := t.TempDir()
	for rel, data := range map[string][]byte{
		"NORMAL/a.jpeg":    testmodel.XRay(t, "normal-IM-0001-0001.jpeg"),
		"NORMAL/film.dcm":  testmodel.Read(t, "imagedecode/testdata/dicom/gray16_lossless_sv1.dcm"),
		"PNEUMONIA/b.jpeg": testmodel.XRay(t, "pneumonia-person100_bacteria_475.jpeg"),
		"PNEUMONIA/ct.dcm": testmodel.Read(t, "imagedecode/testdata/dicom/ct.dcm"),
	} {
		p := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	model := filepath.Join(t.TempDir(), "tiny.onnx")
	if err := os.WriteFile(model, testmodel.Tiny(t), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if code := program.Run(context.Background(), []string{"evaluate", "--model", model, "--data", dir, "--out", filepath.Join(t.TempDir(), "eval")}, &out, &errb); code != 0 {
		t.Fatalf("evaluate: exit %d\n%s%s", code, out.String(), errb.String())
	}
	if !strings.Contains(out.String(), "3 images (1 skipped)") {
		t.Errorf("evaluate output %q: want the two JPEG films and the DICOM film scored, the CT skipped", out.String())
	}
	if want := "ct.dcm: This DICOM file is a CT image, not a chest radiograph."; !strings.Contains(errb.String(), want) {
		t.Errorf("evaluate's log lacks %q:\n%s", want, errb.String())
	}
}
