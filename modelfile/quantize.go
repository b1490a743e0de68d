package modelfile

import (
	"errors"
	"fmt"

	"pneumoscan/onnxpb"
	"pneumoscan/quant"
)

// Suffixes of the initializers that replace a quantized weight W: W_quantized (int8),
// W_scale (float32, one per channel), W_zero_point (int8 zeros); a DequantizeLinear node
// named W_dequantize outputs W, so every consumer and every reader by name is unchanged.
const (
	QuantizedSuffix = "_quantized"
	ScaleSuffix     = "_scale"
	ZeroPointSuffix = "_zero_point"
)

// ErrNothingToQuantize is returned for a model without float Conv or MatMul weights, for
// example one already quantized.
var ErrNothingToQuantize = errors.New("no float32 Conv or MatMul weight initializers to quantize")

// Quantize returns a copy of m whose Conv weights (per output channel, axis 0) and MatMul
// weights [K, N] (per output column, axis 1) are stored as int8 with a float scale behind a
// DequantizeLinear node. Biases and everything else stay float32.
func Quantize(m *onnxpb.ModelProto) (*onnxpb.ModelProto, error) {
	if m.GetGraph() == nil {
		return nil, errors.New("modelfile: model has no graph")
	}
	for _, op := range m.OpsetImport {
		if op.Domain == "" && op.Version < Opset {
			return nil, fmt.Errorf("modelfile: opset %d has no per-axis DequantizeLinear (need %d)", op.Version, Opset)
		}
	}
	out := onnxpb.Clone(m)
	g := out.Graph
	inits := make(map[string]int, len(g.Initializer))
	for i, t := range g.Initializer {
		inits[t.Name] = i
	}
	var dq []*onnxpb.NodeProto
	done := map[string]bool{}
	for _, n := range g.Node {
		var axis int
		switch n.OpType {
		case "Conv":
			axis = 0
		case "MatMul":
			axis = 1
		default:
			continue
		}
		if len(n.Input) < 2 || done[n.Input[1]] {
			continue
		}
		i, ok := inits[n.Input[1]]
		if !ok || g.Initializer[i].DataType != int32(onnxpb.TensorProto_FLOAT) {
			continue // computed or already quantized
		}
		w := g.Initializer[i]
		dims, err := Dims(w)
		if err != nil {
			return nil, err
		}
		if n.OpType == "MatMul" && len(dims) != 2 {
			return nil, fmt.Errorf("modelfile: MatMul weight %q has shape %v, want [K, N]", w.Name, dims)
		}
		if len(dims) == 0 || dims[axis] == 0 {
			return nil, fmt.Errorf("modelfile: %s weight %q has shape %v", n.OpType, w.Name, dims)
		}
		data, err := Floats(w)
		if err != nil {
			return nil, err
		}
		q, scale := quant.PerChannel(data, dims, axis)
		g.Initializer[i] = Int8Tensor(w.Name+QuantizedSuffix, dims, q)
		g.Initializer = append(g.Initializer,
			FloatTensor(w.Name+ScaleSuffix, []int{len(scale)}, scale),
			Int8Tensor(w.Name+ZeroPointSuffix, []int{len(scale)}, make([]int8, len(scale))))
		dq = append(dq, &onnxpb.NodeProto{
			OpType: "DequantizeLinear", Name: w.Name + "_dequantize",
			Input:     []string{w.Name + QuantizedSuffix, w.Name + ScaleSuffix, w.Name + ZeroPointSuffix},
			Output:    []string{w.Name},
			Attribute: []*onnxpb.AttributeProto{intAttr("axis", axis)},
		})
		done[w.Name] = true
	}
	if len(dq) == 0 {
		return nil, fmt.Errorf("modelfile: %w", ErrNothingToQuantize)
	}
	// The dequantize nodes read only initializers, so putting them first keeps the node
	// list topologically sorted, as ONNX requires.
	g.Node = append(dq, g.Node...)
	return out, nil
}
