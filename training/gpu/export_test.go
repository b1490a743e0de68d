package gpu

import (
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/gomlx/gomlx/pkg/ml/context"

	"pneumoscan/convnet"
	"pneumoscan/dataset"
	"pneumoscan/model"
	"pneumoscan/screen"
	"pneumoscan/training/augment"
	"pneumoscan/training/gpu/shard"
	"pneumoscan/training/operating"
)

func fixtures(t *testing.T) *Images {
	t.Helper()
	items := []dataset.Item{
		{Path: filepath.Join("..", "..", "testdata", "xray", "normal-IM-0001-0001.jpeg"), Rel: "normal-IM-0001-0001.jpeg", Label: dataset.Normal},
		{Path: filepath.Join("..", "..", "testdata", "xray", "pneumonia-person100_bacteria_475.jpeg"), Rel: "pneumonia-person100_bacteria_475.jpeg", Label: dataset.Pneumonia},
	}
	im, err := Decode(items)
	if err != nil {
		t.Fatal(err)
	}
	return im
}

// TestExportScreens goes from GoMLX variables to the files a GPU run sends back and on to
// the shared screen path: fold, metadata, int8 ONNX, parts and shards with a manifest,
// verification, reassembly, screen.New, and the screened probability against GoMLX's.
func TestExportScreens(t *testing.T) {
	backend := cpuBackend(t)
	ctx := context.New()
	if err := ctx.SetRNGStateFromSeed(5); err != nil {
		t.Fatal(err)
	}
	p, err := NewPredictor(backend, ctx, tiny)
	if err != nil {
		t.Fatal(err)
	}
	im := fixtures(t)
	pre := model.ImageNetPreprocess(tiny.Size)
	x, err := Tensors(im, pre)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Logits(x); err != nil {
		t.Fatal(err)
	}
	if err := randomizeBatchNorm(ctx, tiny, rand.New(rand.NewPCG(9, 9))); err != nil {
		t.Fatal(err)
	}
	logits, err := p.Logits(x)
	if err != nil {
		t.Fatal(err)
	}
	b, h, err := Fold(ctx, tiny)
	if err != nil {
		t.Fatal(err)
	}
	// Validation scores: a noisy but informative classifier, enough to fit thresholds.
	r := rand.New(rand.NewPCG(1, 1))
	var probs []float64
	var labels []int
	for i := range 60 {
		y := i % 2
		probs = append(probs, 1/(1+math.Exp(-(2*float64(y)-1+r.NormFloat64()))))
		labels = append(labels, y)
	}
	res := &Result{Backbone: b, Head: h, BestEpoch: 3, BestAUC: 0.9, ValProbs: probs,
		History: make([]EpochLog, 4), Stopped: "test"}
	o := Options{Net: tiny, LR: 1e-3}
	md, err := Metadata(res, labels, o, RunInfo{Name: "gpu-test", Version: "0", Device: "test", Batch: 8,
		Augment: "none", Train: 100, Val: 60, ValFraction: 0.15, SplitSeed: 1})
	if err != nil {
		t.Fatal(err)
	}
	data, err := ONNX(res, md)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "train.log"), []byte("log\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := shard.Write(dir, data, b, h, true, "train.log"); err != nil {
		t.Fatal(err)
	}
	m, err := shard.ReadManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	got, err := shard.Verify(dir, m)
	if err != nil {
		t.Fatal(err)
	}
	s, err := screen.New(got, convnet.Engine)
	if err != nil {
		t.Fatal(err)
	}
	if md := s.Metadata(); !md.Trained || md.Operating != operating.Screening || len(md.Thresholds) != 2 || md.Temperature <= 0 {
		t.Errorf("metadata after the round trip: %+v", md)
	}
	for i, name := range []string{"normal-IM-0001-0001.jpeg", "pneumonia-person100_bacteria_475.jpeg"} {
		img, err := os.ReadFile(filepath.Join("..", "..", "testdata", "xray", name))
		if err != nil {
			t.Fatal(err)
		}
		r, err := s.Screen(img)
		if err != nil {
			t.Fatal(err)
		}
		want := 1 / (1 + math.Exp(-float64(logits[i])))
		if math.Abs(r.RawProb-want) > 0.02 {
			t.Errorf("%s: screened raw P %.4f, GoMLX float32 %.4f (int8 export drifted too far)", name, r.RawProb, want)
		}
		t.Logf("%s: screened raw P %.4f, GoMLX %.4f", name, r.RawProb, want)
	}

	// The float16 shards give back the folded weights to float16 precision.
	b2, h2, err := shard.Weights(dir, m)
	if err != nil {
		t.Fatal(err)
	}
	for i := range b.Convs {
		for j, w := range b.Convs[i].Weight {
			if d := math.Abs(float64(b2.Convs[i].Weight[j] - w)); d > 1e-3*math.Max(1, math.Abs(float64(w))) {
				t.Fatalf("conv %d weight %d: shard %v, folded %v", i, j, b2.Convs[i].Weight[j], w)
			}
		}
	}
	if len(h2.FC1) != len(h.FC1) || math.Abs(float64(h2.B2[0]-h.B2[0])) > 1e-3 {
		t.Errorf("head from shards differs: %d/%d weights, b2 %v vs %v", len(h2.FC1), len(h.FC1), h2.B2, h.B2)
	}

	// Without weights: the model alone verifies, Weights says why it has none.
	dir2 := t.TempDir()
	m2, err := shard.Write(dir2, data, b, h, false)
	if err != nil {
		t.Fatal(err)
	}
	if got2, err := shard.Verify(dir2, m2); err != nil || len(got2) != len(got) {
		t.Errorf("model-only run: Verify gave %d bytes, %v", len(got2), err)
	}
	if _, _, err := shard.Weights(dir2, m2); !errors.Is(err, shard.ErrNoWeights) {
		t.Errorf("model-only run: Weights error %v, want ErrNoWeights", err)
	}
	if ents, _ := os.ReadDir(dir2); len(ents) != len(m2.Model.Parts)+1 {
		t.Errorf("model-only run wrote %d files, want %d parts + manifest", len(ents), len(m2.Model.Parts))
	}

	// A corrupted part is caught.
	part := filepath.Join(dir, m.Model.Parts[0].Name)
	raw, _ := os.ReadFile(part)
	raw[len(raw)/2] ^= 1
	os.WriteFile(part, raw, 0o644)
	if _, err := shard.Verify(dir, m); err == nil {
		t.Error("Verify accepted a corrupted part")
	}
}

// TestFeederDeterministic: batches have the right labels and class weights, and the same
// seed and epoch give the same augmented tensors.
func TestFeederDeterministic(t *testing.T) {
	im := fixtures(t)
	f := &Feeder{Images: im, Pre: model.ImageNetPreprocess(64), Augment: augment.Default(),
		Weights: [2]float64{2, 0.5}, Batch: 1, Seed: 4, Prefetch: 2}
	collect := func(epoch int) []*Batch {
		ch, errc := f.Epoch(epoch, make(chan struct{}))
		var out []*Batch
		for b := range ch {
			out = append(out, b)
		}
		select {
		case err := <-errc:
			t.Fatal(err)
		default:
		}
		return out
	}
	a, b := collect(1), collect(1)
	if len(a) != 2 {
		t.Fatalf("%d batches, want 2", len(a))
	}
	for i := range a {
		idx := a[i].Indices[0]
		if a[i].Y[0] != float32(im.Labels[idx]) || a[i].W[0] != float32(f.Weights[im.Labels[idx]]) {
			t.Errorf("batch %d: label %v weight %v for image %d (label %d)", i, a[i].Y[0], a[i].W[0], idx, im.Labels[idx])
		}
		for j := range a[i].X {
			if a[i].X[j] != b[i].X[j] {
				t.Fatalf("batch %d differs between two runs of the same epoch at %d", i, j)
			}
		}
	}
	plain, err := Tensors(im, f.Pre)
	if err != nil {
		t.Fatal(err)
	}
	idx := a[0].Indices[0]
	same := true
	per := len(a[0].X)
	for j := range a[0].X {
		if a[0].X[j] != plain[idx*per+j] {
			same = false
			break
		}
	}
	if same {
		t.Error("augmented batch equals the plain image: augmentation is off")
	}
}
