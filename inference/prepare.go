package inference

import (
	"fmt"
	"sort"

	"pneumoscan/modelfile"
	"pneumoscan/onnxpb"
)

// Supported lists the operators onnx-go v0.5.0's gorgonnx backend registers, less Gemm, which
// modelfile.Canonicalize rewrites. Anything else is refused before onnx-go sees it, with the operator named,
// instead of failing deep inside its graph builder.
var Supported = map[string]bool{
	"Abs": true, "Add": true, "BatchNormalization": true, "Ceil": true, "Concat": true,
	"Constant": true, "Conv": true, "Cos": true, "Cube": true, "Div": true, "Dropout": true,
	"Exp": true, "Expm1": true, "Flatten": true, "Floor": true, "GlobalAveragePool": true,
	"Identity": true, "ImageScaler": true, "Inverse": true, "LeakyRelu": true, "Log": true,
	"Log1p": true, "Log2": true, "MatMul": true, "Max": true, "MaxPool": true, "Min": true,
	"Mul": true, "Neg": true, "Relu": true, "Reshape": true, "Sigmoid": true, "Sign": true,
	"Sin": true, "Softmax": true, "Softplus": true, "Sqrt": true, "Square": true,
	"Squeeze": true, "Sub": true, "Tanh": true, "Transpose": true, "Unsqueeze": true,
}

// prepare puts a contract model into the canonical float form (modelfile.Canonicalize) and
// refuses, with a specific error, what onnx-go v0.5.0 cannot run: operators outside
// Supported, grouped convolutions (onnx-go ignores group), non-float tensors left over.
func prepare(mp *onnxpb.ModelProto) error {
	if err := modelfile.Canonicalize(mp); err != nil {
		return err
	}
	return check(mp.GetGraph())
}

// intIndexInputs are the operator inputs that legitimately hold int64 tensors (shapes, axes).
var intIndexInputs = map[string]int{"Reshape": 1, "Squeeze": 1, "Unsqueeze": 1}

func check(g *onnxpb.GraphProto) error {
	inits := map[string]*onnxpb.TensorProto{}
	for _, t := range g.Initializer {
		inits[t.Name] = t
	}
	intOK := map[string]bool{}
	for _, n := range g.Node {
		if n.Domain != "" && n.Domain != "ai.onnx" {
			return fmt.Errorf("inference: %s: operator domain %q is not supported by onnx-go", modelfile.NodeName(n), n.Domain)
		}
		if !Supported[n.OpType] {
			return fmt.Errorf("inference: %s: operator %s is not supported by onnx-go", modelfile.NodeName(n), n.OpType)
		}
		if n.OpType == "Conv" {
			if g := modelfile.AttrInt(n, "group", 1); g != 1 {
				return fmt.Errorf("inference: %s: group=%d; onnx-go ignores group and would compute a wrong result", modelfile.NodeName(n), g)
			}
		}
		for _, a := range n.Attribute {
			if a.Type == onnxpb.AttributeProto_GRAPH || a.Type == onnxpb.AttributeProto_GRAPHS || a.Type == onnxpb.AttributeProto_TENSORS {
				return fmt.Errorf("inference: %s: attribute %q of type %v is not supported by onnx-go", modelfile.NodeName(n), a.Name, a.Type)
			}
		}
		if i, ok := intIndexInputs[n.OpType]; ok && i < len(n.Input) {
			intOK[n.Input[i]] = true
		}
	}
	names := make([]string, 0, len(inits))
	for name := range inits {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		t := inits[name]
		switch {
		case t.DataType == int32(onnxpb.TensorProto_FLOAT):
		case t.DataType == int32(onnxpb.TensorProto_INT64) && intOK[name]:
		default:
			return fmt.Errorf("inference: initializer %q is %v; onnx-go needs FLOAT (was it a DequantizeLinear input left unfolded?)",
				name, onnxpb.TensorProto_DataType(t.DataType))
		}
	}
	for _, v := range g.Input {
		if et := v.GetType().GetTensorType().GetElemType(); et != int32(onnxpb.TensorProto_FLOAT) {
			return fmt.Errorf("inference: graph input %q is %v, want FLOAT", v.Name, onnxpb.TensorProto_DataType(et))
		}
	}
	return nil
}
