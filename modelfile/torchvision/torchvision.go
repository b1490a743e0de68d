// Package torchvision imports the backbone of a torchvision ResNet exported to ONNX, as made
// by torch.onnx.export(torchvision.models.resnet50(weights=...).eval(), ...).
//
// The exporter folds BatchNorm into Conv in eval mode and then names initializers
// anonymously ("onnx::Conv_497"), so weights are matched by graph structure: the Conv nodes in
// topological order, checked one by one against the architecture's convolution list. Exports
// that keep BatchNormalization nodes are folded here. The final classifier (Gemm/fc) is dropped.
package torchvision

import (
	"errors"
	"fmt"
	"math"
	"os"
	"slices"

	"pneumoscan/modelfile"
	"pneumoscan/onnxpb"
	"pneumoscan/resnet"
)

// ImportFile reads a torchvision ResNet ONNX export and returns its BN-folded backbone.
func ImportFile(path string, arch resnet.Arch) (*resnet.Backbone, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	m, err := modelfile.Unmarshal(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	b, err := Import(m, arch)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return b, nil
}

// Import returns the BN-folded backbone of a decoded torchvision ResNet export.
func Import(m *onnxpb.ModelProto, arch resnet.Arch) (*resnet.Backbone, error) {
	if err := arch.Validate(); err != nil {
		return nil, err
	}
	g := m.GetGraph()
	if g == nil {
		return nil, errors.New("ONNX model has no graph")
	}
	consts := map[string]*onnxpb.TensorProto{}
	for _, t := range g.Initializer {
		consts[t.Name] = t
	}
	consumers := map[string][]*onnxpb.NodeProto{}
	var convNodes []*onnxpb.NodeProto
	for _, n := range g.Node {
		for _, in := range n.Input {
			consumers[in] = append(consumers[in], n)
		}
		switch n.OpType {
		case "Constant":
			for _, a := range n.Attribute {
				if a.Name == "value" && a.T != nil && len(n.Output) == 1 {
					consts[n.Output[0]] = a.T
				}
			}
		case "Identity":
			// The exporter stores equal tensors once and aliases the rest through Identity
			// (the zero biases of a randomly initialised network, for instance).
			if len(n.Input) == 1 && len(n.Output) == 1 && consts[n.Input[0]] != nil {
				consts[n.Output[0]] = consts[n.Input[0]]
			}
		case "Conv":
			convNodes = append(convNodes, n)
		}
	}
	convs := arch.Convs()
	if len(convNodes) != len(convs) {
		return nil, fmt.Errorf("the graph has %d Conv nodes, %s has %d: not a matching torchvision ResNet export",
			len(convNodes), describe(arch), len(convs))
	}
	// A block's downsample reads the block input, as its conv1 does; the exporter emits it
	// after conv3, but match on that structure rather than on the order alone (in layer1.0
	// of ResNet50 conv3 and the downsample have the same shape).
	for _, blk := range arch.Bottlenecks() {
		if blk.Downsample < 0 {
			continue
		}
		x := dataInput(convNodes[blk.Conv1])
		if dataInput(convNodes[blk.Conv3]) == x && dataInput(convNodes[blk.Downsample]) != x {
			convNodes[blk.Conv3], convNodes[blk.Downsample] = convNodes[blk.Downsample], convNodes[blk.Conv3]
		}
		if dataInput(convNodes[blk.Downsample]) != x {
			return nil, fmt.Errorf("%s: the downsample convolution does not read the block input: not a torchvision bottleneck ResNet", blk.Name)
		}
	}

	b := &resnet.Backbone{Arch: arch, Convs: make([]resnet.ConvWeights, len(convs))}
	for i, c := range convs {
		w, err := importConv(c, convNodes[i], consts, consumers)
		if err != nil {
			return nil, fmt.Errorf("%s (Conv node %q): %w", c.Name, convNodes[i].Name, err)
		}
		b.Convs[i] = w
	}
	return b, b.Check()
}

func describe(a resnet.Arch) string {
	if a == resnet.ResNet50 {
		return "a ResNet50"
	}
	return fmt.Sprintf("the architecture %+v", a)
}

func dataInput(n *onnxpb.NodeProto) string {
	if len(n.Input) == 0 {
		return ""
	}
	return n.Input[0]
}

func importConv(c resnet.Conv, n *onnxpb.NodeProto, consts map[string]*onnxpb.TensorProto, consumers map[string][]*onnxpb.NodeProto) (resnet.ConvWeights, error) {
	var w resnet.ConvWeights
	if len(n.Input) < 2 || len(n.Output) != 1 {
		return w, errors.New("Conv node without a weight input")
	}
	wt, ok := consts[n.Input[1]]
	if !ok {
		return w, fmt.Errorf("weight %q is not an initializer or constant", n.Input[1])
	}
	dims, err := modelfile.Dims(wt)
	if err != nil {
		return w, err
	}
	if !slices.Equal(dims, c.WeightShape()) {
		return w, fmt.Errorf("weight shape %v, want %v: %w", dims, c.WeightShape(), resnet.ErrShape)
	}
	if err := checkAttributes(c, n); err != nil {
		return w, err
	}
	if w.Weight, err = modelfile.Floats(wt); err != nil {
		return w, err
	}
	w.Bias = make([]float32, c.Out)
	if len(n.Input) > 2 && n.Input[2] != "" {
		bt, ok := consts[n.Input[2]]
		if !ok {
			return w, fmt.Errorf("bias %q is not an initializer or constant", n.Input[2])
		}
		if w.Bias, err = modelfile.Floats(bt); err != nil {
			return w, err
		}
		if len(w.Bias) != c.Out {
			return w, fmt.Errorf("bias has %d values, want %d: %w", len(w.Bias), c.Out, resnet.ErrShape)
		}
	}
	next := consumers[n.Output[0]]
	if len(next) == 1 && next[0].OpType == "BatchNormalization" {
		if err := foldBN(&w, c, next[0], consts); err != nil {
			return w, err
		}
	}
	return w, nil
}

// checkAttributes refuses a Conv whose geometry differs from the architecture's; a weight
// of the right shape in the wrong place would otherwise import silently.
func checkAttributes(c resnet.Conv, n *onnxpb.NodeProto) error {
	want := map[string][]int64{
		"strides":   {int64(c.Stride), int64(c.Stride)},
		"pads":      {int64(c.Pad), int64(c.Pad), int64(c.Pad), int64(c.Pad)},
		"dilations": {1, 1},
	}
	for _, a := range n.Attribute {
		switch a.Name {
		case "group":
			if a.I != 1 {
				return fmt.Errorf("group %d, want 1", a.I)
			}
		case "auto_pad":
			if s := string(a.S); s != "" && s != "NOTSET" {
				return fmt.Errorf("auto_pad %s is not supported", s)
			}
		case "strides", "pads", "dilations":
			if !slices.Equal(a.Ints, want[a.Name]) {
				return fmt.Errorf("%s %v, want %v", a.Name, a.Ints, want[a.Name])
			}
		}
	}
	// Absent strides/pads default to 1 and 0 in ONNX.
	for _, a := range n.Attribute {
		delete(want, a.Name)
	}
	if s, ok := want["strides"]; ok && s[0] != 1 {
		return fmt.Errorf("no strides attribute, want %v", s)
	}
	if p, ok := want["pads"]; ok && p[0] != 0 {
		return fmt.Errorf("no pads attribute, want %v", p)
	}
	return nil
}

// foldBN folds an inference BatchNormalization into the convolution before it:
// w' = w * s, b' = (b - mean) * s + beta, s = gamma / sqrt(var + eps).
func foldBN(w *resnet.ConvWeights, c resnet.Conv, bn *onnxpb.NodeProto, consts map[string]*onnxpb.TensorProto) error {
	if len(bn.Input) != 5 {
		return fmt.Errorf("BatchNormalization %q has %d inputs, want 5", bn.Name, len(bn.Input))
	}
	eps := 1e-5 // ONNX's default
	for _, a := range bn.Attribute {
		switch a.Name {
		case "epsilon":
			eps = float64(a.F)
		case "training_mode":
			if a.I != 0 {
				return fmt.Errorf("BatchNormalization %q is in training mode; export the model in eval mode", bn.Name)
			}
		}
	}
	var p [4][]float32 // gamma, beta, mean, var
	for i := range p {
		t, ok := consts[bn.Input[i+1]]
		if !ok {
			return fmt.Errorf("BatchNormalization %q: %q is not an initializer or constant", bn.Name, bn.Input[i+1])
		}
		v, err := modelfile.Floats(t)
		if err != nil {
			return err
		}
		if len(v) != c.Out {
			return fmt.Errorf("BatchNormalization %q: %q has %d values, want %d: %w", bn.Name, t.Name, len(v), c.Out, resnet.ErrShape)
		}
		p[i] = v
	}
	per := len(w.Weight) / c.Out
	for o := range c.Out {
		s := float64(p[0][o]) / math.Sqrt(float64(p[3][o])+eps)
		for i := o * per; i < (o+1)*per; i++ {
			w.Weight[i] = float32(float64(w.Weight[i]) * s)
		}
		w.Bias[o] = float32((float64(w.Bias[o])-float64(p[2][o]))*s + float64(p[1][o]))
	}
	return nil
}
