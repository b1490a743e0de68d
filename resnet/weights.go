package resnet

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// ConvWeights are one convolution's parameters with BatchNorm folded in.
type ConvWeights struct {
	Weight []float32 // [Out, In, Kernel, Kernel], row-major
	Bias   []float32 // [Out]
}

// Backbone is an architecture and the weights of each of its convolutions, Convs[i] belonging
// to Arch.Convs()[i].
type Backbone struct {
	Arch  Arch
	Convs []ConvWeights
}

// Check reports the first weight whose length does not match the architecture.
func (b *Backbone) Check() error {
	if err := b.Arch.Validate(); err != nil {
		return err
	}
	convs := b.Arch.Convs()
	if len(b.Convs) != len(convs) {
		return fmt.Errorf("resnet: backbone has %d convolutions, the architecture %d: %w", len(b.Convs), len(convs), ErrShape)
	}
	for i, c := range convs {
		w := b.Convs[i]
		if len(w.Weight) != c.WeightLen() {
			return fmt.Errorf("resnet: %s.weight has %d elements, want %v = %d: %w", c.Name, len(w.Weight), c.WeightShape(), c.WeightLen(), ErrShape)
		}
		if len(w.Bias) != c.Out {
			return fmt.Errorf("resnet: %s.bias has %d elements, want %d: %w", c.Name, len(w.Bias), c.Out, ErrShape)
		}
	}
	return nil
}

// Head is the classifier on the pooled features: Relu(x FC1 + B1) FC2 + B2, then a sigmoid.
// FC1 is [Features, Hidden] and FC2 [Hidden, 1], laid out for MatMul (K x N), as the model
// contract stores them.
type Head struct {
	Features, Hidden int
	FC1, B1          []float32
	FC2, B2          []float32
}

// Check reports the first weight whose length does not match Features and Hidden.
func (h *Head) Check() error {
	if h.Features <= 0 || h.Hidden <= 0 {
		return fmt.Errorf("resnet: head sizes %d x %d must be positive", h.Features, h.Hidden)
	}
	for _, t := range []struct {
		name      string
		got, want int
	}{
		{"head.fc1.weight", len(h.FC1), h.Features * h.Hidden},
		{"head.fc1.bias", len(h.B1), h.Hidden},
		{"head.fc2.weight", len(h.FC2), h.Hidden},
		{"head.fc2.bias", len(h.B2), 1},
	} {
		if t.got != t.want {
			return fmt.Errorf("resnet: %s has %d elements, want %d (features %d, hidden %d): %w",
				t.name, t.got, t.want, h.Features, h.Hidden, ErrShape)
		}
	}
	return nil
}

// BranchScale shrinks the initial weights of the last convolution of every residual branch:
// with BatchNorm folded as identity, each block adds its branch to the running sum, and at
// full He scale 16 such sums grow the activations several-fold (Fixup/SkipInit do the same).
const BranchScale = 0.2

// RandomBackbone is a deterministic random initialisation for seed: He-normal weights
// (std sqrt(2/fan_in)), the last convolution of each branch scaled by BranchScale, the
// downsample at unit gain (it carries the sum on), zero biases. Activations stay O(1) through
// all blocks, so a demonstration model's outputs are not saturated.
func RandomBackbone(a Arch, seed uint64) (*Backbone, error) {
	if err := a.Validate(); err != nil {
		return nil, err
	}
	r := newNormal(seed)
	convs := a.Convs()
	gain := make([]float64, len(convs))
	for i := range gain {
		gain[i] = 2 // ReLU follows
	}
	for _, b := range a.Bottlenecks() {
		gain[b.Conv3] = 2 * BranchScale * BranchScale
		if b.Downsample >= 0 {
			gain[b.Downsample] = 1
		}
	}
	bb := &Backbone{Arch: a, Convs: make([]ConvWeights, len(convs))}
	for i, c := range convs {
		std := math.Sqrt(gain[i] / float64(c.In*c.Kernel*c.Kernel))
		bb.Convs[i] = ConvWeights{Weight: r.fill(c.WeightLen(), std), Bias: make([]float32, c.Out)}
	}
	return bb, nil
}

// RandomHead is a deterministic random head: He-normal FC1, FC2 at unit gain, zero biases.
func RandomHead(features, hidden int, seed uint64) (*Head, error) {
	if features <= 0 || hidden <= 0 {
		return nil, fmt.Errorf("resnet: head sizes %d x %d must be positive", features, hidden)
	}
	r := newNormal(seed)
	return &Head{
		Features: features, Hidden: hidden,
		FC1: r.fill(features*hidden, math.Sqrt(2/float64(features))), B1: make([]float32, hidden),
		FC2: r.fill(hidden, math.Sqrt(1/float64(hidden))), B2: make([]float32, 1),
	}, nil
}

// normal draws standard normal numbers by Box-Muller from PCG, both fully specified
// algorithms, so a seed gives the same weights (and model file bytes) on every run.
type normal struct {
	r     *rand.Rand
	spare float64
	has   bool
}

func newNormal(seed uint64) *normal {
	return &normal{r: rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))}
}

func (n *normal) next() float64 {
	if n.has {
		n.has = false
		return n.spare
	}
	u1 := 1 - n.r.Float64() // (0, 1]: log stays finite
	u2 := n.r.Float64()
	rad := math.Sqrt(-2 * math.Log(u1))
	n.spare, n.has = rad*math.Sin(2*math.Pi*u2), true
	return rad * math.Cos(2*math.Pi*u2)
}

func (n *normal) fill(count int, std float64) []float32 {
	out := make([]float32, count)
	for i := range out {
		out[i] = float32(n.next() * std)
	}
	return out
}
