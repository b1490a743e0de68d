// Package backbone is the trainer's frozen ResNet: it imports torchvision weights or draws
// random ones, re-estimates their BatchNorm statistics on calibration images, and turns
// images into pooled feature vectors (package features) for the head to train on.
//
// Feature extraction runs the contract model itself (modelconv/modelfile builds it in
// memory) on the lean engine of package convnet, one engine per goroutine, so the trainer
// sees exactly the backbone that the exported model file will hold.
package backbone

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"image"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"sync"
	"time"

	"pneumoscan/dataset"
	"pneumoscan/imagedecode"
	"pneumoscan/model"
	"pneumoscan/modelfile/torchvision"
	"pneumoscan/preprocess"
	"pneumoscan/resnet"
	"pneumoscan/training/augment"
	"pneumoscan/training/features"
)

// SourceNone asks for a randomly initialised backbone.
const SourceNone = "none"

// InputSize is the side of the square input torchvision's ResNet50 was trained at; the trainer
// writes it into the exported model's metadata (through Preprocess), readers take it from there.
const InputSize = 224

// DefaultBNSamples is how many calibration images re-estimate BatchNorm when Config says 0:
// the number the PyTorch reference run in docs/measurements.md used.
const DefaultBNSamples = 256

// Config says which backbone to build and how to feed it.
type Config struct {
	// Source is SourceNone (or empty) for random weights, else the path of a torchvision
	// ResNet ONNX export.
	Source string
	// Seed draws the random weights, the calibration sample and the augmentation.
	Seed uint64
	// BNSamples is the number of calibration images for BatchNorm re-estimation; 0 means
	// DefaultBNSamples. When calib has more, a seeded random subset is used.
	BNSamples int
	// Augment and Draw: draw 0 extracts the images as they are; draw d > 0 applies the d-th
	// seeded random augmentation of each image.
	Augment augment.Params
	Draw    int
	// Reestimate also re-estimates BatchNorm for imported weights (always done for random ones).
	Reestimate bool
	// Arch is the architecture; the zero value means resnet.ResNet50. Tests use tiny ones.
	Arch resnet.Arch
	// Size is the input side; 0 means InputSize.
	Size int
	// Workers is the number of goroutines (one engine each); 0 means GOMAXPROCS.
	Workers int
	// CacheDir, when set, keeps the calibrated weights there (see weightscache.go), so that
	// only the first run with the same source, seed and calibration sample re-estimates.
	CacheDir string
}

func (cfg Config) withDefaults() Config {
	if cfg.Source == "" {
		cfg.Source = SourceNone
	}
	if cfg.BNSamples == 0 {
		cfg.BNSamples = DefaultBNSamples
	}
	if cfg.Arch == (resnet.Arch{}) {
		cfg.Arch = resnet.ResNet50
	}
	if cfg.Size == 0 {
		cfg.Size = InputSize
	}
	if cfg.Workers <= 0 {
		cfg.Workers = runtime.GOMAXPROCS(0)
	}
	return cfg
}

// Validate reports an unusable setting.
func (cfg Config) Validate() error {
	cfg = cfg.withDefaults()
	if cfg.BNSamples < 2 {
		return fmt.Errorf("backbone: BNSamples %d: BatchNorm re-estimation needs at least 2 images", cfg.BNSamples)
	}
	if cfg.Draw < 0 {
		return fmt.Errorf("backbone: augmentation draw %d is negative", cfg.Draw)
	}
	if err := cfg.Augment.Validate(); err != nil {
		return fmt.Errorf("backbone: %w", err)
	}
	if err := cfg.Arch.Validate(); err != nil {
		return fmt.Errorf("backbone: %w", err)
	}
	if cfg.Arch.FeatureSize(cfg.Size) < 1 {
		return fmt.Errorf("backbone: input size %d is too small for the architecture", cfg.Size)
	}
	return nil
}

// Backbone is a frozen, calibrated backbone ready to extract features.
type Backbone struct {
	cfg        Config
	weights    *resnet.Backbone
	id         string
	preprocess model.Preprocess
	// Calibration reports what New did: images used and skipped, and how long it took.
	Calibration Calibration

	pool *enginePool // shared by the backbones WithDraw makes
}

// enginePool holds idle engines, built on first use.
type enginePool struct {
	mu      sync.Mutex
	engines []engine
}

// WithDraw returns the same backbone (weights, ID, engines) extracting augmentation draw
// draw, without building or calibrating anything again.
func (b *Backbone) WithDraw(draw int) (*Backbone, error) {
	if draw < 0 {
		return nil, fmt.Errorf("backbone: augmentation draw %d is negative", draw)
	}
	c := *b
	c.cfg.Draw = draw
	return &c, nil
}

// Calibration is the account of a BatchNorm re-estimation.
type Calibration struct {
	Images   int             `json:"images"`
	Skipped  []features.Skip `json:"skipped,omitempty"`
	Duration time.Duration   `json:"duration_ns"`
	Cached   bool            `json:"-"` // the weights came from Config.CacheDir
}

// New builds the backbone cfg describes: it imports cfg.Source or draws random weights, then
// re-estimates BatchNorm statistics on (a seeded sample of) calib when the weights are random
// or cfg.Reestimate is set.
func New(cfg Config, calib []dataset.Item) (*Backbone, error) {
	return NewContext(context.Background(), cfg, calib, nil)
}

// NewContext is New with cancellation and a progress writer (nil for none).
func NewContext(ctx context.Context, cfg Config, calib []dataset.Item, progress io.Writer) (*Backbone, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	b := &Backbone{cfg: cfg, preprocess: model.ImageNetPreprocess(cfg.Size), pool: &enginePool{}}
	calibrate := cfg.Source == SourceNone || cfg.Reestimate
	sample := b.calibrationSample(calib)
	var cachePath, rec string
	if cfg.CacheDir != "" {
		var err error
		if rec, err = recipe(cfg, sample); err != nil {
			return nil, err
		}
		cachePath = weightsPath(cfg.CacheDir, rec)
		bb, cal, err := loadWeights(cachePath, rec)
		if err != nil {
			return nil, err
		}
		if bb != nil {
			b.weights, b.Calibration, b.id = bb, cal, weightsID(bb)
			if progress != nil {
				fmt.Fprintf(progress, "backbone weights from cache %s\n", cachePath)
			}
			return b, nil
		}
	}
	var err error
	if cfg.Source == SourceNone {
		b.weights, err = resnet.RandomBackbone(cfg.Arch, cfg.Seed)
	} else {
		b.weights, err = torchvision.ImportFile(cfg.Source, cfg.Arch)
	}
	if err != nil {
		return nil, fmt.Errorf("backbone: %w", err)
	}
	if calibrate {
		if err := b.reestimate(ctx, sample, progress); err != nil {
			return nil, err
		}
	}
	b.id = weightsID(b.weights)
	if cachePath != "" {
		if err := saveWeights(cachePath, rec, b.weights, b.Calibration); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// calibrationSample is a seeded random subset of BNSamples calibration items (all of them
// when there are no more), the same for the same calib and seed.
func (b *Backbone) calibrationSample(calib []dataset.Item) []dataset.Item {
	sample := slices.Clone(calib)
	if len(sample) > b.cfg.BNSamples {
		r := rand.New(rand.NewPCG(b.cfg.Seed, 0xb1))
		r.Shuffle(len(sample), func(i, j int) { sample[i], sample[j] = sample[j], sample[i] })
		sample = sample[:b.cfg.BNSamples]
	}
	return sample
}

// reestimate decodes the calibration sample (no augmentation) and recalibrates BatchNorm.
func (b *Backbone) reestimate(ctx context.Context, sample []dataset.Item, progress io.Writer) error {
	start := time.Now()
	xs := make([][]float32, len(sample))
	var skipped []features.Skip
	for i, it := range sample {
		x, err := b.input(it, 0)
		if err != nil {
			skipped = append(skipped, features.Skip{Item: itemName(it), Reason: err.Error()})
			continue
		}
		xs[i] = x
	}
	xs = slices.DeleteFunc(xs, func(x []float32) bool { return x == nil })
	if len(skipped) > 0 && progress != nil {
		fmt.Fprintf(progress, "BatchNorm calibration: skipped %d unreadable image(s), first %s: %s\n", len(skipped), skipped[0].Item, skipped[0].Reason)
	}
	if len(xs) < 2 {
		return fmt.Errorf("backbone: re-estimating BatchNorm needs at least 2 readable calibration images, got %d of %d", len(xs), len(sample))
	}
	if progress != nil {
		fmt.Fprintf(progress, "BatchNorm re-estimation on %d images...\n", len(xs))
	}
	if err := Reestimate(ctx, b.weights, xs, b.cfg.Size, b.cfg.Workers); err != nil {
		return err
	}
	b.Calibration = Calibration{Images: len(xs), Skipped: skipped, Duration: time.Since(start)}
	if progress != nil {
		fmt.Fprintf(progress, "BatchNorm re-estimated in %s\n", b.Calibration.Duration.Round(100*time.Millisecond))
	}
	return nil
}

// Weights are the backbone's weights, BatchNorm folded in (and re-estimated if it was).
// They belong to the backbone: do not change them.
func (b *Backbone) Weights() *resnet.Backbone { return b.weights }

// ID is the hex SHA-256 of the architecture and weights: two backbones with the same ID give
// the same features.
func (b *Backbone) ID() string { return b.id }

// Preprocess is how Extract turns images into input tensors; the exported model's metadata
// must carry the same.
func (b *Backbone) Preprocess() model.Preprocess { return b.preprocess }

// Config is the configuration the backbone was built with, defaults filled in.
func (b *Backbone) Config() Config { return b.cfg }

func weightsID(bb *resnet.Backbone) string {
	h := sha256.New()
	arch, _ := json.Marshal(bb.Arch)
	h.Write(arch)
	buf := make([]byte, 0, 1<<16)
	put := func(v []float32) {
		for _, x := range v {
			if len(buf)+4 > cap(buf) {
				h.Write(buf)
				buf = buf[:0]
			}
			buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(x))
		}
	}
	for _, c := range bb.Convs {
		put(c.Weight)
		put(c.Bias)
	}
	h.Write(buf)
	return hex.EncodeToString(h.Sum(nil))
}

// itemName is how an item is named in reports and in features.Set.Items.
func itemName(it dataset.Item) string {
	if it.Rel != "" {
		return it.Rel
	}
	return it.Path
}

// decode reads and decodes one image file.
func decode(path string) (image.Image, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return imagedecode.Decode(data)
}

// Tensor reads, decodes and preprocesses one image file with pre (no augmentation).
func Tensor(path string, pre model.Preprocess) ([]float32, error) {
	img, err := decode(path)
	if err != nil {
		return nil, err
	}
	return preprocess.Tensor(img, pre)
}

// input reads, decodes, augments (draw > 0) and preprocesses one image.
func (b *Backbone) input(it dataset.Item, draw int) ([]float32, error) {
	img, err := decode(it.Path)
	if err != nil {
		return nil, err
	}
	if draw > 0 {
		// The item's name, not its position, picks its random stream: an image gets the same
		// augmentation whatever list it is extracted in.
		h := fnv.New64a()
		h.Write([]byte(itemName(it)))
		if img, err = b.cfg.Augment.Augment(img, drawSeed(b.cfg.Seed, draw), h.Sum64()); err != nil {
			return nil, err
		}
	}
	return preprocess.Tensor(img, b.preprocess)
}

// drawSeed mixes the run's seed and the draw number (splitmix64's finaliser).
func drawSeed(seed uint64, draw int) uint64 {
	z := seed + uint64(draw)*0x9e3779b97f4a7c15
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}
