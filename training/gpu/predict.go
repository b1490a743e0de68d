package gpu

import (
	"fmt"

	"github.com/gomlx/gomlx/backends"
	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
)

// Predictor runs the network in evaluation mode (BatchNorm with running averages, no
// dropout) on the variables of a context.
type Predictor struct {
	net  Net
	exec *context.Exec
}

// NewPredictor compiles nothing yet: graphs are built per batch size on first use. It uses
// the variables already in ctx (a trained model) and creates the missing ones (tests).
func NewPredictor(backend backends.Backend, ctx *context.Context, n Net) (*Predictor, error) {
	if err := n.Validate(); err != nil {
		return nil, err
	}
	exec, err := context.NewExec(backend, ctx.Checked(false), func(ctx *context.Context, x *Node) *Node {
		return n.Logits(ctx, x)
	})
	if err != nil {
		return nil, fmt.Errorf("gpu: evaluation graph: %w", err)
	}
	return &Predictor{net: n, exec: exec}, nil
}

// Logits returns the logits of a batch x, float32 [batch, 3, Size, Size] flattened.
func (p *Predictor) Logits(x []float32) ([]float32, error) {
	per := 3 * p.net.Size * p.net.Size
	if len(x) == 0 || len(x)%per != 0 {
		return nil, fmt.Errorf("gpu: batch has %d values, not a multiple of 3x%dx%d", len(x), p.net.Size, p.net.Size)
	}
	in := tensors.FromFlatDataAndDimensions(x, len(x)/per, 3, p.net.Size, p.net.Size)
	defer in.FinalizeAll()
	out, err := p.exec.Exec(in)
	if err != nil {
		return nil, fmt.Errorf("gpu: evaluation: %w", err)
	}
	defer out[0].FinalizeAll()
	return tensors.CopyFlatData[float32](out[0])
}
