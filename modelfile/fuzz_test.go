package modelfile

import (
	"testing"

	"pneumoscan/internal/testmodel"
	"pneumoscan/model"
	"pneumoscan/onnxpb"
)

// FuzzReadModel feeds the bytes of a model file to everything that reads one before an
// engine loads it: Unmarshal, the metadata (model.ParseMetadata), the head Grad-CAM needs
// (ReadHead), every weight (FloatTensors, Weights) and the canonical rewrites
// (Canonicalize), starting from the tiny test model in its float32 and int8 forms. None may
// panic or allocate what the file only declares; what they accept must be consistent: tensors
// hold as many values as their shape says, and a canonical graph has no DequantizeLinear or
// Gemm left.
func FuzzReadModel(f *testing.F) {
	tiny := testmodel.Tiny(f)
	f.Add(tiny)
	mp, err := Unmarshal(tiny)
	if err != nil {
		f.Fatal(err)
	}
	q, err := Quantize(mp)
	if err != nil {
		f.Fatal(err)
	}
	int8Bytes, err := Marshal(q)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(int8Bytes)
	f.Add([]byte{})
	f.Add([]byte("\xff\xd8\xff\xe0 this is a jpeg"))
	one, err := Marshal(&onnxpb.ModelProto{IrVersion: 8, Graph: &onnxpb.GraphProto{
		Node: []*onnxpb.NodeProto{{OpType: "DequantizeLinear", Input: []string{"q", "s"}, Output: []string{"w"}}},
		Initializer: []*onnxpb.TensorProto{
			{Name: "q", Dims: []int64{2, 3}, DataType: int32(onnxpb.TensorProto_INT8), RawData: []byte{1, 2, 3, 4, 5, 6}},
			FloatTensor("s", []int{1}, []float32{0.5}),
		},
	}})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(one)
	// Found by review, not by the fuzzer (its 10 minutes ran 381,275 inputs): an int8 weight
	// whose shape alone declares 2^31-1 x 8 elements made intValues allocate 64 GiB before
	// comparing the shape with the 6 bytes stored, and the process died out of memory.
	huge, err := Marshal(&onnxpb.ModelProto{IrVersion: 8, Graph: &onnxpb.GraphProto{
		Node: []*onnxpb.NodeProto{{OpType: "DequantizeLinear", Input: []string{"q", "s"}, Output: []string{"w"}}},
		Initializer: []*onnxpb.TensorProto{
			{Name: "q", Dims: []int64{1<<31 - 1, 8}, DataType: int32(onnxpb.TensorProto_INT8), RawData: []byte{1, 2, 3, 4, 5, 6}},
			FloatTensor("s", []int{1}, []float32{0.5}),
		},
	}})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(huge)

	f.Fuzz(func(t *testing.T, data []byte) {
		mp, err := Unmarshal(data)
		if err != nil {
			return
		}
		// What ParseMetadata accepts is FuzzParseMetadata's to check; here, that reading the
		// metadata of any file does not panic.
		model.ParseMetadata(mp.MetadataProps)
		if h, err := ReadHead(mp); err == nil {
			if err := h.Check(); err != nil {
				t.Fatalf("ReadHead accepted a head that fails its check: %v", err)
			}
		}
		if ts, err := FloatTensors(mp); err == nil {
			for name, x := range ts {
				n := 1
				for _, d := range x.Dims {
					n *= d
				}
				if len(x.Data) != n {
					t.Fatalf("tensor %q: %d values for shape %v", name, len(x.Data), x.Dims)
				}
			}
		}
		Weights(mp) // its parts are checked above and below; here, that it does not panic
		if err := Canonicalize(mp); err == nil {
			for _, n := range mp.Graph.Node {
				if n.OpType == "DequantizeLinear" || n.OpType == "Gemm" {
					t.Fatalf("%s left in a canonical graph", NodeName(n))
				}
			}
		}
	})
}
