package model

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

// siteProfile is a consistent profile written by hand (metrics builds real ones): 10 normal
// and 20 pneumonia films, the site point at 0.4 finding 19 of 20.
func siteProfile() SiteProfile {
	created := time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)
	name := SiteName("ward 4", 0.95, 30, created)
	site := SiteRates{Name: name, Threshold: 0.4, Sensitivity: 0.95, SensitivityCI: [2]float64{0.76, 0.99},
		Specificity: 0.6, SpecificityCI: [2]float64{0.31, 0.83}, TP: 19, FN: 1, TN: 6, FP: 4}
	return SiteProfile{
		Format: SiteProfileFormat, Version: SiteProfileVersion,
		Model: SiteModel{Name: "m", Version: "1", SHA256: strings.Repeat("0f", 32)},
		Label: "ward 4", Created: created.Format(time.RFC3339), Normal: 10, Pneumonia: 20,
		AUC: 0.9, AUCCI: [2]float64{0.8, 0.97}, CILevel: 0.95, Bootstrap: 2000, Seed: 1,
		TargetSensitivity: 0.95,
		Operating: Threshold{Name: name, Value: 0.4, Criterion: SiteCriterion(0.95, 10, 20, created),
			Validation: &Rates{Sensitivity: 0.95, Specificity: 0.6, Images: 30, Pneumonia: 20, Normal: 10}},
		Site: site,
		Presets: []SiteRates{{Name: "screening", Threshold: 0.73, Sensitivity: 0.8, SensitivityCI: [2]float64{0.58, 0.92},
			Specificity: 0.9, SpecificityCI: [2]float64{0.6, 0.98}, TP: 16, FN: 4, TN: 9, FP: 1}},
	}
}

// TestCalibrationProfileRoundTrip: a profile encodes, parses back equal, and its operating
// point decides through Decide once WithSite has added it, named as a site point.
func TestCalibrationProfileRoundTrip(t *testing.T) {
	p := siteProfile()
	b, err := p.Encode()
	if err != nil {
		t.Fatal(err)
	}
	q, err := ParseSiteProfile(b)
	if err != nil {
		t.Fatal(err)
	}
	b2, _ := q.Encode()
	if string(b) != string(b2) {
		t.Errorf("round trip changed the profile:\n%s\n%s", b, b2)
	}
	if !IsSite(q.Operating.Name) || q.Operating.Name != "site: ward 4 (sens ≥ 0.95 on 30 films, 2026-12-03)" {
		t.Errorf("site point named %q", q.Operating.Name)
	}
	m := testMetadata()
	if err := q.For(m, strings.Repeat("0F", 32)); err != nil {
		t.Errorf("the profile's own model (upper-case hex): %v", err)
	}
	ws, err := m.WithSite(q)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Thresholds) != 1 || len(ws.Thresholds) != 2 || ws.Operating != m.Operating {
		t.Errorf("WithSite: %d thresholds (the original keeps %d), operating %q", len(ws.Thresholds), len(m.Thresholds), ws.Operating)
	}
	for raw, want := range map[float64]Verdict{0.5: Positive, 0.3: Negative} {
		d, err := ws.Decide(raw, q.Operating.Name)
		if err != nil {
			t.Fatal(err)
		}
		// testMetadata's temperature moves the score a little; both stay on their side of 0.4.
		if d.Verdict != want || d.Threshold.Name != q.Operating.Name {
			t.Errorf("Decide(%v) at the site point: %+v, want %s", raw, d, want)
		}
	}
	if _, err := ws.WithSite(q); err == nil {
		t.Error("the same site point was added twice")
	}
}

// TestCalibrationProfileOtherModel: a profile made for another model file is refused,
// naming both models.
func TestCalibrationProfileOtherModel(t *testing.T) {
	p := siteProfile()
	err := p.For(testMetadata(), strings.Repeat("11", 32))
	if !errors.Is(err, ErrOtherModel) || !strings.Contains(err.Error(), "0f0f0f0f0f0f") || !strings.Contains(err.Error(), "111111111111") ||
		!strings.Contains(err.Error(), "calibrate again") {
		t.Errorf("another model's profile: %v", err)
	}
}

// TestCalibrationProfileBad: bad JSON, other documents and inconsistent profiles are refused.
func TestCalibrationProfileBad(t *testing.T) {
	for name, text := range map[string]string{
		"not JSON":     "site profile",
		"truncated":    `{"format": "pneumoscan-site-profile", "version": 1`,
		"two values":   `{} {}`,
		"model file":   `{"name": "m", "thresholds": []}`,
		"wrong format": `{"format": "something-else", "version": 1}`,
		"wrong types":  `{"format": "pneumoscan-site-profile", "version": "1"}`,
	} {
		if _, err := ParseSiteProfile([]byte(text)); err == nil {
			t.Errorf("%s: parsed", name)
		}
	}
	for name, edit := range map[string]func(p *SiteProfile){
		"version 2":            func(p *SiteProfile) { p.Version = 2 },
		"short sha":            func(p *SiteProfile) { p.Model.SHA256 = "abc" },
		"no label":             func(p *SiteProfile) { p.Label = "" },
		"label with a newline": func(p *SiteProfile) { p.Label = "a\nb" },
		"bad time":             func(p *SiteProfile) { p.Created = "yesterday" },
		"one class":            func(p *SiteProfile) { p.Normal = 0 },
		"AUC above 1":          func(p *SiteProfile) { p.AUC = 1.2 },
		"counts off":           func(p *SiteProfile) { p.Site.TP = 18 },
		"rate off":             func(p *SiteProfile) { p.Presets[0].Sensitivity = 0.5 },
		"misses the target":    func(p *SiteProfile) { p.TargetSensitivity = 1 },
		"renamed":              func(p *SiteProfile) { p.Operating.Name = "screening" },
		"value moved":          func(p *SiteProfile) { p.Operating.Value = 0.41 },
		"no rates":             func(p *SiteProfile) { p.Operating.Validation = nil },
		"a test split":         func(p *SiteProfile) { p.Operating.Test = &Rates{Sensitivity: 1, Specificity: 1, Images: 1} },
		"inverted interval":    func(p *SiteProfile) { p.AUCCI = [2]float64{0.97, 0.8} },
	} {
		p := siteProfile()
		edit(&p)
		b, _ := json.Marshal(p)
		if _, err := ParseSiteProfile(b); err == nil {
			t.Errorf("%s: parsed", name)
		}
		if _, err := p.Encode(); err == nil {
			t.Errorf("%s: encoded", name)
		}
	}
}
