package modelfile

import (
	"fmt"

	"pneumoscan/onnxpb"
	"pneumoscan/quant"
)

// dequantizeNode computes the output of a DequantizeLinear node whose inputs are all
// initializers: x = (q - zero_point) * scale, per tensor (one scale) or per axis. It is the
// one reader of quantized weights: FloatTensors and Canonicalize both use it.
func dequantizeNode(n *onnxpb.NodeProto, inits map[string]*onnxpb.TensorProto) (Tensor, error) {
	if len(n.Input) < 2 || len(n.Input) > 3 || len(n.Output) != 1 {
		return Tensor{}, fmt.Errorf("dequantize: %s: want 2 or 3 inputs and 1 output", NodeName(n))
	}
	var in [3]*onnxpb.TensorProto
	for i, name := range n.Input {
		if name == "" {
			continue
		}
		if in[i] = inits[name]; in[i] == nil {
			return Tensor{}, fmt.Errorf("dequantize: %s: input %q is not an initializer; weights cannot be dequantized at run time", NodeName(n), name)
		}
	}
	x, scaleT, zpT := in[0], in[1], in[2]
	q, err := intValues(x)
	if err != nil {
		return Tensor{}, fmt.Errorf("dequantize: %s: %w", NodeName(n), err)
	}
	if scaleT.DataType != int32(onnxpb.TensorProto_FLOAT) {
		return Tensor{}, fmt.Errorf("dequantize: %s: scale %q is %v, want FLOAT", NodeName(n), scaleT.Name, onnxpb.TensorProto_DataType(scaleT.DataType))
	}
	scale, err := Floats(scaleT)
	if err != nil {
		return Tensor{}, fmt.Errorf("dequantize: %s: %w", NodeName(n), err)
	}
	var zp []int32
	if zpT != nil {
		if zpT.DataType != x.DataType {
			return Tensor{}, fmt.Errorf("dequantize: %s: zero point type %v differs from data type %v", NodeName(n),
				onnxpb.TensorProto_DataType(zpT.DataType), onnxpb.TensorProto_DataType(x.DataType))
		}
		if zp, err = intValues(zpT); err != nil {
			return Tensor{}, fmt.Errorf("dequantize: %s: %w", NodeName(n), err)
		}
		if len(zp) != len(scale) {
			return Tensor{}, fmt.Errorf("dequantize: %s: %d zero points for %d scales", NodeName(n), len(zp), len(scale))
		}
	}
	dims := mustDims(x.Dims)
	if len(scale) == 1 { // per tensor (per axis over a size-1 axis is the same thing)
		return Tensor{Dims: dims, Data: quant.Affine(q, zp, scale, []int{1, len(q)}, 0)}, nil
	}
	axis := normAxis(AttrInt(n, "axis", 1), len(dims))
	if axis < 0 {
		return Tensor{}, fmt.Errorf("dequantize: %s: axis %d out of range for rank %d", NodeName(n), AttrInt(n, "axis", 1), len(dims))
	}
	if dims[axis] != len(scale) {
		return Tensor{}, fmt.Errorf("dequantize: %s: %d scales for axis %d of size %d", NodeName(n), len(scale), axis, dims[axis])
	}
	return Tensor{Dims: dims, Data: quant.Affine(q, zp, scale, dims, axis)}, nil
}
