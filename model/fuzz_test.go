package model

import (
	"math"
	"reflect"
	"testing"

	"pneumoscan/internal/testmodel"
	"pneumoscan/onnxpb"
)

// metadataKeys are the keys FuzzParseMetadata sets, in the order of its string arguments.
var metadataKeys = []string{
	KeyContract, KeyName, KeyVersion, KeyTrained, KeyDescription, KeyPreprocess, KeyClasses,
	KeyThresholds, KeyOperating, KeyTemperature, KeyMetrics, KeyPopulation,
}

// fuzzSeed turns metadata_props into FuzzParseMetadata's arguments: every key's value, and
// the mask of the keys present.
func fuzzSeed(props []*onnxpb.StringStringEntryProto) (uint16, []string) {
	kv := map[string]string{}
	for _, p := range props {
		kv[p.Key] = p.Value
	}
	var present uint16
	vals := make([]string, len(metadataKeys))
	for i, k := range metadataKeys {
		if v, ok := kv[k]; ok {
			present |= 1 << i
			vals[i] = v
		}
	}
	return present, vals
}

// FuzzParseMetadata feeds ParseMetadata every pneumoscan key with fuzzed values (and a mask
// of which keys are present), starting from the metadata of the tiny test model and of
// testMetadata. It must never panic, and metadata it accepts must be usable: it validates,
// its temperature is finite and positive, 0..255 pixels normalise to finite inputs, Decide
// gives a probability in [0,1], and it encodes (Props) to metadata that parses back equal.
func FuzzParseMetadata(f *testing.F) {
	add := func(present uint16, v []string) {
		f.Add(present, v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10], v[11])
	}
	var tiny onnxpb.ModelProto
	if err := onnxpb.Unmarshal(testmodel.Tiny(f), &tiny); err != nil {
		f.Fatal(err)
	}
	add(fuzzSeed(tiny.MetadataProps))
	m := testMetadata()
	m.Population = "adults"
	m.Thresholds = append(m.Thresholds, Threshold{Name: "youden", Value: 0.5, Criterion: "c", Indeterminate: 0.05,
		Validation: &Rates{Sensitivity: 0.9, Specificity: 0.8, Images: 10, Pneumonia: 6, Normal: 4}})
	props, err := m.Props()
	if err != nil {
		f.Fatal(err)
	}
	present, vals := fuzzSeed(props)
	add(present, vals)
	add(present&^(1<<5), vals) // no preprocess key
	bad := append([]string(nil), vals...)
	bad[9] = "NaN"
	add(present, bad)
	bad[9], bad[5] = "1", `{"resize":"stretch","size":224,"channels":"RGB","scale":1e-45,"mean":[0,0,0],"std":[1,1,1]}`
	add(present, bad)
	add(0, make([]string, len(metadataKeys)))

	f.Fuzz(func(t *testing.T, present uint16, contract, name, version, trained, description, preprocess, classes,
		thresholds, operating, temperature, metrics, population string) {
		vals := []string{contract, name, version, trained, description, preprocess, classes, thresholds, operating,
			temperature, metrics, population}
		var props []*onnxpb.StringStringEntryProto
		for i, k := range metadataKeys {
			if present&(1<<i) != 0 {
				props = append(props, &onnxpb.StringStringEntryProto{Key: k, Value: vals[i]})
			}
		}
		m, err := ParseMetadata(props)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("an error without a message")
			}
			return
		}
		if err := m.Validate(); err != nil {
			t.Fatalf("ParseMetadata accepted metadata that does not validate: %v", err)
		}
		if !(m.Temperature > 0) || math.IsInf(m.Temperature, 0) {
			t.Fatalf("temperature %v accepted", m.Temperature)
		}
		p := m.Preprocess
		for c := 0; c < 3; c++ {
			for _, x := range []float32{0, 255} {
				if v := (x/p.Scale - p.Mean[c]) / p.Std[c]; math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
					t.Fatalf("pixel %v normalises to %v in plane %d (scale %v, mean %v, std %v)", x, v, c, p.Scale, p.Mean, p.Std)
				}
			}
		}
		for _, raw := range []float64{0, 1e-300, 0.25, 0.5, 0.75, 1 - 1e-16, 1} {
			d, err := m.Decide(raw, "")
			if err != nil {
				t.Fatalf("Decide(%v): %v", raw, err)
			}
			if !(d.Prob >= 0 && d.Prob <= 1) {
				t.Fatalf("Decide(%v) gives P = %v (temperature %v)", raw, d.Prob, m.Temperature)
			}
		}
		again, err := m.Props()
		if err != nil {
			t.Fatalf("accepted metadata does not encode: %v", err)
		}
		back, err := ParseMetadata(again)
		if err != nil {
			t.Fatalf("encoded metadata does not parse back: %v", err)
		}
		if !reflect.DeepEqual(back, m) {
			t.Fatalf("round trip changed the metadata:\n%+v\n%+v", m, back)
		}
	})
}
