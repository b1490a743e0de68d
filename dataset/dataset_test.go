package dataset

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"pneumoscan/imagedecode"
	"pneumoscan/internal/chestxray"
	"pneumoscan/internal/testmodel"
	"strings"
	"testing"
)

// pngBytes encodes a gray image, as small as imagedecode.Decode accepts, whose
// pixels spell out id, so that different ids give different bytes.
func pngBytes(t *testing.T, id int) []byte {
	t.Helper()
	img := image.NewGray(image.Rect(0, 0, imagedecode.MinSide, imagedecode.MinSide))
	for i := range img.Pix {
		img.Pix[i] = uint8(id >> (i % 4 * 8))
	}
	img.Pix[len(img.Pix)-1] = uint8(id * 7)
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// jpegBytes encodes a gray w x h JPEG.
func jpegBytes(t *testing.T, w, h int) []byte {
	t.Helper()
	img := image.NewGray(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = uint8(i * 31)
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func write(t *testing.T, root, rel string, data []byte) {
	t.Helper()
	p := filepath.Join(root, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// synthetic builds a Kaggle-layout folder: in train, nNormal NORMAL patients
// (IM-/NORMAL2-IM- names) and nPneu PNEUMONIA patients (personN names), each
// with 1-3 images; patient pairs that share a byte-identical file; a small
// test split.
func synthetic(t *testing.T, nNormal, nPneu int) string {
	t.Helper()
	root := t.TempDir()
	id := 0
	next := func() []byte { id++; return pngBytes(t, id) }
	for p := range nNormal {
		for k := range 1 + p%3 {
			name := fmt.Sprintf("IM-%04d-%04d.jpeg", p, k+1)
			if p%2 == 1 {
				name = "NORMAL2-" + name
			}
			write(t, root, "train/NORMAL/"+name, next())
		}
	}
	for p := range nPneu {
		for k := range 1 + (p+1)%3 {
			kind := "bacteria"
			if k%2 == 1 {
				kind = "virus"
			}
			write(t, root, fmt.Sprintf("train/PNEUMONIA/person%d_%s_%d.jpeg", p, kind, id), next())
		}
	}
	// Byte-identical files under different patients (a repeated study filed
	// under a new number): their patients must end up in one split.
	for d := range 6 {
		b := next()
		write(t, root, fmt.Sprintf("train/PNEUMONIA/person%d_bacteria_dup%d.jpeg", d*5, d), b)
		write(t, root, fmt.Sprintf("train/PNEUMONIA/person%d_bacteria_dup%d.jpeg", d*5+2, d), b)
	}
	write(t, root, "test/NORMAL/IM-9000-0001.jpeg", next())
	write(t, root, "test/PNEUMONIA/person9000_virus_1.jpeg", next())
	return root
}

func TestPatientID(t *testing.T) {
	for _, c := range []struct {
		name, want string
		ok         bool
	}{
		{"person1000_bacteria_2931.jpeg", "person1000", true},
		{"person447_virus_921_1.jpeg", "person447", true},
		{"IM-0115-0001.jpeg", "IM-0115", true},
		{"IM-0429-0001-0002.jpeg", "IM-0429", true},
		{"NORMAL2-IM-0383-0001.jpeg", "NORMAL2-IM-0383", true},
		{"NORMAL2-IM-0429-0001-0001.jpeg", "NORMAL2-IM-0429", true},
		{"scan_01.png", "file:scan_01.png", false},
		{"personX_virus.jpeg", "file:personX_virus.jpeg", false},
	} {
		got, ok := PatientID(c.name)
		if got != c.want || ok != c.ok {
			t.Errorf("PatientID(%q) = %q, %v; want %q, %v", c.name, got, ok, c.want, c.ok)
		}
	}
}

func TestScanJunk(t *testing.T) {
	root := synthetic(t, 4, 4)
	full := jpegBytes(t, 80, 70)
	write(t, root, "train/NORMAL/.DS_Store", []byte("junk"))
	write(t, root, "train/NORMAL/notes.txt", []byte("not an image"))
	write(t, root, "train/NORMAL/IM-0800-0001.jpeg", nil)                       // empty
	write(t, root, "train/NORMAL/IM-0801-0001.jpeg", []byte("\xff\xd8garbage")) // corrupt header
	write(t, root, "train/NORMAL/IM-0802-0001.jpeg", full[:len(full)/2])        // truncated: header fine
	write(t, root, "train/NORMAL/sub/IM-0803-0001.jpeg", full)
	write(t, root, "train/PNEUMONIA/scan.png", jpegBytes(t, 300, 200)) // JPEG named .png, unknown name
	write(t, root, "train/OTHER/x.jpeg", full)
	write(t, root, "test/readme.md", []byte("hi"))

	s, err := Scan(root, Options{})
	if err != nil {
		t.Fatal(err)
	}
	reasons := map[string]string{}
	for _, k := range s.Skipped {
		reasons[k.Rel] = k.Reason
	}
	for rel, want := range map[string]string{
		"train/NORMAL/.DS_Store":         "hidden",
		"train/NORMAL/notes.txt":         "not a readable image: The file is not an image",
		"train/NORMAL/IM-0800-0001.jpeg": "empty",
		"train/NORMAL/IM-0801-0001.jpeg": "not a readable image: The JPEG file is damaged",
		"train/NORMAL/sub":               "sub-folder",
		"train/OTHER":                    "not a class folder",
		"test/readme.md":                 "not a class folder",
	} {
		if !strings.Contains(reasons[rel], want) {
			t.Errorf("skip reason for %s = %q, want it to mention %q", rel, reasons[rel], want)
		}
	}
	if len(s.Skipped) != 7 {
		t.Errorf("skipped %d, want 7: %v", len(s.Skipped), s.Skipped)
	}
	// The header-only check keeps the truncated file; the full decode drops it.
	var found bool
	for _, it := range s.Train {
		if it.Rel == "train/PNEUMONIA/scan.png" {
			found = true
			if it.Format != "JPEG" || it.Width != 300 || it.Height != 200 || it.Label != Pneumonia {
				t.Errorf("scan.png item = %+v, want JPEG 300x200 PNEUMONIA", it)
			}
		}
	}
	if !found {
		t.Error("a JPEG with a .png name was not accepted by content")
	}
	if s.UnmatchedNames != 1 {
		t.Errorf("UnmatchedNames = %d, want 1 (scan.png)", s.UnmatchedNames)
	}
	if !strings.Contains(s.Summary(), "7 skipped, 1 file names matched no patient pattern") {
		t.Errorf("summary lacks the counts:\n%s", s.Summary())
	}

	full2, err := Scan(root, Options{FullDecode: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(full2.Skipped) != 8 || len(full2.Train) != len(s.Train)-1 {
		t.Errorf("full decode skipped %d (want 8), train %d (want %d)", len(full2.Skipped), len(full2.Train), len(s.Train)-1)
	}
	var corrupt bool
	for _, k := range full2.Skipped {
		if k.Rel == "train/NORMAL/IM-0802-0001.jpeg" && strings.Contains(k.Reason, "corrupt") {
			corrupt = true
		}
	}
	if !corrupt {
		t.Errorf("full decode did not report the truncated JPEG: %v", full2.Skipped)
	}
}

func TestScanErrors(t *testing.T) {
	cases := []struct {
		name  string
		setup func(t *testing.T, root string)
		want  string
	}{
		{"no root", func(t *testing.T, root string) { os.RemoveAll(root) }, "no such file"},
		{"no train", func(t *testing.T, root string) { os.RemoveAll(filepath.Join(root, "train")) }, "missing train/"},
		{"no test", func(t *testing.T, root string) { os.RemoveAll(filepath.Join(root, "test")) }, "missing test/"},
		{"class missing", func(t *testing.T, root string) {
			os.RemoveAll(filepath.Join(root, "train", "NORMAL"))
		}, "train/NORMAL is missing"},
		{"class with only junk", func(t *testing.T, root string) {
			os.RemoveAll(filepath.Join(root, "test", "PNEUMONIA"))
			write(t, root, "test/PNEUMONIA/a.txt", []byte("x"))
		}, "test/PNEUMONIA holds no usable"},
		{"val without a class", func(t *testing.T, root string) {
			write(t, root, "val/NORMAL/IM-7000-0001.jpeg", pngBytes(t, 7000))
		}, "val/PNEUMONIA is missing"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			root := synthetic(t, 2, 2)
			c.setup(t, root)
			_, err := Scan(root, Options{})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Scan error = %v, want one mentioning %q", err, c.want)
			}
		})
	}
	if _, err := Scan(filepath.Join(synthetic(t, 1, 1), "train", "NORMAL", "IM-0000-0001.jpeg"), Options{}); err == nil || !strings.Contains(err.Error(), "not a folder") {
		t.Errorf("Scan of a file: %v", err)
	}
}

// checkNoLeak fails when a patient or a content hash is on both sides.
func checkNoLeak(t *testing.T, tr, va []Item) {
	t.Helper()
	side := map[string]string{}
	for _, it := range tr {
		side["p:"+it.Patient] = "train"
		side["h:"+it.SHA256] = "train"
	}
	for _, it := range va {
		for _, k := range []string{"p:" + it.Patient, "h:" + it.SHA256} {
			if side[k] == "train" {
				t.Errorf("%s (%s) is in both train and val", k, it.Rel)
			}
		}
	}
}

// checkStratified fails when a class's validation share is off the asked
// fraction by more than tol.
func checkStratified(t *testing.T, s *Split, fraction, tol float64) {
	t.Helper()
	for c := range 2 {
		share := float64(s.ValCounts[c]) / float64(s.ValCounts[c]+s.TrainCounts[c])
		if math.Abs(share-fraction) > tol {
			t.Errorf("%s validation share %.3f, want %.2f +- %.2f", ClassDirs[c], share, fraction, tol)
		}
	}
}

func TestSplitSynthetic(t *testing.T) {
	s, err := Scan(synthetic(t, 60, 120), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := len(DuplicateGroups(s.Train)); got != 6 {
		t.Fatalf("duplicate groups = %d, want 6", got)
	}
	sp, err := MakeSplit(s.Train, 7, 0.2)
	if err != nil {
		t.Fatal(err)
	}
	tr, va, err := sp.Apply(s.Train)
	if err != nil {
		t.Fatal(err)
	}
	if len(tr)+len(va) != len(s.Train) || len(va) == 0 {
		t.Fatalf("split sizes %d + %d, want %d with a non-empty val", len(tr), len(va), len(s.Train))
	}
	checkNoLeak(t, tr, va)
	// Groups hold 1-3 images (duplicate merges up to 6), so the share can
	// miss the target by at most a few images per class.
	checkStratified(t, sp, 0.2, 0.03)
	if Counts(va) != sp.ValCounts || Counts(tr) != sp.TrainCounts {
		t.Errorf("stored counts %v/%v differ from the items %v/%v", sp.TrainCounts, sp.ValCounts, Counts(tr), Counts(va))
	}

	again, _ := MakeSplit(s.Train, 7, 0.2)
	if fmt.Sprint(again.Val) != fmt.Sprint(sp.Val) {
		t.Error("same seed gave a different split")
	}
	other, _ := MakeSplit(s.Train, 8, 0.2)
	if fmt.Sprint(other.Val) == fmt.Sprint(sp.Val) {
		t.Error("seeds 7 and 8 gave the same split")
	}
	for _, f := range []float64{0, 1, -0.1, math.NaN()} {
		if _, err := MakeSplit(s.Train, 1, f); err == nil {
			t.Errorf("fraction %v accepted", f)
		}
	}
	if _, err := MakeSplit(s.Train[:3], 1, 0.2); err == nil || !strings.Contains(err.Error(), "stratify") {
		t.Errorf("one-class train: %v", err)
	}
}

func TestGroupsMergeDuplicates(t *testing.T) {
	items := []Item{
		{Rel: "a", Patient: "person1", SHA256: "h1", Label: 1},
		{Rel: "b", Patient: "person2", SHA256: "h1", Label: 1},
		{Rel: "c", Patient: "person2", SHA256: "h2", Label: 1},
		{Rel: "d", Patient: "person3", SHA256: "h2", Label: 0}, // chains 1-2-3
		{Rel: "e", Patient: "IM-0001", SHA256: "h3", Label: 0},
		{Rel: "f", Patient: "IM-0001", SHA256: "h4", Label: 0},
	}
	g := Groups(items)
	if len(g) != 2 {
		t.Fatalf("got %d groups, want 2: %+v", len(g), g)
	}
	if g[0].Key != "person1" || len(g[0].Items) != 4 || g[0].Label != Pneumonia {
		t.Errorf("group 0 = %+v, want person1 with 4 items, majority PNEUMONIA", g[0])
	}
	if g[1].Key != "IM-0001" || len(g[1].Items) != 2 || g[1].Label != Normal {
		t.Errorf("group 1 = %+v", g[1])
	}
}

func TestLoadOrMakeSplit(t *testing.T) {
	root := synthetic(t, 20, 30)
	s, err := Scan(root, Options{})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "split.json")
	made, err := LoadOrMakeSplit(file, s.Train, 3, DefaultValFraction)
	if err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("temp files left beside the split: %v", ents)
	}
	reused, err := LoadOrMakeSplit(file, s.Train, 3, DefaultValFraction)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(reused) != fmt.Sprint(made) {
		t.Error("reloaded split differs from the one saved")
	}
	if _, err := LoadOrMakeSplit(file, s.Train, 4, DefaultValFraction); err == nil || !strings.Contains(err.Error(), "seed 3") {
		t.Errorf("other seed: %v", err)
	}

	write(t, root, "train/NORMAL/IM-0500-0001.jpeg", pngBytes(t, 5000))
	os.Remove(filepath.Join(root, "train/NORMAL/IM-0000-0001.jpeg"))
	changed := s.Train[len(s.Train)-1].Rel
	write(t, root, changed, pngBytes(t, 5001)) // same name, new content
	s2, err := Scan(root, Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = LoadOrMakeSplit(file, s2.Train, 3, DefaultValFraction)
	for _, want := range []string{"1 added (train/NORMAL/IM-0500-0001.jpeg)", "1 removed (train/NORMAL/IM-0000-0001.jpeg)", "1 changed content (" + changed + ")"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("changed folder: error %v, want it to say %q", err, want)
		}
	}
	os.WriteFile(file, []byte("{"), 0o644)
	if _, err := LoadOrMakeSplit(file, s.Train, 3, DefaultValFraction); err == nil {
		t.Error("a corrupt split file was accepted")
	}
}

func TestClassWeights(t *testing.T) {
	items := make([]Item, 12)
	for i := 3; i < 12; i++ {
		items[i].Label = Pneumonia
	}
	// 3 NORMAL, 9 PNEUMONIA: w0 = 12/(2*3) = 2, w1 = 12/(2*9) = 2/3.
	w, err := ClassWeights(items)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(w[0]-2) > 1e-12 || math.Abs(w[1]-2.0/3) > 1e-12 {
		t.Errorf("ClassWeights = %v, want [2 0.6667]", w)
	}
	if _, err := ClassWeights(items[3:]); err == nil {
		t.Error("one-class weights did not fail")
	}
	// A tiny color check that the gray PNG helper is a gray image (any
	// format and color model must scan).
	if img, err := png.Decode(bytes.NewReader(pngBytes(t, 1))); err != nil || img.ColorModel() != color.GrayModel {
		t.Errorf("gray fixture: %v", err)
	}
}

func TestRealData(t *testing.T) {
	root := chestxray.Dir(t)
	s, err := Scan(root, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Log(s.Summary())
	if got := Counts(s.Train); got != [2]int{1341, 3875} {
		t.Errorf("train counts %v, want [1341 3875] (data README)", got)
	}
	if got := Counts(s.Test); got != [2]int{234, 390} {
		t.Errorf("test counts %v, want [234 390]", got)
	}
	if s.UnmatchedNames != 0 || len(s.Skipped) != 0 {
		t.Errorf("unmatched %d, skipped %v; want none on the real set", s.UnmatchedNames, s.Skipped)
	}
	// The data README: 30 byte-identical groups, 50 files in train, 12 in test.
	nFiles := func(g [][]Item) (n int) {
		for _, x := range g {
			n += len(x)
		}
		return n
	}
	dTrain, dTest := DuplicateGroups(s.Train), DuplicateGroups(s.Test)
	if len(dTrain)+len(dTest) != 30 || nFiles(dTrain) != 50 || nFiles(dTest) != 12 {
		t.Errorf("duplicates: %d+%d groups, %d+%d files; want 30 groups, 50+12 files", len(dTrain), len(dTest), nFiles(dTrain), nFiles(dTest))
	}
	sp, err := MakeSplit(s.Train, 1, DefaultValFraction)
	if err != nil {
		t.Fatal(err)
	}
	tr, va, err := sp.Apply(s.Train)
	if err != nil {
		t.Fatal(err)
	}
	checkNoLeak(t, tr, va)
	checkStratified(t, sp, DefaultValFraction, 0.005)
	t.Logf("split: train %v in %d groups, val %v in %d groups", sp.TrainCounts, sp.TrainGroups, sp.ValCounts, sp.ValGroups)
}

func TestLabelled(t *testing.T) {
	root := t.TempDir()
	for _, rel := range []string{"test/PNEUMONIA/b.JPG", "test/NORMAL/a.jpeg", "test/NORMAL/c.png", "NORMAL/top.jpeg",
		"test/NORMAL/notes.txt", "test/NORMAL/.hidden.jpeg", "test/other/x.jpeg", "test/PNEUMONIA/sub/NORMAL/deep.jpeg"} {
		write(t, root, rel, []byte(rel))
	}
	items, err := Labelled(root)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, it := range items {
		if it.Path != filepath.Join(root, filepath.FromSlash(it.Rel)) {
			t.Errorf("%s: path %s", it.Rel, it.Path)
		}
		got = append(got, fmt.Sprintf("%s:%d", it.Rel, it.Label))
	}
	want := "NORMAL/top.jpeg:0 test/NORMAL/a.jpeg:0 test/NORMAL/c.png:0 test/PNEUMONIA/b.JPG:1 test/PNEUMONIA/sub/NORMAL/deep.jpeg:0"
	if strings.Join(got, " ") != want {
		t.Errorf("Labelled = %v, want %s", got, want)
	}
	if _, err := Labelled(filepath.Join(root, "test", "other")); err == nil || !strings.Contains(err.Error(), "no images") {
		t.Errorf("a folder without class folders: %v", err)
	}
	if _, err := Labelled(filepath.Join(root, "missing")); err == nil {
		t.Error("a missing folder must be an error")
	}
}

// TestScanDICOM: DICOM files (and every other format imagedecode reads) are data set images,
// told by content whatever their name; what imagedecode refuses is skipped with its reason.
func TestScanDICOM(t *testing.T) {
	root := synthetic(t, 2, 2)
	dicom := func(name string) []byte { return testmodel.Read(t, "imagedecode/testdata/dicom/"+name) }
	write(t, root, "train/NORMAL/IM-0500-0001.dcm", dicom("explicit_le.dcm"))
	write(t, root, "train/PNEUMONIA/person500_bacteria_1.dcm", dicom("gray16_lossless_sv1.dcm")) // JPEG lossless
	write(t, root, "train/PNEUMONIA/person501_virus_2", dicom("jpeg_lossless.dcm"))              // no extension
	write(t, root, "train/NORMAL/IM-0501-0001.dcm", dicom("ct.dcm"))
	write(t, root, "test/NORMAL/IM-0502-0001.DICOM", dicom("gray12_lossless_sv5_rst8.dcm"))
	for _, opt := range []Options{{}, {FullDecode: true}} {
		s, err := Scan(root, opt)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]Item{}
		for _, it := range append(s.Train, s.Test...) {
			got[it.Rel] = it
		}
		for rel, label := range map[string]int{
			"train/NORMAL/IM-0500-0001.dcm":            Normal,
			"train/PNEUMONIA/person500_bacteria_1.dcm": Pneumonia,
			"train/PNEUMONIA/person501_virus_2":        Pneumonia,
			"test/NORMAL/IM-0502-0001.DICOM":           Normal,
		} {
			it, ok := got[rel]
			if !ok {
				t.Errorf("%+v: %s not scanned; skipped: %v", opt, rel, s.Skipped)
				continue
			}
			if it.Format != "DICOM" || it.Width != 128 || it.Height != 128 || it.Label != label {
				t.Errorf("%+v: %s = %+v, want DICOM 128x128 label %d", opt, rel, it, label)
			}
		}
		if got["train/PNEUMONIA/person500_bacteria_1.dcm"].Patient != "person500" {
			t.Errorf("patient of person500_bacteria_1.dcm: %q", got["train/PNEUMONIA/person500_bacteria_1.dcm"].Patient)
		}
		var ct string
		for _, k := range s.Skipped {
			if k.Rel == "train/NORMAL/IM-0501-0001.dcm" {
				ct = k.Reason
			}
			for _, secret := range []string{"SECRET", "12345", "HOSPITAL"} {
				if strings.Contains(k.Reason, secret) {
					t.Errorf("skip reason %q leaks %q", k.Reason, secret)
				}
			}
		}
		if !strings.Contains(ct, "This DICOM file is a CT image, not a chest radiograph.") {
			t.Errorf("%+v: CT skip reason %q", opt, ct)
		}
	}
	// Labelled lists by name: the .dcm and .DICOM files, not the one without an extension.
	items, err := Labelled(root)
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{}
	for _, it := range items {
		listed[it.Rel] = true
	}
	for rel, want := range map[string]bool{
		"train/NORMAL/IM-0500-0001.dcm": true, "test/NORMAL/IM-0502-0001.DICOM": true,
		"train/PNEUMONIA/person500_bacteria_1.dcm": true, "train/PNEUMONIA/person501_virus_2": false,
	} {
		if listed[rel] != want {
			t.Errorf("Labelled lists %s: %v, want %v", rel, listed[rel], want)
		}
	}
}
