package finetune

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"pneumoscan/resnet"
	"pneumoscan/training/backbone"
	"pneumoscan/training/head"
)

// Net is the trainable part: the last Stages stages of a ResNet (BatchNorm folded into each
// convolution's weight and bias) on cached inputs [C, S, S], global average pooling and the
// head Dense(Units, ReLU) -> Dropout -> Dense(1).
type Net struct {
	Arch   resnet.Arch
	Stages int // 1..4 trainable stages
	Size   int // the backbone's input side
	C, S   int // input channels and side (the frozen part's output)
	Units  int
	stem   bool  // the stem convolution trains too (NewFullNet): the input is the image
	convs  []int // indices into Arch.Convs() of the trainable convolutions, forward order
	blocks []resnet.Bottleneck
}

// NewNet describes the last stages trainable stages of arch for input side size.
func NewNet(arch resnet.Arch, stages, size, units int) (*Net, error) {
	if stages < 1 || stages > 4 {
		return nil, fmt.Errorf("finetune: %d trainable stages: want 1..4", stages)
	}
	if units <= 0 {
		return nil, fmt.Errorf("finetune: %d head units", units)
	}
	c, s, err := backbone.PrefixShape(arch, 4-stages, size)
	if err != nil {
		return nil, err
	}
	n := &Net{Arch: arch, Stages: stages, Size: size, C: c, S: s, Units: units}
	frozen := backbone.PrefixBlocks(arch, 4-stages)
	for bi, blk := range arch.Bottlenecks() {
		if bi < frozen {
			continue
		}
		n.blocks = append(n.blocks, blk)
		n.convs = append(n.convs, blk.Conv1, blk.Conv2, blk.Conv3)
		if blk.Downsample >= 0 {
			n.convs = append(n.convs, blk.Downsample)
		}
	}
	return n, nil
}

// NewFullNet is the whole network trainable, stem included, on images [3, size, size]: the
// full fine-tune that benchtrain measures.
func NewFullNet(arch resnet.Arch, size, units int) (*Net, error) {
	n, err := NewNet(arch, 4, size, units)
	if err != nil {
		return nil, err
	}
	n.stem, n.C, n.S = true, 3, size
	n.convs = append([]int{resnet.Stem}, n.convs...)
	return n, nil
}

// Frozen is the number of frozen stages after the stem (-1: the stem trains too).
func (n *Net) Frozen() int {
	if n.stem {
		return -1
	}
	return 4 - n.Stages
}

// InDim is the number of input values per image.
func (n *Net) InDim() int { return n.C * n.S * n.S }

// Shapes lists the trainable tensors' shapes in State order: each trainable convolution's
// weight [Out, In, k, k] and bias [Out], then the head's W1 [Features, Units], B1 [Units],
// W2 [Units, 1], B2 [1, 1].
func (n *Net) Shapes() [][]int {
	convs := n.Arch.Convs()
	var out [][]int
	for _, i := range n.convs {
		out = append(out, convs[i].WeightShape(), []int{convs[i].Out})
	}
	f := n.Arch.Features()
	return append(out, []int{f, n.Units}, []int{1, n.Units}, []int{n.Units, 1}, []int{1, 1})
}

// InitParams takes the trainable convolutions from bb (folded weights) and the head's from
// hp (W1, B1, W2, B2 as head.Params holds them).
func (n *Net) InitParams(bb *resnet.Backbone, w1, b1, w2, b2 []float64) ([][]float32, error) {
	if bb.Arch != n.Arch {
		return nil, fmt.Errorf("finetune: backbone architecture %+v, net %+v", bb.Arch, n.Arch)
	}
	var ps [][]float32
	for _, i := range n.convs {
		ps = append(ps, append([]float32(nil), bb.Convs[i].Weight...), append([]float32(nil), bb.Convs[i].Bias...))
	}
	for _, h := range [][]float64{w1, b1, w2, b2} {
		p := make([]float32, len(h))
		for i, v := range h {
			p[i] = float32(v)
		}
		ps = append(ps, p)
	}
	return ps, n.check(ps)
}

func (n *Net) check(ps [][]float32) error {
	shapes := n.Shapes()
	if len(ps) != len(shapes) {
		return fmt.Errorf("finetune: %d tensors, the net has %d", len(ps), len(shapes))
	}
	for i, s := range shapes {
		want := 1
		for _, d := range s {
			want *= d
		}
		if len(ps[i]) != want {
			return fmt.Errorf("finetune: tensor %d has %d values, want %v", i, len(ps[i]), s)
		}
	}
	return nil
}

// Backbone returns bb with the trainable convolutions replaced by ps's, a new backbone.
func (n *Net) Backbone(bb *resnet.Backbone, ps [][]float32) (*resnet.Backbone, error) {
	if err := n.check(ps); err != nil {
		return nil, err
	}
	out := &resnet.Backbone{Arch: bb.Arch, Convs: append([]resnet.ConvWeights(nil), bb.Convs...)}
	for k, i := range n.convs {
		out.Convs[i] = resnet.ConvWeights{Weight: append([]float32(nil), ps[2*k]...), Bias: append([]float32(nil), ps[2*k+1]...)}
	}
	return out, out.Check()
}

// Head returns ps's head as the contract's float32 head, the standardisation norm (empty:
// none) folded into its first layer (head.Params.Head), so it takes raw pooled features.
func (n *Net) Head(ps [][]float32, norm head.Norm) (*resnet.Head, error) {
	if err := n.check(ps); err != nil {
		return nil, err
	}
	k := len(ps) - 4
	f64 := func(v []float32) []float64 {
		out := make([]float64, len(v))
		for i, x := range v {
			out[i] = float64(x)
		}
		return out
	}
	p := head.Params{W1: f64(ps[k]), B1: f64(ps[k+1]), W2: f64(ps[k+2]), B2: f64(ps[k+3])}
	return p.Head(norm, n.Arch.Features(), n.Units)
}

// graph is the gorgonia graph for one batch size. Inputs are tensors over plain slices
// filled in place; the parameter tensors share the backing arrays of the State's Params, so
// an Adam update is seen by the next run without copying.
type graph struct {
	g             *G.ExprGraph
	vm            G.VM
	b             int
	x, y, w, mask []float32
	loss, logits  *G.Node
	pooled        *G.Node
	lastPooled    []float32 // an evaluation graph's pooled features of its last run, b x Features
	grads         G.Nodes
}

// newGraph builds the forward pass (and with train, the class-weighted BCE, L2 on W1 and
// the gradients) for batches of b images.
// norm (empty: none) standardises the pooled features before the head, as constants.
func (n *Net) newGraph(ps [][]float32, norm head.Norm, b int, l2 float64, train bool) (*graph, error) {
	if err := n.check(ps); err != nil {
		return nil, err
	}
	f := n.Arch.Features()
	if len(norm.Mean) > 0 && (len(norm.Mean) != f || len(norm.Std) != f) {
		return nil, fmt.Errorf("finetune: standardisation of %d/%d features, the net pools %d", len(norm.Mean), len(norm.Std), f)
	}
	gr := &graph{g: G.NewGraph(), b: b, x: make([]float32, b*n.InDim()), y: make([]float32, b), w: make([]float32, b), mask: make([]float32, b*n.Units)}
	g := gr.g
	in := func(name string, data []float32, shape ...int) *G.Node {
		t := tensor.New(tensor.WithShape(shape...), tensor.WithBacking(data))
		return G.NewTensor(g, tensor.Float32, len(shape), G.WithShape(shape...), G.WithValue(t), G.WithName(name))
	}
	var err error
	must := func(v *G.Node, e error) *G.Node {
		if err == nil && e != nil {
			err = e
		}
		return v
	}
	shapes := n.Shapes()
	params := make(G.Nodes, len(ps))
	for i := range ps {
		params[i] = in(fmt.Sprintf("p%d", i), ps[i], shapes[i]...)
	}
	convs := n.Arch.Convs()
	pi := map[int]int{}
	for k, i := range n.convs {
		pi[i] = k
	}
	conv := func(i int, x *G.Node) *G.Node {
		c, k := convs[i], pi[i]
		wt := params[2*k]
		bias := must(G.Reshape(params[2*k+1], tensor.Shape{1, c.Out, 1, 1}))
		if err != nil {
			return nil
		}
		y := must(G.Conv2d(x, wt, tensor.Shape{c.Kernel, c.Kernel}, []int{c.Pad, c.Pad}, []int{c.Stride, c.Stride}, []int{1, 1}))
		if err != nil {
			return nil
		}
		return must(G.BroadcastAdd(y, bias, nil, []byte{0, 2, 3}))
	}
	x := in("x", gr.x, b, n.C, n.S, n.S)
	if n.stem {
		x = must(G.Rectify(conv(resnet.Stem, x)))
		if err == nil {
			// Padding never wins: gorgonia's max pool looks at the window inside the map.
			x = must(G.MaxPool2D(x, tensor.Shape{3, 3}, []int{1, 1}, []int{2, 2}))
		}
	}
	for _, blk := range n.blocks {
		if err != nil {
			break
		}
		y := must(G.Rectify(conv(blk.Conv1, x)))
		y = must(G.Rectify(conv(blk.Conv2, y)))
		y = conv(blk.Conv3, y)
		short := x
		if blk.Downsample >= 0 {
			short = conv(blk.Downsample, x)
		}
		if err != nil {
			break
		}
		x = must(G.Rectify(must(G.Add(y, short))))
	}
	if err != nil {
		return nil, fmt.Errorf("finetune: building the graph: %w", err)
	}
	// Global average pooling as Reshape + Mean: gorgonia's GlobalAveragePool2D has no gradient.
	sh := x.Shape()
	pooled := must(G.Mean(must(G.Reshape(x, tensor.Shape{b, sh[1], sh[2] * sh[3]})), 2))
	k := len(ps) - 4
	w1, b1, w2, b2 := params[k], params[k+1], params[k+2], params[k+3]
	// The standardisation (x - mean) / std enters through the first layer's weights,
	// W = W1 / std (per row) and b = B1 - mean W, so that no operation writes over the
	// pooled features (gorgonia reuses an operand's memory where it can) and the raw pooled
	// values stay readable.
	wEff, bEff := w1, b1
	if len(norm.Mean) > 0 {
		mean, inv := make([]float32, f), make([]float32, f)
		for i := range f {
			mean[i], inv[i] = float32(norm.Mean[i]), float32(1/norm.Std[i])
		}
		wEff = must(G.BroadcastHadamardProd(w1, in("norm.invstd", inv, f, 1), nil, []byte{1}))
		bEff = must(G.Sub(b1, must(G.Mul(in("norm.mean", mean, 1, f), wEff))))
	}
	h := must(G.Mul(pooled, wEff))
	h = must(G.BroadcastAdd(h, bEff, nil, []byte{0}))
	h = must(G.Rectify(h))
	if train {
		h = must(G.HadamardProd(h, in("mask", gr.mask, b, n.Units)))
	}
	z := must(G.Mul(h, w2))
	z = must(G.BroadcastAdd(z, b2, nil, []byte{0}))
	if err != nil {
		return nil, fmt.Errorf("finetune: building the graph: %w", err)
	}
	gr.logits, gr.pooled = z, pooled
	if train {
		y := in("y", gr.y, b, 1)
		w := in("w", gr.w, b, 1)
		// Weighted BCE on logits: w * (softplus(z) - y z), stable for any z.
		per := must(G.Sub(must(G.Softplus(z)), must(G.HadamardProd(y, z))))
		data := must(G.Mean(must(G.HadamardProd(w, per))))
		cost := data
		if l2 > 0 {
			cost = must(G.Add(data, must(G.Mul(G.NewConstant(float32(l2)), must(G.Sum(must(G.Square(w1))))))))
		}
		if err != nil {
			return nil, fmt.Errorf("finetune: building the loss: %w", err)
		}
		if gr.grads, err = G.Grad(cost, params...); err != nil {
			return nil, fmt.Errorf("finetune: gradients: %w", err)
		}
		gr.loss = data
	}
	gr.vm = G.NewTapeMachine(g)
	return gr, nil
}

// run runs the graph on the current inputs and returns the logits (b) and, for a training
// graph, the data loss and a copy of the gradients in Params order.
func (gr *graph) run() (logits []float32, loss float64, grads [][]float32, err error) {
	defer gr.vm.Reset()
	if err := gr.vm.RunAll(); err != nil {
		return nil, 0, nil, fmt.Errorf("finetune: step: %w", err)
	}
	logits = append([]float32(nil), gr.logits.Value().Data().([]float32)...)
	if gr.loss == nil {
		gr.lastPooled = append(gr.lastPooled[:0], gr.pooled.Value().Data().([]float32)...)
		return logits, 0, nil, nil
	}
	switch v := gr.loss.Value().Data().(type) {
	case float32:
		loss = float64(v)
	default:
		return nil, 0, nil, fmt.Errorf("finetune: loss is %T", v)
	}
	grads = make([][]float32, len(gr.grads))
	for i, g := range gr.grads {
		switch d := g.Value().Data().(type) {
		case []float32:
			grads[i] = append([]float32(nil), d...)
		case float32:
			grads[i] = []float32{d}
		default:
			return nil, 0, nil, fmt.Errorf("finetune: gradient %d is %T", i, d)
		}
	}
	return logits, loss, grads, nil
}
