package main

import (
	"bytes"
	"context"
	"encoding/gob"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"pneumoscan/atomicfile"
	"pneumoscan/dataset"
	"pneumoscan/internal/progress"
	"pneumoscan/model"
	"pneumoscan/modelfile"
	"pneumoscan/training/backbone"
	"pneumoscan/training/checkpoint"
	"pneumoscan/training/features"
	"pneumoscan/training/finetune"
	"pneumoscan/training/head"
)

// runFinetune is `train --trainable-stages N` (N >= 1): the frozen part's
// activations are cached once, then the last N stages and the head train on
// them (package finetune). The checkpoint, run.json and the run's float model
// have the same names and roles as in a head run, so `export` works on it.
func runFinetune(ctx context.Context, fs *flag.FlagSet, d *dataFlags, cfg head.Config, resume, epochsSet bool, ckptPath string, stdout, stderr io.Writer) error {
	b, err := prepareBase(ctx, d, stderr)
	if err != nil {
		return err
	}
	frozen := 4 - d.Stages
	dir := filepath.Join(d.Run, "activations")
	val, err := finetune.Activations(ctx, b.Backbone, dir, "val", b.ValItems, frozen, stderr)
	if err != nil {
		return err
	}
	train, err := finetune.Activations(ctx, b.Backbone, dir, "train", b.TrainItems, frozen, stderr)
	if err != nil {
		return err
	}
	if len(train.Items) == 0 || len(val.Items) == 0 {
		return fmt.Errorf("no usable images: %d train, %d validation", len(train.Items), len(val.Items))
	}
	b.Inputs["activations/train"], b.Inputs["activations/val"] = train.Key, val.Key
	runJSON, _ := json.Marshal(d)

	var st *finetune.State
	if resume {
		c, rcfg, err := loadResume(fs, ckptPath, runJSON, b.Inputs, cfg, epochsSet)
		if err != nil {
			return err
		}
		cfg = rcfg
		if len(c.Extra) == 0 {
			return fmt.Errorf("--resume: %s is a head-only run's checkpoint", ckptPath)
		}
		st = &finetune.State{}
		if err := gob.NewDecoder(bytes.NewReader(c.Extra)).Decode(st); err != nil {
			return fmt.Errorf("--resume: %s: fine-tuning state: %w", ckptPath, err)
		}
		fmt.Fprintf(stderr, "resuming %s at epoch %d of %d (best validation AUC %.4f at epoch %d)\n", ckptPath, st.Epoch, cfg.Epochs, st.BestAUC, st.BestEpoch)
	} else {
		cfg.Dim, cfg.Seed = b.Arch.Features(), d.Seed
		if cfg.ClassWeights, err = classWeights(train.Labels); err != nil {
			return err
		}
	}
	net, err := finetune.NewNet(b.Arch, d.Stages, b.Backbone.Config().Size, cfg.Units)
	if err != nil {
		return err
	}
	fcfg := finetune.Config{Head: cfg, Stages: d.Stages, Flip: d.FlipActs, StagesLR: d.StagesLR}
	if st == nil {
		if st, err = finetune.NewState(fcfg, net, b.Backbone.Weights()); err != nil {
			return err
		}
	}
	tr, err := finetune.NewTrainer(fcfg, net, st)
	if err != nil {
		return err
	}
	if cfg.Standardize && len(st.Norm.Mean) == 0 {
		fmt.Fprintf(stderr, "fitting the standardisation of the pooled features on the %d train images...\n", len(train.Items))
		if err := tr.FitNorm(ctx, train); err != nil {
			return err
		}
	}
	save := func(s *finetune.State) error {
		var extra bytes.Buffer
		if err := gob.NewEncoder(&extra).Encode(s); err != nil {
			return err
		}
		return checkpoint.Save(ckptPath, &checkpoint.Checkpoint{Config: cfg, Inputs: b.Inputs, Run: runJSON, Extra: extra.Bytes()})
	}
	fmt.Fprintf(stderr, "fine-tuning the last %d stage(s) (input %dx%dx%d cached in float16, stages lr %.2g) + head: %d units, dropout %.2f, lr %.2g, L2 %.2g, batch %d, standardize %v, flip %v, class weights %.3f/%.3f, %d train / %d validation images\n",
		d.Stages, net.C, net.S, net.S, fcfg.StagesRate(), cfg.Units, cfg.Dropout, cfg.LR, cfg.L2, cfg.Batch, cfg.Standardize, d.FlipActs, cfg.ClassWeights[0], cfg.ClassWeights[1], len(train.Items), len(val.Items))
	var bar *progress.Bar
	err = tr.Train(ctx, train, val, finetune.Hooks{
		OnStep: func(done, total int) {
			if bar == nil {
				bar = progress.New(stderr, fmt.Sprintf("epoch %d/%d", st.Epoch+1, cfg.Epochs), total, "step")
			}
			bar.Add(1)
			if done == total {
				bar.Finish()
				bar = nil
			}
		},
		OnEpoch: func(s *finetune.State, es head.EpochStats) error {
			if err := save(s); err != nil {
				return err
			}
			fmt.Fprintf(stderr, "epoch %3d/%d  train loss %.4f  val loss %.4f  val AUC %.4f  (best %.4f @ %d)  %.1fs  %.2f img/s\n",
				es.Epoch, cfg.Epochs, es.TrainLoss, es.ValLoss, es.ValAUC, s.BestAUC, s.BestEpoch, es.Seconds, float64(len(train.Items))/es.Seconds)
			return nil
		},
	})
	if bar != nil {
		bar.Finish()
	}
	if errors.Is(err, context.Canceled) {
		if serr := save(st); serr != nil {
			return fmt.Errorf("interrupted, and saving the checkpoint failed: %w", serr)
		}
		fmt.Fprintf(stderr, "stopped after epoch %d; checkpoint %s saved; continue with the same command and --resume\n", st.Epoch, ckptPath)
		return err
	}
	if err != nil {
		return err
	}
	if st.Stopped {
		fmt.Fprintf(stderr, "early stop at epoch %d: no better validation AUC for %d epochs\n", st.Epoch, cfg.Patience)
	}
	return writeFinetuneRun(ctx, d, b, net, fcfg, st, len(train.Items), val, stdout)
}

// writeFinetuneRun writes the best epoch's model (trained stages in the
// backbone, head) as the run's float model, the validation images' pooled
// features under those stages (what export fits thresholds and temperature
// on), and run.json.
func writeFinetuneRun(ctx context.Context, d *dataFlags, b *base, net *finetune.Net, fcfg finetune.Config, st *finetune.State, nTrain int, val *finetune.Acts, stdout io.Writer) error {
	if st.BestEpoch == 0 {
		return finetune.ErrNoBest
	}
	nb, err := net.Backbone(b.Backbone.Weights(), st.Best)
	if err != nil {
		return err
	}
	classes := []string{dataset.ClassDirs[dataset.Normal], dataset.ClassDirs[dataset.Pneumonia]}
	md := model.Metadata{
		Name: "pneumoscan-run", Version: fmt.Sprintf("run-epoch%d", st.BestEpoch), Trained: false,
		Description: "intermediate model of a fine-tuning run: thresholds and temperature are not chosen yet; `training export` makes the product model",
		Preprocess:  b.Backbone.Preprocess(), Classes: classes,
		Thresholds: []model.Threshold{{Name: "unset", Value: 0.5, Criterion: "placeholder until export"}},
		Operating:  "unset", Temperature: 1,
	}
	mp, err := net.ContractModel(b.Backbone.Weights(), st.Best, st.Norm, md)
	if err != nil {
		return err
	}
	if err := modelfile.WriteFile(filepath.Join(d.Run, modelFile), mp); err != nil {
		return err
	}
	// Pooled validation features of the best epoch's stages.
	best := st.Clone()
	best.Params = best.Best
	tr, err := finetune.NewTrainer(fcfg, net, best)
	if err != nil {
		return err
	}
	_, pooled, err := tr.Predict(ctx, val, true)
	if err != nil {
		return err
	}
	key := features.Key{Backbone: backbone.WeightsID(nb), Preprocess: b.Backbone.Preprocess(), Split: "val", Items: b.ValItems}
	set := &features.Set{Dim: net.Arch.Features(), Items: val.Items, Labels: val.Labels, X: pooled, Key: key.Hash(), Skipped: val.Skipped}
	valPath := key.Path(filepath.Join(d.Run, "features"))
	if err := set.Save(valPath); err != nil {
		return err
	}
	valRel, err := filepath.Rel(d.Run, valPath)
	if err != nil {
		return err
	}
	inputs := map[string]string{}
	for k, v := range b.Inputs {
		inputs[k] = v
	}
	inputs["features/val"] = set.Key
	cfg := fcfg.Head
	info := RunInfo{
		Data: *d, Head: cfg, BackboneID: backbone.WeightsID(nb), Arch: b.Arch,
		Calibration: b.Backbone.Calibration.Images, Train: nTrain, Val: len(val.Items),
		ValFeatures: filepath.ToSlash(valRel), Inputs: inputs, History: st.History,
		BestEpoch: st.BestEpoch, BestAUC: st.BestAUC, Stopped: st.Stopped, Finished: time.Now().UTC(),
	}
	js, err := json.MarshalIndent(info, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.Write(filepath.Join(d.Run, runFile), append(js, '\n')); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "best validation AUC %.4f at epoch %d of %d; wrote %s and %s\nnext: go run ./training export --run %s -o model.onnx\n",
		st.BestAUC, st.BestEpoch, st.Epoch, filepath.Join(d.Run, modelFile), filepath.Join(d.Run, runFile), d.Run)
	return nil
}
