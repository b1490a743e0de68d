package torchvision

import (
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"pneumoscan/modelfile"
	"pneumoscan/onnxpb"
	"pneumoscan/resnet"
)

// tiny is the network tools/torchvision_export.py builds from torchvision's classes.
var tiny = resnet.Arch{StemWidth: 8, Widths: [4]int{2, 4, 4, 8}, Expansion: 2, Blocks: [4]int{1, 1, 2, 1}}

type expected struct {
	InputSize int `json:"input_size"`
	Convs     []struct {
		Name         string    `json:"name"`
		Shape        []int     `json:"shape"`
		WeightSum    float64   `json:"weight_sum"`
		WeightAbsSum float64   `json:"weight_abs_sum"`
		WeightFirst  []float64 `json:"weight_first"`
		WeightLast   float64   `json:"weight_last"`
		Bias         []float64 `json:"bias"`
	} `json:"convs"`
	Pooled []float64 `json:"pooled"`
}

func loadExpected(t *testing.T) expected {
	t.Helper()
	data, err := os.ReadFile("testdata/expected.json")
	if err != nil {
		t.Fatal(err)
	}
	var e expected
	if err := json.Unmarshal(data, &e); err != nil {
		t.Fatal(err)
	}
	return e
}

func near(got, want, tol float64) bool {
	return math.Abs(got-want) <= tol*(1+math.Abs(want))
}

// Both exports (BN folded by PyTorch; BN kept as nodes and folded here) must give
// PyTorch's folded weights, and the backbone must reproduce PyTorch's pooled features.
func TestImportMatchesPyTorch(t *testing.T) {
	e := loadExpected(t)
	convs := tiny.Convs()
	if len(e.Convs) != len(convs) {
		t.Fatalf("expected.json has %d convs, the tiny arch %d", len(e.Convs), len(convs))
	}
	for _, file := range []string{"tiny_folded.onnx", "tiny_bn.onnx", "tiny_bn.onnx as float_data"} {
		t.Run(file, func(t *testing.T) {
			var b *resnet.Backbone
			var err error
			if name, ok := strings.CutSuffix(file, " as float_data"); ok {
				// The same weights stored in float_data instead of raw_data.
				m, err := modelfile.ReadFile(filepath.Join("testdata", name))
				if err != nil {
					t.Fatal(err)
				}
				for _, in := range m.Graph.Initializer {
					if in.FloatData, err = modelfile.Floats(in); err != nil {
						t.Fatal(err)
					}
					in.RawData = nil
				}
				// And one weight reached through an Identity, as the exporter aliases equal tensors.
				conv := m.Graph.Node[0]
				alias := &onnxpb.NodeProto{OpType: "Identity", Input: []string{conv.Input[1]}, Output: []string{"alias"}}
				conv.Input[1] = "alias"
				m.Graph.Node = append([]*onnxpb.NodeProto{alias}, m.Graph.Node...)
				b, err = Import(m, tiny)
			} else {
				b, err = ImportFile(filepath.Join("testdata", file), tiny)
			}
			if err != nil {
				t.Fatal(err)
			}
			for i, c := range convs {
				ec, w := e.Convs[i], b.Convs[i]
				if ec.Name != c.Name {
					t.Fatalf("conv %d: expected.json names %s, the arch %s", i, ec.Name, c.Name)
				}
				var sum, abs float64
				for _, v := range w.Weight {
					sum += float64(v)
					abs += math.Abs(float64(v))
				}
				// The sum cancels; compare it on the scale of the absolute sum.
				if !near(abs, ec.WeightAbsSum, 1e-5) || math.Abs(sum-ec.WeightSum) > 1e-5*ec.WeightAbsSum {
					t.Errorf("%s: weight sum %g / abs sum %g, PyTorch %g / %g", c.Name, sum, abs, ec.WeightSum, ec.WeightAbsSum)
				}
				for j, v := range ec.WeightFirst {
					if !near(float64(w.Weight[j]), v, 1e-5) {
						t.Errorf("%s: weight[%d] = %g, PyTorch %g", c.Name, j, w.Weight[j], v)
					}
				}
				if !near(float64(w.Weight[len(w.Weight)-1]), ec.WeightLast, 1e-5) {
					t.Errorf("%s: last weight %g, PyTorch %g", c.Name, w.Weight[len(w.Weight)-1], ec.WeightLast)
				}
				for j, v := range ec.Bias {
					if !near(float64(w.Bias[j]), v, 1e-5) {
						t.Errorf("%s: bias[%d] = %g, PyTorch %g", c.Name, j, w.Bias[j], v)
					}
				}
			}
			x := make([]float32, 3*e.InputSize*e.InputSize)
			for i := range x {
				x[i] = float32(math.Sin(0.37 * float64(i)))
			}
			feat, _, err := b.Forward(x, e.InputSize)
			if err != nil {
				t.Fatal(err)
			}
			pooled := resnet.Pool(feat, tiny.Features())
			for i, v := range e.Pooled {
				if !near(float64(pooled[i]), v, 1e-4) {
					t.Errorf("pooled[%d] = %g, PyTorch %g", i, pooled[i], v)
				}
			}
		})
	}
}

func TestImportErrors(t *testing.T) {
	wide := tiny
	wide.Widths[1] = 6
	_, err := ImportFile("testdata/tiny_folded.onnx", wide)
	if !errors.Is(err, resnet.ErrShape) || !strings.Contains(err.Error(), "layer2.0.conv1") ||
		!strings.Contains(err.Error(), "[4 4 1 1]") || !strings.Contains(err.Error(), "[6 4 1 1]") {
		t.Errorf("wrong widths: %v, want a shape error naming layer2.0.conv1 and both shapes", err)
	}
	_, err = ImportFile("testdata/tiny_folded.onnx", resnet.ResNet50)
	if err == nil || !strings.Contains(err.Error(), "has 20 Conv nodes") || !strings.Contains(err.Error(), "ResNet50 has 53") {
		t.Errorf("tiny as ResNet50: %v", err)
	}
	_, err = ImportFile("testdata/expected.json", tiny)
	if err == nil || !strings.Contains(err.Error(), "not an ONNX model") {
		t.Errorf("JSON as ONNX: %v", err)
	}
	_, err = ImportFile("testdata/missing.onnx", tiny)
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}
