// Package resnet describes the ResNet bottleneck architecture in torchvision's v1.5 layout
// (stride on the 3x3 conv2, downsample = 1x1 conv with stride + BatchNorm) and holds its
// weights in inference form, BatchNorm folded into each convolution's weight and bias.
//
// The architecture is parametrised so that tests can use a tiny network with the same layout
// as ResNet50.
package resnet

import (
	"errors"
	"fmt"
)

// Arch is a bottleneck ResNet: a 7x7 stride-2 stem convolution of StemWidth channels, a 3x3
// stride-2 max pool, then four stages of Blocks[s] bottlenecks of width Widths[s] whose output
// has Widths[s]*Expansion channels. Stages 2-4 halve the spatial size.
type Arch struct {
	StemWidth int
	Widths    [4]int
	Expansion int
	Blocks    [4]int
}

// ResNet50 is torchvision's resnet50.
var ResNet50 = Arch{StemWidth: 64, Widths: [4]int{64, 128, 256, 512}, Expansion: 4, Blocks: [4]int{3, 4, 6, 3}}

// Tiny has ResNet50's layout (bottleneck blocks, stride-2 stages, a stage of two blocks so
// identity shortcuts run too) at a few channels: 32 features, milliseconds per image. It is
// the one tiny layout of the CPU trainer's and gputrain's --arch tiny and of the tests; it is
// no model to screen with. (The CPU trainer's tiny had Blocks {1, 1, 1, 1}, gputrain's and
// the tests' Widths {2, 4, 4, 8}; with 16 features the CPU smoke run's 2-epoch head carried
// no signal to fit a temperature on, so the wider one stayed.)
var Tiny = Arch{StemWidth: 8, Widths: [4]int{4, 8, 8, 16}, Expansion: 2, Blocks: [4]int{1, 1, 2, 1}}

// Named returns the architecture a command line names: "resnet50" or "tiny".
func Named(name string) (Arch, error) {
	switch name {
	case "resnet50":
		return ResNet50, nil
	case "tiny":
		return Tiny, nil
	}
	return Arch{}, fmt.Errorf("unknown --arch %q (want resnet50 or tiny)", name)
}

// Validate reports an architecture that cannot be built.
func (a Arch) Validate() error {
	if a.StemWidth <= 0 || a.Expansion <= 0 {
		return fmt.Errorf("resnet: stem width %d and expansion %d must be positive", a.StemWidth, a.Expansion)
	}
	for s := range 4 {
		if a.Widths[s] <= 0 || a.Blocks[s] <= 0 {
			return fmt.Errorf("resnet: stage %d: width %d and block count %d must be positive", s+1, a.Widths[s], a.Blocks[s])
		}
	}
	return nil
}

// Features is the channel count of the last stage's output.
func (a Arch) Features() int { return a.Widths[3] * a.Expansion }

// Conv is one convolution of the network: square kernel, same stride and padding on both axes.
type Conv struct {
	Name   string // torchvision module name, e.g. "layer1.0.downsample.0"
	In     int
	Out    int
	Kernel int
	Stride int
	Pad    int
}

// WeightShape is the ONNX/PyTorch weight shape [Out, In, Kernel, Kernel].
func (c Conv) WeightShape() []int { return []int{c.Out, c.In, c.Kernel, c.Kernel} }

// WeightLen is the number of weight elements.
func (c Conv) WeightLen() int { return c.Out * c.In * c.Kernel * c.Kernel }

// OutSize is the output height (= width) for an input of the given size.
func (c Conv) OutSize(in int) int { return (in+2*c.Pad-c.Kernel)/c.Stride + 1 }

// Bottleneck names the convolutions of one block by their index in Arch.Convs.
type Bottleneck struct {
	Name                string // "layer2.0"
	Conv1, Conv2, Conv3 int
	Downsample          int // -1 when the block adds its input unchanged
}

// Stem is the index of the stem convolution in Arch.Convs.
const Stem = 0

// Convs lists every convolution in forward order, the order torchvision's forward runs them:
// conv1, then per block conv1, conv2, conv3 and the downsample if any.
func (a Arch) Convs() []Conv {
	convs, _ := a.layout()
	return convs
}

// Bottlenecks lists the blocks in forward order.
func (a Arch) Bottlenecks() []Bottleneck {
	_, blocks := a.layout()
	return blocks
}

func (a Arch) layout() ([]Conv, []Bottleneck) {
	convs := []Conv{{Name: "conv1", In: 3, Out: a.StemWidth, Kernel: 7, Stride: 2, Pad: 3}}
	var blocks []Bottleneck
	in := a.StemWidth
	for s := range 4 {
		w, out := a.Widths[s], a.Widths[s]*a.Expansion
		for b := range a.Blocks[s] {
			stride := 1
			if s > 0 && b == 0 {
				stride = 2
			}
			name := fmt.Sprintf("layer%d.%d", s+1, b)
			blk := Bottleneck{Name: name, Conv1: len(convs), Conv2: len(convs) + 1, Conv3: len(convs) + 2, Downsample: -1}
			convs = append(convs,
				Conv{Name: name + ".conv1", In: in, Out: w, Kernel: 1, Stride: 1},
				Conv{Name: name + ".conv2", In: w, Out: w, Kernel: 3, Stride: stride, Pad: 1},
				Conv{Name: name + ".conv3", In: w, Out: out, Kernel: 1, Stride: 1})
			// torchvision adds a downsample whenever the shape changes.
			if stride != 1 || in != out {
				blk.Downsample = len(convs)
				convs = append(convs, Conv{Name: name + ".downsample.0", In: in, Out: out, Kernel: 1, Stride: stride})
			}
			blocks = append(blocks, blk)
			in = out
		}
	}
	return convs, blocks
}

// FeatureSize is the spatial size of the last stage's output for a square input of size in.
func (a Arch) FeatureSize(in int) int {
	convs := a.Convs()
	size := convs[Stem].OutSize(in)
	size = (size+2-3)/2 + 1 // max pool 3x3, stride 2, pad 1
	for _, b := range a.Bottlenecks() {
		size = convs[b.Conv2].OutSize(size)
	}
	return size
}

// ErrShape is wrapped by every weight shape mismatch.
var ErrShape = errors.New("shape mismatch")
