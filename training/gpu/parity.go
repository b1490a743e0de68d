package gpu

import (
	"fmt"
	"math/rand/v2"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"pneumoscan/resnet"
)

// Parity runs the same weights two ways on the images of x (float32 [N, 3, S, S]): the
// GoMLX network in evaluation mode on backend, and the resnet package's CPU reference
// forward on the BN-folded weights (one image per core). The weights are the seeded
// initialisation with random BatchNorm statistics and affine parameters, so that a wrong
// fold or layout shows up as a difference.
func Parity(backend backends.Backend, n Net, x []float32, seed int64) (gomlx, ref []float64, err error) {
	ctx := context.New()
	if err := ctx.SetRNGStateFromSeed(seed); err != nil {
		return nil, nil, err
	}
	p, err := NewPredictor(backend, ctx, n)
	if err != nil {
		return nil, nil, err
	}
	if _, err := p.Logits(x); err != nil { // creates and initialises the variables
		return nil, nil, err
	}
	if err := randomizeBatchNorm(ctx, n, rand.New(rand.NewPCG(uint64(seed), 7))); err != nil {
		return nil, nil, err
	}
	logits, err := p.Logits(x)
	if err != nil {
		return nil, nil, err
	}
	b, h, err := Fold(ctx, n)
	if err != nil {
		return nil, nil, err
	}
	per := 3 * n.Size * n.Size
	ref = make([]float64, len(logits))
	errs := make([]error, len(logits))
	parallel(len(logits), func(i int) {
		feat, _, err := b.Forward(append([]float32(nil), x[i*per:(i+1)*per]...), n.Size)
		if err == nil {
			ref[i], err = h.Logit(resnet.Pool(feat, n.Arch.Features()))
		}
		errs[i] = err
	})
	for _, err := range errs {
		if err != nil {
			return nil, nil, err
		}
	}
	gomlx = make([]float64, len(logits))
	for i, z := range logits {
		gomlx[i] = float64(z)
	}
	return gomlx, ref, nil
}

// randomizeBatchNorm gives every BatchNorm statistics and affine parameters in ranges that
// keep activations O(1), and the head non-zero biases.
func randomizeBatchNorm(ctx *context.Context, n Net, r *rand.Rand) error {
	set := func(c *context.Context, name string, gen func() float64) error {
		v := c.InspectVariableInScope(name)
		if v == nil {
			return fmt.Errorf("gpu: no variable %s/%s", c.Scope(), name)
		}
		t, err := v.Value()
		if err != nil {
			return err
		}
		vals := make([]float32, t.Shape().Size())
		for i := range vals {
			vals[i] = float32(gen())
		}
		return v.SetValue(tensors.FromFlatDataAndDimensions(vals, t.Shape().Dimensions...))
	}
	uniform := func(lo, hi float64) func() float64 { return func() float64 { return lo + (hi-lo)*r.Float64() } }
	normal := func(s float64) func() float64 { return func() float64 { return s * r.NormFloat64() } }
	for _, c := range n.Arch.Convs() {
		bn := ctx.In(c.Name).In(bnScope)
		// A fixed order, so that a seed always draws the same values.
		for _, v := range []struct {
			name string
			gen  func() float64
		}{{"scale", uniform(0.7, 1.3)}, {"offset", normal(0.1)}, {"mean", normal(0.1)}, {"variance", uniform(0.5, 1.5)}} {
			if err := set(bn, v.name, v.gen); err != nil {
				return err
			}
		}
	}
	for _, sc := range []string{"fc1", "fc2"} {
		if err := set(ctx.In(headScope).In(sc), "bias", normal(0.1)); err != nil {
			return err
		}
	}
	return nil
}
