package head

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// batchGraph is the training graph for one batch size. Its inputs and weights
// are tensors over plain slices: the caller fills x, y, w and mask in place,
// and the weight tensors share the backing arrays of the run's Params, so an
// Adam update is seen by the next step without copying.
type batchGraph struct {
	g             *G.ExprGraph
	vm            G.VM
	x, y, w, mask []float64
	loss          *G.Node
	grads         G.Nodes
}

func newBatchGraph(cfg Config, p Params, b int) (*batchGraph, error) {
	bg := &batchGraph{
		g: G.NewGraph(),
		x: make([]float64, b*cfg.Dim), y: make([]float64, b), w: make([]float64, b),
		mask: make([]float64, b*cfg.Units),
	}
	g := bg.g
	in := func(name string, data []float64, shape ...int) *G.Node {
		t := tensor.New(tensor.WithShape(shape...), tensor.WithBacking(data))
		return G.NewTensor(g, tensor.Float64, len(shape), G.WithShape(shape...), G.WithValue(t), G.WithName(name))
	}
	x := in("x", bg.x, b, cfg.Dim)
	y := in("y", bg.y, b, 1)
	w := in("w", bg.w, b, 1)
	mask := in("mask", bg.mask, b, cfg.Units)
	w1 := in("w1", p.W1, cfg.Dim, cfg.Units)
	b1 := in("b1", p.B1, 1, cfg.Units)
	w2 := in("w2", p.W2, cfg.Units, 1)
	b2 := in("b2", p.B2, 1, 1)

	var err error
	must := func(n *G.Node, e error) *G.Node {
		if err == nil && e != nil {
			err = e
		}
		return n
	}
	h := must(G.Mul(x, w1))
	h = must(G.BroadcastAdd(h, b1, nil, []byte{0}))
	h = must(G.Rectify(h))
	h = must(G.HadamardProd(h, mask))
	z := must(G.Mul(h, w2))
	z = must(G.BroadcastAdd(z, b2, nil, []byte{0}))
	// Weighted BCE on logits: w * (softplus(z) - y z), stable for any z.
	per := must(G.Sub(must(G.Softplus(z)), must(G.HadamardProd(y, z))))
	data := must(G.Mean(must(G.HadamardProd(w, per))))
	cost := data
	if cfg.L2 > 0 {
		l2 := G.NewConstant(cfg.L2)
		cost = must(G.Add(data, must(G.Mul(l2, must(G.Sum(must(G.Square(w1))))))))
	}
	if err != nil {
		return nil, fmt.Errorf("head: building the graph: %w", err)
	}
	if bg.grads, err = G.Grad(cost, w1, b1, w2, b2); err != nil {
		return nil, fmt.Errorf("head: gradients: %w", err)
	}
	bg.loss = data
	bg.vm = G.NewTapeMachine(g)
	return bg, nil
}

// step runs the graph on the current inputs and weights and returns the data
// loss and the gradients of the full cost, in Params order.
func (bg *batchGraph) step() (float64, [4][]float64, error) {
	var grads [4][]float64
	defer bg.vm.Reset()
	if err := bg.vm.RunAll(); err != nil {
		return 0, grads, fmt.Errorf("head: training step: %w", err)
	}
	loss, ok := bg.loss.Value().Data().(float64)
	if !ok {
		return 0, grads, fmt.Errorf("head: loss is %T, want float64", bg.loss.Value().Data())
	}
	for i, n := range bg.grads {
		d, ok := n.Value().Data().([]float64)
		if !ok {
			// A [1,1] gradient may come back as a scalar.
			if s, ok2 := n.Value().Data().(float64); ok2 {
				d = []float64{s}
			} else {
				return 0, grads, fmt.Errorf("head: gradient %d is %T", i, n.Value().Data())
			}
		}
		grads[i] = d
	}
	return loss, grads, nil
}
