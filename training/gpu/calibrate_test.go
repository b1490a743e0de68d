package gpu

import (
	"testing"

	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
)

// After recalibrating on a single batch, BatchNorm's averages are that batch's statistics,
// so evaluation-mode logits of the batch must equal training-mode (batch statistics) ones;
// before, with the initial averages (mean 0, variance 1), they must not.
func TestCalibratorOneBatch(t *testing.T) {
	b := cpuBackend(t)
	n := tiny
	n.Dropout = 0 // training-mode logits without dropout noise
	ctx := context.New()
	if err := ctx.SetRNGStateFromSeed(5); err != nil {
		t.Fatal(err)
	}
	const batch = 4
	x := randomInput(n, batch, 9)
	pred, err := NewPredictor(b, ctx, n)
	if err != nil {
		t.Fatal(err)
	}
	before, err := pred.Logits(x)
	if err != nil {
		t.Fatal(err)
	}
	trainExec, err := context.NewExec(b, ctx.Checked(false), func(ctx *context.Context, x *Node) *Node {
		ctx.SetTraining(x.Graph(), true)
		return n.Logits(ctx, x)
	})
	if err != nil {
		t.Fatal(err)
	}
	in := tensors.FromFlatDataAndDimensions(x, batch, 3, n.Size, n.Size)
	out, err := trainExec.Exec(in)
	if err != nil {
		t.Fatal(err)
	}
	want, err := tensors.CopyFlatData[float32](out[0])
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewCalibrator(b, ctx, n, batch)
	if err != nil {
		t.Fatal(err)
	}
	// Three batches' worth where only whole batches count: the first batch repeated, then
	// half a batch of other data that must be ignored.
	half := randomInput(n, batch/2, 11)
	calib := append(append(append([]float32{}, x...), x...), half...)
	if err := c.Recompute(calib); err != nil {
		t.Fatal(err)
	}
	got, err := pred.Logits(x)
	if err != nil {
		t.Fatal(err)
	}
	if d := MaxRelDiff(f64(got), f64(want)); d > 1e-4 {
		t.Errorf("after calibration: eval logits %v, batch-statistics logits %v (max rel diff %g)", got, want, d)
	}
	if d := MaxRelDiff(f64(before), f64(want)); d < 1e-2 {
		t.Errorf("before calibration eval logits %v already equal batch-statistics ones %v: the test cannot fail", before, want)
	}
	if err := c.Recompute(half); err == nil {
		t.Error("calibration with less than one batch: no error")
	}
}

func f64(v []float32) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}
