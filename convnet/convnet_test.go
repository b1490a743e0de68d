package convnet

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"pneumoscan/imagedecode"
	"pneumoscan/inference"
	"pneumoscan/internal/testmodel"
	"pneumoscan/model"
	"pneumoscan/modelfile"
	"pneumoscan/onnxpb"
	"pneumoscan/preprocess"
	"pneumoscan/resnet"
)

// engines loads one model file twice: into onnx-go (the reference engine) and into convnet.
func engines(t testing.TB, b []byte) (*inference.Net, *Net) {
	t.Helper()
	net, err := Load(loadPrepared(t, b))
	if err != nil {
		t.Fatal(err)
	}
	return loadOnnxGo(t, b), net
}

func loadOnnxGo(t testing.TB, b []byte) *inference.Net {
	t.Helper()
	e, err := inference.Load(b)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func loadPrepared(t testing.TB, b []byte) *onnxpb.ModelProto {
	t.Helper()
	mp := &onnxpb.ModelProto{}
	if err := onnxpb.Unmarshal(b, mp); err != nil {
		t.Fatal(err)
	}
	if err := modelfile.Canonicalize(mp); err != nil {
		t.Fatal(err)
	}
	return mp
}

// imageTensor decodes an image and preprocesses it as the model's metadata says.
func imageTensor(t testing.TB, modelBytes, data []byte) []float32 {
	t.Helper()
	mp := &onnxpb.ModelProto{}
	if err := onnxpb.Unmarshal(modelBytes, mp); err != nil {
		t.Fatal(err)
	}
	meta, err := model.ParseMetadata(mp.MetadataProps)
	if err != nil {
		t.Fatal(err)
	}
	img, err := imagedecode.Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	x, err := preprocess.Tensor(img, meta.Preprocess)
	if err != nil {
		t.Fatal(err)
	}
	return x
}

// compare runs both engines on x and checks |dP| and the features' largest difference
// relative to their largest magnitude.
func compare(t *testing.T, name string, ref *inference.Net, net *Net, x []float32, maxDP, maxDF float64) {
	t.Helper()
	wantP, wantF, err := ref.Run(x)
	if err != nil {
		t.Fatal(err)
	}
	p, f, err := net.Run(x)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(net.FeaturesShape(), ref.FeaturesShape()) {
		t.Fatalf("%s: features shape %v, onnx-go %v", name, net.FeaturesShape(), ref.FeaturesShape())
	}
	if len(f) != len(wantF) {
		t.Fatalf("%s: %d features, onnx-go %d", name, len(f), len(wantF))
	}
	var df, scale float64
	for i := range f {
		df = math.Max(df, math.Abs(float64(f[i]-wantF[i])))
		scale = math.Max(scale, math.Abs(float64(wantF[i])))
	}
	dp := math.Abs(float64(p - wantP))
	t.Logf("%s: P %.7f, onnx-go %.7f, |dP| %.2g; features max |d| %.2g (max |f| %.3g)", name, p, wantP, dp, df, scale)
	if math.IsNaN(float64(p)) || dp > maxDP {
		t.Errorf("%s: |dP| = %.3g > %.0g", name, dp, maxDP)
	}
	if scale == 0 || df > maxDF*scale {
		t.Errorf("%s: features differ by %.3g, more than %.0g of their scale %.3g", name, df, maxDF, scale)
	}
}

func TestTinyModelMatchesOnnxGoAndPyTorch(t *testing.T) {
	b := testmodel.Tiny(t)
	ref, net := engines(t, b)
	for png, want := range testmodel.References(t) {
		x := imageTensor(t, b, testmodel.Image(t, png))
		compare(t, png, ref, net, x, 1e-5, 1e-5)
		p1, f1, _ := net.Run(x)
		if d := math.Abs(float64(p1) - want.ModelProb); d > 1e-5 {
			t.Errorf("%s: P %v, PyTorch %v (|d| %.2g)", png, p1, want.ModelProb, d)
		}
		// Reused buffers must not leak state between runs.
		p2, f2, _ := net.Run(x)
		if p1 != p2 || !slices.Equal(f1, f2) {
			t.Errorf("%s: a second run differs", png)
		}
	}
	if got := net.FeaturesShape(); !slices.Equal(got, []int{1, 16, 14, 14}) {
		t.Errorf("features shape %v", got)
	}
}

// A contract model written by modelconv, with odd channel counts and every conv shape of the
// ResNet50 layout (7x7 stem, 1x1, strided 3x3, strided 1x1 downsample), float and int8.
func TestContractModelMatchesOnnxGo(t *testing.T) {
	arch := resnet.Arch{StemWidth: 8, Widths: [4]int{3, 5, 4, 7}, Expansion: 3, Blocks: [4]int{2, 1, 2, 1}}
	bb, err := resnet.RandomBackbone(arch, 7)
	if err != nil {
		t.Fatal(err)
	}
	for i := range bb.Convs {
		for j := range bb.Convs[i].Bias {
			bb.Convs[i].Bias[j] = float32(i%5)*0.02 - float32(j%3)*0.03
		}
	}
	h, err := resnet.RandomHead(arch.Features(), 6, 9)
	if err != nil {
		t.Fatal(err)
	}
	h.B2[0] = 0.2
	const size = 72
	md := model.Metadata{
		Name: "convnet-test", Version: "test", Preprocess: model.ImageNetPreprocess(size),
		Classes: []string{"NORMAL", "PNEUMONIA"}, Operating: "default", Temperature: 1,
		Thresholds: []model.Threshold{{Name: "default", Value: 0.5, Criterion: "test"}},
	}
	float, err := modelfile.Build(bb, h, md)
	if err != nil {
		t.Fatal(err)
	}
	q, err := modelfile.Quantize(float)
	if err != nil {
		t.Fatal(err)
	}
	x := make([]float32, 3*size*size)
	for i := range x {
		x[i] = float32(math.Sin(float64(i)*0.37)) * 2
	}
	for name, m := range map[string]*onnxpb.ModelProto{"float": float, "int8": q} {
		b, err := modelfile.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		for _, wino := range []bool{true, false} {
			useWinograd = wino
			ref, net := engines(t, b)
			useWinograd = true
			want := 0
			for _, c := range arch.Convs() {
				if c.Kernel == 3 && c.Stride == 1 {
					want++
				}
			}
			if got := countWinograd(net); wino && (got != want || want == 0) {
				t.Errorf("%d Winograd convolutions, want %d (the stride-1 3x3 ones)", got, want)
			}
			compare(t, fmt.Sprintf("%s/winograd=%v", name, wino), ref, net, x, 1e-5, 1e-5)
		}
	}
}

func countWinograd(n *Net) int {
	count := 0
	for _, s := range n.steps {
		if _, ok := s.(*winograd); ok {
			count++
		}
	}
	return count
}

// TestDefaultModel compares the engines on the shipped int8 ResNet50 and the two X-ray
// fixtures.
func TestDefaultModel(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping the full ResNet50 comparison")
	}
	b := testmodel.Shipped(t)
	ref, net := engines(t, b)
	for _, name := range []string{"normal-IM-0001-0001.jpeg", "pneumonia-person100_bacteria_475.jpeg"} {
		compare(t, name, ref, net, imageTensor(t, b, testmodel.XRay(t, name)), 1e-4, 1e-4)
	}
}

func TestRunAllocatesOnlyTheFeatures(t *testing.T) {
	b := testmodel.Tiny(t)
	_, net := engines(t, b)
	x := make([]float32, shapeLen(net.InputShape()))
	if n := testing.AllocsPerRun(3, func() { net.Run(x) }); n > 1 {
		t.Errorf("Run allocates %v times, want 1 (the features it returns)", n)
	}
}

func TestRefuses(t *testing.T) {
	b := testmodel.Tiny(t)
	fresh := func() *onnxpb.ModelProto { return loadPrepared(t, b) }
	for _, c := range []struct {
		name, want string
		edit       func(mp *onnxpb.ModelProto)
	}{
		{"unknown op", "operator Softmax is not supported", func(mp *onnxpb.ModelProto) {
			for _, n := range mp.Graph.Node {
				if n.OpType == "Sigmoid" {
					n.OpType = "Softmax"
				}
			}
		}},
		{"grouped conv", "group=2", func(mp *onnxpb.ModelProto) {
			mp.Graph.Node[0].Attribute = append(mp.Graph.Node[0].Attribute,
				&onnxpb.AttributeProto{Name: "group", Type: onnxpb.AttributeProto_INT, I: 2})
		}},
		{"int8 weight", "run modelfile.Canonicalize first", func(mp *onnxpb.ModelProto) {
			w := mp.Graph.Initializer[0]
			for _, init := range mp.Graph.Initializer {
				if init.Name == mp.Graph.Node[0].Input[1] {
					w = init
				}
			}
			w.DataType, w.RawData = int32(onnxpb.TensorProto_INT8), make([]byte, len(w.RawData)/4)
		}},
		{"no prob", `no output "prob"`, func(mp *onnxpb.ModelProto) {
			mp.Graph.Output = mp.Graph.Output[1:]
		}},
		{"out of order", "not produced before it", func(mp *onnxpb.ModelProto) {
			n := mp.Graph.Node
			n[0], n[1] = n[1], n[0]
		}},
	} {
		mp := fresh()
		c.edit(mp)
		if _, err := Load(mp); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want it to mention %q", c.name, err, c.want)
		}
	}
	net, err := Load(fresh())
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := net.Run(make([]float32, 10)); err == nil || !strings.Contains(err.Error(), "want 150528") {
		t.Errorf("short input: %v", err)
	}
}
