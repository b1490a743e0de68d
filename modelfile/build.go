// Package modelfile writes and reads pneumoscan contract models (see package model): a
// ResNet backbone with BatchNorm folded into its convolutions, the classifier head, and the
// metadata, as an ONNX graph that onnx-go can run (no Gemm, an Identity in front of the
// "features" output), in float32 or with int8 per-channel weights behind DequantizeLinear.
package modelfile

import (
	"fmt"

	"pneumoscan/model"
	"pneumoscan/onnxpb"
	"pneumoscan/resnet"
)

// The ONNX versions written: opset 13 is the first with a per-axis DequantizeLinear; IR 8
// is what opset 13 tools expect. onnx-go checks neither.
const (
	Opset     = 13
	IRVersion = 8
	Producer  = "pneumoscan-modelconv"
)

// Build assembles the float32 contract model for a backbone, head and metadata. The input
// size comes from md.Preprocess.Size.
func Build(b *resnet.Backbone, h *resnet.Head, md model.Metadata) (*onnxpb.ModelProto, error) {
	if err := b.Check(); err != nil {
		return nil, err
	}
	if err := h.Check(); err != nil {
		return nil, err
	}
	if h.Features != b.Arch.Features() {
		return nil, fmt.Errorf("modelfile: head takes %d features, the backbone gives %d: %w", h.Features, b.Arch.Features(), resnet.ErrShape)
	}
	size := md.Preprocess.Size
	fsize := b.Arch.FeatureSize(size)
	if fsize < 1 {
		return nil, fmt.Errorf("modelfile: input size %d is too small for a ResNet", size)
	}

	g := &graph{GraphProto: &onnxpb.GraphProto{Name: "pneumoscan"}}
	convs := b.Arch.Convs()
	conv := func(i int, in string) string {
		c, w := convs[i], b.Convs[i]
		g.init(FloatTensor(c.Name+".weight", c.WeightShape(), w.Weight))
		g.init(FloatTensor(c.Name+".bias", []int{c.Out}, w.Bias))
		out := c.Name + ".out"
		g.node("Conv", c.Name, []string{in, c.Name + ".weight", c.Name + ".bias"}, out,
			ints("kernel_shape", c.Kernel, c.Kernel), ints("strides", c.Stride, c.Stride),
			ints("pads", c.Pad, c.Pad, c.Pad, c.Pad), ints("dilations", 1, 1), intAttr("group", 1))
		return out
	}
	relu := func(in, out string) string {
		g.node("Relu", out, []string{in}, out)
		return out
	}

	x := relu(conv(resnet.Stem, model.InputName), "relu")
	g.node("MaxPool", "maxpool", []string{x}, "maxpool",
		ints("kernel_shape", 3, 3), ints("strides", 2, 2), ints("pads", 1, 1, 1, 1))
	x = "maxpool"
	for _, blk := range b.Arch.Bottlenecks() {
		y := relu(conv(blk.Conv1, x), blk.Name+".relu1")
		y = relu(conv(blk.Conv2, y), blk.Name+".relu2")
		y = conv(blk.Conv3, y)
		short := x
		if blk.Downsample >= 0 {
			short = conv(blk.Downsample, x)
		}
		g.node("Add", blk.Name+".add", []string{y, short}, blk.Name+".add")
		x = relu(blk.Name+".add", blk.Name+".out")
	}
	// onnx-go never refreshes an output that is also consumed inside the graph, so the
	// pooling reads x and "features" is a copy used by nothing else.
	g.node("Identity", model.FeaturesName, []string{x}, model.FeaturesName)
	g.node("GlobalAveragePool", "avgpool", []string{x}, "avgpool")
	g.node("Flatten", "flatten", []string{"avgpool"}, "flatten", intAttr("axis", 1))

	// MatMul + Add, not Gemm: onnx-go's Gemm writes into its bias.
	g.init(FloatTensor(model.HeadHiddenWeight, []int{h.Features, h.Hidden}, h.FC1))
	g.init(FloatTensor(model.HeadHiddenBias, []int{h.Hidden}, h.B1))
	g.init(FloatTensor(model.HeadOutWeight, []int{h.Hidden, 1}, h.FC2))
	g.init(FloatTensor(model.HeadOutBias, []int{1}, h.B2))
	g.node("MatMul", "head.fc1", []string{"flatten", model.HeadHiddenWeight}, "head.fc1.mm")
	g.node("Add", "head.fc1.add", []string{"head.fc1.mm", model.HeadHiddenBias}, "head.fc1.out")
	relu("head.fc1.out", "head.relu")
	g.node("MatMul", "head.fc2", []string{"head.relu", model.HeadOutWeight}, "head.fc2.mm")
	g.node("Add", "head.fc2.add", []string{"head.fc2.mm", model.HeadOutBias}, "logit")
	g.node("Sigmoid", model.ProbName, []string{"logit"}, model.ProbName)

	g.Input = []*onnxpb.ValueInfoProto{ValueInfo(model.InputName, 1, 3, size, size)}
	g.Output = []*onnxpb.ValueInfoProto{
		ValueInfo(model.ProbName, 1, 1),
		ValueInfo(model.FeaturesName, 1, h.Features, fsize, fsize),
	}
	mp := &onnxpb.ModelProto{
		IrVersion:    IRVersion,
		OpsetImport:  []*onnxpb.OperatorSetIdProto{{Domain: "", Version: Opset}},
		ProducerName: Producer,
		Graph:        g.GraphProto,
	}
	if err := model.SetMetadata(mp, md); err != nil {
		return nil, err
	}
	return mp, nil
}

type graph struct{ *onnxpb.GraphProto }

func (g *graph) init(t *onnxpb.TensorProto) { g.Initializer = append(g.Initializer, t) }

func (g *graph) node(op, name string, in []string, out string, attrs ...*onnxpb.AttributeProto) {
	g.Node = append(g.Node, &onnxpb.NodeProto{OpType: op, Name: name, Input: in, Output: []string{out}, Attribute: attrs})
}

func ints(name string, v ...int) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: name, Type: onnxpb.AttributeProto_INTS, Ints: dims64(v)}
}

func intAttr(name string, v int) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: name, Type: onnxpb.AttributeProto_INT, I: int64(v)}
}

// ValueInfo describes a FLOAT tensor value of a fixed shape, a graph input or output.
func ValueInfo(name string, dims ...int) *onnxpb.ValueInfoProto {
	shape := &onnxpb.TensorShapeProto{}
	for _, d := range dims {
		shape.Dim = append(shape.Dim, &onnxpb.TensorShapeProto_Dimension{
			Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: int64(d)}})
	}
	return &onnxpb.ValueInfoProto{Name: name, Type: &onnxpb.TypeProto{
		Value: &onnxpb.TypeProto_TensorType{TensorType: &onnxpb.TypeProto_Tensor{
			ElemType: int32(onnxpb.TensorProto_FLOAT), Shape: shape}}}}
}
