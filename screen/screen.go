// Package screen is the whole screening path for one image, shared by the page's workers
// (GOOS=js), the server, the trainer's evaluation and the parity tools, so that all give the
// same number: decode -> check (filmcheck) -> preprocess -> model -> explain.
//
// The engine that runs the graph is the caller's choice, passed as a value (a model.Engine:
// convnet.Engine in the product, inference.Engine for the onnx-go reference), so a program
// links only the engine it names.
package screen

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"image"
	"sync"

	"pneumoscan/filmcheck"
	"pneumoscan/gradcam"
	"pneumoscan/imagedecode"
	"pneumoscan/model"
	"pneumoscan/modelfile"
	"pneumoscan/preprocess"
	"pneumoscan/resnet"
)

// Result is what screening one image gives.
type Result struct {
	Prob      float64         // P(pneumonia), after the model's temperature
	RawProb   float64         // the model's own output, before the temperature
	Positive  bool            // Prob >= Threshold.Value
	Verdict   model.Verdict   // at Threshold, its indeterminate band included (model.Metadata.Decide)
	Threshold model.Threshold // the model's operating threshold
	Width     int             // decoded image size, pixels
	Height    int
	// Heatmap is the Grad-CAM map at the model input size (Size x Size, row-major),
	// normalised to [0,1]; it lies over the whole image (the resize rule stretches).
	Heatmap     []float32
	HeatmapSize int
}

// HeatmapRGBA is the heatmap in the jet colours the page and the API draw it with.
func (r Result) HeatmapRGBA() *image.RGBA { return gradcam.Jet(r.Heatmap, r.HeatmapSize) }

// Stage names a step of screening one image, reported as it starts.
type Stage string

// The stages, in order.
const (
	Decoding   Stage = "decoding"
	Running    Stage = "running" // preprocessing and the model
	Explaining Stage = "explaining"
)

// Screener screens images with one model. It is safe for concurrent use: decoding,
// preprocessing and Grad-CAM run concurrently, the engine one input at a time (a Net holds
// one input and its intermediate values).
type Screener struct {
	meta   model.Metadata
	sha    string
	head   *resnet.Head
	engine string

	mu  sync.Mutex // serialises net.Run
	net model.Net
}

// New loads a pneumoscan model file with engine: its metadata (a file without it, or with a
// contract version or values this code does not understand, is refused), the head weights
// Grad-CAM needs (checked against the contract's shapes), and its graph, loaded by engine.
func New(modelBytes []byte, engine model.Engine) (*Screener, error) {
	if engine == nil {
		return nil, errors.New("screen: no engine given (convnet.Engine, inference.Engine)")
	}
	mp, err := modelfile.Unmarshal(modelBytes)
	if err != nil {
		return nil, fmt.Errorf("model file is corrupt or not ONNX: %v", err)
	}
	meta, err := model.ParseMetadata(mp.MetadataProps)
	if err != nil {
		return nil, err
	}
	if _, err := meta.OperatingThreshold(); err != nil {
		return nil, err
	}
	head, err := modelfile.ReadHead(mp)
	if err != nil {
		return nil, err
	}
	net, err := engine.Load(mp)
	if err != nil {
		return nil, err
	}
	if in := net.InputShape(); in[2] != meta.Preprocess.Size || in[3] != meta.Preprocess.Size {
		return nil, fmt.Errorf("model input is %v but its metadata says size %d", in, meta.Preprocess.Size)
	}
	sum := sha256.Sum256(modelBytes)
	return &Screener{meta: meta, sha: hex.EncodeToString(sum[:]), head: head, net: net, engine: engine.Name()}, nil
}

// EngineName is the name of the engine running the model ("convnet", "onnx-go").
func (s *Screener) EngineName() string { return s.engine }

// Metadata is what the model file says about itself.
func (s *Screener) Metadata() model.Metadata { return s.meta }

// SHA256 is the hex SHA-256 of the model file's bytes.
func (s *Screener) SHA256() string { return s.sha }

// Screen decodes an uploaded file and screens it. Errors about the image itself are
// *imagedecode.Error (the file) or *filmcheck.Error (an image with no film to read) values
// (use errors.As), each with a message for the user.
func (s *Screener) Screen(data []byte) (Result, error) { return s.ScreenStages(data, nil) }

// ScreenStages is Screen, calling stage (when not nil) as each stage starts, so a page can
// show where a slow image is.
func (s *Screener) ScreenStages(data []byte, stage func(Stage)) (Result, error) {
	if stage == nil {
		stage = func(Stage) {}
	}
	stage(Decoding)
	img, err := imagedecode.Decode(data)
	if err != nil {
		return Result{}, err
	}
	return s.screen(img, stage)
}

// ScreenImage screens an image the caller has already decoded (and checked as imagedecode
// does); filmcheck's checks are applied here as in Screen.
func (s *Screener) ScreenImage(img image.Image) (Result, error) {
	return s.screen(img, func(Stage) {})
}

func (s *Screener) screen(img image.Image, stage func(Stage)) (Result, error) {
	// Before the model: an image with no film to read gets its reason, not a score.
	if err := filmcheck.Check(img); err != nil {
		return Result{}, err
	}
	stage(Running)
	x, err := preprocess.Tensor(img, s.meta.Preprocess)
	if err != nil {
		return Result{}, err
	}
	s.mu.Lock()
	raw, feats, err := s.net.Run(x)
	shape := s.net.FeaturesShape()
	s.mu.Unlock()
	if err != nil {
		return Result{}, err
	}
	if shape[1] != s.head.Features {
		return Result{}, fmt.Errorf("model features have %d channels but %s has %d rows", shape[1], model.HeadHiddenWeight, s.head.Features)
	}
	stage(Explaining)
	size := s.meta.Preprocess.Size
	heat, err := gradcam.Map(s.head, feats, shape[2], shape[3], size)
	if err != nil {
		return Result{}, err
	}
	d, err := s.meta.Decide(float64(raw), "")
	if err != nil {
		return Result{}, err
	}
	b := img.Bounds()
	return Result{
		Prob: d.Prob, RawProb: float64(raw), Positive: d.Positive, Verdict: d.Verdict, Threshold: d.Threshold,
		Width: b.Dx(), Height: b.Dy(), Heatmap: heat, HeatmapSize: size,
	}, nil
}
