package modelfile

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"

	"pneumoscan/model"
	"pneumoscan/onnxpb"
	"pneumoscan/resnet"
)

// Tensor is a float32 tensor read from a model.
type Tensor struct {
	Dims []int
	Data []float32
}

// FloatTensors returns every float32 initializer of m by name, plus the output of every
// DequantizeLinear node whose inputs are all initializers (an int8 weight), dequantized.
func FloatTensors(m *onnxpb.ModelProto) (map[string]Tensor, error) {
	g := m.GetGraph()
	if g == nil {
		return nil, errors.New("modelfile: model has no graph")
	}
	inits := make(map[string]*onnxpb.TensorProto, len(g.Initializer))
	out := make(map[string]Tensor)
	for _, t := range g.Initializer {
		inits[t.Name] = t
		if t.DataType != int32(onnxpb.TensorProto_FLOAT) {
			continue
		}
		dims, err := Dims(t)
		if err != nil {
			return nil, err
		}
		data, err := Floats(t)
		if err != nil {
			return nil, err
		}
		out[t.Name] = Tensor{Dims: dims, Data: data}
	}
	for _, n := range g.Node {
		if n.OpType != "DequantizeLinear" || len(n.Input) < 2 || len(n.Output) != 1 {
			continue
		}
		if inits[n.Input[0]] == nil || inits[n.Input[1]] == nil {
			continue // an activation, not a stored weight
		}
		t, err := dequantizeNode(n, inits)
		if err != nil {
			return nil, err
		}
		out[n.Output[0]] = t
	}
	return out, nil
}

var blockName = regexp.MustCompile(`^layer([1-4])\.(\d+)\.conv1\.weight$`)

// InferArch reads the architecture from the weight names and shapes of a contract model.
func InferArch(ts map[string]Tensor) (resnet.Arch, error) {
	var a resnet.Arch
	stem, ok := ts["conv1.weight"]
	if !ok || len(stem.Dims) != 4 {
		return a, errors.New("modelfile: no conv1.weight [O,3,7,7]: not a pneumoscan ResNet contract model")
	}
	a.StemWidth = stem.Dims[0]
	for name := range ts {
		m := blockName.FindStringSubmatch(name)
		if m == nil {
			continue
		}
		s, _ := strconv.Atoi(m[1])
		b, err := strconv.Atoi(m[2])
		if err != nil || b > 1000 {
			return a, fmt.Errorf("modelfile: bad block name %q", name)
		}
		a.Blocks[s-1] = max(a.Blocks[s-1], b+1)
	}
	for s := range 4 {
		first := fmt.Sprintf("layer%d.0.", s+1)
		c1, c3 := ts[first+"conv1.weight"], ts[first+"conv3.weight"]
		if len(c1.Dims) != 4 || len(c3.Dims) != 4 {
			return a, fmt.Errorf("modelfile: missing %sconv1/conv3 weights", first)
		}
		a.Widths[s] = c1.Dims[0]
	}
	if a.Widths[0] > 0 {
		a.Expansion = ts["layer1.0.conv3.weight"].Dims[0] / a.Widths[0]
	}
	return a, a.Validate()
}

// Weights reads the backbone and head of a contract model, float32 or int8.
func Weights(m *onnxpb.ModelProto) (*resnet.Backbone, *resnet.Head, error) {
	ts, err := FloatTensors(m)
	if err != nil {
		return nil, nil, err
	}
	arch, err := InferArch(ts)
	if err != nil {
		return nil, nil, err
	}
	b := &resnet.Backbone{Arch: arch}
	for _, c := range arch.Convs() {
		w, okW := ts[c.Name+".weight"]
		bias, okB := ts[c.Name+".bias"]
		if !okW || !okB {
			return nil, nil, fmt.Errorf("modelfile: %s.weight or .bias is missing", c.Name)
		}
		if !slices.Equal(w.Dims, c.WeightShape()) {
			return nil, nil, fmt.Errorf("modelfile: %s.weight has shape %v, want %v: %w", c.Name, w.Dims, c.WeightShape(), resnet.ErrShape)
		}
		b.Convs = append(b.Convs, resnet.ConvWeights{Weight: w.Data, Bias: bias.Data})
	}
	if err := b.Check(); err != nil {
		return nil, nil, err
	}
	h, err := HeadFrom(ts)
	if err != nil {
		return nil, nil, err
	}
	return b, h, nil
}

// HeadFrom takes the head from tensors read by FloatTensors (of a contract model or of any
// ONNX file holding the four head initializers by their contract names).
func HeadFrom(ts map[string]Tensor) (*resnet.Head, error) {
	for _, name := range []string{model.HeadHiddenWeight, model.HeadHiddenBias, model.HeadOutWeight, model.HeadOutBias} {
		if _, ok := ts[name]; !ok {
			return nil, fmt.Errorf("modelfile: no %s initializer", name)
		}
	}
	fc1, fc2 := ts[model.HeadHiddenWeight], ts[model.HeadOutWeight]
	if len(fc1.Dims) != 2 || len(fc2.Dims) != 2 || fc2.Dims[1] != 1 {
		return nil, fmt.Errorf("modelfile: head weights have shapes %v and %v, want [F,U] and [U,1]: %w", fc1.Dims, fc2.Dims, resnet.ErrShape)
	}
	h := &resnet.Head{
		Features: fc1.Dims[0], Hidden: fc1.Dims[1],
		FC1: fc1.Data, B1: ts[model.HeadHiddenBias].Data,
		FC2: fc2.Data, B2: ts[model.HeadOutBias].Data,
	}
	return h, h.Check()
}

// ReadHead reads the contract's head (the four head initializers, dequantized where the file
// stores them as int8) without decoding the rest of the weights, so a page that only needs
// the head for Grad-CAM does not hold a second copy of the backbone.
func ReadHead(m *onnxpb.ModelProto) (*resnet.Head, error) {
	g := m.GetGraph()
	if g == nil {
		return nil, errors.New("modelfile: model has no graph")
	}
	want := map[string]bool{model.HeadHiddenWeight: true, model.HeadHiddenBias: true, model.HeadOutWeight: true, model.HeadOutBias: true}
	inits := make(map[string]*onnxpb.TensorProto, len(g.Initializer))
	ts := make(map[string]Tensor, len(want))
	for _, t := range g.Initializer {
		inits[t.Name] = t
		if !want[t.Name] || t.DataType != int32(onnxpb.TensorProto_FLOAT) {
			continue
		}
		data, err := Floats(t)
		if err != nil {
			return nil, fmt.Errorf("model head: %w", err)
		}
		ts[t.Name] = Tensor{Dims: mustDims(t.Dims), Data: data}
	}
	for _, n := range g.Node {
		if n.OpType != "DequantizeLinear" || len(n.Output) != 1 || !want[n.Output[0]] {
			continue
		}
		t, err := dequantizeNode(n, inits)
		if err != nil {
			return nil, fmt.Errorf("model head: %w", err)
		}
		ts[n.Output[0]] = t
	}
	return HeadFrom(ts)
}
