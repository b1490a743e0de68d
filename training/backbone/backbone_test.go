package backbone

import (
	"bytes"
	"context"
	"image"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"pneumoscan/dataset"
	"pneumoscan/imagedecode"
	"pneumoscan/internal/testmodel"
	"pneumoscan/model"
	"pneumoscan/modelfile/torchvision"
	"pneumoscan/resnet"
	"pneumoscan/training/augment"
	"pneumoscan/training/features"
)

// tiny has every convolution kind of ResNet50's layout (7x7 stem, 1x1, strided 3x3, strided
// downsample, identity shortcut) at a size the tests run in a moment.
var tiny = resnet.Tiny

const tinySize = 64

var fixtures = []string{"../../testdata/xray/normal-IM-0001-0001.jpeg", "../../testdata/xray/pneumonia-person100_bacteria_475.jpeg"}

// fixtureItems returns 4 X-ray items: the two fixtures and a flipped and a cropped copy of
// them written as PNG, so the images differ.
func fixtureItems(t *testing.T) []dataset.Item {
	t.Helper()
	dir := t.TempDir()
	var items []dataset.Item
	for i, f := range fixtures {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		items = append(items, dataset.Item{Path: f, Rel: filepath.Base(f), Label: i})
		img, err := imagedecode.Decode(data)
		if err != nil {
			t.Fatal(err)
		}
		b := img.Bounds()
		out := image.NewRGBA(image.Rect(0, 0, b.Dx()-i*40, b.Dy()))
		for y := 0; y < out.Rect.Dy(); y++ {
			for x := 0; x < out.Rect.Dx(); x++ {
				sx := b.Max.X - 1 - x // a mirror image
				if i == 1 {
					sx = b.Min.X + x + 20 // a crop
				}
				out.Set(x, y, img.At(sx, b.Min.Y+y))
			}
		}
		var buf bytes.Buffer
		if err := png.Encode(&buf, out); err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, "variant"+string(rune('a'+i))+".png")
		if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		items = append(items, dataset.Item{Path: p, Rel: "variants/" + filepath.Base(p), Label: i})
	}
	return items
}

func inputs(t *testing.T, items []dataset.Item, size int) [][]float32 {
	t.Helper()
	var xs [][]float32
	for _, it := range items {
		x, err := Tensor(it.Path, model.ImageNetPreprocess(size))
		if err != nil {
			t.Fatal(err)
		}
		xs = append(xs, x)
	}
	return xs
}

// The batched im2col forward must compute what resnet's plain reference forward does.
func TestForwardBatchMatchesReference(t *testing.T) {
	bb, err := resnet.RandomBackbone(tiny, 3)
	if err != nil {
		t.Fatal(err)
	}
	for i := range bb.Convs {
		for j := range bb.Convs[i].Bias {
			bb.Convs[i].Bias[j] = float32((i+j)%5)*0.05 - 0.1
		}
	}
	xs := inputs(t, fixtureItems(t), tinySize)
	outs, s, err := forwardBatch(context.Background(), bb, xs, tinySize, 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	for n, x := range xs {
		want, ws, err := bb.Forward(x, tinySize)
		if err != nil {
			t.Fatal(err)
		}
		if s != ws || len(outs[n]) != len(want) {
			t.Fatalf("image %d: size %d (%d values), reference %d (%d)", n, s, len(outs[n]), ws, len(want))
		}
		var d, scale float64
		for i := range want {
			d = math.Max(d, math.Abs(float64(outs[n][i]-want[i])))
			scale = math.Max(scale, math.Abs(float64(want[i])))
		}
		if scale == 0 || d > 1e-5*scale {
			t.Errorf("image %d: max |diff| %.3g (scale %.3g)", n, d, scale)
		}
	}
}

// After re-estimation every convolution's output channels have mean 0 and variance 1 over
// the calibration images, as a BatchNorm layer in training mode makes them.
func TestReestimateStandardisesEveryConv(t *testing.T) {
	bb, err := resnet.RandomBackbone(tiny, 11)
	if err != nil {
		t.Fatal(err)
	}
	xs := inputs(t, fixtureItems(t), tinySize)
	convs := tiny.Convs()
	check := func(label string, wantStandard bool) {
		bad := 0
		_, _, err := forwardBatch(context.Background(), bb, xs, tinySize, 2, func(i int, outs [][]float32, hw int) error {
			mean, variance := channelStats(outs, convs[i].Out, hw)
			for c := range mean {
				// var/(var+eps) after folding: a channel whose raw variance was small (the
				// branch's last conv starts scaled down) lands a little under 1.
				ok := math.Abs(mean[c]) < 1e-4 && variance[c] <= 1+1e-4 && variance[c] > 0.99
				if ok != wantStandard && wantStandard {
					bad++
					if bad < 5 {
						t.Errorf("%s: %s channel %d: mean %.3g, variance %.5g", label, convs[i].Name, c, mean[c], variance[c])
					}
				}
				if !ok {
					bad++
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if !wantStandard && bad == 0 {
			t.Errorf("%s: already standard before re-estimation; the test shows nothing", label)
		}
	}
	check("before", false)
	if err := Reestimate(context.Background(), bb, xs, tinySize, 2); err != nil {
		t.Fatal(err)
	}
	check("after", true)
	if err := Reestimate(context.Background(), bb, xs[:1], tinySize, 2); err == nil {
		t.Error("re-estimation on one image accepted")
	}
}

func tinyConfig() Config {
	return Config{Source: SourceNone, Seed: 4, BNSamples: 4, Arch: tiny, Size: tinySize, Workers: 2}
}

func TestExtractSkipsCorruptFile(t *testing.T) {
	items := fixtureItems(t)
	bad := filepath.Join(t.TempDir(), "corrupt.jpeg")
	good, _ := os.ReadFile(fixtures[0])
	if err := os.WriteFile(bad, good[:len(good)/3], 0o644); err != nil { // a truncated JPEG
		t.Fatal(err)
	}
	withBad := append(items[:2:2], dataset.Item{Path: bad, Rel: "train/NORMAL/corrupt.jpeg"})
	withBad = append(withBad, items[2:]...)

	cfg := tinyConfig()
	cfg.BNSamples = len(withBad)
	b, err := New(cfg, withBad) // the corrupt file is skipped in calibration too
	if err != nil {
		t.Fatal(err)
	}
	if b.Calibration.Images != 4 || len(b.Calibration.Skipped) != 1 {
		t.Errorf("calibration used %d images, skipped %v", b.Calibration.Images, b.Calibration.Skipped)
	}
	var log strings.Builder
	s, err := b.Extract(context.Background(), withBad, &log)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("progress:\n%s", log.String())
	if len(s.Items) != 4 || len(s.Skipped) != 1 || s.Skipped[0].Item != "train/NORMAL/corrupt.jpeg" {
		t.Fatalf("items %v, skipped %v", s.Items, s.Skipped)
	}
	if !strings.Contains(log.String(), "skipped 1 unreadable") || !strings.Contains(log.String(), "corrupt.jpeg") {
		t.Errorf("progress does not report the skipped file:\n%s", log.String())
	}
	if s.Dim != tiny.Features() || s.Items[2] != items[2].Rel || s.Labels[2] != items[2].Label {
		t.Errorf("dim %d, items %v, labels %v", s.Dim, s.Items, s.Labels)
	}
	// Finite, not constant within an image, different between images.
	for i := range s.Items {
		row := s.Row(i)
		lo, hi := math.Inf(1), math.Inf(-1)
		for _, v := range row {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				t.Fatalf("%s: non-finite feature", s.Items[i])
			}
			lo, hi = math.Min(lo, float64(v)), math.Max(hi, float64(v))
		}
		if hi-lo < 1e-3 {
			t.Errorf("%s: features constant (%g..%g)", s.Items[i], lo, hi)
		}
		for j := range i {
			if slices.Equal(row, s.Row(j)) {
				t.Errorf("%s and %s have the same features", s.Items[i], s.Items[j])
			}
		}
	}
	// The engine's pooled features match the batched reference forward of the same weights.
	outs, _, err := forwardBatch(context.Background(), b.Weights(), inputs(t, items, tinySize), tinySize, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range items {
		want := resnet.Pool(outs[i], s.Dim)
		for k, v := range s.Row(i) {
			if math.Abs(float64(v-want[k])) > 1e-4*(1+math.Abs(float64(want[k]))) {
				t.Fatalf("%s: feature %d = %g, reference %g", s.Items[i], k, v, want[k])
			}
		}
	}
}

func TestDeterministicIDAndAugmentation(t *testing.T) {
	items := fixtureItems(t)
	cfg := tinyConfig()
	a, err := New(cfg, items)
	if err != nil {
		t.Fatal(err)
	}
	b, err := New(cfg, items)
	if err != nil {
		t.Fatal(err)
	}
	if a.ID() != b.ID() || len(a.ID()) != 64 {
		t.Fatalf("same config, IDs %s and %s", a.ID(), b.ID())
	}
	cfg.Seed++
	c, err := New(cfg, items)
	if err != nil {
		t.Fatal(err)
	}
	if c.ID() == a.ID() {
		t.Error("another seed gives the same ID")
	}
	cfg.Seed--
	d, err := New(cfg, items[:3]) // other calibration images: other statistics
	if err != nil {
		t.Fatal(err)
	}
	if d.ID() == a.ID() {
		t.Error("other calibration images give the same ID")
	}

	// Draws: 0 is the plain image, the same draw repeats, another draw differs.
	ctx := context.Background()
	extract := func(draw int) *features.Set {
		cfg := tinyConfig()
		cfg.Augment, cfg.Draw = augment.Default(), draw
		s, err := Extract(ctx, cfg, items, items[:2], nil)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	plain, d1, d1again, d2 := extract(0), extract(1), extract(1), extract(2)
	if !slices.Equal(d1.X, d1again.X) {
		t.Error("draw 1 twice gives different features")
	}
	if slices.Equal(plain.X, d1.X) || slices.Equal(d1.X, d2.X) {
		t.Error("augmentation draws do not change the features")
	}
	// WithDraw shares the weights and gives what a backbone built for that draw gives.
	cfg = tinyConfig()
	cfg.Augment = augment.Default()
	base, err := New(cfg, items)
	if err != nil {
		t.Fatal(err)
	}
	b1, err := base.WithDraw(1)
	if err != nil {
		t.Fatal(err)
	}
	viaWith, err := b1.Extract(ctx, items[:2], nil)
	if err != nil {
		t.Fatal(err)
	}
	if b1.ID() != base.ID() || !slices.Equal(viaWith.X, d1.X) || viaWith.Draw != 1 {
		t.Error("WithDraw(1) differs from a backbone built for draw 1")
	}
	if d1.Draw != 1 || plain.Draw != 0 {
		t.Errorf("draws recorded as %d, %d", plain.Draw, d1.Draw)
	}
}

func TestCachedReusesAndInvalidates(t *testing.T) {
	items := fixtureItems(t)
	dir := filepath.Join(t.TempDir(), "run", "features") // made on first use
	b, err := New(tinyConfig(), items)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	first, err := b.Cached(ctx, dir, "train", items, nil)
	if err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.features"))
	if len(files) != 1 {
		t.Fatalf("cache holds %v", files)
	}
	// A second call reads the file: prove it by making extraction impossible.
	saved := loadEngine
	defer func() { loadEngine = saved }()
	b.pool.engines = nil
	loadEngine = nil
	again, err := b.Cached(ctx, dir, "train", items, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(first.X, again.X) || again.Key != b.Key("train", items).Hash() {
		t.Error("cached set differs")
	}
	loadEngine = saved
	// A changed item list is another file.
	if _, err := b.Cached(ctx, dir, "train", items[:3], nil); err != nil {
		t.Fatal(err)
	}
	files, _ = filepath.Glob(filepath.Join(dir, "*.features"))
	if len(files) != 2 {
		t.Errorf("after a changed item list the cache holds %v, want 2 files", files)
	}
	// A damaged cache file is an error, not silently used.
	data, _ := os.ReadFile(files[0])
	data[len(data)/2] ^= 1
	os.WriteFile(files[0], data, 0o644)
	_, err1 := b.Cached(ctx, dir, "train", items, nil)
	_, err2 := b.Cached(ctx, dir, "train", items[:3], nil)
	if err1 == nil && err2 == nil {
		t.Error("damaged cache accepted")
	}
}

func TestExtractCancelled(t *testing.T) {
	items := fixtureItems(t)
	b, err := New(tinyConfig(), items)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := b.Extract(ctx, items, nil); err != context.Canceled {
		t.Errorf("cancelled extraction: %v", err)
	}
}

func TestConfigErrors(t *testing.T) {
	for name, cfg := range map[string]Config{
		"draw":     {Draw: -1},
		"samples":  {BNSamples: 1},
		"augment":  {Augment: augment.Params{Zoom: 5}},
		"too tiny": {Arch: tiny, Size: 8},
	} {
		if _, err := New(cfg, nil); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := New(Config{Arch: tiny, Size: tinySize}, nil); err == nil || !strings.Contains(err.Error(), "calibration") {
		t.Errorf("random backbone without calibration images: %v", err)
	}
	if _, err := New(Config{Source: filepath.Join(t.TempDir(), "missing.onnx"), Arch: tiny, Size: tinySize}, nil); err == nil {
		t.Error("missing torchvision file accepted")
	}
}

func TestWeightsCache(t *testing.T) {
	items := fixtureItems(t)
	cfg := tinyConfig()
	cfg.CacheDir = t.TempDir()
	a, err := New(cfg, items)
	if err != nil {
		t.Fatal(err)
	}
	if a.Calibration.Cached || a.Calibration.Images != 4 {
		t.Fatalf("first build: %+v", a.Calibration)
	}
	b, err := New(cfg, items)
	if err != nil {
		t.Fatal(err)
	}
	if !b.Calibration.Cached || b.ID() != a.ID() || b.Calibration.Images != 4 {
		t.Fatalf("second build: cached %v, IDs %s / %s", b.Calibration.Cached, b.ID(), a.ID())
	}
	// Another calibration sample or seed is another file.
	c, err := New(cfg, items[1:])
	if err != nil {
		t.Fatal(err)
	}
	cfg.Seed++
	d, err := New(cfg, items)
	if err != nil {
		t.Fatal(err)
	}
	if c.Calibration.Cached || d.Calibration.Cached || c.ID() == a.ID() || d.ID() == a.ID() {
		t.Error("a changed calibration sample or seed reused cached weights")
	}
	files, _ := filepath.Glob(filepath.Join(cfg.CacheDir, "backbone-*.weights"))
	if len(files) != 3 {
		t.Fatalf("cache holds %v", files)
	}
	// A damaged file is refused by name.
	cfg.Seed--
	path := weightsPath(cfg.CacheDir, mustRecipe(t, cfg, a.calibrationSample(items)))
	data, _ := os.ReadFile(path)
	data[len(data)/2] ^= 4
	os.WriteFile(path, data, 0o644)
	if _, err := New(cfg, items); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("damaged weights cache: %v", err)
	}
}

func mustRecipe(t *testing.T, cfg Config, sample []dataset.Item) string {
	t.Helper()
	r, err := recipe(cfg.withDefaults(), sample)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// Imported torchvision weights are used as they are unless re-estimation is asked for.
func TestImportedSource(t *testing.T) {
	items := fixtureItems(t)
	// The layout of the fixture (modelfile/torchvision/testdata), not resnet.Tiny.
	arch := resnet.Arch{StemWidth: 8, Widths: [4]int{2, 4, 4, 8}, Expansion: 2, Blocks: [4]int{1, 1, 2, 1}}
	src := "../../modelfile/torchvision/testdata/tiny_folded.onnx"
	want, err := torchvisionImport(src, arch)
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Source: src, Arch: arch, Size: tinySize, Workers: 2, BNSamples: 4}
	plain, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if plain.ID() != weightsID(want) {
		t.Error("imported weights changed without Reestimate")
	}
	cfg.Reestimate = true
	re, err := New(cfg, items)
	if err != nil {
		t.Fatal(err)
	}
	if re.ID() == plain.ID() || re.Calibration.Images != 4 {
		t.Errorf("Reestimate: calibration %+v, ID unchanged %v", re.Calibration, re.ID() == plain.ID())
	}
	s, err := re.Extract(context.Background(), items, nil)
	if err != nil || len(s.Items) != 4 {
		t.Fatalf("extract: %v", err)
	}
}

var torchvisionImport = torchvision.ImportFile

// TestTensorReadsDICOM: a DICOM file that dataset.Scan lists is read by the trainer (Tensor,
// as the feature extraction's input): a JPEG lossless copy of a film gives exactly the tensor
// of its uncompressed original.
func TestTensorReadsDICOM(t *testing.T) {
	root := t.TempDir()
	for rel, fixture := range map[string]string{
		"train/NORMAL/IM-0001-0001.dcm":          "gray16_window.dcm",
		"train/PNEUMONIA/person1_bacteria_1.dcm": "gray16_lossless_sv1.dcm",
		"test/NORMAL/IM-0002-0001.dcm":           "explicit_le.dcm",
		"test/PNEUMONIA/person2_virus_2.dcm":     "jpeg_lossless_sv7.dcm",
	} {
		p := filepath.Join(root, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, testmodel.Read(t, "imagedecode/testdata/dicom/"+fixture), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s, err := dataset.Scan(root, dataset.Options{FullDecode: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Train) != 2 || len(s.Test) != 2 || len(s.Skipped) != 0 {
		t.Fatalf("scanned train %d, test %d, skipped %v", len(s.Train), len(s.Test), s.Skipped)
	}
	x := map[string][]float32{}
	for _, it := range append(s.Train, s.Test...) {
		if it.Format != "DICOM" {
			t.Fatalf("%s: format %q", it.Rel, it.Format)
		}
		if x[it.Rel], err = Tensor(it.Path, model.ImageNetPreprocess(tinySize)); err != nil {
			t.Fatalf("%s: %v", it.Rel, err)
		}
	}
	for _, pair := range [][2]string{
		{"train/NORMAL/IM-0001-0001.dcm", "train/PNEUMONIA/person1_bacteria_1.dcm"},
		{"test/NORMAL/IM-0002-0001.dcm", "test/PNEUMONIA/person2_virus_2.dcm"},
	} {
		a, b := x[pair[0]], x[pair[1]]
		if len(a) != 3*tinySize*tinySize || !slices.Equal(a, b) {
			t.Errorf("%s and %s (the same pixels) give different tensors", pair[0], pair[1])
		}
		if slices.Min(a) == slices.Max(a) {
			t.Errorf("%s: a constant tensor", pair[0])
		}
	}
}
