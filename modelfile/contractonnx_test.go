package modelfile

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	onnx "github.com/owulveryck/onnx-go"
	"github.com/owulveryck/onnx-go/backend/x/gorgonnx"
	"gorgonia.org/tensor"

	"pneumoscan/model"
	"pneumoscan/resnet"
)

// tiny has every convolution kind of ResNet50's layout (7x7 stem, 1x1, strided 3x3, strided
// downsample, identity shortcut) at a size the tests run in a moment.
var tiny = resnet.Tiny

const tinySize = 64

func tinyModel(t *testing.T) (*resnet.Backbone, *resnet.Head, model.Metadata) {
	t.Helper()
	b, err := resnet.RandomBackbone(tiny, 3)
	if err != nil {
		t.Fatal(err)
	}
	// Non-zero biases, so a reader that drops or swaps them fails.
	for i := range b.Convs {
		for j := range b.Convs[i].Bias {
			b.Convs[i].Bias[j] = float32(i%5)*0.01 - float32(j%3)*0.02
		}
	}
	h, err := resnet.RandomHead(tiny.Features(), 5, 4)
	if err != nil {
		t.Fatal(err)
	}
	h.B1[2], h.B2[0] = 0.3, -0.1
	md := model.Metadata{
		Name: "tiny", Version: "test", Preprocess: model.ImageNetPreprocess(tinySize),
		Classes: []string{"NORMAL", "PNEUMONIA"}, Operating: "default", Temperature: 1,
		Thresholds: []model.Threshold{{Name: "default", Value: 0.5, Criterion: "test"}},
	}
	return b, h, md
}

func testInput() []float32 {
	x := make([]float32, 3*tinySize*tinySize)
	for i := range x {
		x[i] = float32(math.Sin(float64(i) * 0.37))
	}
	return x
}

// The float model must run in onnx-go, the product's engine, and agree with the reference
// forward pass on prob and features.
func TestFloatModelRunsInOnnxGo(t *testing.T) {
	b, h, md := tinyModel(t)
	m, err := Build(b, h, md)
	if err != nil {
		t.Fatal(err)
	}
	data, err := Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	backend := gorgonnx.NewGraph()
	om := onnx.NewModel(backend)
	if err := om.UnmarshalBinary(data); err != nil {
		t.Fatal(err)
	}
	x := testInput()
	in := tensor.New(tensor.WithShape(1, 3, tinySize, tinySize), tensor.WithBacking(append([]float32(nil), x...)))
	if err := om.SetInput(0, in); err != nil {
		t.Fatal(err)
	}
	if err := backend.Run(); err != nil {
		t.Fatal(err)
	}
	outs, err := om.GetOutputTensors()
	if err != nil {
		t.Fatal(err)
	}
	gotProb := outs[0].Data().([]float32)[0]
	gotFeat := outs[1].Data().([]float32)

	feat, _, err := b.Forward(x, tinySize)
	if err != nil {
		t.Fatal(err)
	}
	logit, err := h.Logit(resnet.Pool(feat, tiny.Features()))
	if err != nil {
		t.Fatal(err)
	}
	wantProb := 1 / (1 + math.Exp(-logit))
	if math.Abs(float64(gotProb)-wantProb) > 1e-5 {
		t.Errorf("onnx-go prob %v, reference %v", gotProb, wantProb)
	}
	if len(gotFeat) != len(feat) {
		t.Fatalf("features: %d values, want %d", len(gotFeat), len(feat))
	}
	for i := range feat {
		if math.Abs(float64(gotFeat[i]-feat[i])) > 1e-4*(1+math.Abs(float64(feat[i]))) {
			t.Fatalf("features[%d] = %v, reference %v", i, gotFeat[i], feat[i])
		}
	}
	t.Logf("prob %v (reference %v)", gotProb, wantProb)
}

func TestGraphFollowsContract(t *testing.T) {
	b, h, md := tinyModel(t)
	m, err := Build(b, h, md)
	if err != nil {
		t.Fatal(err)
	}
	ops := map[string]int{}
	consumers := map[string]int{}
	for _, n := range m.Graph.Node {
		ops[n.OpType]++
		for _, in := range n.Input {
			consumers[in]++
		}
	}
	if ops["Gemm"] != 0 || ops["Identity"] != 1 || ops["Conv"] != len(tiny.Convs()) || ops["MatMul"] != 2 {
		t.Errorf("ops %v", ops)
	}
	if consumers[model.FeaturesName] != 0 || consumers[model.ProbName] != 0 {
		t.Errorf("outputs must not be consumed inside the graph (onnx-go never refreshes them)")
	}
	got, err := model.ParseMetadata(m.MetadataProps)
	if err != nil || got.Name != "tiny" {
		t.Errorf("metadata %+v, %v", got, err)
	}
	h.FC1 = h.FC1[:3]
	if _, err := Build(b, h, md); !errors.Is(err, resnet.ErrShape) || !strings.Contains(err.Error(), "head.fc1.weight") {
		t.Errorf("Build with a bad head: %v", err)
	}
}

func TestRoundTripFloatAndInt8(t *testing.T) {
	b, h, md := tinyModel(t)
	m, err := Build(b, h, md)
	if err != nil {
		t.Fatal(err)
	}
	q, err := Quantize(m)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Quantize(q); !errors.Is(err, ErrNothingToQuantize) {
		t.Errorf("quantizing twice: %v", err)
	}
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		tol  float64 // relative to the channel's largest weight
	}{{"fp32", 0}, {"int8", 0.5 / 127}} {
		mm := m
		if tc.name == "int8" {
			mm = q
		}
		path := filepath.Join(dir, tc.name+".onnx")
		if err := WriteFile(path, mm); err != nil {
			t.Fatal(err)
		}
		back, err := ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		gb, gh, err := Weights(back)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if gb.Arch != tiny {
			t.Fatalf("%s: arch %+v, want %+v", tc.name, gb.Arch, tiny)
		}
		for i, c := range tiny.Convs() {
			compare(t, tc.name+" "+c.Name+".weight", gb.Convs[i].Weight, b.Convs[i].Weight, c.Out, tc.tol)
			compare(t, tc.name+" "+c.Name+".bias", gb.Convs[i].Bias, b.Convs[i].Bias, 1, 0)
		}
		compare(t, tc.name+" fc1", transpose(gh.FC1, gh.Features, gh.Hidden), transpose(h.FC1, h.Features, h.Hidden), h.Hidden, tc.tol)
		compare(t, tc.name+" fc2", gh.FC2, h.FC2, 1, tc.tol)
		compare(t, tc.name+" b1", gh.B1, h.B1, 1, 0)
		compare(t, tc.name+" b2", gh.B2, h.B2, 1, 0)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Errorf("temporary files left behind: %v", entries)
	}
}

// compare checks got against want split into rows channels, each within tol x its max |want|.
func compare(t *testing.T, name string, got, want []float32, rows int, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", name, len(got), len(want))
	}
	n := len(want) / rows
	for r := range rows {
		var m float64
		for _, v := range want[r*n : (r+1)*n] {
			m = math.Max(m, math.Abs(float64(v)))
		}
		for i := r * n; i < (r+1)*n; i++ {
			if d := math.Abs(float64(got[i] - want[i])); d > tol*m*(1+1e-6) {
				t.Fatalf("%s[%d] = %v, want %v (|d| %g > %g)", name, i, got[i], want[i], d, tol*m)
			}
		}
	}
}

func transpose(x []float32, r, c int) []float32 {
	out := make([]float32, len(x))
	for i := range r {
		for j := range c {
			out[j*r+i] = x[i*c+j]
		}
	}
	return out
}

func TestReadFileRejectsNonONNX(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.onnx")
	os.WriteFile(path, []byte("\xff\xd8\xff\xe0 this is a jpeg"), 0o644)
	if _, err := ReadFile(path); err == nil || !strings.Contains(err.Error(), "not an ONNX model") {
		t.Errorf("ReadFile(jpeg) = %v", err)
	}
}
