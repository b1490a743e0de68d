// Package convnet is a lean forward pass for the contract's convolutional graph (package
// model): convolutions run as matrix products (package sgemm) on weights packed once at load,
// ReLUs are fused into the convolution or addition before them, and every activation buffer
// is allocated once, shared between values whose lifetimes do not overlap, so that an
// inference allocates nothing but the features it returns.
//
// It runs the operators a ResNet contract model uses in the canonical float form (modelfile.Canonicalize) — Conv, Relu,
// MaxPool, Add, GlobalAveragePool, Flatten, MatMul, Sigmoid, Identity — and refuses any other
// by name. Pure Go: the same code natively and in the browser.
package convnet

import (
	"fmt"
	"slices"

	"pneumoscan/sgemm"
)

// Net is one loaded model. It is not safe for concurrent use: its buffers hold one
// inference at a time.
type Net struct {
	steps      []step
	slots      [][]float32 // activation buffers, indexed by value.slot
	input      *value
	prob       *value
	features   *value
	inputShape []int
	col        []float32 // im2col or Winograd input buffer, shared by every convolution
	wino       []float32 // Winograd products
	ws         sgemm.Workspace
}

// value is one tensor of the graph: its shape (batch 1 included) and the buffer holding it.
type value struct {
	name  string
	shape []int
	slot  int
	size  int
	// alias is the value whose buffer this one shares (Flatten, Identity, fused Relu); nil
	// for a value with its own.
	alias *value
}

func (v *value) root() *value {
	for v.alias != nil {
		v = v.alias
	}
	return v
}

func (v *value) data(n *Net) []float32 {
	r := v.root()
	return n.slots[r.slot][:r.size]
}

// step is one operator in execution order.
type step interface {
	run(n *Net)
	inputs() []*value
	output() *value
}

// InputShape is the model's input shape, [1,3,S,S].
func (n *Net) InputShape() []int { return slices.Clone(n.inputShape) }

// FeaturesShape is the shape of the features output, e.g. [1,2048,7,7].
func (n *Net) FeaturesShape() []int { return slices.Clone(n.features.shape) }

// Run computes P(pneumonia) and the feature maps for one input tensor of InputShape, with the
// same meaning as model.Net.Run. The returned features are the caller's own.
func (n *Net) Run(input []float32) (prob float32, features []float32, err error) {
	if want := n.input.size; len(input) != want {
		return 0, nil, fmt.Errorf("convnet: input has %d values, want %d for shape %v", len(input), want, n.inputShape)
	}
	copy(n.input.data(n), input)
	for _, s := range n.steps {
		s.run(n)
	}
	return n.prob.data(n)[0], slices.Clone(n.features.data(n)), nil
}

// Bytes is the memory the net holds: packed weights, activation buffers and scratch space.
func (n *Net) Bytes() int {
	total := len(n.col) + len(n.wino) + n.ws.Size()
	for _, s := range n.slots {
		total += len(s)
	}
	for _, s := range n.steps {
		if c, ok := s.(*conv); ok {
			total += c.w.Size()
		}
		if w, ok := s.(*winograd); ok {
			for _, u := range w.u {
				total += u.Size()
			}
		}
		if m, ok := s.(*matmul); ok {
			total += len(m.w)
		}
	}
	return 4 * total
}

// shapeLen is the element count of a shape.
func shapeLen(s []int) int {
	n := 1
	for _, d := range s {
		n *= d
	}
	return n
}
