// Command gputrain trains the pneumoscan ResNet classifier end to end on a GPU with GoMLX
// (package pneumoscan/training/gpu) and sends the result back as size-capped files:
//
//	gputrain split    --data DIR --split FILE         make (or check) the patient-grouped split
//	gputrain probe                                    open the backend, run a tiny graph
//	gputrain parity   --data DIR --split FILE --n 8   GoMLX (eval) vs CPU reference logits
//	gputrain bench    --batches 64,128,256            training steps per second
//	gputrain train    --data DIR --split FILE --out DIR --budget 300s ...
//	gputrain collect  --dir DIR --out FILE [--fp32 FILE]   verify, reassemble
//
// The backend comes from GOMLX_BACKEND, e.g. "xla:/abs/path/xla_cuda_plugin.so" for a CUDA
// PJRT plugin, "go" for GoMLX's pure-Go CPU backend (forward passes only).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"pneumoscan/atomicfile"
	"pneumoscan/internal/cli"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/gomlx/gomlx/backends"
	_ "github.com/gomlx/gomlx/backends/default"

	"pneumoscan/dataset"
	"pneumoscan/model"
	"pneumoscan/modelfile"
	"pneumoscan/resnet"
	"pneumoscan/training/augment"
	"pneumoscan/training/gpu"
	"pneumoscan/training/gpu/shard"
)

// splitSeed is the CPU trainer's default seed, so both trainers validate on the same patients.
const splitSeed = 1

var program = cli.Program{Name: "gputrain", Invocation: "gputrain", Commands: []cli.Command{
	{Name: "split", Args: "--data DIR --split FILE", Summary: "make (or check) the patient-grouped split", Run: cmdSplit},
	{Name: "probe", Summary: "open the backend, run a tiny graph", Run: cmdProbe},
	{Name: "parity", Args: "--data DIR --split FILE --n 8", Summary: "GoMLX (eval) vs CPU reference logits", Run: cmdParity},
	{Name: "bench", Args: "--batches 64,128,256", Summary: "training steps per second", Run: cmdBench},
	{Name: "train", Args: "--data DIR --split FILE --out DIR --budget 300s ...", Summary: "train end to end, send the model back as size-capped files", Run: cmdTrain},
	{Name: "collect", Args: "--dir DIR --out FILE [--fp32 FILE]", Summary: "verify and reassemble what a training run sent back", Run: cmdCollect},
}}

func main() {
	program.Main(false)
}

// archFlags adds --arch (read it with resnet.Named) and --size to fs.
func archFlags(fs *flag.FlagSet) (name *string, size *int) {
	return fs.String("arch", "resnet50", "resnet50 or tiny"), fs.Int("size", 224, "input size")
}

// parseArch parses args on fs and resolves its --arch (archName, from archFlags).
func parseArch(fs *flag.FlagSet, args []string, archName *string) (resnet.Arch, error) {
	if err := cli.Parse(fs, args); err != nil {
		return resnet.Arch{}, err
	}
	return resnet.Named(*archName)
}

func backend() (backends.Backend, error) {
	b, err := backends.New()
	if err != nil {
		return nil, fmt.Errorf("backend (GOMLX_BACKEND=%q): %w", os.Getenv(backends.ConfigEnvVar), err)
	}
	return b, nil
}

// items scans data and applies the split file, which must exist: it is made once, here,
// by "split", and travels with the data.
func items(data, splitPath string) (train, val []dataset.Item, sp *dataset.Split, err error) {
	sc, err := dataset.Scan(data, dataset.Options{})
	if err != nil {
		return nil, nil, nil, err
	}
	if sp, err = dataset.LoadSplit(splitPath); err != nil {
		return nil, nil, nil, err
	}
	train, val, err = sp.Apply(sc.Train)
	return train, val, sp, err
}

func cmdSplit(_ context.Context, fs *flag.FlagSet, args []string, stdout, stderr io.Writer) error {
	data := fs.String("data", "", "data set root (with train/NORMAL, train/PNEUMONIA)")
	out := fs.String("split", "runs/head/split.json", "split file (reused when it exists and matches)")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	sc, err := dataset.Scan(*data, dataset.Options{})
	if err != nil {
		return err
	}
	sp, err := dataset.LoadOrMakeSplit(*out, sc.Train, splitSeed, dataset.DefaultValFraction)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "split %s: train %v images (%d groups), validation %v (%d groups), NORMAL/PNEUMONIA\n",
		*out, sp.TrainCounts, sp.TrainGroups, sp.ValCounts, sp.ValGroups)
	return nil
}

func cmdProbe(_ context.Context, _ *flag.FlagSet, args []string, stdout, stderr io.Writer) error {
	b, err := backend()
	if err != nil {
		return err
	}
	defer b.Finalize()
	fmt.Fprintf(stdout, "backend %s: %s, %d device(s)\n", b.Name(), b.Description(), b.NumDevices())
	n := gpu.Net{Arch: resnet.Tiny, Size: 64, Hidden: 4}
	t0 := time.Now()
	g, ref, err := gpu.Parity(b, n, make([]float32, 2*3*64*64), 1)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "tiny network: backend %v reference %v (max rel diff %.2g) in %.1fs\n", g, ref, gpu.MaxRelDiff(g, ref), time.Since(t0).Seconds())
	return nil
}

func cmdParity(_ context.Context, fs *flag.FlagSet, args []string, stdout, stderr io.Writer) error {
	data := fs.String("data", "", "data set root")
	splitPath := fs.String("split", "", "split file")
	n := fs.Int("n", 8, "validation images to compare")
	archName, size := archFlags(fs)
	a, err := parseArch(fs, args, archName)
	if err != nil {
		return err
	}
	_, val, _, err := items(*data, *splitPath)
	if err != nil {
		return err
	}
	val = val[:min(*n, len(val))]
	im, err := gpu.Decode(val)
	if err != nil {
		return err
	}
	x, err := gpu.Tensors(im, model.ImageNetPreprocess(*size))
	if err != nil {
		return err
	}
	b, err := backend()
	if err != nil {
		return err
	}
	defer b.Finalize()
	t0 := time.Now()
	g, ref, err := gpu.Parity(b, gpu.Net{Arch: a, Size: *size, Hidden: 128}, x, 1)
	if err != nil {
		return err
	}
	for i := range g {
		fmt.Fprintf(stdout, "  %-40s backend %+.6f  cpu reference %+.6f\n", filepath.Base(val[i].Rel), g[i], ref[i])
	}
	d := gpu.MaxRelDiff(g, ref)
	verdict := "PASS"
	if d > 1e-3 {
		verdict = "ABOVE GOAL (1e-3)"
	}
	fmt.Fprintf(stdout, "parity %s on %d images: max |diff| / max |logit| = %.3g: %s (%.1fs, %d CPU threads)\n",
		*archName, len(g), d, verdict, time.Since(t0).Seconds(), runtime.GOMAXPROCS(0))
	return nil
}

func ints(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || v <= 0 {
			return nil, fmt.Errorf("bad batch size %q", f)
		}
		out = append(out, v)
	}
	return out, nil
}

func cmdBench(_ context.Context, fs *flag.FlagSet, args []string, stdout, stderr io.Writer) error {
	batches := fs.String("batches", "64,128,256", "batch sizes")
	steps := fs.Int("steps", 10, "timed steps per batch size")
	warm := fs.Int("warm", 3, "warm-up steps (the first compiles)")
	archName, size := archFlags(fs)
	a, err := parseArch(fs, args, archName)
	if err != nil {
		return err
	}
	bs, err := ints(*batches)
	if err != nil {
		return err
	}
	b, err := backend()
	if err != nil {
		return err
	}
	defer b.Finalize()
	_, err = gpu.Bench(b, gpu.Net{Arch: a, Size: *size, Hidden: 128, Dropout: 0.3, L2: 1e-4}, 1e-3, bs, *warm, *steps, stdout)
	return err
}

func cmdTrain(_ context.Context, fs *flag.FlagSet, args []string, stdout, stderr io.Writer) error {
	data := fs.String("data", "", "data set root")
	splitPath := fs.String("split", "", "split file made by \"gputrain split\"")
	out := fs.String("out", "", "output folder: model parts, weight shards, manifest, log")
	archName, size := archFlags(fs)
	batch := fs.Int("batch", 128, "batch size")
	epochs := fs.Int("epochs", 60, "most epochs")
	budget := fs.Duration("budget", 300*time.Second, "training time budget (epochs that would not fit are not started)")
	patience := fs.Int("patience", 10, "early stopping: epochs without a better validation AUC")
	lr := fs.Float64("lr", 1e-3, "Adam learning rate")
	hidden := fs.Int("hidden", 128, "dense units")
	dropout := fs.Float64("dropout", 0.3, "dropout rate")
	l2 := fs.Float64("l2", 1e-4, "L2 on the first dense layer")
	seed := fs.Int64("seed", 1, "seed of initialisation, shuffling, augmentation and dropout")
	noAug := fs.Bool("no-augment", false, "train without augmentation")
	wd := fs.Float64("wd", 0, "AdamW weight decay (0: plain Adam)")
	warmup := fs.Int("warmup", 0, "epochs of linear learning-rate warm-up before the cosine schedule")
	cosine := fs.Bool("cosine", false, "anneal the learning rate to lr/100 over --epochs (cosine)")
	calib := fs.Int("bn-calib", 0, "clean train images to recompute BatchNorm averages on before each validation (0: keep the moving averages)")
	withWeights := fs.Bool("fp16-shards", true, "also send the float16 weights (51 MB for ResNet50) besides the int8 model")
	device := fs.String("device", "GPU", "device description for the metadata")
	name, version := cli.ModelNaming(fs, "pneumoscan-resnet50-gpu", "gpu-1")
	a, err := parseArch(fs, args, archName)
	if err != nil {
		return err
	}
	if *out == "" {
		return errors.New("--out is required")
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	const logName = "train.log"
	lf, err := os.Create(filepath.Join(*out, logName))
	if err != nil {
		return err
	}
	defer lf.Close()
	log := io.MultiWriter(stdout, lf)
	fmt.Fprintf(log, "gputrain train %s\n", strings.Join(args, " "))
	t0 := time.Now()
	trainItems, valItems, sp, err := items(*data, *splitPath)
	if err != nil {
		return err
	}
	weights, err := dataset.ClassWeights(trainItems)
	if err != nil {
		return err
	}
	trainIm, err := gpu.Decode(trainItems)
	if err != nil {
		return err
	}
	valIm, err := gpu.Decode(valItems)
	if err != nil {
		return err
	}
	pre := model.ImageNetPreprocess(*size)
	valX, err := gpu.Tensors(valIm, pre)
	if err != nil {
		return err
	}
	fmt.Fprintf(log, "data: %d train %v, %d validation %v, class weights %.3f/%.3f, decoded in %.1fs on %d threads\n",
		len(trainItems), dataset.Counts(trainItems), len(valItems), dataset.Counts(valItems), weights[0], weights[1], time.Since(t0).Seconds(), runtime.GOMAXPROCS(0))
	aug := augment.Default()
	if *noAug {
		aug = augment.Params{}
	}
	n := gpu.Net{Arch: a, Size: *size, Hidden: *hidden, Dropout: *dropout, L2: *l2}
	o := gpu.Options{Net: n, LR: *lr, WeightDecay: *wd, Epochs: *epochs, Patience: *patience, Budget: *budget, EvalBatch: 256, Seed: *seed, Log: log}
	steps := (len(trainItems) + *batch - 1) / *batch // the feeder's batches per epoch
	if *cosine {
		o.WarmupSteps = *warmup * steps
		o.CosineSteps = *epochs*steps - o.WarmupSteps
	}
	if *calib > 0 {
		// A fixed, class-mixed sample of train images, as the model sees them at inference.
		idx := calibSample(len(trainItems), *calib, *seed)
		sub := &gpu.Images{}
		for _, i := range idx {
			sub.Pix = append(sub.Pix, trainIm.Pix[i])
			sub.Labels = append(sub.Labels, trainIm.Labels[i])
		}
		if o.Calib, err = gpu.Tensors(sub, pre); err != nil {
			return err
		}
		fmt.Fprintf(log, "BatchNorm averages recomputed before each validation on %d clean train images\n", len(idx))
	}
	b, err := backend()
	if err != nil {
		return err
	}
	defer b.Finalize()
	fmt.Fprintf(log, "backend %s: %s\n", b.Name(), b.Description())
	tr, err := gpu.NewTrainer(b, o)
	if err != nil {
		return err
	}
	feeder := &gpu.Feeder{Images: trainIm, Pre: pre, Augment: aug, Weights: weights, Batch: *batch, Seed: uint64(*seed), Prefetch: 4}
	res, err := tr.Fit(feeder, valX, valIm.Labels)
	if err != nil {
		return err
	}
	md, err := gpu.Metadata(res, valIm.Labels, o, gpu.RunInfo{
		Name: *name, Version: *version, Device: *device, Batch: *batch, Augment: fmt.Sprintf("%+v", aug),
		Train: len(trainItems), Val: len(valItems), ValFraction: sp.Fraction, SplitSeed: sp.Seed, Seed: *seed,
	})
	if err != nil {
		return err
	}
	data2, err := gpu.ONNX(res, md)
	if err != nil {
		return err
	}
	fmt.Fprintf(log, "export: int8 ONNX %d bytes; temperature %.3f; thresholds %+v; metrics %v\n", len(data2), md.Temperature, md.Thresholds, md.Metrics)
	for _, h := range res.History {
		fmt.Fprintf(log, "history %+v\n", h)
	}
	fmt.Fprintf(log, "total %.0fs\n", time.Since(t0).Seconds())
	lf.Sync()
	m, err := shard.Write(*out, data2, res.Backbone, res.Head, *withWeights, logName)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s: %d model parts, %d weight shards, manifest\n", *out, len(m.Model.Parts), len(m.Weights.Parts))
	return nil
}

// calibSample picks n distinct train indices (all when n >= total) with a seeded shuffle.
func calibSample(total, n int, seed int64) []int {
	r := rand.New(rand.NewPCG(uint64(seed), 0xca11b))
	idx := r.Perm(total)
	return idx[:min(n, total)]
}

func cmdCollect(_ context.Context, fs *flag.FlagSet, args []string, stdout, stderr io.Writer) error {
	dir := fs.String("dir", "", "folder with the files a training run sent back")
	out := fs.String("out", "", "reassembled int8 model file")
	fp32 := fs.String("fp32", "", "also rebuild a float32 model from the float16 weight shards here (optional)")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	m, err := shard.ReadManifest(*dir)
	if err != nil {
		return err
	}
	data, err := shard.Verify(*dir, m)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "verified %d model parts, %d weight shards, %d other files against %s\n",
		len(m.Model.Parts), len(m.Weights.Parts), len(m.Extra), filepath.Join(*dir, shard.ManifestName))
	mp, err := modelfile.Unmarshal(data)
	if err != nil {
		return err
	}
	if *out != "" {
		if err := atomicfile.Write(*out, data); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "wrote %s (%d bytes, sha256 %s)\n", *out, len(data), m.Model.SHA256)
	}
	if *fp32 != "" && !m.HasWeights() {
		fmt.Fprintf(stdout, "--fp32 %s skipped: this run sent the int8 model only (gputrain train --fp16-shards=false)\n", *fp32)
	} else if *fp32 != "" {
		md, err := model.ParseMetadata(mp.MetadataProps)
		if err != nil {
			return err
		}
		b, h, err := shard.Weights(*dir, m)
		if err != nil {
			return err
		}
		md.Description += " This file: float32 rebuilt from float16 weight shards."
		full, err := modelfile.Build(b, h, md)
		if err != nil {
			return err
		}
		if err := modelfile.WriteFile(*fp32, full); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "wrote %s (float32 from float16 shards)\n", *fp32)
	}
	return nil
}
