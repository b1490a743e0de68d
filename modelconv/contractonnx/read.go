package contractonnx

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"

	"pneumoscan/model"
	"pneumoscan/onnxpb"
	"pneumoscan/quant"
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
		return nil, errors.New("contractonnx: model has no graph")
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
		qt, st := inits[n.Input[0]], inits[n.Input[1]]
		if qt == nil || st == nil {
			continue
		}
		t, err := dequantize(n, qt, st, inits)
		if err != nil {
			return nil, err
		}
		out[n.Output[0]] = t
	}
	return out, nil
}

func dequantize(n *onnxpb.NodeProto, qt, st *onnxpb.TensorProto, inits map[string]*onnxpb.TensorProto) (Tensor, error) {
	dims, err := Dims(qt)
	if err != nil {
		return Tensor{}, err
	}
	q, err := Int8s(qt)
	if err != nil {
		return Tensor{}, fmt.Errorf("DequantizeLinear %q: %w", n.Name, err)
	}
	scale, err := Floats(st)
	if err != nil {
		return Tensor{}, fmt.Errorf("DequantizeLinear %q: %w", n.Name, err)
	}
	if len(n.Input) > 2 {
		if zt := inits[n.Input[2]]; zt != nil {
			z, err := Int8s(zt)
			if err != nil {
				return Tensor{}, fmt.Errorf("DequantizeLinear %q: %w", n.Name, err)
			}
			for _, v := range z {
				if v != 0 {
					return Tensor{}, fmt.Errorf("DequantizeLinear %q: zero point %d, only symmetric (0) is supported", n.Name, v)
				}
			}
		}
	}
	axis := 1 // ONNX's default
	for _, a := range n.Attribute {
		if a.Name == "axis" {
			axis = int(a.I)
		}
	}
	if axis < 0 {
		axis += len(dims)
	}
	if len(scale) == 1 && len(dims) > 0 { // per-tensor: one scale for all
		axis, scale = 0, repeat(scale[0], dims[0])
	}
	if axis < 0 || axis >= len(dims) || dims[axis] != len(scale) {
		return Tensor{}, fmt.Errorf("DequantizeLinear %q: %d scales do not fit shape %v on axis %d", n.Name, len(scale), dims, axis)
	}
	return Tensor{Dims: dims, Data: quant.Dequantize(q, scale, dims, axis)}, nil
}

func repeat(v float32, n int) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = v
	}
	return out
}

var blockName = regexp.MustCompile(`^layer([1-4])\.(\d+)\.conv1\.weight$`)

// InferArch reads the architecture from the weight names and shapes of a contract model.
func InferArch(ts map[string]Tensor) (resnet.Arch, error) {
	var a resnet.Arch
	stem, ok := ts["conv1.weight"]
	if !ok || len(stem.Dims) != 4 {
		return a, errors.New("contractonnx: no conv1.weight [O,3,7,7]: not a pneumoscan ResNet contract model")
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
			return a, fmt.Errorf("contractonnx: bad block name %q", name)
		}
		a.Blocks[s-1] = max(a.Blocks[s-1], b+1)
	}
	for s := range 4 {
		first := fmt.Sprintf("layer%d.0.", s+1)
		c1, c3 := ts[first+"conv1.weight"], ts[first+"conv3.weight"]
		if len(c1.Dims) != 4 || len(c3.Dims) != 4 {
			return a, fmt.Errorf("contractonnx: missing %sconv1/conv3 weights", first)
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
			return nil, nil, fmt.Errorf("contractonnx: %s.weight or .bias is missing", c.Name)
		}
		if !equalDims(w.Dims, c.WeightShape()) {
			return nil, nil, fmt.Errorf("contractonnx: %s.weight has shape %v, want %v: %w", c.Name, w.Dims, c.WeightShape(), resnet.ErrShape)
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
			return nil, fmt.Errorf("contractonnx: no %s initializer", name)
		}
	}
	fc1, fc2 := ts[model.HeadHiddenWeight], ts[model.HeadOutWeight]
	if len(fc1.Dims) != 2 || len(fc2.Dims) != 2 || fc2.Dims[1] != 1 {
		return nil, fmt.Errorf("contractonnx: head weights have shapes %v and %v, want [F,U] and [U,1]: %w", fc1.Dims, fc2.Dims, resnet.ErrShape)
	}
	h := &resnet.Head{
		Features: fc1.Dims[0], Hidden: fc1.Dims[1],
		FC1: fc1.Data, B1: ts[model.HeadHiddenBias].Data,
		FC2: fc2.Data, B2: ts[model.HeadOutBias].Data,
	}
	return h, h.Check()
}

func equalDims(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
