//go:build unix

// Command benchtrain measures the trainer's costs on this machine and prints them as a table:
// BatchNorm re-estimation of a random ResNet50, feature extraction (the frozen backbone's
// forward pass) in images per second, one head epoch on cached features, and the process's
// peak memory; then fine-tuning steps with gorgonia (package finetune): the frozen stem and
// layers 1-3 caching layer3 outputs, a last-stage + head step on those cached outputs, and a
// full fine-tune step (stem, all 4 stages and head trainable, 224x224), each with its images
// per second and peak memory. Run from the module root: go run ./training/cmd/benchtrain
// (-frozen=false skips the frozen-backbone rows, -full-steps 0 the full fine-tune).
package main

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/signal"
	"path"
	"path/filepath"
	"runtime"
	"syscall"
	"text/tabwriter"
	"time"

	"pneumoscan/dataset"
	"pneumoscan/training/backbone"
	"pneumoscan/training/head"
)

func main() {
	data := flag.String("data", "../shared/data/chest_xray", "data set root (Kaggle layout)")
	n := flag.Int("images", 32, "train images to extract features of")
	bn := flag.Int("bn", 16, "calibration images for BatchNorm re-estimation (at least 2)")
	workers := flag.Int("workers", runtime.GOMAXPROCS(0), "goroutines, one engine each")
	rows := flag.Int("head-rows", 4096, "examples in the head benchmark (cached features repeated)")
	frozen := flag.Bool("frozen", true, "measure the frozen-backbone rows (BatchNorm, extraction, head)")
	ftBatch := flag.Int("ft-batch", 8, "fine-tuning batch size")
	lastSteps := flag.Int("last-steps", 3, "timed last-stage steps on cached layer3 outputs (0: skip)")
	fullSteps := flag.Int("full-steps", 1, "timed full fine-tune steps, 224x224 (0: skip; each takes seconds and GBs)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "step\timages\tseconds\timages/s\t\n")
	err := func() error {
		defer tw.Flush()
		if *frozen {
			if err := run(ctx, tw, *data, *n, *bn, *workers, *rows); err != nil {
				return err
			}
		}
		return runFinetune(ctx, tw, *data, *workers, *ftBatch, *lastSteps, *fullSteps)
	}()
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchtrain:", err)
		os.Exit(1)
	}
}

// items takes n train images, alternating the classes, in a fixed shuffled order.
func items(root string, n int) ([]dataset.Item, error) {
	listed, err := dataset.Labelled(filepath.Join(root, dataset.Train))
	if err != nil {
		return nil, err
	}
	var byClass [2][]dataset.Item
	for _, it := range listed {
		it.Rel = path.Join(dataset.Train, it.Rel)
		byClass[it.Label] = append(byClass[it.Label], it)
	}
	for label, c := range byClass {
		if len(c) == 0 {
			return nil, fmt.Errorf("no images in %s", filepath.Join(root, dataset.Train, dataset.ClassDirs[label]))
		}
		rand.New(rand.NewPCG(1, 2)).Shuffle(len(c), func(i, j int) { c[i], c[j] = c[j], c[i] })
	}
	var out []dataset.Item
	for i := 0; len(out) < n && i < len(byClass[0])+len(byClass[1]); i++ {
		if c := byClass[i%2]; i/2 < len(c) {
			out = append(out, c[i/2])
		}
	}
	return out, nil
}

func run(ctx context.Context, tw *tabwriter.Writer, root string, n, bn, workers, rows int) error {
	all, err := items(root, max(n, bn))
	if err != nil {
		return err
	}

	start := time.Now()
	b, err := backbone.NewContext(ctx, backbone.Config{Source: backbone.SourceNone, Seed: 1, BNSamples: bn, Workers: workers}, all[:bn], os.Stderr)
	if err != nil {
		return err
	}
	cal := b.Calibration
	fmt.Fprintf(tw, "BatchNorm re-estimation, ResNet50 (im2col + sgemm)\t%d\t%.1f\t%.2f\t\n", cal.Images, cal.Duration.Seconds(), float64(cal.Images)/cal.Duration.Seconds())
	fmt.Fprintf(tw, "backbone setup (weights hash, engine load)\t\t%.1f\t\t\n", time.Since(start).Seconds()-cal.Duration.Seconds())

	// The first image also loads the engines: time it apart.
	start = time.Now()
	if _, err := b.Extract(ctx, all[:1], nil); err != nil {
		return err
	}
	first := time.Since(start)
	start = time.Now()
	set, err := b.Extract(ctx, all[:n], os.Stderr)
	if err != nil {
		return err
	}
	el := time.Since(start).Seconds()
	fmt.Fprintf(tw, "engine load + first image\t1\t%.1f\t\t\n", first.Seconds())
	fmt.Fprintf(tw, "feature extraction, ResNet50 224x224 (convnet, %d goroutines)\t%d\t%.1f\t%.2f\t\n", workers, len(set.Items), el, float64(len(set.Items))/el)
	fmt.Fprintf(tw, "  projected: 5,216 train images\t\t%.0f\t\t\n", 5216*el/float64(len(set.Items)))

	// Head: one epoch on the cached features, repeated to rows examples.
	d := head.Data{Dim: set.Dim}
	for len(d.Labels) < rows {
		i := len(d.Labels) % len(set.Items)
		d.X = append(d.X, set.Row(i)...)
		d.Labels = append(d.Labels, set.Labels[i])
	}
	cfg := head.Default()
	cfg.Dim, cfg.Epochs, cfg.Patience = set.Dim, 1, 0
	st, err := head.NewState(cfg, d)
	if err != nil {
		return err
	}
	start = time.Now()
	if err := head.Train(ctx, cfg, st, []head.Data{d}, d, nil); err != nil {
		return err
	}
	el = time.Since(start).Seconds()
	steps := (rows + cfg.Batch - 1) / cfg.Batch
	fmt.Fprintf(tw, "head epoch (U=%d, batch %d, %d steps, + validation pass)\t%d\t%.2f\t%.0f\t\n", cfg.Units, cfg.Batch, steps, rows, el, float64(rows)/el)
	fmt.Fprintf(tw, "  per head step\t%d\t%.4f\t\t\n", cfg.Batch, el/float64(steps))

	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err == nil {
		fmt.Fprintf(tw, "peak memory (max RSS), MiB\t\t%.0f\t\t\n", float64(ru.Maxrss)/1024) // Linux reports KiB
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	fmt.Fprintf(tw, "Go runtime Sys, MiB\t\t%.0f\t\t\n", float64(ms.Sys)/(1<<20))
	return nil
}
