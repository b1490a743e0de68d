package model

import (
	"errors"
	"fmt"
	"math"
	"sort"
)

// Contract version 2 adds, optionally, three checks that act on the backbone's pooled
// features (the global average of the "features" output, FeatureChannels values), the same
// forward pass that gives P(pneumonia):
//
//   - the gate: a softmax classifier over GateClasses (is this a frontal chest X-ray, and if
//     not, what does it look like) and a Mahalanobis distance to the training films' features;
//   - the orientation head: a softmax over the Orientation classes (upright, turned, inverted);
//   - the population check: the same distance as a percentile of the training films'.
//
// Their parameters are initializers named below; their thresholds and class names are the
// JSON value of KeyGate (GateSpec). A file without them is contract version 1 and still loads:
// a screener then says that no gate is available.
const (
	// GateMean is the training films' mean pooled feature vector, [D].
	GateMean = "gate.mean"
	// GateBasis holds the K leading principal directions of the training films' features,
	// orthonormal columns, [D,K]; GateVariance their K variances and, last, the mean variance
	// of the D-K directions left out (K+1 values).
	GateBasis    = "gate.basis"
	GateVariance = "gate.variance"
	// GateWeight and GateBias are the gate classifier, logits = f·W + b, [D,C] and [C].
	GateWeight = "gate.weight"
	GateBias   = "gate.bias"
	// OrientWeight and OrientBias are the orientation head, [D,5] and [5].
	OrientWeight = "orient.weight"
	OrientBias   = "orient.bias"
)

// GateInitializers are the initializer names of contract version 2, in file order.
var GateInitializers = []string{GateMean, GateBasis, GateVariance, GateWeight, GateBias, OrientWeight, OrientBias}

// KeyGate holds the GateSpec as JSON; its presence makes a file contract version 2.
const KeyGate = "pneumoscan.gate"

// ContractVersionGate is the contract version of a file that carries a gate.
const ContractVersionGate = "2"

// FrontalClass is the gate class of the films the model screens; it is GateSpec.Classes[0].
const FrontalClass = "frontal chest X-ray"

// Orientation is how a film reached the screener relative to the upright film the model was
// trained on. Rotated90 is the upright film turned 90 degrees clockwise; Inverted is its
// negative (polarity inverted).
type Orientation int

// The orientation head's classes, in the order of its outputs.
const (
	Upright Orientation = iota
	Rotated90
	Rotated180
	Rotated270
	Inverted
	Orientations = 5 // how many classes the head has
)

var orientationNames = [Orientations]string{"upright", "rotated 90 degrees clockwise", "rotated 180 degrees", "rotated 90 degrees counter-clockwise", "polarity inverted"}

// String names the orientation as a film may have it.
func (o Orientation) String() string {
	if o >= 0 && o < Orientations {
		return orientationNames[o]
	}
	return fmt.Sprintf("Orientation(%d)", int(o))
}

// Correction is what a screener says it did to a film found in orientation o before
// screening it; empty for Upright.
func (o Orientation) Correction() string {
	switch o {
	case Rotated90:
		return "rotated 90 degrees counter-clockwise before screening"
	case Rotated180:
		return "rotated 180 degrees before screening"
	case Rotated270:
		return "rotated 90 degrees clockwise before screening"
	case Inverted:
		return "polarity inverted before screening"
	}
	return ""
}

// GateSpec is the part of the gate that is numbers in metadata rather than tensors: class
// names, thresholds and how they were chosen and did.
type GateSpec struct {
	// Classes names the gate classifier's outputs; Classes[0] is FrontalClass.
	Classes []string `json:"classes"`
	// Accept: an image passes the gate when P(frontal chest X-ray) >= Accept (and its
	// distance is within RefuseDistance).
	Accept float64 `json:"accept"`
	// RefuseDistance: an image whose Mahalanobis distance to the training films exceeds it is
	// refused whatever the classifier says; 0: no such rule.
	RefuseDistance float64 `json:"refuse_distance"`
	// Correct: a film whose most likely orientation is not upright, with probability >=
	// Correct, is corrected and screened. Below it, the film is refused as of unsure
	// orientation when P(upright) < Unsure, and screened as supplied otherwise.
	Correct float64 `json:"correct"`
	Unsure  float64 `json:"unsure"`
	// Warn: beyond this distance the film is outside the training population and its score is
	// flagged (PopulationWarning).
	Warn float64 `json:"warn"`
	// Quantiles are the training films' distances at percentiles 0, 1, ..., 100 (101 values,
	// non-decreasing), to report a film's distance as a percentile.
	Quantiles []float64 `json:"quantiles"`
	// Criteria says how each threshold was chosen, by field name.
	Criteria map[string]string `json:"criteria,omitempty"`
	// Measured are the figures the gate was measured with, by name.
	Measured map[string]float64 `json:"measured,omitempty"`
}

// PopulationWarning is what a result says about a film beyond GateSpec.Warn.
const PopulationWarning = "This film is unlike the children's films the model was validated on; the score may not hold"

// Validate reports the first thing that makes the spec unusable.
func (g *GateSpec) Validate() error {
	switch {
	case len(g.Classes) < 2 || g.Classes[0] != FrontalClass:
		return fmt.Errorf("model metadata: %s: want at least 2 gate classes, the first %q; got %q", KeyGate, FrontalClass, g.Classes)
	case !(g.Accept > 0 && g.Accept < 1):
		return fmt.Errorf("model metadata: %s: accept %v outside (0,1)", KeyGate, g.Accept)
	case !(g.Correct > 0 && g.Correct <= 1):
		return fmt.Errorf("model metadata: %s: correct %v outside (0,1]", KeyGate, g.Correct)
	case !(g.Unsure >= 0 && g.Unsure < 1):
		return fmt.Errorf("model metadata: %s: unsure %v outside [0,1)", KeyGate, g.Unsure)
	case !(g.RefuseDistance >= 0) || math.IsInf(g.RefuseDistance, 0):
		return fmt.Errorf("model metadata: %s: refuse_distance %v must be finite and >= 0", KeyGate, g.RefuseDistance)
	case !(g.Warn > 0) || math.IsInf(g.Warn, 0):
		return fmt.Errorf("model metadata: %s: warn %v must be positive and finite", KeyGate, g.Warn)
	case len(g.Quantiles) != 101 || !sort.Float64sAreSorted(g.Quantiles):
		return fmt.Errorf("model metadata: %s: want 101 non-decreasing distance quantiles, got %d", KeyGate, len(g.Quantiles))
	}
	for _, q := range g.Quantiles {
		if !(q >= 0) || math.IsInf(q, 0) {
			return fmt.Errorf("model metadata: %s: distance quantile %v", KeyGate, q)
		}
	}
	return nil
}

// GateParams are the gate's and the orientation head's tensors (see the initializer names).
type GateParams struct {
	Dim          int       // D, the pooled feature length
	Mean         []float32 // [D]
	Basis        []float32 // [D,K] row-major
	Variance     []float32 // [K+1]
	Weight       []float32 // [D,C]
	Bias         []float32 // [C]
	OrientWeight []float32 // [D,5]
	OrientBias   []float32 // [5]
}

// K is the number of principal directions.
func (p *GateParams) K() int { return len(p.Variance) - 1 }

// Classes is the number of gate classes.
func (p *GateParams) Classes() int { return len(p.Bias) }

// Validate checks the shapes against each other and that every value is finite and every
// variance positive.
func (p *GateParams) Validate() error {
	d, k, c := p.Dim, p.K(), p.Classes()
	switch {
	case d <= 0:
		return errors.New("model gate: feature length must be positive")
	case len(p.Mean) != d:
		return fmt.Errorf("model gate: %s has %d values, want %d", GateMean, len(p.Mean), d)
	case k < 1 || k >= d || len(p.Basis) != d*k:
		return fmt.Errorf("model gate: %s has %d values and %s %d: want [%d,K] and K+1 with 1 <= K < %d", GateBasis, len(p.Basis), GateVariance, len(p.Variance), d, d)
	case c < 2 || len(p.Weight) != d*c:
		return fmt.Errorf("model gate: %s has %d values for %d classes, want [%d,%d]", GateWeight, len(p.Weight), c, d, c)
	case len(p.OrientBias) != int(Orientations) || len(p.OrientWeight) != d*int(Orientations):
		return fmt.Errorf("model gate: orientation head has %d weights and %d biases, want [%d,%d] and [%d]", len(p.OrientWeight), len(p.OrientBias), d, Orientations, Orientations)
	}
	for _, v := range p.Variance {
		if !(v > 0) || math.IsInf(float64(v), 0) {
			return fmt.Errorf("model gate: %s holds %v; variances must be positive and finite", GateVariance, v)
		}
	}
	for _, s := range [][]float32{p.Mean, p.Basis, p.Weight, p.Bias, p.OrientWeight, p.OrientBias} {
		for _, v := range s {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return errors.New("model gate: a parameter is not finite")
			}
		}
	}
	return nil
}

// Gate is a loaded gate: its tensors and its spec, checked against each other.
type Gate struct {
	Params GateParams
	Spec   GateSpec
}

// NewGate checks params and spec and that they agree.
func NewGate(p GateParams, s GateSpec) (*Gate, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	if p.Classes() != len(s.Classes) {
		return nil, fmt.Errorf("model gate: %s has %d classes, the metadata names %d", GateWeight, p.Classes(), len(s.Classes))
	}
	return &Gate{Params: p, Spec: s}, nil
}

// Softmax returns the softmax of logits, computed stably.
func Softmax(logits []float64) []float64 {
	m := math.Inf(-1)
	for _, z := range logits {
		m = math.Max(m, z)
	}
	out := make([]float64, len(logits))
	sum := 0.0
	for i, z := range logits {
		out[i] = math.Exp(z - m)
		sum += out[i]
	}
	for i := range out {
		out[i] /= sum
	}
	return out
}

// linear is f·W + b for W [D,C] row-major.
func linear(f, w, b []float32) []float64 {
	c := len(b)
	out := make([]float64, c)
	for j := range out {
		out[j] = float64(b[j])
	}
	for i, x := range f {
		if x == 0 {
			continue // pooled ReLU features are often exactly 0
		}
		row := w[i*c : (i+1)*c]
		for j, v := range row {
			out[j] += float64(x) * float64(v)
		}
	}
	return out
}

// Pool averages a [K,H,W] feature map (batch 1) over space: the pooled features the head and
// the gate read.
func Pool(features []float32, k int) []float32 {
	hw := len(features) / k
	out := make([]float32, k)
	for c := range k {
		s := float64(0)
		for _, v := range features[c*hw : (c+1)*hw] {
			s += float64(v)
		}
		out[c] = float32(s / float64(hw))
	}
	return out
}

// Distance is the Mahalanobis distance of pooled features f to the training films: along the
// K principal directions each scaled by its variance, plus the rest of f - mean scaled by the
// mean variance of the directions left out, divided by sqrt(D) so that a typical training film
// measures about 1.
func (g *Gate) Distance(f []float32) float64 {
	p := &g.Params
	k := p.K()
	diff := make([]float64, p.Dim)
	total := 0.0
	for i := range diff {
		diff[i] = float64(f[i]) - float64(p.Mean[i])
		total += diff[i] * diff[i]
	}
	z := make([]float64, k)
	for i, d := range diff {
		row := p.Basis[i*k : (i+1)*k]
		for j, v := range row {
			z[j] += d * float64(v)
		}
	}
	d2, inside := 0.0, 0.0
	for j, v := range z {
		d2 += v * v / float64(p.Variance[j])
		inside += v * v
	}
	d2 += math.Max(0, total-inside) / float64(p.Variance[k])
	return math.Sqrt(d2 / float64(p.Dim))
}

// Percentile is where distance d falls among the training films' distances, 0-100,
// interpolated between the spec's quantiles.
func (g *Gate) Percentile(d float64) float64 {
	q := g.Spec.Quantiles
	if d <= q[0] {
		return 0
	}
	for i := 1; i < len(q); i++ {
		if d <= q[i] {
			if q[i] == q[i-1] {
				return float64(i)
			}
			return float64(i-1) + (d-q[i-1])/(q[i]-q[i-1])
		}
	}
	return 100
}

// Orientation is the orientation head's verdict on one film.
type OrientationVerdict struct {
	Probs []float64   // softmax over the Orientation classes
	Most  Orientation // the most likely class
	// Sure is true when Most is Upright, or is another class with probability >= Correct
	// (the film is corrected from Most), or P(upright) >= Unsure (screened as supplied). False:
	// refuse, unsure.
	Sure bool
}

// Correction is the orientation to correct the film from: Most when it is sure of it,
// Upright (none) otherwise.
func (v OrientationVerdict) correction(correct float64) Orientation {
	if v.Most != Upright && v.Probs[v.Most] >= correct {
		return v.Most
	}
	return Upright
}

// Orient applies the orientation head to pooled features f.
func (g *Gate) Orient(f []float32) OrientationVerdict {
	probs := Softmax(linear(f, g.Params.OrientWeight, g.Params.OrientBias))
	most := Upright
	for i, p := range probs {
		if p > probs[most] {
			most = Orientation(i)
		}
	}
	v := OrientationVerdict{Probs: probs, Most: most}
	v.Sure = most == Upright || probs[most] >= g.Spec.Correct || probs[Upright] >= g.Spec.Unsure
	return v
}

// GateVerdict is the gate's verdict on one image.
type GateVerdict struct {
	Probs    []float64 // softmax over Spec.Classes
	Frontal  float64   // Probs[0], P(frontal chest X-ray)
	Distance float64   // Mahalanobis distance to the training films (Distance)
	Pass     bool      // Frontal >= Accept and the distance within RefuseDistance
	// LooksLike is the most likely class other than frontal chest X-ray when the classifier
	// refused the image, or "nothing the model was trained on" when only the distance did.
	LooksLike string
}

// Check applies the gate to pooled features f.
func (g *Gate) Check(f []float32) GateVerdict {
	probs := Softmax(linear(f, g.Params.Weight, g.Params.Bias))
	v := GateVerdict{Probs: probs, Frontal: probs[0], Distance: g.Distance(f)}
	far := g.Spec.RefuseDistance > 0 && v.Distance > g.Spec.RefuseDistance
	v.Pass = v.Frontal >= g.Spec.Accept && !far
	if !v.Pass {
		best := 1
		for i := 2; i < len(probs); i++ {
			if probs[i] > probs[best] {
				best = i
			}
		}
		v.LooksLike = g.Spec.Classes[best]
		if v.Frontal >= g.Spec.Accept {
			v.LooksLike = "nothing the model was trained on"
		}
	}
	return v
}

// Refusal codes: why a gate refused an image (the API's "code").
const (
	RefusedNotChest    = "not_chest_xray"
	RefusedOrientation = "orientation"
)

// Outcome is the whole of what the gate, the orientation head and the population check say
// about one image.
type Outcome struct {
	Orientation OrientationVerdict // on the image as supplied
	Gate        GateVerdict        // on the image screened (after the correction, if any)
	// Refused is "" when the image is to be screened, else RefusedNotChest or
	// RefusedOrientation.
	Refused string
	// Percentile is the gate distance as a percentile of the training films'; Inside is
	// false beyond Spec.Warn.
	Percentile float64
	Inside     bool
	corrected  Orientation
}

// Corrected is the orientation the image was corrected from before screening; Upright for
// none.
func (o Outcome) Corrected() Orientation { return o.corrected }

// Message is the refusal in words for the person who chose the file; "" when not refused.
func (o Outcome) Message() string {
	switch o.Refused {
	case RefusedNotChest:
		return fmt.Sprintf("This does not look like a frontal chest X-ray (looks like: %s); it was not screened", o.Gate.LooksLike)
	case RefusedOrientation:
		return fmt.Sprintf("This film may be %s, but the model is not sure enough to correct it (%.0f%%); turn it upright with normal polarity and try again",
			o.Orientation.Most, 100*o.Orientation.Probs[o.Orientation.Most])
	}
	return ""
}

// Judge runs the checks on the pooled features f of an image, the one decision path for the
// screener and the trainer's measurements: the orientation head first; a film confidently
// turned or inverted is corrected, and rerun gives the pooled features of the corrected image
// (the caller runs the model again); then the gate on the features of the image to be
// screened; then the population check. A film of unsure orientation is refused, as not a
// chest film when the gate refuses it as it is, else as unsure.
func (g *Gate) Judge(f []float32, rerun func(Orientation) ([]float32, error)) (Outcome, error) {
	out := Outcome{Orientation: g.Orient(f)}
	switch {
	case !out.Orientation.Sure:
		out.Gate = g.Check(f)
		out.Refused = RefusedOrientation
		if !out.Gate.Pass {
			out.Refused = RefusedNotChest
		}
		return out, nil
	case out.Orientation.correction(g.Spec.Correct) != Upright:
		out.corrected = out.Orientation.Most
		var err error
		if f, err = rerun(out.Orientation.Most); err != nil {
			return Outcome{}, err
		}
	}
	out.Gate = g.Check(f)
	if !out.Gate.Pass {
		out.Refused = RefusedNotChest
		return out, nil
	}
	out.Percentile = g.Percentile(out.Gate.Distance)
	out.Inside = out.Gate.Distance <= g.Spec.Warn
	return out, nil
}
