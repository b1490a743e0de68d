package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"strings"

	"pneumoscan/internal/cli"
	"pneumoscan/model"
	"pneumoscan/modelfile"
	"pneumoscan/training/evalreport"
	"pneumoscan/training/features"
	"pneumoscan/training/finetune"
	"pneumoscan/training/operating"
)

func runExport(ctx context.Context, fs *flag.FlagSet, args []string, stdout, stderr io.Writer) error {
	run := fs.String("run", "runs/head", "run folder written by `training train`")
	out := cli.OutputModel(fs, "")
	name, version := cli.ModelNaming(fs, "pneumoscan-resnet50", "")
	fp32 := cli.FP32(fs)
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if *out == "" || *version == "" {
		return cli.Misuse(fs, "export needs -o and --version")
	}
	info, err := readRun(*run)
	if err != nil {
		return err
	}
	mp, err := modelfile.ReadFile(filepath.Join(*run, modelFile))
	if err != nil {
		return err
	}
	runMeta, err := model.ParseMetadata(mp.MetadataProps)
	if err != nil {
		return fmt.Errorf("%s: %w", filepath.Join(*run, modelFile), err)
	}
	val, err := features.Load(filepath.Join(*run, filepath.FromSlash(info.ValFeatures)))
	if err != nil {
		return err
	}
	if info.Inputs["features/val"] != "" && val.Key != info.Inputs["features/val"] {
		return fmt.Errorf("validation features %s are not the ones the run used", info.ValFeatures)
	}
	if !*fp32 {
		if mp, err = modelfile.Quantize(mp); err != nil {
			return err
		}
	}
	// Validation scores of the head as it will be stored (int8 included); the
	// backbone's own quantization error is not in them (see the report).
	ts, err := modelfile.FloatTensors(mp)
	if err != nil {
		return err
	}
	h, err := modelfile.HeadFrom(ts)
	if err != nil {
		return err
	}
	if h.Features != val.Dim {
		return fmt.Errorf("the run's head takes %d features, its validation cache has %d", h.Features, val.Dim)
	}
	raw := make([]float64, len(val.Labels))
	for i := range raw {
		z, err := h.Logit(val.Row(i))
		if err != nil {
			return err
		}
		raw[i] = sigmoid(z)
	}
	op, err := operating.Points(raw, val.Labels)
	if err != nil {
		return err
	}
	rep, err := evalreport.Write(filepath.Join(*run, "validation"), evalreport.Run{
		Name: "validation", Scores: raw, Labels: val.Labels, Temperature: op.Temperature, Thresholds: op.Thresholds, Seed: info.Data.Seed,
	})
	if err != nil {
		return err
	}
	m := map[string]float64{
		"val_auc": rep.AUC, "val_auc_ci_lo": rep.AUCCI.Lo, "val_auc_ci_hi": rep.AUCCI.Hi,
		"val_average_precision": rep.AP, "val_ece": rep.ECE, "val_images": float64(rep.N),
		"train_images": float64(info.Train), "best_epoch": float64(info.BestEpoch),
	}
	md := model.Metadata{
		Name: *name, Version: *version, Trained: true,
		Description: describe(info, *fp32),
		Preprocess:  runMeta.Preprocess, Classes: runMeta.Classes,
		Thresholds: op.Thresholds, Operating: operating.Screening, Temperature: op.Temperature, Metrics: m,
	}
	if err := model.SetMetadata(mp, md); err != nil {
		return err
	}
	if err := modelfile.WriteFile(*out, mp); err != nil {
		return err
	}
	sc, _ := op.Point(operating.Screening) // Points makes both, each with its validation rates
	yo, _ := op.Point(operating.Youden)
	fmt.Fprintf(stdout, "wrote %s: validation AUC %.4f [%.4f, %.4f], temperature %.3f, screening threshold %.4f (sens %.3f, spec %.3f), youden %.4f; report in %s\n",
		*out, rep.AUC, rep.AUCCI.Lo, rep.AUCCI.Hi, op.Temperature, sc.Value,
		sc.Validation.Sensitivity, sc.Validation.Specificity, yo.Value, filepath.Join(*run, "validation"))
	return nil
}

// describe says how the model was trained, for the metadata.
func describe(info *RunInfo, fp32 bool) string {
	var b strings.Builder
	src := "random initial weights (no ImageNet weights), BatchNorm statistics re-estimated on " + fmt.Sprint(info.Calibration) + " train images"
	if info.Data.Backbone != "none" {
		src = "weights imported from " + filepath.Base(info.Data.Backbone)
		if info.Data.Reestimate {
			src += ", BatchNorm re-estimated on " + fmt.Sprint(info.Calibration) + " train images"
		}
	}
	c := info.Head
	if n := info.Data.Stages; n > 0 {
		flip := ""
		if info.Data.FlipActs {
			flip = ", random horizontal flips of the cached maps"
		}
		fmt.Fprintf(&b, "ResNet backbone (%d features, input %d) with %s; stem and first %d stage(s) frozen, last %d stage(s) (BatchNorm folded) fine-tuned with the head on cached float16 activations (Adam lr %.2g)%s. ",
			info.Arch.Features(), info.Data.Size, src, 4-n, n, finetune.Config{Head: c, StagesLR: info.Data.StagesLR}.StagesRate(), flip)
		std := ""
		if c.Standardize {
			std = " on pooled features standardised on train (folded into the weights)"
		}
		fmt.Fprintf(&b, "Head Dense(%d, ReLU, L2 %.2g) -> Dropout(%.2f) -> Dense(1, sigmoid)%s, class-weighted BCE, Adam lr %.2g, batch %d; best of %d epochs at epoch %d by validation ROC-AUC %.4f. ",
			c.Units, c.L2, c.Dropout, std, c.LR, c.Batch, len(info.History), info.BestEpoch, info.BestAUC)
	} else {
		fmt.Fprintf(&b, "Frozen ResNet backbone (%d features, input %d) with %s. ", info.Arch.Features(), info.Data.Size, src)
		fmt.Fprintf(&b, "Head Dense(%d, ReLU, L2 %.2g) -> Dropout(%.2f) -> Dense(1, sigmoid) trained on cached pooled features, class-weighted BCE, Adam lr %.2g, batch %d, %d augmented feature draws; best of %d epochs at epoch %d by validation ROC-AUC %.4f. ",
			c.Units, c.L2, c.Dropout, c.LR, c.Batch, info.Data.Draws, len(info.History), info.BestEpoch, info.BestAUC)
	}
	fmt.Fprintf(&b, "Data: %s, patient-grouped validation split (fraction %.2f, seed %d), %d train / %d validation images. ", filepath.Base(info.Data.Data), info.Data.ValFraction, info.Data.Seed, info.Train, info.Val)
	b.WriteString("Thresholds and temperature fitted on validation.")
	if !fp32 {
		b.WriteString(" Weights int8 per channel.")
	}
	return b.String()
}

func sigmoid(z float64) float64 { return 1 / (1 + math.Exp(-z)) }
