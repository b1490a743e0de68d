package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"pneumoscan/atomicfile"
	"pneumoscan/convnet"
	"pneumoscan/dataset"
	"pneumoscan/internal/cli"
	"pneumoscan/model"
	"pneumoscan/modelfile"
	"pneumoscan/preprocess"
	"pneumoscan/screen"
	"pneumoscan/training/gate"
)

func runGate(ctx context.Context, fs *flag.FlagSet, args []string, stdout, stderr io.Writer) error {
	modelPath := fs.String("model", "", "contract model file whose backbone gives the features (required)")
	data := fs.String("data", "", "Kermany data set root with train/ and test/ (required)")
	negs := fs.String("negatives", "", "not_cxr folder with MANIFEST.csv (required)")
	adult := fs.String("adult", "", "adult_cxr folder, to measure the population warning on (never fitted on)")
	outModel := fs.String("o", "", "the contract-2 model file to write (required)")
	out := fs.String("out", "runs/gate", "folder for report.json, report.md, the plots and the feature cache")
	workers := fs.Int("workers", 2, "forward passes in parallel (one model copy each)")
	trainN := fs.Int("train-images", 400, "train-split films (seeded sample) the gate and population are fitted on; 0: all")
	orientN := fs.Int("orient-images", 150, "of those, films turned and inverted (x4) for the orientation head; 0: all")
	evalN := fs.Int("eval-rotations", 40, "validation and test films turned and inverted (x4) to measure the orientation head; 0: all")
	synthN := fs.Int("synthetic", 216, "about how many synthetic negatives to make")
	perSource := fs.Int("per-source", 30, "at most this many images of each not_cxr source (seeded sample); 0: all")
	valN := fs.Int("val-images", 400, "validation films (seeded sample) the thresholds are chosen on; 0: all")
	adultN := fs.Int("adult-images", 150, "adult_cxr films (seeded sample) the population warning is measured on; 0: all")
	holdOut := fs.Float64("hold-out", 0.3, "share of each not_cxr category held out for measuring, by whole sources")
	k := fs.Int("components", 64, "principal directions of the Mahalanobis distance")
	l2 := fs.Float64("l2", 1e-3, "L2 penalty of the softmax heads (on standardised features)")
	seed := fs.Uint64("seed", 1, "seed of the validation split (as the trainer's), samples and hold-out")
	extractOnly := fs.Bool("extract-only", false, "extract and cache the features, fit nothing")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if *modelPath == "" || *data == "" || *negs == "" || (*outModel == "" && !*extractOnly) {
		return cli.Misuse(fs, "gate needs --model, --data, --negatives and -o")
	}
	if *workers < 1 {
		return fmt.Errorf("--workers %d must be at least 1", *workers)
	}
	b, err := os.ReadFile(*modelPath)
	if err != nil {
		return err
	}
	ex := &gate.Extractor{Dir: filepath.Join(*out, "cache"), Chunk: 400, Progress: stderr}
	for range *workers {
		s, err := screen.New(b, convnet.Engine)
		if err != nil {
			return fmt.Errorf("%s: %w", *modelPath, err)
		}
		ex.Screeners = append(ex.Screeners, s)
	}
	cfg := gate.Config{
		Data: *data, Negatives: *negs, Adult: *adult, TrainImages: *trainN, OrientImages: *orientN, EvalRotations: *evalN,
		Synthetic: *synthN, PerSource: *perSource, ValImages: *valN, AdultImages: *adultN, HoldOut: *holdOut, ValFraction: dataset.DefaultValFraction, Seed: *seed, Components: *k, L2: *l2, Progress: stderr,
	}
	sets, err := gate.Gather(ctx, cfg, ex)
	if err != nil {
		return err
	}
	if *extractOnly {
		fmt.Fprintf(stdout, "features cached in %s\n", ex.Dir)
		return nil
	}
	return fitAndWrite(b, ex, sets, cfg, *outModel, *out, stdout)
}

func fitAndWrite(modelBytes []byte, ex *gate.Extractor, sets *gate.Sets, cfg gate.Config, outModel, out string, stdout io.Writer) error {
	fitted, err := gate.Fit(sets, cfg, gate.DefaultThresholds)
	if err != nil {
		return err
	}
	s := ex.Screeners[0]
	mp, err := modelfile.Unmarshal(modelBytes)
	if err != nil {
		return err
	}
	head, err := modelfile.ReadHead(mp)
	if err != nil {
		return err
	}
	rep, err := gate.Measure(fitted, sets, head, func(it gate.Item, o model.Orientation) ([]float32, error) {
		img, err := gate.Load(it)
		if err != nil {
			return nil, err
		}
		f, _, err := s.PooledFeatures(preprocess.Correct(img, o))
		return f, err
	})
	if err != nil {
		return err
	}
	rep.Model = s.SHA256()
	spec := fitted.Spec
	// The headline figures travel with the model, for the model card and the API.
	spec.Measured = map[string]float64{
		"validation_kept": rep.Films["validation"].Kept, "test_kept": rep.Films["test"].Kept,
		"validation_outside_population": rep.Films["validation"].FlaggedRate, "test_outside_population": rep.Films["test"].FlaggedRate,
	}
	if a, ok := rep.Films["adult_cxr"]; ok {
		spec.Measured["adult_cxr_outside_population"] = a.FlaggedRate
		spec.Measured["adult_cxr_refused"] = 1 - a.Kept
	}
	var n, k int
	for _, r := range rep.Negatives {
		n += r.Images
		k += r.BeforeModel + r.Gate + r.Orientation
	}
	if n > 0 {
		spec.Measured["not_cxr_held_out_refused"] = float64(k) / float64(n)
	}
	rep.Spec = spec
	data, md, err := modelfile.WithGate(modelBytes, fitted.Params, func(m *model.Metadata) error {
		m.Gate = &spec
		return nil
	})
	if err != nil {
		return err
	}
	if err := atomicfile.Write(outModel, data); err != nil {
		return err
	}
	if err := rep.Write(out); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s (%d bytes, contract %s, %d gate classes); report in %s\n", outModel, len(data), model.ContractVersionGate, len(md.Gate.Classes), out)
	fmt.Fprintf(stdout, "not_cxr held-out refused %.1f%% (%d images); validation kept %.1f%%, test kept %.1f%%\n",
		100*spec.Measured["not_cxr_held_out_refused"], n, 100*rep.Films["validation"].Kept, 100*rep.Films["test"].Kept)
	return nil
}
