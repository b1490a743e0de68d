package inference

import (
	"math"
	"strings"
	"testing"

	"github.com/owulveryck/onnx-go"
	"github.com/owulveryck/onnx-go/backend/x/gorgonnx"
	"gorgonia.org/tensor"

	"pneumoscan/modelfile"
	"pneumoscan/onnxpb"
)

func intAttr(name string, v int64) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: name, Type: onnxpb.AttributeProto_INT, I: v}
}

func floatAttr(name string, v float32) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: name, Type: onnxpb.AttributeProto_FLOAT, F: v}
}

func findInit(t *testing.T, g *onnxpb.GraphProto, name string) []float32 {
	t.Helper()
	for _, x := range g.Initializer {
		if x.Name == name {
			v, err := modelfile.Floats(x)
			if err != nil {
				t.Fatal(err)
			}
			return v
		}
	}
	t.Fatalf("no initializer %q", name)
	return nil
}

func opTypes(g *onnxpb.GraphProto) string {
	var s []string
	for _, n := range g.Node {
		s = append(s, n.OpType)
	}
	return strings.Join(s, ",")
}

// run executes a prepared model with onnx-go and returns the named output.
func run(t *testing.T, m *onnx.Model, g *gorgonnx.Graph, in []float32, shape []int, out string) []float32 {
	t.Helper()
	if err := m.SetInput(0, tensor.New(tensor.WithShape(shape...), tensor.WithBacking(append([]float32(nil), in...)))); err != nil {
		t.Fatal(err)
	}
	if err := g.Run(); err != nil {
		t.Fatal(err)
	}
	n, ok := m.GetNodeByName(out)
	if !ok {
		t.Fatalf("no node %q", out)
	}
	return append([]float32(nil), n.(onnx.DataCarrier).GetTensor().Data().([]float32)...)
}

func load(t *testing.T, mp *onnxpb.ModelProto) (*onnx.Model, *gorgonnx.Graph) {
	t.Helper()
	b, err := onnxpb.Marshal(mp)
	if err != nil {
		t.Fatal(err)
	}
	g := gorgonnx.NewGraph()
	m := onnx.NewModel(g)
	if err := m.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	return m, g
}

func TestPrepareFoldsDequantize(t *testing.T) {
	// w [2,3] per-row (axis 0) scales; u [3] uint8, per-tensor scale, zero point 128.
	mp := &onnxpb.ModelProto{Graph: &onnxpb.GraphProto{
		Input:  []*onnxpb.ValueInfoProto{modelfile.ValueInfo("x", 1, 2)},
		Output: []*onnxpb.ValueInfoProto{modelfile.ValueInfo("y", 1, 3)},
		Initializer: []*onnxpb.TensorProto{
			modelfile.Int8Tensor("w_q", []int{2, 3}, []int8{1, -2, 127, -127, 0, 3}),
			modelfile.FloatTensor("w_s", []int{2}, []float32{0.5, 2}),
			{Name: "u_q", Dims: []int64{3}, DataType: int32(onnxpb.TensorProto_UINT8), RawData: []byte{128, 130, 0}},
			modelfile.FloatTensor("u_s", nil, []float32{0.25}),
			{Name: "u_z", DataType: int32(onnxpb.TensorProto_UINT8), RawData: []byte{128}},
		},
		Node: []*onnxpb.NodeProto{
			{OpType: "DequantizeLinear", Input: []string{"w_q", "w_s"}, Output: []string{"w"}, Attribute: []*onnxpb.AttributeProto{intAttr("axis", 0)}},
			{OpType: "DequantizeLinear", Input: []string{"u_q", "u_s", "u_z"}, Output: []string{"u"}},
			{OpType: "MatMul", Input: []string{"x", "w"}, Output: []string{"xw"}},
			{OpType: "Add", Input: []string{"xw", "u"}, Output: []string{"y"}},
		},
	}}
	if err := prepare(mp); err != nil {
		t.Fatal(err)
	}
	if got := opTypes(mp.Graph); got != "MatMul,Add" {
		t.Fatalf("nodes = %s, want MatMul,Add", got)
	}
	if n := len(mp.Graph.Initializer); n != 2 {
		t.Errorf("%d initializers left, want 2 (the int8 ones and scales removed)", n)
	}
	w := findInit(t, mp.Graph, "w")
	want := []float32{0.5, -1, 63.5, -254, 0, 6}
	for i := range want {
		if w[i] != want[i] {
			t.Fatalf("w = %v, want %v", w, want)
		}
	}
	u := findInit(t, mp.Graph, "u")
	if u[0] != 0 || u[1] != 0.5 || u[2] != -32 {
		t.Fatalf("u = %v, want [0 0.5 -32]", u)
	}
	m, g := load(t, mp)
	y := run(t, m, g, []float32{1, 2}, []int{1, 2}, "y")
	// y = [1,2] @ w + u
	exp := []float32{0.5 - 2*254 + 0, -1 + 0 + 0.5, 63.5 + 12 - 32}
	for i := range exp {
		if y[i] != exp[i] {
			t.Fatalf("y = %v, want %v", y, exp)
		}
	}
}

func TestPrepareRewritesGemm(t *testing.T) {
	const K, N = 3, 2
	b := []float32{1, 2, 3, 4, 5, 6} // [N,K], used with transB=1
	c := []float32{10, 20}           // [1,N]: M x N elements, the case onnx-go's Gemm corrupts
	mp := &onnxpb.ModelProto{Graph: &onnxpb.GraphProto{
		Input:       []*onnxpb.ValueInfoProto{modelfile.ValueInfo("b", N, K), modelfile.ValueInfo("x", 1, K)},
		Output:      []*onnxpb.ValueInfoProto{modelfile.ValueInfo("y", 1, N)},
		Initializer: []*onnxpb.TensorProto{modelfile.FloatTensor("b", []int{N, K}, b), modelfile.FloatTensor("c", []int{1, N}, c)},
		Node: []*onnxpb.NodeProto{{OpType: "Gemm", Input: []string{"x", "b", "c"}, Output: []string{"y"},
			Attribute: []*onnxpb.AttributeProto{intAttr("transB", 1), floatAttr("alpha", 2), floatAttr("beta", 0.5)}}},
	}}
	if err := prepare(mp); err != nil {
		t.Fatal(err)
	}
	if got := opTypes(mp.Graph); got != "MatMul,Add" {
		t.Fatalf("nodes = %s, want MatMul,Add", got)
	}
	if len(mp.Graph.Input) != 1 || mp.Graph.Input[0].Name != "x" {
		t.Fatalf("graph inputs = %v, want only x (initializer b dropped)", mp.Graph.Input)
	}
	x := []float32{1, -1, 2}
	var want [N]float32
	for n := 0; n < N; n++ {
		for k := 0; k < K; k++ {
			want[n] += 2 * x[k] * b[n*K+k]
		}
		want[n] += 0.5 * c[n]
	}
	m, g := load(t, mp)
	for r := 0; r < 3; r++ {
		y := run(t, m, g, x, []int{1, K}, "y")
		if y[0] != want[0] || y[1] != want[1] {
			t.Fatalf("run %d: y = %v, want %v", r, y, want)
		}
	}
}

func TestPrepareGuardsConsumedOutputs(t *testing.T) {
	// "f" is both an output and the input of Sigmoid -> "p".
	mp := &onnxpb.ModelProto{Graph: &onnxpb.GraphProto{
		Input:  []*onnxpb.ValueInfoProto{modelfile.ValueInfo("x", 1, 2)},
		Output: []*onnxpb.ValueInfoProto{modelfile.ValueInfo("p", 1, 2), modelfile.ValueInfo("f", 1, 2)},
		Node: []*onnxpb.NodeProto{
			{OpType: "Relu", Input: []string{"x"}, Output: []string{"f"}},
			{OpType: "Sigmoid", Input: []string{"f"}, Output: []string{"p"}},
		},
	}}
	if err := prepare(mp); err != nil {
		t.Fatal(err)
	}
	if got := opTypes(mp.Graph); got != "Relu,Sigmoid,Identity" {
		t.Fatalf("nodes = %s", got)
	}
	m, g := load(t, mp)
	for _, x := range [][]float32{{1, -2}, {3, 4}, {-1, 0.5}} {
		f := run(t, m, g, x, []int{1, 2}, "f")
		p := run(t, m, g, x, []int{1, 2}, "p")
		for i := range x {
			wf := float32(math.Max(float64(x[i]), 0))
			wp := float32(1 / (1 + math.Exp(-float64(wf))))
			if f[i] != wf || math.Abs(float64(p[i]-wp)) > 1e-6 {
				t.Fatalf("x=%v: f=%v p=%v, want %v %v", x, f, p, wf, wp)
			}
		}
	}
}

func TestPrepareRefuses(t *testing.T) {
	base := func(nodes ...*onnxpb.NodeProto) *onnxpb.ModelProto {
		return &onnxpb.ModelProto{Graph: &onnxpb.GraphProto{
			Input:  []*onnxpb.ValueInfoProto{modelfile.ValueInfo("x", 1, 2, 4, 4)},
			Output: []*onnxpb.ValueInfoProto{modelfile.ValueInfo("y")},
			Node:   nodes,
		}}
	}
	grouped := base(&onnxpb.NodeProto{OpType: "Conv", Input: []string{"x", "w"}, Output: []string{"y"}, Attribute: []*onnxpb.AttributeProto{intAttr("group", 2)}})
	grouped.Graph.Initializer = []*onnxpb.TensorProto{modelfile.FloatTensor("w", []int{2, 1, 1, 1}, []float32{1, 1})}
	leftover := base(&onnxpb.NodeProto{OpType: "Add", Input: []string{"x", "k"}, Output: []string{"y"}})
	leftover.Graph.Initializer = []*onnxpb.TensorProto{modelfile.Int8Tensor("k", []int{1}, []int8{1})}
	dynamicDQ := base(&onnxpb.NodeProto{OpType: "DequantizeLinear", Input: []string{"x", "s"}, Output: []string{"y"}})
	dynamicDQ.Graph.Initializer = []*onnxpb.TensorProto{modelfile.FloatTensor("s", nil, []float32{1})}
	for _, tc := range []struct {
		name string
		mp   *onnxpb.ModelProto
		want string
	}{
		{"unsupported op", base(&onnxpb.NodeProto{OpType: "Resize", Input: []string{"x"}, Output: []string{"y"}}), "operator Resize is not supported"},
		{"grouped conv", grouped, "group=2"},
		{"int8 left", leftover, `initializer "k" is INT8`},
		{"dequantize of an activation", dynamicDQ, `input "x" is not an initializer`},
		{"no graph", &onnxpb.ModelProto{}, "no graph"},
	} {
		err := prepare(tc.mp)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want it to mention %q", tc.name, err, tc.want)
		}
	}
}
