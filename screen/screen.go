// Package screen is the whole screening path for one image, shared by the page's workers
// (GOOS=js), the server, the trainer's evaluation and the parity tools, so that all give the
// same number: decode -> check (filmcheck) -> preprocess -> model -> gate (a contract-2
// file: orientation corrected and the model run again, not a chest film refused, the
// population checked; model.Gate.Judge) -> explain.
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

	// Gate is what the gate said about the image screened. Gate.Available is false for a
	// model file without one (contract 1): then nothing told a chest film from anything else.
	Gate Gate
	// Correction says what was done to the film before screening it, e.g. "rotated 90 degrees
	// counter-clockwise before screening"; empty when it was screened as supplied.
	Correction string
	// Population places the film against the training films; nil without a gate.
	Population *Population
}

// NoGate is Gate.Note for a model file that carries no gate.
const NoGate = "No gate available: this model file cannot tell a chest X-ray from other images, rotated or inverted films, or films unlike its training population; every image gets a score"

// Gate is the gate's verdict on a screened image.
type Gate struct {
	Available bool
	Note      string  // NoGate when not Available
	Frontal   float64 // P(frontal chest X-ray), by the gate's classifier
	Distance  float64 // Mahalanobis distance to the training films' features (model.Gate.Distance)
}

// Population is how far a film lies from the training films.
type Population struct {
	Inside     bool    // within the threshold chosen on validation (model.GateSpec.Warn)
	Distance   float64 // as Gate.Distance
	Percentile float64 // of the training films' distances, 0-100
	Threshold  float64 // model.GateSpec.Warn
	Warning    string  // model.PopulationWarning when not Inside
}

// Refusal is an image the gate refused: no score, no heatmap, a message for the user and a
// code for programs (model.RefusedNotChest, model.RefusedOrientation).
type Refusal struct {
	Code    string
	Message string
	// LooksLike is the gate class the image most resembles, for RefusedNotChest.
	LooksLike string
}

func (e *Refusal) Error() string { return e.Message }

// UserMessage is the message for the person who chose the file.
func (e *Refusal) UserMessage() string { return e.Message }

// RefusalCode is the code for programs of an image that was refused before it got a score,
// whichever step refused it: the decoder (imagedecode.Kind: "corrupt", "unsupported", ...),
// the film checks (filmcheck.Kind: "blank", "low_contrast", ...) or the gate (Refusal.Code:
// "not_chest_xray", "orientation"). It is "" for any other error (the engine failing), which
// is the program's fault, not the image's. The API and the page both name refusals by it.
func RefusalCode(err error) string {
	var de *imagedecode.Error
	if errors.As(err, &de) {
		return de.Kind.String()
	}
	var fe *filmcheck.Error
	if errors.As(err, &fe) {
		return fe.Kind.String()
	}
	var re *Refusal
	if errors.As(err, &re) {
		return re.Code
	}
	return ""
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
	gate   *model.Gate // nil: a contract-1 file
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
	gate, err := modelfile.ReadGate(mp, meta)
	if err != nil {
		return nil, err
	}
	if gate != nil && gate.Params.Dim != head.Features {
		return nil, fmt.Errorf("model gate takes %d features, the head %d", gate.Params.Dim, head.Features)
	}
	modelfile.StripGate(mp) // no node reads them; the engine need not hold them
	net, err := engine.Load(mp)
	if err != nil {
		return nil, err
	}
	if in := net.InputShape(); in[2] != meta.Preprocess.Size || in[3] != meta.Preprocess.Size {
		return nil, fmt.Errorf("model input is %v but its metadata says size %d", in, meta.Preprocess.Size)
	}
	sum := sha256.Sum256(modelBytes)
	return &Screener{meta: meta, sha: hex.EncodeToString(sum[:]), head: head, gate: gate, net: net, engine: engine.Name()}, nil
}

// Gate is the model file's gate, nil when it carries none.
func (s *Screener) Gate() *model.Gate { return s.gate }

// EngineName is the name of the engine running the model ("convnet", "onnx-go").
func (s *Screener) EngineName() string { return s.engine }

// Metadata is what the model file says about itself.
func (s *Screener) Metadata() model.Metadata { return s.meta }

// SHA256 is the hex SHA-256 of the model file's bytes.
func (s *Screener) SHA256() string { return s.sha }

// Screen decodes an uploaded file and screens it. Errors about the image itself are
// *imagedecode.Error (the file), *filmcheck.Error (an image with no film to read) or, with a
// contract-2 model, *Refusal (not a frontal chest X-ray, or of unsure orientation) values
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
	raw, feats, err := s.run(img)
	if err != nil {
		return Result{}, err
	}
	b := img.Bounds()
	res := Result{Width: b.Dx(), Height: b.Dy(), Gate: Gate{Note: NoGate}}
	if s.gate != nil {
		// The corrected image's forward pass replaces the first one, so the score and the
		// heatmap are those of the film screened.
		out, err := s.gate.Judge(model.Pool(feats, s.head.Features), func(o model.Orientation) ([]float32, error) {
			var err error
			raw, feats, err = s.run(preprocess.Correct(img, o))
			if err != nil {
				return nil, err
			}
			return model.Pool(feats, s.head.Features), nil
		})
		if err != nil {
			return Result{}, err
		}
		if out.Refused != "" {
			return Result{}, &Refusal{Code: out.Refused, Message: out.Message(), LooksLike: out.Gate.LooksLike}
		}
		res.Gate = Gate{Available: true, Frontal: out.Gate.Frontal, Distance: out.Gate.Distance}
		res.Correction = out.Corrected().Correction()
		res.Population = &Population{Inside: out.Inside, Distance: out.Gate.Distance, Percentile: out.Percentile, Threshold: s.gate.Spec.Warn}
		if !out.Inside {
			res.Population.Warning = model.PopulationWarning
		}
	}
	stage(Explaining)
	size := s.meta.Preprocess.Size
	shape := s.net.FeaturesShape()
	heat, err := gradcam.Map(s.head, feats, shape[2], shape[3], size)
	if err != nil {
		return Result{}, err
	}
	d, err := s.meta.Decide(float64(raw), "")
	if err != nil {
		return Result{}, err
	}
	res.Prob, res.RawProb, res.Positive, res.Verdict, res.Threshold = d.Prob, float64(raw), d.Positive, d.Verdict, d.Threshold
	res.Heatmap, res.HeatmapSize = heat, size
	return res, nil
}

// run preprocesses img and runs the model on it: its raw output and its feature map.
func (s *Screener) run(img image.Image) (float32, []float32, error) {
	x, err := preprocess.Tensor(img, s.meta.Preprocess)
	if err != nil {
		return 0, nil, err
	}
	s.mu.Lock()
	raw, feats, err := s.net.Run(x)
	shape := s.net.FeaturesShape()
	s.mu.Unlock()
	if err != nil {
		return 0, nil, err
	}
	if shape[1] != s.head.Features {
		return 0, nil, fmt.Errorf("model features have %d channels but %s has %d rows", shape[1], model.HeadHiddenWeight, s.head.Features)
	}
	return raw, feats, nil
}

// PooledFeatures runs the model on img as it is, with no check before or after (the trainer
// fits the gate on them, blank and other refused images included): the pooled features the
// gate reads and the model's raw output.
func (s *Screener) PooledFeatures(img image.Image) ([]float32, float64, error) {
	raw, feats, err := s.run(img)
	if err != nil {
		return nil, 0, err
	}
	return model.Pool(feats, s.head.Features), float64(raw), nil
}
