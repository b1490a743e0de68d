package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"

	"pneumoscan/dataset"
	"pneumoscan/resnet"
	"pneumoscan/training/augment"
	"pneumoscan/training/backbone"
	"pneumoscan/training/checkpoint"
	"pneumoscan/training/features"
	"pneumoscan/training/head"
)

// dataFlags are the settings that decide which features the head sees; train
// and tune share them.
type dataFlags struct {
	Data        string         `json:"data"`
	Run         string         `json:"-"`
	Seed        uint64         `json:"seed"`
	ValFraction float64        `json:"val_fraction"`
	Backbone    string         `json:"backbone"`
	Reestimate  bool           `json:"reestimate"`
	Arch        string         `json:"arch"`
	Size        int            `json:"size"`
	BNSamples   int            `json:"bn_samples"`
	Draws       int            `json:"augment_draws"`
	Augment     augment.Params `json:"augment"`
	Limit       int            `json:"limit,omitempty"`
	Workers     int            `json:"-"`
	// Stages > 0 trains the last Stages backbone stages with the head (package finetune)
	// on cached activations of the frozen part; FlipActs mirrors those maps at random.
	Stages   int     `json:"trainable_stages,omitempty"`
	FlipActs bool    `json:"flip_activations,omitempty"`
	StagesLR float64 `json:"stages_lr,omitempty"`
}

func (d *dataFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&d.Data, "data", "../shared/data/chest_xray", "data set root holding train/ and test/ with NORMAL/ and PNEUMONIA/")
	fs.StringVar(&d.Run, "run", "runs/head", "run folder: split, feature caches, checkpoint, trained model")
	fs.Uint64Var(&d.Seed, "seed", 1, "seed of the split, the random backbone, augmentation and the head")
	fs.Float64Var(&d.ValFraction, "val-fraction", dataset.DefaultValFraction, "share of train images (whole patients) held out for validation")
	fs.StringVar(&d.Backbone, "backbone", backbone.SourceNone, `"none" for a random backbone with BatchNorm re-estimated, or a torchvision ResNet50 ONNX file`)
	fs.BoolVar(&d.Reestimate, "reestimate-bn", false, "re-estimate BatchNorm for an imported backbone too")
	fs.StringVar(&d.Arch, "arch", "resnet50", `backbone architecture: "resnet50", or "tiny" (tests and smoke runs only)`)
	fs.IntVar(&d.Size, "size", backbone.InputSize, "input side in pixels")
	fs.IntVar(&d.BNSamples, "bn-samples", backbone.DefaultBNSamples, "train images used to re-estimate BatchNorm")
	fs.IntVar(&d.Draws, "augment-draws", 0, "augmented copies of the train features (each extracted once, epochs take turns)")
	d.Augment = augment.Default()
	fs.Float64Var(&d.Augment.RotationDeg, "aug-rotation", d.Augment.RotationDeg, "augmentation: max rotation, degrees")
	fs.Float64Var(&d.Augment.Zoom, "aug-zoom", d.Augment.Zoom, "augmentation: max zoom fraction")
	fs.Float64Var(&d.Augment.WidthShift, "aug-shift", d.Augment.WidthShift, "augmentation: max shift, fraction of the side")
	fs.Float64Var(&d.Augment.FlipProb, "aug-flip", d.Augment.FlipProb, "augmentation: horizontal flip probability")
	fs.IntVar(&d.Limit, "limit", 0, "use at most this many train and validation images each, both classes kept (smoke runs)")
	fs.IntVar(&d.Workers, "workers", 0, "feature extraction goroutines (0: all cores)")
	fs.IntVar(&d.Stages, "trainable-stages", 0, "train the last N backbone stages (0-4) with the head on cached float16 activations of the frozen part; 0 = frozen backbone")
	fs.Float64Var(&d.StagesLR, "stages-lr", 0, "with --trainable-stages: Adam learning rate of the trainable stages (0: --lr / 10)")
	fs.BoolVar(&d.FlipActs, "flip-activations", false, "with --trainable-stages: mirror each cached activation map left-right with probability 1/2 (cheap augmentation)")
}

// prepared is what the head trains on.
type prepared struct {
	Backbone  *backbone.Backbone
	Train     []*features.Set // draw 0, then the augmented draws
	Val       *features.Set
	SplitPath string
	ValPath   string            // the validation features' cache file
	Inputs    map[string]string // checksums a checkpoint records
}

// views turns the feature sets into the head's data.
func (p *prepared) views() ([]head.Data, head.Data) {
	tr := make([]head.Data, len(p.Train))
	for i, s := range p.Train {
		tr[i] = head.Data{Dim: s.Dim, X: s.X, Labels: s.Labels}
	}
	return tr, head.Data{Dim: p.Val.Dim, X: p.Val.X, Labels: p.Val.Labels}
}

// base is the run's split and calibrated backbone.
type base struct {
	Backbone   *backbone.Backbone
	Arch       resnet.Arch
	TrainItems []dataset.Item
	ValItems   []dataset.Item
	SplitPath  string
	Inputs     map[string]string
}

// prepare scans the data, makes or reuses the run's split, builds the
// backbone and loads or extracts the features of train (every draw) and
// validation. The test split is not touched.
func prepare(ctx context.Context, d *dataFlags, stderr io.Writer) (*prepared, error) {
	b, err := prepareBase(ctx, d, stderr)
	if err != nil {
		return nil, err
	}
	bb, trainItems, valItems, splitPath := b.Backbone, b.TrainItems, b.ValItems, b.SplitPath
	p := &prepared{Backbone: bb, SplitPath: splitPath, Inputs: b.Inputs}
	dir := filepath.Join(d.Run, "features")
	if p.Val, err = bb.Cached(ctx, dir, "val", valItems, stderr); err != nil {
		return nil, err
	}
	p.Inputs["features/val"] = p.Val.Key
	p.ValPath = bb.Key("val", valItems).Path(dir)
	for draw := 0; draw <= d.Draws; draw++ {
		b, err := bb.WithDraw(draw)
		if err != nil {
			return nil, err
		}
		s, err := b.Cached(ctx, dir, "train", trainItems, stderr)
		if err != nil {
			return nil, err
		}
		if draw > 0 && !slices.Equal(s.Items, p.Train[0].Items) {
			return nil, fmt.Errorf("train features of draw %d hold other images than draw 0 (an image became unreadable?)", draw)
		}
		p.Train = append(p.Train, s)
		p.Inputs[fmt.Sprintf("features/train/draw%d", draw)] = s.Key
	}
	if n := len(p.Train[0].Items); n == 0 || len(p.Val.Items) == 0 {
		return nil, fmt.Errorf("no usable images: %d train, %d validation", n, len(p.Val.Items))
	}
	return p, nil
}

// prepareBase scans the data, makes or reuses the run's split and builds
// (or loads from the run's cache) the calibrated backbone.
func prepareBase(ctx context.Context, d *dataFlags, stderr io.Writer) (*base, error) {
	if d.Draws < 0 || d.Limit < 0 {
		return nil, fmt.Errorf("--augment-draws and --limit must be >= 0")
	}
	d.Augment.HeightShift = d.Augment.WidthShift // --aug-shift sets both
	arch, err := resnet.Named(d.Arch)
	if err != nil {
		return nil, err
	}
	if d.Stages < 0 || d.Stages > 4 {
		return nil, fmt.Errorf("--trainable-stages %d: want 0..4", d.Stages)
	}
	if d.Stages > 0 && d.Draws > 0 {
		return nil, fmt.Errorf("--trainable-stages %d caches the frozen part of unaugmented images: --augment-draws must be 0 (use --flip-activations)", d.Stages)
	}
	if d.Stages == 0 && (d.FlipActs || d.StagesLR != 0) {
		return nil, fmt.Errorf("--flip-activations and --stages-lr need --trainable-stages >= 1")
	}
	if d.StagesLR < 0 {
		return nil, fmt.Errorf("--stages-lr %v must be >= 0", d.StagesLR)
	}
	if err := os.MkdirAll(filepath.Join(d.Run, "features"), 0o755); err != nil {
		return nil, err
	}
	fmt.Fprintf(stderr, "scanning %s ...\n", d.Data)
	sc, err := dataset.Scan(d.Data, dataset.Options{})
	if err != nil {
		return nil, err
	}
	fmt.Fprintln(stderr, sc.Summary())
	splitPath := filepath.Join(d.Run, "split.json")
	split, err := dataset.LoadOrMakeSplit(splitPath, sc.Train, d.Seed, d.ValFraction)
	if err != nil {
		return nil, err
	}
	byRel := make(map[string]dataset.Item, len(sc.Train))
	for _, it := range sc.Train {
		byRel[it.Rel] = it
	}
	pick := func(es []dataset.Entry) ([]dataset.Item, error) {
		items := make([]dataset.Item, 0, len(es))
		for _, e := range es {
			it, ok := byRel[e.Rel]
			if !ok {
				return nil, fmt.Errorf("split file %s names %s, which the scan did not find", splitPath, e.Rel)
			}
			items = append(items, it)
		}
		return limit(items, d.Limit, d.Seed), nil
	}
	trainItems, err := pick(split.Train)
	if err != nil {
		return nil, err
	}
	valItems, err := pick(split.Val)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(stderr, "split %s: %d train, %d validation images used\n", splitPath, len(trainItems), len(valItems))

	cfg := backbone.Config{
		Source: d.Backbone, Seed: d.Seed, BNSamples: d.BNSamples, Augment: d.Augment,
		Reestimate: d.Reestimate, Arch: arch, Size: d.Size, Workers: d.Workers,
		CacheDir: filepath.Join(d.Run, "backbone"), // calibrate once per run folder
	}
	bb, err := backbone.NewContext(ctx, cfg, trainItems, stderr)
	if err != nil {
		return nil, err
	}
	b := &base{Backbone: bb, Arch: arch, TrainItems: trainItems, ValItems: valItems, SplitPath: splitPath, Inputs: map[string]string{}}
	if b.Inputs["split"], err = checkpoint.FileSHA256(splitPath); err != nil {
		return nil, err
	}
	b.Inputs["backbone"] = bb.ID()
	return b, nil
}

// limit keeps at most n items (0: all), half from each class as far as they
// go, chosen by seed, in their original order.
func limit(items []dataset.Item, n int, seed uint64) []dataset.Item {
	if n <= 0 || n >= len(items) {
		return items
	}
	var byClass [2][]int
	for i, it := range items {
		byClass[it.Label] = append(byClass[it.Label], i)
	}
	r := rand.New(rand.NewPCG(seed, 0x11))
	var keep []int
	quota := [2]int{n / 2, n - n/2}
	if len(byClass[0]) < quota[0] {
		quota[1] += quota[0] - len(byClass[0])
	}
	if len(byClass[1]) < quota[1] {
		quota[0] += quota[1] - len(byClass[1])
	}
	for c, idx := range byClass {
		r.Shuffle(len(idx), func(i, j int) { idx[i], idx[j] = idx[j], idx[i] })
		keep = append(keep, idx[:min(quota[c], len(idx))]...)
	}
	slices.Sort(keep)
	out := make([]dataset.Item, len(keep))
	for i, k := range keep {
		out[i] = items[k]
	}
	return out
}
