package convnet

import (
	"math"
	"testing"

	"pneumoscan/modelfile"
	"pneumoscan/onnxpb"
)

func ints(name string, v ...int64) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: name, Type: onnxpb.AttributeProto_INTS, Ints: v}
}

func wave(n int, f float64) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(math.Sin(float64(i)*f)) * 0.5
	}
	return v
}

// A hand-built graph for the paths the ResNet models do not take: a Relu that cannot be
// fused (its input is read twice), Add of two computed values, a Winograd conv with an odd
// output size (onnx-go refuses asymmetric pads), a strided 5x5 conv, a 2x2 max pool, and "features" also read
// inside the graph.
func TestUnusualGraphMatchesOnnxGo(t *testing.T) {
	const s = 11
	g := &onnxpb.GraphProto{
		Name: "unusual",
		Initializer: []*onnxpb.TensorProto{
			modelfile.FloatTensor("w1", []int{5, 3, 3, 3}, wave(5*3*9, 0.7)),
			modelfile.FloatTensor("b1", []int{5}, wave(5, 1.3)),
			modelfile.FloatTensor("w2", []int{4, 5, 5, 5}, wave(4*5*25, 0.3)),
			modelfile.FloatTensor("fc", []int{4, 1}, wave(4, 2.1)),
			modelfile.FloatTensor("fcb", []int{1}, []float32{0.1}),
		},
		Node: []*onnxpb.NodeProto{
			{OpType: "Conv", Input: []string{"image", "w1", "b1"}, Output: []string{"c"},
				Attribute: []*onnxpb.AttributeProto{ints("kernel_shape", 3, 3), ints("pads", 1, 1, 1, 1)}},
			{OpType: "Relu", Input: []string{"c"}, Output: []string{"r"}},
			{OpType: "Add", Input: []string{"c", "r"}, Output: []string{"a"}},
			{OpType: "Conv", Input: []string{"a", "w2"}, Output: []string{"c2"},
				Attribute: []*onnxpb.AttributeProto{ints("kernel_shape", 5, 5), ints("strides", 2, 2), ints("pads", 2, 2, 2, 2)}},
			{OpType: "MaxPool", Input: []string{"c2"}, Output: []string{"features"},
				Attribute: []*onnxpb.AttributeProto{ints("kernel_shape", 2, 2), ints("strides", 2, 2)}},
			{OpType: "GlobalAveragePool", Input: []string{"features"}, Output: []string{"gap"}},
			{OpType: "Flatten", Input: []string{"gap"}, Output: []string{"flat"}},
			{OpType: "MatMul", Input: []string{"flat", "fc"}, Output: []string{"mm"}},
			{OpType: "Add", Input: []string{"mm", "fcb"}, Output: []string{"logit"}},
			{OpType: "Sigmoid", Input: []string{"logit"}, Output: []string{"prob"}},
		},
		Input:  []*onnxpb.ValueInfoProto{modelfile.ValueInfo("image", 1, 3, s, s)},
		Output: []*onnxpb.ValueInfoProto{modelfile.ValueInfo("prob", 1, 1), modelfile.ValueInfo("features", 1, 4, 3, 3)},
	}
	mp := &onnxpb.ModelProto{IrVersion: 8, Graph: g, OpsetImport: []*onnxpb.OperatorSetIdProto{{Version: 13}}}
	b, err := onnxpb.Marshal(mp)
	if err != nil {
		t.Fatal(err)
	}
	x := wave(3*s*s, 0.11)
	for _, wino := range []bool{true, false} {
		useWinograd = wino
		ref, net := engines(t, b)
		useWinograd = true
		if got := countWinograd(net); wino && got != 1 {
			t.Errorf("%d Winograd convolutions, want 1", got)
		}
		unfused := false
		for _, st := range net.steps {
			_, unfused = st.(*unary)
			if unfused {
				break
			}
		}
		if !unfused {
			t.Error("the Relu whose input is read twice was fused")
		}
		compare(t, "unusual", ref, net, x, 1e-6, 1e-5)
	}
}

// naiveConv is the definition of a convolution, [c,h,w] -> [o,oh,ow], pads top/left/bottom/right.
func naiveConv(x []float32, c, h, w int, wt, bias []float32, o, k, stride int, pads [4]int) ([]float32, int, int) {
	oh, ow := (h+pads[0]+pads[2]-k)/stride+1, (w+pads[1]+pads[3]-k)/stride+1
	y := make([]float32, o*oh*ow)
	for oc := 0; oc < o; oc++ {
		for oy := 0; oy < oh; oy++ {
			for ox := 0; ox < ow; ox++ {
				s := float64(bias[oc])
				for ic := 0; ic < c; ic++ {
					for ky := 0; ky < k; ky++ {
						for kx := 0; kx < k; kx++ {
							iy, ix := oy*stride-pads[0]+ky, ox*stride-pads[1]+kx
							if iy >= 0 && iy < h && ix >= 0 && ix < w {
								s += float64(x[(ic*h+iy)*w+ix]) * float64(wt[((oc*c+ic)*k+ky)*k+kx])
							}
						}
					}
				}
				y[(oc*oh+oy)*ow+ox] = float32(s)
			}
		}
	}
	return y, oh, ow
}

// Asymmetric padding, which onnx-go refuses, checked against the definition instead, on
// the Winograd, im2col and strided paths.
func TestAsymmetricPadsMatchDefinition(t *testing.T) {
	const c, h, w, o = 3, 9, 8, 5
	x := wave(c*h*w, 0.23)
	wt, bias := wave(o*c*9, 0.61), wave(o, 1.7)
	for _, tc := range []struct {
		stride int
		pads   [4]int
		wino   bool
	}{
		{1, [4]int{0, 1, 2, 1}, true}, {1, [4]int{0, 1, 2, 1}, false}, {1, [4]int{2, 0, 0, 2}, true},
		{2, [4]int{1, 0, 2, 1}, false}, {1, [4]int{0, 0, 0, 0}, true},
	} {
		want, oh, ow := naiveConv(x, c, h, w, wt, bias, o, 3, tc.stride, tc.pads)
		p := tc.pads
		g := &onnxpb.GraphProto{
			Initializer: []*onnxpb.TensorProto{
				modelfile.FloatTensor("w", []int{o, c, 3, 3}, wt), modelfile.FloatTensor("b", []int{o}, bias),
				modelfile.FloatTensor("fc", []int{o, 1}, wave(o, 0.9)),
			},
			Node: []*onnxpb.NodeProto{
				{OpType: "Conv", Input: []string{"image", "w", "b"}, Output: []string{"features"}, Attribute: []*onnxpb.AttributeProto{
					ints("kernel_shape", 3, 3), ints("strides", int64(tc.stride), int64(tc.stride)),
					ints("pads", int64(p[0]), int64(p[1]), int64(p[2]), int64(p[3]))}},
				{OpType: "GlobalAveragePool", Input: []string{"features"}, Output: []string{"gap"}},
				{OpType: "Flatten", Input: []string{"gap"}, Output: []string{"flat"}},
				{OpType: "MatMul", Input: []string{"flat", "fc"}, Output: []string{"logit"}},
				{OpType: "Sigmoid", Input: []string{"logit"}, Output: []string{"prob"}},
			},
			Input:  []*onnxpb.ValueInfoProto{modelfile.ValueInfo("image", 1, 3, h, w)},
			Output: []*onnxpb.ValueInfoProto{modelfile.ValueInfo("prob", 1, 1), modelfile.ValueInfo("features", 1, o, oh, ow)},
		}
		// The input is not [1,3,S,S] square: convnet only needs 3 channels.
		useWinograd = tc.wino
		net, err := Load(&onnxpb.ModelProto{Graph: g})
		useWinograd = true
		if err != nil {
			t.Fatal(err)
		}
		if got := countWinograd(net); got != map[bool]int{true: 1, false: 0}[tc.wino && tc.stride == 1] {
			t.Errorf("%+v: %d Winograd steps", tc, got)
		}
		_, f, err := net.Run(x)
		if err != nil {
			t.Fatal(err)
		}
		if s := net.FeaturesShape(); s[2] != oh || s[3] != ow {
			t.Fatalf("%+v: features %v, want %dx%d", tc, s, oh, ow)
		}
		var worst float64
		for i := range want {
			worst = math.Max(worst, math.Abs(float64(f[i]-want[i])))
		}
		if worst > 1e-5 {
			t.Errorf("%+v: max |d| %.2g from the definition", tc, worst)
		}
	}
}
