//go:build unix

package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"pneumoscan/model"
	"pneumoscan/resnet"
	"pneumoscan/training/backbone"
	"pneumoscan/training/finetune"
	"pneumoscan/training/head"
)

// resetPeak returns freed memory to the OS and restarts the kernel's peak RSS count
// (/proc/self/clear_refs "5"), so that the next peak() is this row's own. It reports whether
// the reset worked; where it did not, peak() is the process's peak so far.
func resetPeak() bool {
	debug.FreeOSMemory()
	return os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil
}

// peak is the peak resident set size in MiB: VmHWM, else getrusage's max RSS.
func peak() float64 {
	if f, err := os.Open("/proc/self/status"); err == nil {
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
				kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
				if err == nil {
					return kb / 1024
				}
			}
		}
	}
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return float64(ru.Maxrss) / 1024
}

func peakRow(tw *tabwriter.Writer, own bool) {
	what := "since the row began"
	if !own {
		what = "of the process so far"
	}
	fmt.Fprintf(tw, "  peak memory (max RSS %s), MiB\t\t%.0f\t\t\n", what, peak())
}

// repeatActs is a with its images repeated until it has n.
func repeatActs(a *finetune.Acts, n int) *finetune.Acts {
	r := &finetune.Acts{C: a.C, S: a.S}
	for i := range n {
		k := i % len(a.Items)
		r.Items = append(r.Items, fmt.Sprint(i))
		r.Labels = append(r.Labels, a.Labels[k])
		r.X = append(r.X, a.Row(k)...)
	}
	return r
}

// timeSteps builds a trainer for net on random ResNet50 weights, takes one step (graph
// construction included) and then steps timed steps, and prints the rows.
func timeSteps(ctx context.Context, tw *tabwriter.Writer, label string, net *finetune.Net, bb *resnet.Backbone, acts *finetune.Acts, batch, steps int, own bool) error {
	cfg := finetune.Config{Head: head.Default(), Stages: net.Stages}
	cfg.Head.Dim, cfg.Head.Units, cfg.Head.Batch, cfg.Head.Standardize, cfg.Head.Epochs = net.Arch.Features(), net.Units, batch, false, 1
	st, err := finetune.NewState(cfg, net, bb)
	if err != nil {
		return err
	}
	tr, err := finetune.NewTrainer(cfg, net, st)
	if err != nil {
		return err
	}
	start := time.Now()
	if _, err := tr.Epoch(ctx, repeatActs(acts, batch)); err != nil {
		return err
	}
	first := time.Since(start).Seconds()
	rep := repeatActs(acts, batch*steps)
	start = time.Now()
	if _, err := tr.Epoch(ctx, rep); err != nil {
		return err
	}
	el := time.Since(start).Seconds()
	n := batch * steps
	fmt.Fprintf(tw, "%s\t%d\t%.1f\t%.2f\t\n", label, n, el, float64(n)/el)
	fmt.Fprintf(tw, "  per step (batch %d)\t%d\t%.2f\t\t\n", batch, batch, el/float64(steps))
	fmt.Fprintf(tw, "  first step (graph build + step)\t%d\t%.1f\t\t\n", batch, first)
	fmt.Fprintf(tw, "  projected epoch: 5,216 train images\t\t%.0f\t\t\n", 5216*el/float64(n))
	peakRow(tw, own)
	return nil
}

// runFinetune measures the fine-tuning rows on ResNet50 with random weights (the cost does
// not depend on their values): caching layer3 outputs with the lean forward pass, last-stage
// steps on them, and full fine-tune steps on images.
func runFinetune(ctx context.Context, tw *tabwriter.Writer, root string, workers, batch, lastSteps, fullSteps int) error {
	if lastSteps <= 0 && fullSteps <= 0 {
		return nil
	}
	const size = backbone.InputSize
	arch := resnet.ResNet50
	bb, err := resnet.RandomBackbone(arch, 1)
	if err != nil {
		return err
	}
	its, err := items(root, batch)
	if err != nil {
		return err
	}
	pre := model.ImageNetPreprocess(size)
	var xs [][]float32
	var labels []int
	for _, it := range its {
		x, err := backbone.Tensor(it.Path, pre)
		if err != nil {
			return err
		}
		xs, labels = append(xs, x), append(labels, it.Label)
	}
	units := head.Default().Units
	if lastSteps > 0 {
		own := resetPeak()
		start := time.Now()
		outs, err := backbone.PrefixArray(ctx, bb, xs, size, 3, workers)
		if err != nil {
			return err
		}
		el := time.Since(start).Seconds()
		net, err := finetune.NewNet(arch, 1, size, units)
		if err != nil {
			return err
		}
		fmt.Fprintf(tw, "frozen stem + layers 1-3, ResNet50 224x224 (lean forward, %d goroutines)\t%d\t%.1f\t%.2f\t\n", workers, len(xs), el, float64(len(xs))/el)
		fmt.Fprintf(tw, "  projected: 5,216 train images (cache %.1f GB float16)\t\t%.0f\t\t\n", 5216*float64(net.InDim())*2/1e9, 5216*el/float64(len(xs)))
		acts, err := finetune.NewActs(net.C, net.S, outs, labels)
		if err != nil {
			return err
		}
		if err := timeSteps(ctx, tw, fmt.Sprintf("last-stage step: layer4 + head on cached layer3 %dx%dx%d (gorgonia, %s)", net.C, net.S, net.S, finetune.BLAS), net, bb, acts, batch, lastSteps, own); err != nil {
			return err
		}
	}
	if fullSteps > 0 {
		own := resetPeak()
		net, err := finetune.NewFullNet(arch, size, units)
		if err != nil {
			return err
		}
		acts, err := finetune.NewActs(3, size, xs, labels)
		if err != nil {
			return err
		}
		if err := timeSteps(ctx, tw, "full fine-tune step: stem + 4 stages + head, 224x224 (gorgonia, "+finetune.BLAS+")", net, bb, acts, batch, fullSteps, own); err != nil {
			return err
		}
	}
	return nil
}
