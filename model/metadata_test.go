package model

import (
	"strings"
	"testing"

	"pneumoscan/onnxpb"
)

func testMetadata() Metadata {
	return Metadata{
		Name: "m", Version: "1", Trained: true, Description: "d",
		Preprocess: ImageNetPreprocess(224), Classes: []string{"NORMAL", "PNEUMONIA"},
		Thresholds:  []Threshold{{Name: "screening", Value: 0.73, Criterion: "c"}},
		Operating:   "screening",
		Temperature: 1.06,
		Metrics:     map[string]float64{"val_auc": 0.99},
	}
}

func props(t *testing.T, m Metadata) map[string]string {
	t.Helper()
	ps, err := m.Props()
	if err != nil {
		t.Fatal(err)
	}
	kv := map[string]string{}
	for _, p := range ps {
		kv[p.Key] = p.Value
	}
	return kv
}

// TestOptionalFieldsAbsent: metadata without the optional fields encodes as files always
// did (no population key, thresholds without the new members), so existing files and the
// demonstration model's pinned bytes do not change.
func TestOptionalFieldsAbsent(t *testing.T) {
	kv := props(t, testMetadata())
	if _, ok := kv[KeyPopulation]; ok {
		t.Errorf("an empty population was written as %q", kv[KeyPopulation])
	}
	if want := `[{"name":"screening","value":0.73,"criterion":"c"}]`; kv[KeyThresholds] != want {
		t.Errorf("thresholds encode as %s, want %s", kv[KeyThresholds], want)
	}
}

// TestOlderFileLoads: the metadata of a file written before the optional fields existed
// reads with them unset.
func TestOlderFileLoads(t *testing.T) {
	kv := props(t, testMetadata())
	kv[KeyThresholds] = `[{"name":"screening","value":0.73,"criterion":"c"}]`
	var ps []*onnxpb.StringStringEntryProto
	for k, v := range kv {
		ps = append(ps, &onnxpb.StringStringEntryProto{Key: k, Value: v})
	}
	m, err := ParseMetadata(ps)
	if err != nil {
		t.Fatal(err)
	}
	th := m.Thresholds[0]
	if m.Population != "" || th.Validation != nil || th.Test != nil || th.Indeterminate != 0 {
		t.Errorf("older file read with optional fields set: population %q, threshold %+v", m.Population, th)
	}
}

func TestOptionalFieldsRoundTrip(t *testing.T) {
	m := testMetadata()
	m.Population = "children aged 1-5 from one hospital"
	m.Thresholds[0].Validation = &Rates{Sensitivity: 0.95, Specificity: 0.985, Images: 782, Pneumonia: 581, Normal: 201}
	m.Thresholds[0].Test = &Rates{Sensitivity: 0.967, Specificity: 0.744, Images: 624}
	m.Thresholds[0].Indeterminate = 0.05
	ps, err := m.Props()
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseMetadata(ps)
	if err != nil {
		t.Fatal(err)
	}
	th := got.Thresholds[0]
	if got.Population != m.Population || th.Indeterminate != 0.05 || *th.Validation != *m.Thresholds[0].Validation || *th.Test != *m.Thresholds[0].Test {
		t.Errorf("round trip lost optional fields: population %q, threshold %+v", got.Population, th)
	}
}

func TestValidateOptionalFields(t *testing.T) {
	for _, c := range []struct {
		edit func(*Threshold)
		want string
	}{
		{func(t *Threshold) { t.Indeterminate = -0.1 }, "indeterminate half-width"},
		{func(t *Threshold) { t.Indeterminate = 0.5 }, "indeterminate half-width"},
		{func(t *Threshold) { t.Validation = &Rates{Sensitivity: 1.2, Specificity: 0.5, Images: 10} }, "validation sensitivity"},
		{func(t *Threshold) { t.Test = &Rates{Sensitivity: 0.9, Specificity: 0.5} }, "number of images"},
		{func(t *Threshold) {
			t.Test = &Rates{Sensitivity: 0.9, Specificity: 0.5, Images: 10, Pneumonia: 3, Normal: 3}
		}, "not 10"},
	} {
		m := testMetadata()
		c.edit(&m.Thresholds[0])
		if err := m.Validate(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("threshold %+v: err %v, want one saying %q", m.Thresholds[0], err, c.want)
		}
	}
}
