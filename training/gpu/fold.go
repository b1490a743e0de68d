package gpu

import (
	"fmt"
	"math"

	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"pneumoscan/resnet"
)

// Fold reads the trained variables of n from ctx and returns them in inference form: each
// BatchNorm folded into its convolution with its running averages,
//
//	w' = w * gamma / sqrt(var + eps),  b' = beta - mean * gamma / sqrt(var + eps),
//
// the kernels turned from GoMLX's [k, k, in, out] into ONNX's [out, in, k, k], and the head
// as the contract stores it. The result is what modelfile.Build takes.
func Fold(ctx *context.Context, n Net) (*resnet.Backbone, *resnet.Head, error) {
	convs := n.Arch.Convs()
	b := &resnet.Backbone{Arch: n.Arch, Convs: make([]resnet.ConvWeights, len(convs))}
	for i, c := range convs {
		cctx := ctx.In(c.Name)
		w, err := variable(cctx, "weight", c.WeightLen())
		if err != nil {
			return nil, nil, err
		}
		bn := cctx.In(bnScope)
		var p [4][]float32
		for j, name := range []string{"scale", "offset", "mean", "variance"} {
			if p[j], err = variable(bn, name, c.Out); err != nil {
				return nil, nil, err
			}
		}
		gamma, beta, mean, variance := p[0], p[1], p[2], p[3]
		cw := resnet.ConvWeights{Weight: make([]float32, c.WeightLen()), Bias: make([]float32, c.Out)}
		k := c.Kernel
		for o := range c.Out {
			s := float64(gamma[o]) / math.Sqrt(float64(variance[o])+bnEpsilon)
			cw.Bias[o] = float32(float64(beta[o]) - float64(mean[o])*s)
			for ci := range c.In {
				for ky := range k {
					for kx := range k {
						src := ((ky*k+kx)*c.In+ci)*c.Out + o
						cw.Weight[((o*c.In+ci)*k+ky)*k+kx] = float32(float64(w[src]) * s)
					}
				}
			}
		}
		b.Convs[i] = cw
	}
	f := n.Arch.Features()
	hctx := ctx.In(headScope)
	h := &resnet.Head{Features: f, Hidden: n.Hidden}
	var err error
	if h.FC1, err = variable(hctx.In("fc1"), "weight", f*n.Hidden); err != nil {
		return nil, nil, err
	}
	if h.B1, err = variable(hctx.In("fc1"), "bias", n.Hidden); err != nil {
		return nil, nil, err
	}
	if h.FC2, err = variable(hctx.In("fc2"), "weight", n.Hidden); err != nil {
		return nil, nil, err
	}
	if h.B2, err = variable(hctx.In("fc2"), "bias", 1); err != nil {
		return nil, nil, err
	}
	if err := b.Check(); err != nil {
		return nil, nil, err
	}
	return b, h, h.Check()
}

// variable copies a float32 variable of the scope of ctx to the host, checking its size.
func variable(ctx *context.Context, name string, want int) ([]float32, error) {
	v := ctx.InspectVariableInScope(name)
	if v == nil {
		return nil, fmt.Errorf("gpu: variable %s/%s does not exist (model not built or trained?)", ctx.Scope(), name)
	}
	t, err := v.Value()
	if err != nil {
		return nil, fmt.Errorf("gpu: variable %s/%s: %w", ctx.Scope(), name, err)
	}
	data, err := tensors.CopyFlatData[float32](t)
	if err != nil {
		return nil, fmt.Errorf("gpu: variable %s/%s: %w", ctx.Scope(), name, err)
	}
	if len(data) != want {
		return nil, fmt.Errorf("gpu: variable %s/%s has %d values, want %d: %w", ctx.Scope(), name, len(data), want, resnet.ErrShape)
	}
	return data, nil
}
