package model

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"

	"pneumoscan/onnxpb"
)

// Preprocess says how an image becomes the model's input tensor.
type Preprocess struct {
	// Resize is how the image is brought to Size x Size: "stretch" scales each axis on its
	// own (the training images were squashed this way), bilinear.
	Resize string `json:"resize"`
	Size   int    `json:"size"`
	// Channels is the order of the input planes, "RGB". Gray images are replicated.
	Channels string `json:"channels"`
	// Pixel values are divided by Scale, then normalised per channel: (x - Mean) / Std.
	Scale float32    `json:"scale"`
	Mean  [3]float32 `json:"mean"`
	Std   [3]float32 `json:"std"`
}

// Threshold is an operating point on P(pneumonia): at or above Value the screen is positive.
// The fields after Criterion are optional (omitted from the JSON when unset), so files
// written before they existed read as they did and encode to the same bytes.
type Threshold struct {
	Name      string  `json:"name"`
	Value     float64 `json:"value"`
	Criterion string  `json:"criterion"` // how it was chosen, e.g. "sensitivity >= 0.95 on validation"
	// Validation is how the threshold did on the validation images it was chosen on; nil
	// when the file does not record it.
	Validation *Rates `json:"validation,omitempty"`
	// Test is how it did on a test split scored once, after the model was selected
	// (modelconv metadata --test-report); nil when not measured.
	Test *Rates `json:"test,omitempty"`
	// Indeterminate is the half-width of a band around Value inside which the verdict is
	// Indeterminate rather than positive or negative; 0: no band. Validation and Test describe
	// the threshold alone: films in the band go to review instead.
	Indeterminate float64 `json:"indeterminate,omitempty"`
}

// Rates is how a threshold does on a labelled set of images.
type Rates struct {
	Sensitivity float64 `json:"sensitivity"` // share of pneumonia images at or above the threshold
	Specificity float64 `json:"specificity"` // share of normal images below it
	Images      int     `json:"images"`      // how many images they were measured on
	// Pneumonia and Normal split Images by label; 0 when only the total was recorded.
	Pneumonia int `json:"pneumonia,omitempty"`
	Normal    int `json:"normal,omitempty"`
}

// validate reports what makes r unusable; what names the set ("validation", "test").
func (r *Rates) validate(threshold, what string) error {
	switch {
	case r == nil:
		return nil
	case !(r.Sensitivity >= 0 && r.Sensitivity <= 1 && r.Specificity >= 0 && r.Specificity <= 1): // NaN fails too
		return fmt.Errorf("model metadata: threshold %q: %s sensitivity %v or specificity %v outside [0,1]", threshold, what, r.Sensitivity, r.Specificity)
	case r.Images <= 0:
		return fmt.Errorf("model metadata: threshold %q: %s rates need the number of images they were measured on", threshold, what)
	case (r.Pneumonia != 0 || r.Normal != 0) && r.Pneumonia+r.Normal != r.Images:
		return fmt.Errorf("model metadata: threshold %q: %s has %d pneumonia and %d normal images, not %d", threshold, what, r.Pneumonia, r.Normal, r.Images)
	}
	return nil
}

// Metadata is everything a model file says about itself. Its JSON form (encoding/json with
// these tags) is how the page and the model card receive it: the worker sends it with the
// model, and the site generator writes it into the model card's data.
type Metadata struct {
	Name        string      `json:"name"`
	Version     string      `json:"version"`
	Trained     bool        `json:"trained"` // false: a demonstration model whose outputs are meaningless
	Description string      `json:"description"`
	Preprocess  Preprocess  `json:"preprocess"`
	Classes     []string    `json:"classes"` // [negative, positive]
	Thresholds  []Threshold `json:"thresholds"`
	Operating   string      `json:"operating"`   // name of the threshold the page decides with
	Temperature float64     `json:"temperature"` // calibration temperature applied to the logit; 1 when not fitted
	// Metrics are figures the model was measured with, by name: val_* on validation, test_*
	// on a test split (e.g. test_auc, test_auc_ci_lo, test_auc_ci_hi, test_images).
	Metrics map[string]float64 `json:"metrics"`
	// Population is who the model's figures were measured on, in words, e.g. "children aged
	// 1-5 from one hospital (Kermany et al. 2018)"; empty when the file does not say. It is
	// optional: files written before it existed have no such key.
	Population string `json:"population,omitempty"`
	// Gate is the spec of the gate, orientation head and population check a contract-2 file
	// carries (their tensors are initializers, read by modelfile.ReadGate); nil in a
	// contract-1 file, which has none.
	Gate *GateSpec `json:"gate,omitempty"`
}

// OperatingThreshold returns the threshold the screening decision uses.
func (m Metadata) OperatingThreshold() (Threshold, error) {
	for _, t := range m.Thresholds {
		if t.Name == m.Operating {
			return t, nil
		}
	}
	return Threshold{}, fmt.Errorf("model metadata: operating threshold %q is not among the thresholds", m.Operating)
}

// Validate reports the first thing that makes the metadata unusable.
func (m Metadata) Validate() error {
	p := m.Preprocess
	switch {
	case m.Name == "" || m.Version == "":
		return errors.New("model metadata: name and version are required")
	case p.Resize != "stretch":
		return fmt.Errorf("model metadata: unknown resize rule %q", p.Resize)
	case p.Size <= 0 || p.Size > 4096:
		return fmt.Errorf("model metadata: input size %d out of range", p.Size)
	case p.Channels != "RGB" && p.Channels != "BGR":
		return fmt.Errorf("model metadata: unknown channel order %q", p.Channels)
	case p.Scale <= 0:
		return fmt.Errorf("model metadata: pixel scale %v must be positive", p.Scale)
	case len(m.Classes) != 2:
		return fmt.Errorf("model metadata: want 2 classes, got %d", len(m.Classes))
	case !(m.Temperature > 0) || math.IsInf(m.Temperature, 1):
		// Written so NaN fails too: strconv.ParseFloat reads "NaN" and "Inf", and either
		// would make every probability NaN (or 0.5).
		return fmt.Errorf("model metadata: temperature %v must be positive and finite", m.Temperature)
	}
	for i, s := range p.Std {
		if s <= 0 {
			return fmt.Errorf("model metadata: std[%d] = %v must be positive", i, s)
		}
	}
	// Pixels are on the 0..255 scale before Scale; a tiny scale or std would send them to
	// infinity in float32 and the model would see Inf or NaN.
	for c := range 3 {
		for _, x := range []float32{0, 255} {
			if v := float64((x/p.Scale - p.Mean[c]) / p.Std[c]); math.IsInf(v, 0) || math.IsNaN(v) {
				return fmt.Errorf("model metadata: pixel scale %v, mean %v and std %v send pixel value %v to %v in channel %d",
					p.Scale, p.Mean[c], p.Std[c], x, v, c)
			}
		}
	}
	for _, t := range m.Thresholds {
		if t.Value < 0 || t.Value > 1 {
			return fmt.Errorf("model metadata: threshold %q = %v outside [0,1]", t.Name, t.Value)
		}
		// A band as wide as the whole scale would make every film indeterminate.
		if !(t.Indeterminate >= 0 && t.Indeterminate < 0.5) {
			return fmt.Errorf("model metadata: threshold %q: indeterminate half-width %v outside [0, 0.5)", t.Name, t.Indeterminate)
		}
		if err := t.Validation.validate(t.Name, "validation"); err != nil {
			return err
		}
		if err := t.Test.validate(t.Name, "test"); err != nil {
			return err
		}
	}
	if m.Gate != nil {
		if err := m.Gate.Validate(); err != nil {
			return err
		}
	}
	_, err := m.OperatingThreshold()
	return err
}

// Props encodes the metadata as ONNX metadata_props, sorted by key so files are reproducible.
func (m Metadata) Props() ([]*onnxpb.StringStringEntryProto, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	kv := map[string]string{
		KeyContract:    ContractVersion,
		KeyName:        m.Name,
		KeyVersion:     m.Version,
		KeyTrained:     strconv.FormatBool(m.Trained),
		KeyDescription: m.Description,
		KeyOperating:   m.Operating,
		KeyTemperature: strconv.FormatFloat(m.Temperature, 'g', -1, 64),
	}
	if m.Population != "" { // absent rather than empty, so older models encode as before
		kv[KeyPopulation] = m.Population
	}
	if m.Gate != nil { // a gate makes the file contract 2; without one it stays byte for byte 1
		kv[KeyContract] = ContractVersionGate
		b, err := json.Marshal(m.Gate)
		if err != nil {
			return nil, fmt.Errorf("model metadata: %s: %w", KeyGate, err)
		}
		kv[KeyGate] = string(b)
	}
	for key, v := range map[string]any{
		KeyPreprocess: m.Preprocess, KeyClasses: m.Classes, KeyThresholds: m.Thresholds, KeyMetrics: m.Metrics,
	} {
		b, err := json.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("model metadata: %s: %w", key, err)
		}
		kv[key] = string(b)
	}
	keys := make([]string, 0, len(kv))
	for k := range kv {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	props := make([]*onnxpb.StringStringEntryProto, len(keys))
	for i, k := range keys {
		props[i] = &onnxpb.StringStringEntryProto{Key: k, Value: kv[k]}
	}
	return props, nil
}

// SetMetadata replaces the pneumoscan keys of a model's metadata_props, keeping any others.
func SetMetadata(mp *onnxpb.ModelProto, m Metadata) error {
	props, err := m.Props()
	if err != nil {
		return err
	}
	own := make(map[string]bool, len(props))
	for _, p := range props {
		own[p.Key] = true
	}
	kept := props
	for _, p := range mp.MetadataProps {
		if !own[p.Key] {
			kept = append(kept, p)
		}
	}
	mp.MetadataProps = kept
	return nil
}

// ParseMetadata reads and validates the pneumoscan metadata of a model.
func ParseMetadata(props []*onnxpb.StringStringEntryProto) (Metadata, error) {
	kv := make(map[string]string, len(props))
	for _, p := range props {
		kv[p.Key] = p.Value
	}
	v, ok := kv[KeyContract]
	if !ok {
		return Metadata{}, errors.New("not a pneumoscan model: its ONNX metadata has no " + KeyContract + " key")
	}
	if v != ContractVersion && v != ContractVersionGate {
		return Metadata{}, fmt.Errorf("model contract version %q is not supported (want %q or %q)", v, ContractVersion, ContractVersionGate)
	}
	g, hasGate := kv[KeyGate]
	if hasGate != (v == ContractVersionGate) {
		return Metadata{}, fmt.Errorf("model metadata: contract version %q with%s %s: version 2 files carry a gate, version 1 files none", v, map[bool]string{true: "", false: "out"}[hasGate], KeyGate)
	}
	m := Metadata{
		Name:        kv[KeyName],
		Version:     kv[KeyVersion],
		Description: kv[KeyDescription],
		Operating:   kv[KeyOperating],
		Population:  kv[KeyPopulation],
	}
	if hasGate {
		m.Gate = &GateSpec{}
		if err := json.Unmarshal([]byte(g), m.Gate); err != nil {
			return Metadata{}, fmt.Errorf("model metadata: %s: %w", KeyGate, err)
		}
	}
	var err error
	if m.Trained, err = strconv.ParseBool(kv[KeyTrained]); err != nil {
		return Metadata{}, fmt.Errorf("model metadata: %s: %w", KeyTrained, err)
	}
	if m.Temperature, err = strconv.ParseFloat(kv[KeyTemperature], 64); err != nil {
		return Metadata{}, fmt.Errorf("model metadata: %s: %w", KeyTemperature, err)
	}
	for key, dst := range map[string]any{
		KeyPreprocess: &m.Preprocess, KeyClasses: &m.Classes, KeyThresholds: &m.Thresholds, KeyMetrics: &m.Metrics,
	} {
		s, ok := kv[key]
		if !ok {
			return Metadata{}, fmt.Errorf("model metadata: %s is missing", key)
		}
		if err := json.Unmarshal([]byte(s), dst); err != nil {
			return Metadata{}, fmt.Errorf("model metadata: %s: %w", key, err)
		}
	}
	return m, m.Validate()
}

// ImageNetPreprocess is the torchvision ImageNet normalisation a ResNet50 backbone expects.
// Writers (modelconv, the trainer) put it into metadata; readers never use it directly.
func ImageNetPreprocess(size int) Preprocess {
	return Preprocess{
		Resize: "stretch", Size: size, Channels: "RGB", Scale: 255,
		Mean: [3]float32{0.485, 0.456, 0.406},
		Std:  [3]float32{0.229, 0.224, 0.225},
	}
}
