package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"pneumoscan/atomicfile"
	"pneumoscan/internal/cli"
	"strings"
	"time"

	"pneumoscan/dataset"
	"pneumoscan/internal/progress"
	"pneumoscan/model"
	"pneumoscan/modelfile"
	"pneumoscan/resnet"
	"pneumoscan/training/checkpoint"
	"pneumoscan/training/head"
)

// Files of a run folder.
const (
	checkpointFile = "checkpoint.ckpt"
	modelFile      = "model-fp32.onnx" // best epoch's head on the backbone, float32, no thresholds yet
	runFile        = "run.json"
	tuneLog        = "tune.jsonl"
)

// RunInfo is run.json: how a run was made and how it went, read by export.
type RunInfo struct {
	Data        dataFlags         `json:"data"`
	Head        head.Config       `json:"head"`
	BackboneID  string            `json:"backbone_sha256"`
	Arch        resnet.Arch       `json:"arch"`
	Calibration int               `json:"bn_calibration_images"`
	Train       int               `json:"train_images"`
	Val         int               `json:"val_images"`
	ValFeatures string            `json:"val_features"` // relative to the run folder
	Inputs      map[string]string `json:"inputs"`
	History     []head.EpochStats `json:"history"`
	BestEpoch   int               `json:"best_epoch"`
	BestAUC     float64           `json:"best_val_auc"`
	Stopped     bool              `json:"early_stopped"`
	Finished    time.Time         `json:"finished"`
}

// headFlags registers the head's settings on fs with Default's values.
func headFlags(fs *flag.FlagSet, c *head.Config) {
	*c = head.Default()
	fs.IntVar(&c.Units, "units", c.Units, "hidden units of the head")
	fs.Float64Var(&c.Dropout, "dropout", c.Dropout, "dropout rate after the hidden layer")
	fs.Float64Var(&c.L2, "l2", c.L2, "L2 penalty on the hidden layer's weights")
	fs.Float64Var(&c.LR, "lr", c.LR, "Adam learning rate")
	fs.IntVar(&c.Epochs, "epochs", c.Epochs, "maximum epochs")
	fs.IntVar(&c.Batch, "batch", c.Batch, "minibatch size")
	fs.IntVar(&c.Patience, "patience", c.Patience, "stop after this many epochs without a better validation AUC (0: never)")
	fs.BoolVar(&c.Standardize, "standardize", c.Standardize, "standardise features on train (folded into the exported weights)")
}

func runTrain(ctx context.Context, fs *flag.FlagSet, args []string, stdout, stderr io.Writer) error {
	var d dataFlags
	d.register(fs)
	var cfg head.Config
	headFlags(fs, &cfg)
	resume := fs.Bool("resume", false, "continue the run's checkpoint (same split, features and random stream)")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	epochsSet := false
	fs.Visit(func(f *flag.Flag) { epochsSet = epochsSet || f.Name == "epochs" })

	ckptPath := filepath.Join(d.Run, checkpointFile)
	if _, err := os.Stat(ckptPath); err == nil && !*resume {
		return fmt.Errorf("%s already exists: pass --resume to continue that run, or choose another --run", ckptPath)
	} else if err != nil && *resume {
		return fmt.Errorf("--resume: %w", err)
	}
	if d.Stages > 0 {
		return runFinetune(ctx, fs, &d, cfg, *resume, epochsSet, ckptPath, stdout, stderr)
	}
	p, err := prepare(ctx, &d, stderr)
	if err != nil {
		return err
	}
	train, val := p.views()
	runJSON, _ := json.Marshal(d)

	var st *head.State
	if *resume {
		c, rcfg, err := loadResume(fs, ckptPath, runJSON, p.Inputs, cfg, epochsSet)
		if err != nil {
			return err
		}
		cfg = rcfg
		st = c.State
		if st == nil {
			return fmt.Errorf("--resume: %s is a fine-tuning run's checkpoint: pass the same --trainable-stages", ckptPath)
		}
		fmt.Fprintf(stderr, "resuming %s at epoch %d of %d (best validation AUC %.4f at epoch %d)\n", ckptPath, st.Epoch, cfg.Epochs, st.BestAUC, st.BestEpoch)
	} else {
		cfg.Dim, cfg.Seed = p.Train[0].Dim, d.Seed
		if cfg.ClassWeights, err = classWeights(p.Train[0].Labels); err != nil {
			return err
		}
		if st, err = head.NewState(cfg, train[0]); err != nil {
			return err
		}
	}
	save := func(s *head.State) error {
		return checkpoint.Save(ckptPath, &checkpoint.Checkpoint{Config: cfg, State: s, Inputs: p.Inputs, Run: runJSON})
	}
	fmt.Fprintf(stderr, "training head: %d units, dropout %.2f, lr %.2g, L2 %.2g, batch %d, class weights %.3f/%.3f, %d train views\n",
		cfg.Units, cfg.Dropout, cfg.LR, cfg.L2, cfg.Batch, cfg.ClassWeights[0], cfg.ClassWeights[1], len(train))
	bar := progress.New(stderr, "head", max(cfg.Epochs-st.Epoch, 0), "epoch")
	err = head.Train(ctx, cfg, st, train, val, func(s *head.State, es head.EpochStats) error {
		if err := save(s); err != nil {
			return err
		}
		line := fmt.Sprintf("epoch %3d/%d  train loss %.4f  val loss %.4f  val AUC %.4f  (best %.4f @ %d)  %.1fs",
			es.Epoch, cfg.Epochs, es.TrainLoss, es.ValLoss, es.ValAUC, s.BestAUC, s.BestEpoch, es.Seconds)
		fmt.Fprintf(stderr, "\r%-100s\n", line)
		bar.Add(1)
		return nil
	})
	bar.Finish()
	if errors.Is(err, context.Canceled) {
		// st is the last complete epoch, already saved by the callback; save
		// again so a run stopped before its first epoch leaves a checkpoint too.
		if serr := save(st); serr != nil {
			return fmt.Errorf("interrupted, and saving the checkpoint failed: %w", serr)
		}
		fmt.Fprintf(stderr, "stopped after epoch %d; checkpoint %s saved; continue with: go run ./training train --run %s --resume\n", st.Epoch, ckptPath, d.Run)
		return err
	}
	if err != nil {
		return err
	}
	if st.Stopped {
		fmt.Fprintf(stderr, "early stop at epoch %d: no better validation AUC for %d epochs\n", st.Epoch, cfg.Patience)
	}
	return writeRun(&d, p, cfg, st, stdout)
}

// resumedConfig is the saved run's head settings with --epochs as given now
// (when given); any other head flag given now must agree with the saved run.
// The head flags given on fs are applied to the saved settings through
// headFlags, the one place that maps a flag to its field.
func resumedConfig(fs *flag.FlagSet, cfg, saved head.Config, epochsSet bool) (head.Config, error) {
	var asked head.Config
	onto := flag.NewFlagSet("resume", flag.ContinueOnError)
	headFlags(onto, &asked)
	asked = saved
	var setErr error
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "epochs" || onto.Lookup(f.Name) == nil || setErr != nil {
			return
		}
		setErr = onto.Set(f.Name, f.Value.String())
	})
	if setErr != nil {
		return cfg, fmt.Errorf("--resume: %w", setErr)
	}
	if asked != saved {
		return cfg, fmt.Errorf("--resume: head settings %+v differ from the saved run's %+v (only --epochs may change)", asked, saved)
	}
	out := saved
	if epochsSet {
		out.Epochs = cfg.Epochs
	}
	return out, nil
}

// loadResume loads the checkpoint at ckptPath for --resume: the data
// settings (runJSON) and inputs must be the saved run's, and the head
// settings are resumedConfig's.
func loadResume(fs *flag.FlagSet, ckptPath string, runJSON []byte, inputs map[string]string, cfg head.Config, epochsSet bool) (*checkpoint.Checkpoint, head.Config, error) {
	c, err := checkpoint.Load(ckptPath)
	if err != nil {
		return nil, cfg, err
	}
	if string(c.Run) != string(runJSON) {
		return nil, cfg, fmt.Errorf("--resume: the data settings differ from the saved run's:\n  saved: %s\n  now:   %s", c.Run, runJSON)
	}
	if err := c.CheckInputs(inputs); err != nil {
		return nil, cfg, err
	}
	if cfg, err = resumedConfig(fs, cfg, c.Config, epochsSet); err != nil {
		return nil, cfg, err
	}
	return c, cfg, nil
}

func classWeights(labels []int) ([2]float64, error) {
	items := make([]dataset.Item, len(labels))
	for i, l := range labels {
		items[i].Label = l
	}
	return dataset.ClassWeights(items)
}

// writeRun writes the best epoch's head on the backbone as the run's float
// model, and run.json.
func writeRun(d *dataFlags, p *prepared, cfg head.Config, st *head.State, stdout io.Writer) error {
	h, err := st.Best.Head(st.Norm, cfg.Dim, cfg.Units)
	if err != nil {
		return err
	}
	classes := []string{dataset.ClassDirs[dataset.Normal], dataset.ClassDirs[dataset.Pneumonia]}
	md := model.Metadata{
		Name: "pneumoscan-run", Version: fmt.Sprintf("run-epoch%d", st.BestEpoch), Trained: false,
		Description: "intermediate model of a training run: thresholds and temperature are not chosen yet; `training export` makes the product model",
		Preprocess:  p.Backbone.Preprocess(), Classes: classes,
		Thresholds: []model.Threshold{{Name: "unset", Value: 0.5, Criterion: "placeholder until export"}},
		Operating:  "unset", Temperature: 1,
	}
	mp, err := modelfile.Build(p.Backbone.Weights(), h, md)
	if err != nil {
		return err
	}
	if err := modelfile.WriteFile(filepath.Join(d.Run, modelFile), mp); err != nil {
		return err
	}
	valRel, err := filepath.Rel(d.Run, p.ValPath)
	if err != nil {
		return err
	}
	info := RunInfo{
		Data: *d, Head: cfg, BackboneID: p.Backbone.ID(), Arch: p.Backbone.Weights().Arch,
		Calibration: p.Backbone.Calibration.Images, Train: len(p.Train[0].Items), Val: len(p.Val.Items),
		ValFeatures: filepath.ToSlash(valRel), Inputs: p.Inputs, History: st.History,
		BestEpoch: st.BestEpoch, BestAUC: st.BestAUC, Stopped: st.Stopped, Finished: time.Now().UTC(),
	}
	b, err := json.MarshalIndent(info, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.Write(filepath.Join(d.Run, runFile), append(b, '\n')); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "best validation AUC %.4f at epoch %d of %d; wrote %s and %s\nnext: go run ./training export --run %s -o model.onnx\n",
		st.BestAUC, st.BestEpoch, st.Epoch, filepath.Join(d.Run, modelFile), filepath.Join(d.Run, runFile), d.Run)
	return nil
}

func readRun(dir string) (*RunInfo, error) {
	b, err := os.ReadFile(filepath.Join(dir, runFile))
	if err != nil {
		return nil, fmt.Errorf("%w (has `training train --run %s` finished?)", err, dir)
	}
	var info RunInfo
	dec := json.NewDecoder(strings.NewReader(string(b)))
	if err := dec.Decode(&info); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, runFile), err)
	}
	return &info, nil
}
