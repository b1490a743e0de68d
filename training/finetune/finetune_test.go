package finetune

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/x448/float16"

	"pneumoscan/convnet"
	"pneumoscan/dataset"
	"pneumoscan/model"
	"pneumoscan/modelfile"
	"pneumoscan/resnet"
	"pneumoscan/screen"
	"pneumoscan/training/backbone"
	"pneumoscan/training/features"
	"pneumoscan/training/head"
)

// tiny is the trainer's --arch tiny. (It was {4, 8, 8, 16} x {1, 1, 1, 1} before resnet.Tiny
// became the one tiny layout; no expectation here depends on the layout.)
var tiny = resnet.Tiny

const size = 64

func randomInputs(n int, seed uint64) [][]float32 {
	r := rand.New(rand.NewPCG(seed, 3))
	xs := make([][]float32, n)
	for i := range xs {
		xs[i] = make([]float32, 3*size*size)
		for j := range xs[i] {
			xs[i][j] = float32(r.NormFloat64())
		}
	}
	return xs
}

func testConfig(stages int) Config {
	h := head.Default()
	h.Units, h.Batch, h.Epochs, h.Patience, h.Dropout, h.LR = 8, 4, 3, 0, 0, 1e-2
	return Config{Head: h, Stages: stages}
}

// The gorgonia forward of the trainable stages and head, fed the lean forward's prefix
// output, equals the reference forward of the same folded weights on the whole image.
func TestForwardMatchesReference(t *testing.T) {
	bb, err := resnet.RandomBackbone(tiny, 3)
	if err != nil {
		t.Fatal(err)
	}
	xs := randomInputs(3, 1)
	for stages := 1; stages <= 5; stages++ { // 5: the stem too
		net, err := NewNet(tiny, min(stages, 4), size, 8)
		if err != nil {
			t.Fatal(err)
		}
		st, err := NewState(testConfig(min(stages, 4)), net, bb)
		if err != nil {
			t.Fatal(err)
		}
		if stages == 5 {
			if net, err = NewFullNet(tiny, size, 8); err != nil {
				t.Fatal(err)
			}
			if st, err = NewState(testConfig(4), net, bb); err != nil {
				t.Fatal(err)
			}
		}
		// Perturb the trainable convolutions so they differ from bb's.
		r := rand.New(rand.NewPCG(9, uint64(stages)))
		for _, p := range st.Params[:len(st.Params)-4] {
			for i := range p {
				p[i] *= float32(1 + 0.2*r.NormFloat64())
			}
		}
		pre := xs
		if stages != 5 {
			pre, err = backbone.PrefixArray(context.Background(), bb, xs, size, net.Frozen(), 1)
		}
		if err != nil {
			t.Fatal(err)
		}
		// Stage counts 2 and 4 standardise the pooled features too.
		var norm head.Norm
		if stages%2 == 0 {
			for range tiny.Features() {
				norm.Mean = append(norm.Mean, r.NormFloat64())
				norm.Std = append(norm.Std, 0.5+r.Float64())
			}
		}
		g, err := net.newGraph(st.Params, norm, len(xs), 0, false)
		if err != nil {
			t.Fatal(err)
		}
		for i, p := range pre {
			if len(p) != net.InDim() {
				t.Fatalf("prefix output %d values, want %d", len(p), net.InDim())
			}
			copy(g.x[i*net.InDim():], p)
		}
		logits, _, _, err := g.run()
		if err != nil {
			t.Fatal(err)
		}
		nb, err := net.Backbone(bb, st.Params)
		if err != nil {
			t.Fatal(err)
		}
		h, err := net.Head(st.Params, norm)
		if err != nil {
			t.Fatal(err)
		}
		for i, x := range xs {
			out, _, err := nb.Forward(x, size)
			if err != nil {
				t.Fatal(err)
			}
			pooled := resnet.Pool(out, tiny.Features())
			want, err := h.Logit(pooled)
			if err != nil {
				t.Fatal(err)
			}
			for k := range pooled {
				if d := math.Abs(float64(pooled[k] - g.lastPooled[i*tiny.Features()+k])); d > 1e-4*math.Max(1, math.Abs(float64(pooled[k]))) {
					t.Fatalf("stages %d image %d: pooled feature %d: gorgonia %v, reference %v", stages, i, k, g.lastPooled[i*tiny.Features()+k], pooled[k])
				}
			}
			if d := math.Abs(float64(logits[i]) - want); d > 1e-4*math.Max(1, math.Abs(want)) {
				t.Errorf("stages %d image %d: logit %v, reference %v", stages, i, logits[i], want)
			}
		}
	}
}

// actsFrom turns float32 prefix outputs into an activation set.
func actsFrom(net *Net, pre [][]float32, labels []int) *Acts {
	a := &Acts{C: net.C, S: net.S, Frozen: net.Frozen()}
	for i, p := range pre {
		a.Items = append(a.Items, string(rune('a'+i%26))+"/x.jpeg")
		a.Labels = append(a.Labels, labels[i])
		for _, v := range p {
			a.X = append(a.X, float16.Fromfloat32(v).Bits())
		}
	}
	return a
}

// The loss goes down over a few steps on one small batch, for the last stage and for two.
func TestLossDecreases(t *testing.T) {
	bb, err := resnet.RandomBackbone(tiny, 5)
	if err != nil {
		t.Fatal(err)
	}
	xs := randomInputs(8, 2)
	labels := []int{0, 1, 0, 1, 0, 1, 0, 1}
	// Make the classes separable: pneumonia inputs brighter on the left half.
	for i, x := range xs {
		if labels[i] == 1 {
			for j := range x {
				if j%size < size/2 {
					x[j] += 1
				}
			}
		}
	}
	for _, stages := range []int{1, 2} {
		cfg := testConfig(stages)
		cfg.Head.Batch, cfg.Head.Epochs = 8, 8
		net, err := NewNet(tiny, stages, size, cfg.Head.Units)
		if err != nil {
			t.Fatal(err)
		}
		pre, err := backbone.PrefixArray(context.Background(), bb, xs, size, net.Frozen(), 2)
		if err != nil {
			t.Fatal(err)
		}
		a := actsFrom(net, pre, labels)
		st, err := NewState(cfg, net, bb)
		if err != nil {
			t.Fatal(err)
		}
		before := cloneTensors(st.Params)
		tr, err := NewTrainer(cfg, net, st)
		if err != nil {
			t.Fatal(err)
		}
		if err := tr.FitNorm(context.Background(), a); err != nil || len(st.Norm.Mean) != tiny.Features() {
			t.Fatalf("FitNorm: %v, %d means", err, len(st.Norm.Mean))
		}
		if err := tr.Train(context.Background(), a, a, Hooks{}); err != nil {
			t.Fatal(err)
		}
		first, last := st.History[0].TrainLoss, st.History[len(st.History)-1].TrainLoss
		t.Logf("stages %d: train loss %.4f -> %.4f, val AUC %.3f", stages, first, last, st.History[len(st.History)-1].ValAUC)
		if !(last < 0.8*first) {
			t.Errorf("stages %d: loss %.4f -> %.4f did not decrease", stages, first, last)
		}
		// The convolutions trained too, not just the head.
		changed := false
		for i, p := range st.Params[:len(st.Params)-4] {
			for j := range p {
				changed = changed || p[j] != before[i][j]
			}
		}
		if !changed {
			t.Errorf("stages %d: trainable convolutions did not change", stages)
		}
	}
}

func TestActsCacheRoundTrip(t *testing.T) {
	net, err := NewNet(tiny, 1, size, 4)
	if err != nil {
		t.Fatal(err)
	}
	bb, _ := resnet.RandomBackbone(tiny, 1)
	pre, err := backbone.PrefixArray(context.Background(), bb, randomInputs(3, 4), size, net.Frozen(), 1)
	if err != nil {
		t.Fatal(err)
	}
	a := actsFrom(net, pre, []int{0, 1, 1})
	items := []dataset.Item{{Rel: "a", SHA256: "1"}, {Rel: "b", SHA256: "2", Label: 1}, {Rel: "c", SHA256: "3", Label: 1}}
	key := ActKey{Features: features.Key{Backbone: "bb1", Preprocess: model.ImageNetPreprocess(size), Split: "train", Items: items}, Frozen: 3}
	a.Key = key.Hash()
	dir := t.TempDir()
	if err := a.Save(key.Path(dir)); err != nil {
		t.Fatal(err)
	}
	got, ok, err := CachedActs(dir, key)
	if err != nil || !ok {
		t.Fatalf("CachedActs: %v %v", ok, err)
	}
	if got.C != a.C || got.S != a.S || len(got.X) != len(a.X) || got.Key != a.Key {
		t.Fatalf("loaded %dx%d %d values key %s", got.C, got.S, len(got.X), got.Key)
	}
	row := make([]float32, a.Dim())
	for i, p := range pre {
		got.Float32(row, i, false)
		for j, v := range p {
			if d := math.Abs(float64(row[j] - v)); d > 1e-3*math.Max(1, math.Abs(float64(v))) {
				t.Fatalf("image %d value %d: cached %v, computed %v (beyond float16)", i, j, row[j], v)
			}
		}
		flipped := make([]float32, a.Dim())
		got.Float32(flipped, i, true)
		if flipped[0] != row[a.S-1] || flipped[a.S] != row[2*a.S-1] {
			t.Fatalf("flip does not mirror the rows")
		}
	}
	// Another backbone, split or frozen depth is another file; a file under the wrong name
	// is refused.
	other := key
	other.Features.Backbone = "bb2"
	if _, ok, err := CachedActs(dir, other); ok || err != nil {
		t.Errorf("other backbone: ok %v err %v", ok, err)
	}
	if err := os.Rename(key.Path(dir), other.Path(dir)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := CachedActs(dir, other); !errors.Is(err, ErrCorrupt) {
		t.Errorf("key mismatch: %v, want ErrCorrupt", err)
	}
	// A flipped bit is caught by the checksum.
	raw, _ := os.ReadFile(other.Path(dir))
	raw[len(raw)/2] ^= 4
	path := filepath.Join(dir, "damaged.acts")
	os.WriteFile(path, raw, 0o644)
	if _, err := LoadActs(path); !errors.Is(err, ErrCorrupt) {
		t.Errorf("damaged file: %v, want ErrCorrupt", err)
	}
	os.WriteFile(path, raw[:len(raw)-7], 0o644)
	if _, err := LoadActs(path); !errors.Is(err, ErrCorrupt) {
		t.Errorf("truncated file: %v, want ErrCorrupt", err)
	}
}

// Export round trip: the contract model with the trained stages, int8, loaded by
// screen.New, gives the trainer's probability for the fixture images.
func TestExportScreen(t *testing.T) {
	bb, err := resnet.RandomBackbone(tiny, 7)
	if err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(1)
	net, err := NewNet(tiny, 1, size, cfg.Head.Units)
	if err != nil {
		t.Fatal(err)
	}
	st, err := NewState(cfg, net, bb)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(2, 2))
	for _, p := range st.Params[:len(st.Params)-4] {
		for i := range p {
			p[i] *= float32(1 + 0.1*r.NormFloat64())
		}
	}
	files, _ := filepath.Glob(filepath.Join("..", "..", "testdata", "xray", "*.jpeg"))
	if len(files) == 0 {
		t.Fatal("no fixtures")
	}
	pre := model.ImageNetPreprocess(size)
	var xs [][]float32
	for _, f := range files {
		x, err := backbone.Tensor(f, pre)
		if err != nil {
			t.Fatal(err)
		}
		xs = append(xs, x)
	}
	acts, err := backbone.PrefixArray(context.Background(), bb, xs, size, net.Frozen(), 1)
	if err != nil {
		t.Fatal(err)
	}
	a := actsFrom(net, acts, make([]int, len(acts)))
	tr, err := NewTrainer(cfg, net, st)
	if err != nil {
		t.Fatal(err)
	}
	// A standardisation to fold into the exported head (fitted on two images it would be
	// degenerate: std near 0, and int8 could not hold the folded weights).
	for range tiny.Features() {
		st.Norm.Mean = append(st.Norm.Mean, 0.1*r.NormFloat64())
		st.Norm.Std = append(st.Norm.Std, 0.5+r.Float64())
	}
	z, _, err := tr.Predict(context.Background(), a, false)
	if err != nil {
		t.Fatal(err)
	}
	md := model.Metadata{
		Name: "finetune-test", Version: "0", Preprocess: pre, Classes: []string{"NORMAL", "PNEUMONIA"},
		Thresholds: []model.Threshold{{Name: "t", Value: 0.5, Criterion: "test"}}, Operating: "t", Temperature: 1,
		Description: "test",
	}
	mp, err := net.ContractModel(bb, st.Params, st.Norm, md)
	if err != nil {
		t.Fatal(err)
	}
	if mp, err = modelfile.Quantize(mp); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "m.onnx")
	if err := modelfile.WriteFile(path, mp); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	s, err := screen.New(data, convnet.Engine)
	if err != nil {
		t.Fatal(err)
	}
	for i, f := range files {
		b, _ := os.ReadFile(f)
		res, err := s.Screen(b)
		if err != nil {
			t.Fatal(err)
		}
		want := sigmoid(z[i])
		t.Logf("%s: screened %.4f, trainer %.4f", filepath.Base(f), res.RawProb, want)
		if math.Abs(res.RawProb-want) > 0.02 {
			t.Errorf("%s: screened raw P %.4f, trainer %.4f (int8 export drifted too far)", f, res.RawProb, want)
		}
	}
}

// A run stopped after epoch 2 and continued to 3 ends with the same weights as 3 straight.
func TestResumeExact(t *testing.T) {
	bb, _ := resnet.RandomBackbone(tiny, 5)
	cfg := testConfig(1)
	cfg.Flip, cfg.Head.Dropout, cfg.Head.Batch = true, 0.3, 3
	net, _ := NewNet(tiny, 1, size, cfg.Head.Units)
	pre, err := backbone.PrefixArray(context.Background(), bb, randomInputs(7, 8), size, net.Frozen(), 1)
	if err != nil {
		t.Fatal(err)
	}
	a := actsFrom(net, pre, []int{0, 1, 0, 1, 1, 0, 1})
	run := func(epochs int, st *State) *State {
		c := cfg
		c.Head.Epochs = epochs
		tr, err := NewTrainer(c, net, st)
		if err != nil {
			t.Fatal(err)
		}
		if err := tr.FitNorm(context.Background(), a); err != nil {
			t.Fatal(err)
		}
		if err := tr.Train(context.Background(), a, a, Hooks{}); err != nil {
			t.Fatal(err)
		}
		return st
	}
	st0, _ := NewState(cfg, net, bb)
	straight := run(3, st0)
	st1, _ := NewState(cfg, net, bb)
	half := run(2, st1).Clone() // a checkpoint is a deep copy
	resumed := run(3, half)
	for i := range straight.Params {
		for j := range straight.Params[i] {
			if math.Float32bits(straight.Params[i][j]) != math.Float32bits(resumed.Params[i][j]) {
				t.Fatalf("tensor %d [%d]: straight %v, resumed %v", i, j, straight.Params[i][j], resumed.Params[i][j])
			}
		}
	}
}

// BenchmarkLastStageStep is one ResNet50 layer4 + head training step at batch 8 on random
// layer3-shaped inputs.
func BenchmarkLastStageStep(b *testing.B) {
	bb, _ := resnet.RandomBackbone(resnet.ResNet50, 1)
	cfg := testConfig(1)
	cfg.Head.Units, cfg.Head.Batch = 128, 8
	net, _ := NewNet(resnet.ResNet50, 1, 224, cfg.Head.Units)
	rows := randomRows(8, net.InDim())
	a, _ := NewActs(net.C, net.S, rows, []int{0, 1, 0, 1, 0, 1, 0, 1})
	st, _ := NewState(cfg, net, bb)
	tr, _ := NewTrainer(cfg, net, st)
	for b.Loop() {
		if _, err := tr.Epoch(context.Background(), a); err != nil {
			b.Fatal(err)
		}
	}
}

func randomRows(n, dim int) [][]float32 {
	r := rand.New(rand.NewPCG(1, 1))
	out := make([][]float32, n)
	for i := range out {
		out[i] = make([]float32, dim)
		for j := range out[i] {
			out[i][j] = float32(max(0, r.NormFloat64()))
		}
	}
	return out
}
