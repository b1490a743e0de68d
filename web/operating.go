package web

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"

	"github.com/maxence-charriere/go-app/v9/pkg/app"
)

// The page receives the model's metadata as JSON (the JSON form of model.Metadata, from the
// worker and from the site's model card data). The page imports no project package, so the
// part it shows is spelled out here by the same JSON names; the browser test checks that what
// the page shows is what the model file says.

type modelInfo struct {
	Name        string             `json:"name"`
	Version     string             `json:"version"`
	Trained     bool               `json:"trained"`
	Description string             `json:"description"`
	Thresholds  []operatingPoint   `json:"thresholds"`
	Operating   string             `json:"operating"`
	Temperature float64            `json:"temperature"`
	Metrics     map[string]float64 `json:"metrics"`
	Population  string             `json:"population"`
}

// operatingPoint is a model.Threshold.
type operatingPoint struct {
	Name          string  `json:"name"`
	Value         float64 `json:"value"`
	Criterion     string  `json:"criterion"`
	Validation    *rates  `json:"validation"`
	Test          *rates  `json:"test"`
	Indeterminate float64 `json:"indeterminate"`
}

// rates is a model.Rates.
type rates struct {
	Sensitivity float64 `json:"sensitivity"`
	Specificity float64 `json:"specificity"`
	Images      int     `json:"images"`
	Pneumonia   int     `json:"pneumonia"`
	Normal      int     `json:"normal"`
}

func parseModelInfo(s string) (modelInfo, error) {
	var m modelInfo
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		return modelInfo{}, fmt.Errorf("the model's metadata does not read: %v", err)
	}
	return m, nil
}

// point is the operating point called name, or the model's own when there is none.
func (m modelInfo) point(name string) operatingPoint {
	for _, t := range m.Thresholds {
		if t.Name == name {
			return t
		}
	}
	for _, t := range m.Thresholds {
		if t.Name == m.Operating {
			return t
		}
	}
	return operatingPoint{}
}

// scoreText is the calibrated probability as the page shows it: to the nearest 10 percentage
// points, and never 0% or 100% (below 5% and above 95% are said as such). Anything finer would
// be false precision. On the shipped model's test split, other patients than it was calibrated
// on, the expected calibration error is 0.13 and films scored about 0.75 were pneumonia 19% of
// the time (docs/runs/gpu-20261127-run3/metrics.json): the second digit carries nothing, and
// no film is certain either way. The exact value stays in the card's data-prob attribute for
// tests and exports, never in its text.
func scoreText(p float64) string {
	switch {
	case p < 0.05:
		return "below 5%"
	case p >= 0.95:
		return "above 95%"
	}
	return fmt.Sprintf("about %d%%", int(math.Round(p*10))*10)
}

// percent shows a rate as a whole percentage: the figures come from a few hundred films, so a
// decimal would claim more than they hold.
func percent(x float64) string { return fmt.Sprintf("%.0f%%", 100*x) }

// of100 is x as "about N of 100".
func of100(x float64) string { return fmt.Sprintf("about %.0f of 100", 100*x) }

// bestRates are the figures that say most about films the model has not seen: the test
// split's when measured, else validation's (the split the threshold was chosen on).
func (t operatingPoint) bestRates() (r *rates, where string) {
	switch {
	case t.Test != nil:
		return t.Test, fmt.Sprintf("test split, %d films scored once after the model was chosen", t.Test.Images)
	case t.Validation != nil:
		return t.Validation, fmt.Sprintf("validation split, %d films, the ones this threshold was chosen on: expect fewer on new films", t.Validation.Images)
	}
	return nil, ""
}

// meaning says in words what the verdict at t is worth, from the figures the model file records.
func (t operatingPoint) meaning() string {
	s := "How often the model is right at this operating point is not recorded in its file."
	if r, where := t.bestRates(); r != nil {
		s = fmt.Sprintf("At this operating point, the model finds %s pneumonias and flags %s normal films (%s).",
			of100(r.Sensitivity), of100(1-r.Specificity), where)
	}
	if t.Indeterminate > 0 {
		s += fmt.Sprintf(" Films scored within %s of the threshold are marked indeterminate instead.", percentPoints(t.Indeterminate))
	}
	return s
}

// percentPoints is a band half-width on the probability scale, in percentage points.
func percentPoints(w float64) string { return fmt.Sprintf("%.0f percentage points", 100*w) }

// ratesText is one set of rates in a line, or "not recorded".
func ratesText(what string, r *rates) string {
	if r == nil {
		return what + ": not recorded"
	}
	return fmt.Sprintf("%s: sensitivity %s, specificity %s (%d films)", what, percent(r.Sensitivity), percent(r.Specificity), r.Images)
}

// label is the operating point in the selector: its name, threshold and expected rates.
func (t operatingPoint) label() string {
	return fmt.Sprintf("%s (threshold %.2f) · %s · %s", t.Name, t.Value, ratesText("validation", t.Validation), ratesText("test", t.Test))
}

// populationText says who the model was validated on, on every result.
func populationText(m modelInfo) string {
	if m.Population == "" {
		return "Who this model was validated on is not recorded in its file: treat every result as unvalidated."
	}
	return "Validated on " + strings.TrimSuffix(m.Population, ".") + ". Films from other patients (adults, other hospitals, other machines) were not measured and may score differently."
}

// operatingSelector lets the user choose the operating point every result is shown at.
func operatingSelector(m modelInfo, selected string, onChange app.EventHandler) app.UI {
	cur := m.point(selected)
	band := "no indeterminate band"
	if cur.Indeterminate > 0 {
		band = fmt.Sprintf("indeterminate from %.2f to %.2f", cur.Value-cur.Indeterminate, cur.Value+cur.Indeterminate)
	}
	return app.Div().Class("operating").ID("operating").DataSet("selected", cur.Name).Body(
		app.Label().For("operating-point").Text("Operating point "),
		app.Select().ID("operating-point").OnChange(onChange).Body(
			app.Range(m.Thresholds).Slice(func(i int) app.UI {
				t := m.Thresholds[i]
				return app.Option().Value(t.Name).Selected(t.Name == cur.Name).Text(t.label())
			}),
		),
		app.P().Class("operating-detail").ID("operating-detail").Text(fmt.Sprintf("Chosen for %s; %s. %s",
			cur.Criterion, band, cur.meaning())),
	)
}

// operatingKey remembers the chosen operating point in localStorage, with the model it is of.
const operatingKey = "pneumoscan.operating"

type savedOperating struct {
	Model string `json:"model"` // sha256 of the model the choice was made with
	Name  string `json:"name"`
}

// restoreOperating picks the operating point saved for this model, else the model's own.
func (p *Page) restoreOperating(ctx app.Context) {
	p.operating = p.model.info.Operating
	var s savedOperating
	if err := ctx.LocalStorage().Get(operatingKey, &s); err == nil && s.Model == p.model.sha256 && p.model.info.point(s.Name).Name == s.Name {
		p.operating = s.Name
	}
}

func (p *Page) onOperating(ctx app.Context, e app.Event) {
	name := ctx.JSSrc().Get("value").String()
	if p.model.info.point(name).Name != name {
		return
	}
	p.operating = name
	if err := ctx.LocalStorage().Set(operatingKey, savedOperating{Model: p.model.sha256, Name: name}); err != nil {
		app.Log("remembering the operating point failed:", err)
	}
}
