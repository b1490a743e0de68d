package model

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// A site profile is a site operating point: a threshold a clinic set on its own labelled
// films (NORMAL/ and PNEUMONIA/ folders) for one model file, with what those films said about
// the model's own operating points. The page makes one in its calibration view, the trainer
// makes one with "go run ./training calibrate"; both write this JSON, the page imports it,
// and it is written down here once. A profile belongs to one model file (its SHA-256): a
// threshold means nothing for another model, so For refuses it.
//
// Its operating point is a Threshold like the file's own, named with SitePrefix, and decides
// through Metadata.Decide once Metadata.WithSite has added it; its Validation rates are those
// on the site's films, the films it was chosen on.

// SiteProfileFormat and SiteProfileVersion open every profile, so a reader knows what it has.
const (
	SiteProfileFormat  = "pneumoscan-site-profile"
	SiteProfileVersion = 1
)

// SitePrefix begins the name of every site operating point, so that wherever an operating
// point's name is shown (card, table, exports, audit log, printed report) a site point says so.
const SitePrefix = "site: "

// IsSite reports whether an operating point's name is a site point's.
func IsSite(name string) bool { return strings.HasPrefix(name, SitePrefix) }

// maxSiteLabel bounds the site's label, which becomes part of the operating point's name.
const maxSiteLabel = 80

// SiteModel names the model file a profile was made for.
type SiteModel struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	SHA256  string `json:"sha256"` // of the model file's bytes, hex
}

// SiteRates is how one threshold did on the site's films, with confidence intervals (at the
// profile's CILevel) and the counts behind them.
type SiteRates struct {
	Name          string     `json:"name"` // the model's operating point, or the site point's name
	Threshold     float64    `json:"threshold"`
	Sensitivity   float64    `json:"sensitivity"`
	SensitivityCI [2]float64 `json:"sensitivity_ci"`
	Specificity   float64    `json:"specificity"`
	SpecificityCI [2]float64 `json:"specificity_ci"`
	TP            int        `json:"tp"`
	FN            int        `json:"fn"`
	TN            int        `json:"tn"`
	FP            int        `json:"fp"`
}

// SiteProfile is one site operating point and what it was measured on.
type SiteProfile struct {
	Format  string    `json:"format"`  // SiteProfileFormat
	Version int       `json:"version"` // SiteProfileVersion
	Model   SiteModel `json:"model"`
	Label   string    `json:"label"`   // the site's name for it, e.g. "CR room 2"
	Created string    `json:"created"` // RFC 3339, UTC
	// The films it was measured on (refused files are not among them).
	Normal    int `json:"normal"`
	Pneumonia int `json:"pneumonia"`
	// ROC-AUC on them, its percentile bootstrap interval, and how that was drawn.
	AUC       float64    `json:"auc"`
	AUCCI     [2]float64 `json:"auc_ci"`
	CILevel   float64    `json:"ci_level"` // of every interval in the profile, e.g. 0.95
	Bootstrap int        `json:"bootstrap"`
	Seed      uint64     `json:"seed"`
	// TargetSensitivity is what the site asked for: the largest threshold reaching it.
	TargetSensitivity float64 `json:"target_sensitivity"`
	// Operating is the site operating point, as the model file's own are written.
	Operating Threshold `json:"operating_point"`
	// Site is Operating's rates with their intervals; Presets the model file's own
	// operating points on the same films, in the file's order.
	Site    SiteRates   `json:"site"`
	Presets []SiteRates `json:"presets"`
}

// SiteName is the site operating point's name: the label, what it was set for, on how many
// films and when, e.g. "site: CR room 2 (sens ≥ 0.95 on 48 films, 2026-12-03)".
func SiteName(label string, target float64, films int, created time.Time) string {
	return fmt.Sprintf("%s%s (sens ≥ %s on %d films, %s)", SitePrefix, label,
		strconv.FormatFloat(target, 'f', -1, 64), films, created.UTC().Format(time.DateOnly))
}

// SiteCriterion says how a site point was chosen, as Threshold.Criterion does.
func SiteCriterion(target float64, normal, pneumonia int, created time.Time) string {
	return fmt.Sprintf("sensitivity >= %s on %d of this site's own labelled films (%d normal, %d pneumonia), %s",
		strconv.FormatFloat(target, 'f', -1, 64), normal+pneumonia, normal, pneumonia, created.UTC().Format(time.DateOnly))
}

// ErrOtherModel is returned (wrapped) by For when a profile was made for another model file.
var ErrOtherModel = errors.New("the site profile was made for another model")

// ParseSiteProfile reads and validates a profile.
func ParseSiteProfile(b []byte) (SiteProfile, error) {
	var p SiteProfile
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&p); err != nil {
		return SiteProfile{}, fmt.Errorf("not a site profile: %v", err)
	}
	if dec.More() {
		return SiteProfile{}, errors.New("not a site profile: more than one JSON value")
	}
	if p.Format != SiteProfileFormat {
		return SiteProfile{}, fmt.Errorf("not a site profile: format %q, want %q", p.Format, SiteProfileFormat)
	}
	return p, p.Validate()
}

// Encode validates the profile and returns its JSON, indented, with a final newline.
func (p SiteProfile) Encode() ([]byte, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	b, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("site profile: %w", err)
	}
	return append(b, '\n'), nil
}

// For refuses the profile for any model file but the one it was made for (sha256 of the
// file loaded, m its metadata), saying which each is.
func (p SiteProfile) For(m Metadata, sha256 string) error {
	if strings.EqualFold(p.Model.SHA256, sha256) {
		return nil
	}
	return fmt.Errorf("%w: it was made for %s %s (sha256 %s…), and the model here is %s %s (sha256 %s…); "+
		"a threshold set for one model means nothing for another: calibrate again with this model",
		ErrOtherModel, p.Model.Name, p.Model.Version, short(p.Model.SHA256), m.Name, m.Version, short(sha256))
}

func short(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}

// WithSite returns the metadata with the profile's operating point added after the file's
// own, so Decide decides at it as at any other. The file's own operating point stays the one
// the metadata names.
func (m Metadata) WithSite(p SiteProfile) (Metadata, error) {
	if err := p.Validate(); err != nil {
		return Metadata{}, err
	}
	for _, t := range m.Thresholds {
		if t.Name == p.Operating.Name {
			return Metadata{}, fmt.Errorf("site profile: the model already has an operating point named %q", t.Name)
		}
	}
	out := m
	out.Thresholds = append(append(make([]Threshold, 0, len(m.Thresholds)+1), m.Thresholds...), p.Operating)
	return out, nil
}

// Validate reports the first thing that makes the profile unusable or inconsistent.
func (p SiteProfile) Validate() error {
	bad := func(format string, a ...any) error { return fmt.Errorf("site profile: "+format, a...) }
	switch {
	case p.Format != SiteProfileFormat:
		return bad("format %q, want %q", p.Format, SiteProfileFormat)
	case p.Version != SiteProfileVersion:
		return bad("version %d is not supported (want %d)", p.Version, SiteProfileVersion)
	case !isHexSHA256(p.Model.SHA256):
		return bad("model sha256 %q is not 64 hex digits", p.Model.SHA256)
	case p.Model.Name == "":
		return bad("the model's name is missing")
	}
	if err := CheckSiteLabel(p.Label); err != nil {
		return bad("%v", err)
	}
	created, err := time.Parse(time.RFC3339, p.Created)
	if err != nil {
		return bad("created %q is not an RFC 3339 time", p.Created)
	}
	switch {
	case p.Normal <= 0 || p.Pneumonia <= 0:
		return bad("%d normal and %d pneumonia films: both classes are needed", p.Normal, p.Pneumonia)
	case !(p.CILevel > 0 && p.CILevel < 1):
		return bad("confidence level %v not in (0, 1)", p.CILevel)
	case !unit(p.AUC) || !interval(p.AUCCI):
		return bad("AUC %v with interval %v outside [0, 1]", p.AUC, p.AUCCI)
	case p.Bootstrap < 1:
		return bad("%d bootstrap resamples", p.Bootstrap)
	case !(p.TargetSensitivity > 0 && p.TargetSensitivity <= 1):
		return bad("target sensitivity %v not in (0, 1]", p.TargetSensitivity)
	}
	if err := p.Site.check(p.Normal, p.Pneumonia); err != nil {
		return bad("site point: %v", err)
	}
	if float64(p.Site.TP) < p.TargetSensitivity*float64(p.Pneumonia)-1e-9 {
		return bad("site point: sensitivity %d/%d does not reach the target %v", p.Site.TP, p.Pneumonia, p.TargetSensitivity)
	}
	for _, r := range p.Presets {
		if err := r.check(p.Normal, p.Pneumonia); err != nil {
			return bad("operating point %q: %v", r.Name, err)
		}
	}
	o := p.Operating
	want := SiteName(p.Label, p.TargetSensitivity, p.Normal+p.Pneumonia, created)
	switch {
	case o.Name != want || p.Site.Name != want:
		return bad("operating point named %q (site rates %q), want %q", o.Name, p.Site.Name, want)
	case o.Value != p.Site.Threshold || !unit(o.Value):
		return bad("operating point %v, site rates at %v", o.Value, p.Site.Threshold)
	case !(o.Indeterminate >= 0 && o.Indeterminate < 0.5):
		return bad("indeterminate half-width %v outside [0, 0.5)", o.Indeterminate)
	case o.Test != nil:
		return bad("a site point has no test split")
	case o.Validation == nil || o.Validation.Pneumonia != p.Pneumonia || o.Validation.Normal != p.Normal ||
		o.Validation.Images != p.Normal+p.Pneumonia ||
		o.Validation.Sensitivity != p.Site.Sensitivity || o.Validation.Specificity != p.Site.Specificity:
		return bad("the operating point's rates %+v are not those measured (%d normal, %d pneumonia films)", o.Validation, p.Normal, p.Pneumonia)
	}
	return o.Validation.validate(o.Name, "site")
}

// check validates one set of rates against the film counts.
func (r SiteRates) check(normal, pneumonia int) error {
	switch {
	case r.Name == "":
		return errors.New("no name")
	case !unit(r.Threshold):
		return fmt.Errorf("threshold %v outside [0, 1]", r.Threshold)
	case r.TP < 0 || r.FN < 0 || r.TN < 0 || r.FP < 0 || r.TP+r.FN != pneumonia || r.TN+r.FP != normal:
		return fmt.Errorf("counts TP %d FN %d TN %d FP %d do not add up to %d pneumonia and %d normal films", r.TP, r.FN, r.TN, r.FP, pneumonia, normal)
	case math.Abs(r.Sensitivity-float64(r.TP)/float64(pneumonia)) > 1e-9 || math.Abs(r.Specificity-float64(r.TN)/float64(normal)) > 1e-9:
		return fmt.Errorf("sensitivity %v and specificity %v are not %d/%d and %d/%d", r.Sensitivity, r.Specificity, r.TP, pneumonia, r.TN, normal)
	case !interval(r.SensitivityCI) || !interval(r.SpecificityCI):
		return fmt.Errorf("intervals %v and %v outside [0, 1]", r.SensitivityCI, r.SpecificityCI)
	}
	return nil
}

func unit(x float64) bool { return x >= 0 && x <= 1 } // NaN fails

func interval(ci [2]float64) bool { return unit(ci[0]) && unit(ci[1]) && ci[0] <= ci[1] }

func isHexSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, c := range s {
		if !strings.ContainsRune("0123456789abcdefABCDEF", c) {
			return false
		}
	}
	return true
}

// CheckSiteLabel refuses a site label that would make a confusing operating point name
// (empty, padded with spaces, over 80 characters, holding control characters).
func CheckSiteLabel(label string) error {
	switch {
	case strings.TrimSpace(label) == "":
		return errors.New("the site's label is empty")
	case strings.TrimSpace(label) != label:
		return fmt.Errorf("the site's label %q begins or ends with spaces", label)
	case len([]rune(label)) > maxSiteLabel:
		return fmt.Errorf("the site's label is longer than %d characters", maxSiteLabel)
	}
	for _, r := range label {
		if unicode.IsControl(r) {
			return fmt.Errorf("the site's label %q holds a control character", label)
		}
	}
	return nil
}
