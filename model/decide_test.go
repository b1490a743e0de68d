package model

import (
	"strings"
	"testing"
)

func TestDecideVerdicts(t *testing.T) {
	m := Metadata{
		Temperature: 1,
		Operating:   "plain",
		Thresholds: []Threshold{
			{Name: "plain", Value: 0.5},
			{Name: "banded", Value: 0.5, Indeterminate: 0.1},
		},
	}
	for _, c := range []struct {
		raw       float64
		operating string
		want      Verdict
		positive  bool
	}{
		{0.49, "", Negative, false},
		{0.5, "", Positive, true}, // at the threshold: positive
		{0.9, "plain", Positive, true},
		{0.39, "banded", Negative, false},
		{0.4, "banded", Negative, false}, // the band's lower edge belongs to the negative side
		{0.45, "banded", Indeterminate, false},
		{0.5, "banded", Indeterminate, true},
		{0.55, "banded", Indeterminate, true},
		{0.6, "banded", Positive, true}, // and its upper edge to the positive side
	} {
		d, err := m.Decide(c.raw, c.operating)
		if err != nil {
			t.Fatal(err)
		}
		if d.Verdict != c.want || d.Positive != c.positive {
			t.Errorf("Decide(%v, %q) = %s (positive %v), want %s (positive %v)", c.raw, c.operating, d.Verdict, d.Positive, c.want, c.positive)
		}
		wantName := c.operating
		if wantName == "" {
			wantName = m.Operating
		}
		if d.Threshold.Name != wantName {
			t.Errorf("Decide(%v, %q) decided at %q", c.raw, c.operating, d.Threshold.Name)
		}
	}
	if _, err := m.Decide(0.5, "missing"); err == nil || !strings.Contains(err.Error(), `"missing"`) {
		t.Errorf("unknown operating point: err %v", err)
	}
}

// TestDecideTemperature: the verdict is taken on the probability after the temperature.
func TestDecideTemperature(t *testing.T) {
	m := Metadata{Temperature: 2, Operating: "t", Thresholds: []Threshold{{Name: "t", Value: 0.6}}}
	d, err := m.Decide(0.65, "")
	if err != nil {
		t.Fatal(err)
	}
	if want := ApplyTemperature(0.65, 2); d.Prob != want || d.Verdict != Negative {
		t.Errorf("Decide(0.65) with T=2: prob %v verdict %s; want prob %v (below 0.6), negative", d.Prob, d.Verdict, want)
	}
}

func TestVerdictText(t *testing.T) {
	seen := map[string]bool{}
	for _, v := range []Verdict{Positive, Negative, Indeterminate} {
		s := v.Text()
		if s == "" || s == string(v) || seen[s] {
			t.Errorf("verdict %s has text %q: want its own plain sentence", v, s)
		}
		seen[s] = true
	}
	if !strings.Contains(Positive.Text(), "refer for review") {
		t.Errorf("positive verdict %q does not say what to do", Positive.Text())
	}
}
