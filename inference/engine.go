// Package inference runs a pneumoscan contract model with onnx-go and gorgonia, the same code
// natively and in the browser (GOOS=js): pure Go, no cgo.
package inference

import (
	"fmt"
	"slices"

	"github.com/owulveryck/onnx-go"
	"github.com/owulveryck/onnx-go/backend/x/gorgonnx"
	"gorgonia.org/tensor"

	"pneumoscan/model"
	"pneumoscan/onnxpb"
)

// Net is one loaded model. It is not safe for concurrent use: onnx-go's graph holds the
// input and all intermediate values.
type Net struct {
	m          *onnx.Model
	g          *gorgonnx.Graph
	inputShape []int
	featShape  []int
}

// Load parses an ONNX file, prepares it (modelfile.Canonicalize, then the onnx-go checks) and builds the onnx-go graph.
func Load(modelBytes []byte) (*Net, error) {
	mp := &onnxpb.ModelProto{}
	if err := onnxpb.Unmarshal(modelBytes, mp); err != nil {
		return nil, fmt.Errorf("inference: not an ONNX model file: %w", err)
	}
	return LoadModel(mp)
}

// LoadModel is Load for a model already parsed. It rewrites mp in place (modelfile.Canonicalize, then the onnx-go checks), so
// the caller can read the float32 initializers the engine runs with.
func LoadModel(mp *onnxpb.ModelProto) (*Net, error) {
	if err := prepare(mp); err != nil {
		return nil, fmt.Errorf("inference: %w", err)
	}
	g := mp.GetGraph()
	// Prepare leaves only real inputs; onnx-go's SetInput addresses them by position.
	if len(g.Input) != 1 || g.Input[0].Name != model.InputName {
		names := make([]string, len(g.Input))
		for i, v := range g.Input {
			names[i] = v.Name
		}
		return nil, fmt.Errorf("inference: model inputs are %q, want exactly %q", names, model.InputName)
	}
	var shape []int
	for _, d := range g.Input[0].GetType().GetTensorType().GetShape().GetDim() {
		v := d.GetDimValue()
		if v <= 0 {
			return nil, fmt.Errorf("inference: input %q needs a fixed shape, got dimension %v", model.InputName, d)
		}
		shape = append(shape, int(v))
	}
	if len(shape) != 4 || shape[0] != 1 || shape[1] != 3 {
		return nil, fmt.Errorf("inference: input %q has shape %v, want [1,3,S,S]", model.InputName, shape)
	}
	for _, want := range []string{model.ProbName, model.FeaturesName} {
		if !slices.ContainsFunc(g.Output, func(v *onnxpb.ValueInfoProto) bool { return v.Name == want }) {
			return nil, fmt.Errorf("inference: model has no output %q", want)
		}
	}
	b, err := onnxpb.Marshal(mp)
	if err != nil {
		return nil, fmt.Errorf("inference: %w", err)
	}
	e := &Net{g: gorgonnx.NewGraph(), inputShape: shape}
	e.m = onnx.NewModel(e.g)
	if err := e.m.UnmarshalBinary(b); err != nil {
		return nil, fmt.Errorf("inference: onnx-go cannot build the graph: %w", err)
	}
	return e, nil
}

// InputShape is the model's input shape, [1,3,S,S].
func (e *Net) InputShape() []int { return slices.Clone(e.inputShape) }

// FeaturesShape is the shape of the last run's "features" output, e.g. [1,2048,7,7]; nil
// before the first Run.
func (e *Net) FeaturesShape() []int { return slices.Clone(e.featShape) }

// Run computes P(pneumonia) and the feature maps for one input tensor of InputShape. The
// returned slice is the caller's own; results are the same on every call for the same input.
func (e *Net) Run(input []float32) (prob float32, features []float32, err error) {
	n := 1
	for _, d := range e.inputShape {
		n *= d
	}
	if len(input) != n {
		return 0, nil, fmt.Errorf("inference: input has %d values, want %d for shape %v", len(input), n, e.inputShape)
	}
	t := tensor.New(tensor.WithShape(e.inputShape...), tensor.WithBacking(slices.Clone(input)))
	if err := e.m.SetInput(0, t); err != nil {
		return 0, nil, fmt.Errorf("inference: %w", err)
	}
	if err := e.g.Run(); err != nil {
		return 0, nil, fmt.Errorf("inference: run: %w", err)
	}
	p, _, err := e.output(model.ProbName)
	if err != nil {
		return 0, nil, err
	}
	if len(p) != 1 {
		return 0, nil, fmt.Errorf("inference: output %q has %d values, want 1", model.ProbName, len(p))
	}
	features, shape, err := e.output(model.FeaturesName)
	if err != nil {
		return 0, nil, err
	}
	if len(shape) != 4 || shape[0] != 1 {
		return 0, nil, fmt.Errorf("inference: output %q has shape %v, want [1,K,H,W]", model.FeaturesName, shape)
	}
	e.featShape = shape
	return p[0], features, nil
}

// output copies a named output: gorgonia reuses its buffers on the next run.
func (e *Net) output(name string) ([]float32, []int, error) {
	node, ok := e.m.GetNodeByName(name)
	if !ok {
		return nil, nil, fmt.Errorf("inference: no output %q", name)
	}
	dc, ok := node.(onnx.DataCarrier)
	if !ok || dc.GetTensor() == nil {
		return nil, nil, fmt.Errorf("inference: output %q holds no tensor", name)
	}
	shape := slices.Clone([]int(dc.GetTensor().Shape()))
	switch v := dc.GetTensor().Data().(type) {
	case []float32:
		return slices.Clone(v), shape, nil
	case float32: // gorgonia hands out a one-element tensor as a scalar
		return []float32{v}, shape, nil
	default:
		return nil, nil, fmt.Errorf("inference: output %q is %T, want float32", name, v)
	}
}

// Engine is the onnx-go + gorgonia engine for package screen (screen.New(data,
// inference.Engine)). It is the reference the product's engine (package convnet) is checked
// against, and it is linked only where a program names it: the page loads it in a worker of
// its own, on request.
var Engine model.Engine = engine{}

type engine struct{}

func (engine) Name() string { return "onnx-go" }

func (engine) Load(mp *onnxpb.ModelProto) (model.Net, error) { return LoadModel(mp) }
