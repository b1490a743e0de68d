// Package screen is the whole screening path for one image, shared by the page's worker
// (GOOS=js), the server and the trainer's evaluation so that all give the same number:
// decode -> preprocess -> model -> explain.
package screen

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"image"
	"math"
	"sync"

	"google.golang.org/protobuf/proto"

	"pneumoscan/convnet"
	"pneumoscan/gradcam"
	"pneumoscan/imagedecode"
	"pneumoscan/inference"
	"pneumoscan/model"
	"pneumoscan/onnxpb"
	"pneumoscan/preprocess"
)

// Result is what screening one image gives.
type Result struct {
	Prob      float64         // P(pneumonia), after the model's temperature
	RawProb   float64         // the model's own output, before the temperature
	Positive  bool            // Prob >= Threshold.Value
	Threshold model.Threshold // the model's operating threshold
	Width     int             // decoded image size, pixels
	Height    int
	// Heatmap is the Grad-CAM map at the model input size (Size x Size, row-major),
	// normalised to [0,1]; it lies over the whole image (the resize rule stretches).
	Heatmap     []float32
	HeatmapSize int
}

// Screener screens images with one model. It is safe for concurrent use: calls are
// serialised, because an engine holds one input at a time.
type Screener struct {
	meta       model.Metadata
	threshold  model.Threshold
	sha        string
	head       gradcam.Head
	engineName string

	mu     sync.Mutex
	engine engine
}

// engine runs the model graph: prob and features for one preprocessed input.
type engine interface {
	Run(input []float32) (prob float32, features []float32, err error)
	InputShape() []int
	FeaturesShape() []int
}

// The engines New can run a model with.
const (
	// EngineConvnet is package convnet, the default: a lean pure-Go forward pass, several
	// times faster than onnx-go in the browser (docs/performance.md), and checked against
	// onnx-go on the fixtures and the default model in convnet's tests.
	EngineConvnet = "convnet"
	// EngineOnnxGo is onnx-go + gorgonia (package inference), the reference.
	EngineOnnxGo = "onnx-go"
)

// Option changes how New loads a model.
type Option func(*options)

type options struct{ engine string }

// Engine picks the engine that runs the model graph: EngineConvnet (the default) or
// EngineOnnxGo.
func Engine(name string) Option { return func(o *options) { o.engine = name } }

// New loads a pneumoscan model file: its metadata (a file without it, or with a contract
// version or values this code does not understand, is refused), its graph (prepared by
// model.Prepare and loaded into the engine), and the head weights Grad-CAM needs, checked
// against the contract's shapes.
func New(modelBytes []byte, opts ...Option) (*Screener, error) {
	o := options{engine: EngineConvnet}
	for _, opt := range opts {
		opt(&o)
	}
	mp := &onnxpb.ModelProto{}
	if err := proto.Unmarshal(modelBytes, mp); err != nil {
		return nil, fmt.Errorf("model file is corrupt or not ONNX: %w", err)
	}
	meta, err := model.ParseMetadata(mp.MetadataProps)
	if err != nil {
		return nil, err
	}
	th, err := meta.OperatingThreshold()
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(modelBytes)
	// Both engines run the graph model.Prepare rewrites in place, so the head weights below
	// are float32 even when the file stores them as int8 + DequantizeLinear.
	var engine engine
	switch o.engine {
	case EngineOnnxGo:
		if engine, err = inference.LoadModel(mp); err != nil {
			return nil, err
		}
	case EngineConvnet:
		if err := model.Prepare(mp); err != nil {
			return nil, err
		}
		if engine, err = convnet.Load(mp); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("screen: unknown engine %q (want %q or %q)", o.engine, EngineConvnet, EngineOnnxGo)
	}
	if in := engine.InputShape(); in[2] != meta.Preprocess.Size || in[3] != meta.Preprocess.Size {
		return nil, fmt.Errorf("model input is %v but its metadata says size %d", in, meta.Preprocess.Size)
	}
	head, err := readHead(mp.Graph)
	if err != nil {
		return nil, err
	}
	return &Screener{meta: meta, threshold: th, sha: hex.EncodeToString(sum[:]), head: head, engine: engine, engineName: o.engine}, nil
}

// EngineName is the engine running the model, EngineConvnet or EngineOnnxGo.
func (s *Screener) EngineName() string { return s.engineName }

func readHead(g *onnxpb.GraphProto) (gradcam.Head, error) {
	get := func(name string, rank int) ([]float32, []int64, error) {
		for _, t := range g.Initializer {
			if t.Name != name {
				continue
			}
			if len(t.Dims) != rank {
				return nil, nil, fmt.Errorf("model head: %s has shape %v, want rank %d", name, t.Dims, rank)
			}
			v, err := model.FloatValues(t)
			if err != nil {
				return nil, nil, fmt.Errorf("model head: %w", err)
			}
			return v, t.Dims, nil
		}
		return nil, nil, fmt.Errorf("model head: no initializer %q (the contract's head weights)", name)
	}
	w1, d1, err := get(model.HeadHiddenWeight, 2)
	if err != nil {
		return gradcam.Head{}, err
	}
	k, u := int(d1[0]), int(d1[1])
	b1, db1, err := get(model.HeadHiddenBias, 1)
	if err != nil {
		return gradcam.Head{}, err
	}
	w2, d2, err := get(model.HeadOutWeight, 2)
	if err != nil {
		return gradcam.Head{}, err
	}
	_, db2, err := get(model.HeadOutBias, 1)
	if err != nil {
		return gradcam.Head{}, err
	}
	if int(db1[0]) != u || int(d2[0]) != u || d2[1] != 1 || db2[0] != 1 {
		return gradcam.Head{}, fmt.Errorf("model head: shapes %s %v, %s %v, %s %v, %s %v do not chain as [K,U],[U],[U,1],[1]",
			model.HeadHiddenWeight, d1, model.HeadHiddenBias, db1, model.HeadOutWeight, d2, model.HeadOutBias, db2)
	}
	return gradcam.Head{K: k, U: u, W1: w1, B1: b1, W2: w2}, nil
}

// Metadata is what the model file says about itself.
func (s *Screener) Metadata() model.Metadata { return s.meta }

// SHA256 is the hex SHA-256 of the model file's bytes.
func (s *Screener) SHA256() string { return s.sha }

// Screen decodes an uploaded file and screens it. Errors about the image itself are
// *imagedecode.Error values (use errors.As) with a message for the user.
func (s *Screener) Screen(data []byte) (Result, error) {
	img, err := imagedecode.Decode(data)
	if err != nil {
		return Result{}, err
	}
	return s.ScreenImage(img)
}

// ScreenImage screens an image the caller has already decoded (and checked).
func (s *Screener) ScreenImage(img image.Image) (Result, error) {
	x, err := preprocess.Tensor(img, s.meta.Preprocess)
	if err != nil {
		return Result{}, err
	}
	s.mu.Lock()
	raw, feats, err := s.engine.Run(x)
	shape := s.engine.FeaturesShape()
	s.mu.Unlock()
	if err != nil {
		return Result{}, err
	}
	if shape[1] != s.head.K {
		return Result{}, fmt.Errorf("model features have %d channels but %s has %d rows", shape[1], model.HeadHiddenWeight, s.head.K)
	}
	size := s.meta.Preprocess.Size
	heat, err := s.head.Map(feats, shape[2], shape[3], size)
	if err != nil {
		return Result{}, err
	}
	p := calibrate(float64(raw), s.meta.Temperature)
	b := img.Bounds()
	return Result{
		Prob: p, RawProb: float64(raw), Positive: p >= s.threshold.Value, Threshold: s.threshold,
		Width: b.Dx(), Height: b.Dy(), Heatmap: heat, HeatmapSize: size,
	}, nil
}

// calibrate applies temperature scaling, sigmoid(logit(p) / T); p of 0 or 1 stays put.
func calibrate(p, temperature float64) float64 {
	if temperature == 1 {
		return p
	}
	logit := math.Log(p) - math.Log1p(-p)
	return 1 / (1 + math.Exp(-logit/temperature))
}
