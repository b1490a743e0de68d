package backbone

import (
	"context"
	"fmt"
	"io"

	"pneumoscan/dataset"
	pbar "pneumoscan/internal/progress"
	"pneumoscan/resnet"
	"pneumoscan/training/features"
)

// PrefixShape is the output of the stem and the first frozen stages (0..3) for an input of
// side size: channels and spatial side. frozen 0 is the stem's max pool output.
func PrefixShape(a resnet.Arch, frozen, size int) (c, s int, err error) {
	if frozen < 0 || frozen > 3 {
		return 0, 0, fmt.Errorf("backbone: %d frozen stages: want 0..3 (at least the last stage trains)", frozen)
	}
	convs := a.Convs()
	s = convs[resnet.Stem].OutSize(size)
	s = (s+2-3)/2 + 1
	c = a.StemWidth
	for bi, blk := range a.Bottlenecks() {
		if bi >= PrefixBlocks(a, frozen) {
			break
		}
		s = convs[blk.Conv2].OutSize(s)
		c = convs[blk.Conv3].Out
	}
	return c, s, nil
}

// PrefixBlocks is the number of bottlenecks in the first frozen stages.
func PrefixBlocks(a resnet.Arch, frozen int) int {
	n := 0
	for s := range min(max(frozen, 0), 4) {
		n += a.Blocks[s]
	}
	return n
}

// Prefix runs the stem and the first frozen stages of the backbone (no augmentation) on
// items with the lean batched CPU forward pass, a few images per worker at a time, and hands
// each readable image's output ([c, s, s] row-major, see PrefixShape) to emit, in item
// order, with the item's index. Unreadable images are skipped and returned. progress (nil for
// none) gets a bar with rate and ETA. emit's slice is not reused by Prefix.
func (b *Backbone) Prefix(ctx context.Context, items []dataset.Item, frozen int, progressW io.Writer, emit func(i int, act []float32) error) ([]features.Skip, error) {
	if _, _, err := PrefixShape(b.weights.Arch, frozen, b.cfg.Size); err != nil {
		return nil, err
	}
	blocks := PrefixBlocks(b.weights.Arch, frozen)
	var bar *pbar.Bar
	if progressW != nil {
		bar = pbar.New(progressW, fmt.Sprintf("frozen stem+%d stage(s)", frozen), len(items), "img")
		defer bar.Finish()
	}
	chunk := max(1, b.cfg.Workers) * 4
	var skipped []features.Skip
	for lo := 0; lo < len(items); lo += chunk {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		hi := min(lo+chunk, len(items))
		var xs [][]float32
		var idx []int
		for i := lo; i < hi; i++ {
			x, err := b.input(items[i], 0)
			if err != nil {
				skipped = append(skipped, features.Skip{Item: itemName(items[i]), Reason: err.Error()})
				continue
			}
			xs = append(xs, x)
			idx = append(idx, i)
		}
		if len(xs) > 0 {
			outs, _, err := forwardBlocks(ctx, b.weights, xs, b.cfg.Size, b.cfg.Workers, nil, blocks)
			if err != nil {
				return nil, err
			}
			for k, i := range idx {
				if err := emit(i, outs[k]); err != nil {
					return nil, err
				}
			}
		}
		if bar != nil {
			bar.Add(hi - lo)
		}
	}
	return skipped, nil
}

// PrefixArray runs Prefix on already preprocessed inputs ([3, size, size] each), for tests
// and benchmarks.
func PrefixArray(ctx context.Context, bb *resnet.Backbone, xs [][]float32, size, frozen, workers int) ([][]float32, error) {
	if _, _, err := PrefixShape(bb.Arch, frozen, size); err != nil {
		return nil, err
	}
	outs, _, err := forwardBlocks(ctx, bb, xs, size, workers, nil, PrefixBlocks(bb.Arch, frozen))
	return outs, err
}

// Input reads, decodes and preprocesses one image as the backbone does (no augmentation).
func (b *Backbone) Input(it dataset.Item) ([]float32, error) { return b.input(it, 0) }

// WeightsID is the identity of a set of weights, as Backbone.ID reports it.
func WeightsID(bb *resnet.Backbone) string { return weightsID(bb) }
