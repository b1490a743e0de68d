package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"

	"pneumoscan/internal/cli"
	"pneumoscan/internal/progress"
	"pneumoscan/training/head"
	"pneumoscan/training/tune"
)

func runTune(ctx context.Context, fs *flag.FlagSet, args []string, stdout, stderr io.Writer) error {
	var d dataFlags
	d.register(fs)
	base := head.Default()
	fs.IntVar(&base.Epochs, "epochs", base.Epochs, "maximum epochs per trial")
	fs.IntVar(&base.Batch, "batch", base.Batch, "minibatch size")
	fs.IntVar(&base.Patience, "patience", base.Patience, "early-stopping patience per trial")
	trials := fs.Int("trials", 20, "number of trials")
	log := fs.String("log", "", "JSON-lines trial log (default RUN/tune.jsonl); an existing log is resumed")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if d.Stages > 0 {
		fmt.Fprintf(stderr, "tune searches head settings on cached pooled features of a frozen backbone; --trainable-stages %d is not supported there: tune with the backbone frozen, then train with --trainable-stages and the chosen settings\n", d.Stages)
		return cli.ErrUsage
	}
	if *log == "" {
		*log = filepath.Join(d.Run, tuneLog)
	}
	p, err := prepare(ctx, &d, stderr)
	if err != nil {
		return err
	}
	train, val := p.views()
	base.Dim, base.Seed = p.Train[0].Dim, d.Seed
	if base.ClassWeights, err = classWeights(p.Train[0].Labels); err != nil {
		return err
	}
	o := tune.Options{Space: tune.DefaultSpace(), Trials: *trials, Seed: d.Seed, Base: base, Log: *log}
	done, err := tune.ReadLog(*log)
	if err == nil && len(done) > 0 {
		fmt.Fprintf(stderr, "resuming %s: %d trial(s) already done\n", *log, len(done))
	}
	bar := progress.New(stderr, "tune", *trials, "trial")
	bar.Add(len(done))
	o.OnTrial = func(t tune.Trial) {
		line := fmt.Sprintf("trial %d: units %d dropout %.3f lr %.2e l2 %.2e -> val AUC %.4f (epoch %d of %d)",
			t.Trial, t.Units, t.Dropout, t.LR, t.L2, t.ValAUC, t.BestEpoch, t.Epochs)
		fmt.Fprintf(stderr, "\r%-100s\n", line)
		bar.Add(1)
	}
	all, err := tune.Run(ctx, o, train, val)
	bar.Finish()
	if len(all) > 0 {
		tune.WriteTable(stdout, all)
	}
	if errors.Is(err, context.Canceled) {
		fmt.Fprintf(stderr, "stopped after %d trial(s), logged in %s; run the same command again to go on\n", len(all), *log)
		return err
	}
	if err != nil {
		return err
	}
	best, err := tune.Best(all)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\nbest: trial %d, validation AUC %.4f\ntrain it with: go run ./training train --run RUN --units %d --dropout %g --lr %g --l2 %g (and the same data flags)\n",
		best.Trial, best.ValAUC, best.Units, best.Dropout, best.LR, best.L2)
	return nil
}
