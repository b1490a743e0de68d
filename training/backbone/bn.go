package backbone

import (
	"context"
	"fmt"
	"math"

	"pneumoscan/resnet"
)

// BNEps is BatchNorm's epsilon, PyTorch's default.
const BNEps = 1e-5

// channelStats returns the mean and (biased, as BatchNorm normalises with) variance of each
// output channel over all images and positions. Sums are taken per image, then added in image
// order, so the result does not depend on how images were spread over goroutines: the same
// calibration images always give the same weights, and so the same backbone ID.
func channelStats(outs [][]float32, channels, hw int) (mean, variance []float64) {
	mean = make([]float64, channels)
	variance = make([]float64, channels)
	count := float64(len(outs) * hw)
	for _, d := range outs {
		for c := range channels {
			var s float64
			for _, v := range d[c*hw : (c+1)*hw] {
				s += float64(v)
			}
			mean[c] += s
		}
	}
	for c := range mean {
		mean[c] /= count
	}
	// A second pass around the mean: no cancellation when the mean is large.
	for _, d := range outs {
		for c := range channels {
			var s float64
			m := mean[c]
			for _, v := range d[c*hw : (c+1)*hw] {
				s += (float64(v) - m) * (float64(v) - m)
			}
			variance[c] += s
		}
	}
	for c := range variance {
		variance[c] /= count
	}
	return mean, variance
}

// Reestimate re-estimates BatchNorm statistics on the calibration inputs xs ([3,size,size]
// each, preprocessed) for a backbone whose BatchNorm is already folded into its convolutions.
// It does what a BatchNorm layer with gamma 1 and beta 0 does in training mode: for each
// convolution in forward order it measures every output channel's mean and variance over
// the batch (images x positions), folds the standardisation into the convolution
// (w' = w/sqrt(var+eps), b' = (b-mean)/sqrt(var+eps)) and goes on with the standardised
// output, so later layers are calibrated on what the earlier, recalibrated ones produce.
func Reestimate(ctx context.Context, bb *resnet.Backbone, xs [][]float32, size, workers int) error {
	if len(xs) < 2 {
		return fmt.Errorf("backbone: re-estimating BatchNorm needs at least 2 calibration images, got %d", len(xs))
	}
	convs := bb.Arch.Convs()
	_, _, err := forwardBatch(ctx, bb, xs, size, workers, func(i int, outs [][]float32, hw int) error {
		c := convs[i]
		mean, variance := channelStats(outs, c.Out, hw)
		w := bb.Convs[i]
		k := c.In * c.Kernel * c.Kernel
		scale := make([]float32, c.Out)
		shift := make([]float32, c.Out)
		for o := range c.Out {
			inv := 1 / math.Sqrt(variance[o]+BNEps)
			scale[o], shift[o] = float32(inv), float32(-mean[o]*inv)
			for j := range w.Weight[o*k : (o+1)*k] {
				w.Weight[o*k+j] = float32(float64(w.Weight[o*k+j]) * inv)
			}
			w.Bias[o] = float32((float64(w.Bias[o]) - mean[o]) * inv)
		}
		for _, d := range outs {
			for o := range c.Out {
				a, b := scale[o], shift[o]
				p := d[o*hw : (o+1)*hw]
				for j, v := range p {
					p[j] = v*a + b
				}
			}
		}
		return nil
	})
	return err
}
