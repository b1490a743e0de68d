package gpu

import (
	"fmt"

	"github.com/gomlx/gomlx/backends"
	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/layers/batchnorm"
)

// Calibrator recomputes BatchNorm's running averages ("precise BN"): it runs the network
// in training mode, where every BatchNorm normalises with the batch's statistics and folds
// them into its averages, over images given by the caller. GoMLX's own
// batchnorm.UpdateAverages does the same but compiles two new graphs on every call; this
// one compiles its graph once and is cheap enough to run before every validation.
type Calibrator struct {
	net   Net
	batch int
	ctx   *context.Context
	exec  *context.Exec
}

// NewCalibrator prepares the graph for batches of batch images on ctx's variables.
func NewCalibrator(backend backends.Backend, ctx *context.Context, n Net, batch int) (*Calibrator, error) {
	if err := n.Validate(); err != nil {
		return nil, err
	}
	if batch <= 0 {
		return nil, fmt.Errorf("gpu: calibration batch %d must be positive", batch)
	}
	// Dropout and the L2 term of a training graph do not touch BatchNorm; the logits are
	// returned only so that the graph has an output.
	exec, err := context.NewExec(backend, ctx.Checked(false), func(ctx *context.Context, x *Node) *Node {
		ctx.SetTraining(x.Graph(), true)
		return n.Logits(ctx, x)
	})
	if err != nil {
		return nil, fmt.Errorf("gpu: calibration graph: %w", err)
	}
	return &Calibrator{net: n, batch: batch, ctx: ctx, exec: exec}, nil
}

// Recompute resets every BatchNorm average and rebuilds it from x (float32 [N, 3, S, S]
// flattened; whole batches only, the remainder is ignored so that one graph serves). The
// averages are exact means of the batch statistics for up to 1/(1-momentum) = 10 batches
// (GoMLX debiases the moving average by the number of updates), a moving average after.
func (c *Calibrator) Recompute(x []float32) error {
	s := c.net.Size
	per := 3 * s * s
	n := len(x) / per
	if n < c.batch {
		return fmt.Errorf("gpu: calibration needs at least one batch of %d images, got %d", c.batch, n)
	}
	if err := batchnorm.ResetWeights(c.ctx); err != nil {
		return fmt.Errorf("gpu: reset BatchNorm averages: %w", err)
	}
	for start := 0; start+c.batch <= n; start += c.batch {
		in := tensors.FromFlatDataAndDimensions(x[start*per:(start+c.batch)*per], c.batch, 3, s, s)
		out, err := c.exec.Exec(in)
		in.FinalizeAll()
		if err != nil {
			return fmt.Errorf("gpu: calibration: %w", err)
		}
		for _, o := range out {
			o.FinalizeAll()
		}
	}
	return nil
}
