package bridge

// The worker's side of site calibration, apart from syscall/js so it is tested natively
// (site_test.go): the page sends JSON text and gets JSON text back. Every number comes from
// metrics.Site and every profile is a model.SiteProfile; the page computes nothing.

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"pneumoscan/metrics"
	"pneumoscan/model"
)

// calibrateRequest is the page's "calibrate" message: the site's films' P(pneumonia) after
// the temperature (each result's prob) with their labels (1 PNEUMONIA, 0 NORMAL), the
// sensitivity asked for and the site's label for the point.
type calibrateRequest struct {
	Probs  []float64 `json:"probs"`
	Labels []int     `json:"labels"`
	Target float64   `json:"target"`
	Label  string    `json:"label"`
}

// calibrateAnswer is what the page shows and saves: the measures (the ROC curve's points
// included, which the page draws) and the profile ready to keep, as its JSON text.
type calibrateAnswer struct {
	Calibration metrics.SiteCalibration `json:"calibration"`
	Profile     string                  `json:"profile"`
}

// calibrate measures the loaded model m (file sha256) on the site's films of req.
func calibrate(m model.Metadata, sha256 string, request []byte, now time.Time) ([]byte, error) {
	var req calibrateRequest
	if err := json.Unmarshal(request, &req); err != nil {
		return nil, fmt.Errorf("the calibration request does not read: %v", err)
	}
	c, err := metrics.Site(req.Probs, req.Labels, m.Thresholds, req.Target)
	if errors.Is(err, metrics.ErrOneClass) {
		return nil, fmt.Errorf("calibration needs screened films of both classes (NORMAL and PNEUMONIA): %v", err)
	}
	if err != nil {
		return nil, err
	}
	p, err := c.Profile(m, sha256, req.Label, now)
	if err != nil {
		return nil, err
	}
	text, err := p.Encode()
	if err != nil {
		return nil, err
	}
	return json.Marshal(calibrateAnswer{Calibration: c, Profile: string(text)})
}

// checkSite reads a profile the user imports (or the page kept) and refuses it unless it is
// well formed and made for the loaded model; it returns the profile re-encoded.
func checkSite(m model.Metadata, sha256 string, profile []byte) ([]byte, error) {
	p, err := model.ParseSiteProfile(profile)
	if err != nil {
		return nil, err
	}
	if err := p.For(m, sha256); err != nil {
		return nil, err
	}
	if _, err := m.WithSite(p); err != nil {
		return nil, err
	}
	return p.Encode()
}

// decision is one verdict of a result.
type decision struct {
	Name    string
	Verdict model.Verdict
	Site    bool // at the site operating point
}

// decisions are a result's verdicts at every operating point of the model file, then at the
// site point of profile when one is given (empty: none), each by model.Metadata.Decide. A
// profile that does not hold for this model gives siteErr and no site verdict; the file's
// own verdicts stand.
func decisions(m model.Metadata, sha256 string, raw float64, profile string) (out []decision, siteErr error, err error) {
	site := ""
	if profile != "" {
		p, perr := model.ParseSiteProfile([]byte(profile))
		if perr == nil {
			perr = p.For(m, sha256)
		}
		if perr == nil {
			var ws model.Metadata
			if ws, perr = m.WithSite(p); perr == nil {
				m, site = ws, p.Operating.Name
			}
		}
		siteErr = perr
	}
	for _, t := range m.Thresholds {
		d, err := m.Decide(raw, t.Name)
		if err != nil {
			return nil, nil, err
		}
		out = append(out, decision{Name: t.Name, Verdict: d.Verdict, Site: t.Name == site})
	}
	return out, siteErr, nil
}
