package web

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/maxence-charriere/go-app/v9/pkg/app"
)

// Site calibration: the user picks a folder of their own labelled films (NORMAL/ and
// PNEUMONIA/ sub-folders); the page screens them through its worker pool, the worker measures
// the model on them (wasm/bridge calibrate: metrics.Site) and makes the site profile
// (model.SiteProfile), which the page keeps in localStorage and hands to every screening, so
// each result carries its verdict at the site point too. The page computes no number itself.

// siteKey keeps the site profile's JSON text in localStorage.
const siteKey = "pneumoscan.site-profile"

// sitePrefix begins a site point's name (model.SitePrefix): it is how a card, an export row,
// an audit entry and the printed report say that a result is at a site point.
const sitePrefix = "site: "

// calibrationBase numbers the calibration's films below every card id (cards count up from
// 1), so their results, which come through the same pool, are told from cards'.
const calibrationBase = -1

func isCalibrationID(id int) bool { return id <= calibrationBase }

// siteCalibration is what the worker measured (metrics.SiteCalibration as JSON).
type siteCalibration struct {
	Normal    int          `json:"normal"`
	Pneumonia int          `json:"pneumonia"`
	AUC       float64      `json:"auc"`
	AUCCI     interval     `json:"auc_ci"`
	ROC       [][2]float64 `json:"roc"`
	Presets   []siteRates  `json:"presets"`
	Target    float64      `json:"target"`
	Site      siteRates    `json:"site"`
}

type interval struct {
	Lo        float64 `json:"lo"`
	Hi        float64 `json:"hi"`
	Level     float64 `json:"level"`
	Resamples int     `json:"resamples"`
}

// siteRates is a metrics.RatesAt.
type siteRates struct {
	Name      string  `json:"name"`
	Threshold float64 `json:"threshold"`
	Confusion struct {
		TP int `json:"tp"`
		FP int `json:"fp"`
		TN int `json:"tn"`
		FN int `json:"fn"`
	} `json:"confusion"`
	Sensitivity   float64  `json:"sensitivity"`
	SensitivityCI interval `json:"sensitivity_ci"`
	Specificity   float64  `json:"specificity"`
	SpecificityCI interval `json:"specificity_ci"`
}

// siteProfile is the part of a model.SiteProfile the page reads; the whole JSON text is
// what it keeps and sends.
type siteProfile struct {
	Label     string         `json:"label"`
	AUC       float64        `json:"auc"`
	Operating operatingPoint `json:"operating_point"`
}

// calibration is the view's state.
type calibration struct {
	open    bool
	total   int // films queued
	done    int // of them, finished (screened or refused)
	refused int // of them, refused (not a film, not a chest X-ray, ...)
	probs   []float64
	labels  []int // 1 PNEUMONIA
	ignored int   // files of the folder outside NORMAL/ and PNEUMONIA/
	target  float64
	label   string
	busy    bool // a calibrate request is out
	err     string
	answer  *siteCalibration
	profile string // the answer's profile, not yet saved
	nextID  int

	// The site point in use: its profile's JSON text and what the page reads of it.
	site     string
	siteInfo siteProfile
	siteMsg  string // what happened to it last (saved, imported, refused)
	siteErr  string
	url      string // the exported profile's blob: URL
}

// setSite makes the profile (JSON text, checked by the worker) the page's site point: it is
// offered in the operating-point selector and sent with every file screened from now on.
func (p *Page) setSite(ctx app.Context, text string) error {
	var sp siteProfile
	if err := json.Unmarshal([]byte(text), &sp); err != nil || !strings.HasPrefix(sp.Operating.Name, sitePrefix) {
		return fmt.Errorf("the site profile does not read: %v", err)
	}
	th := p.model.info.Thresholds[:0:0]
	for _, t := range p.model.info.Thresholds {
		if !strings.HasPrefix(t.Name, sitePrefix) {
			th = append(th, t)
		}
	}
	p.model.info.Thresholds = append(th, sp.Operating)
	p.calib.site, p.calib.siteInfo = text, sp
	if err := ctx.LocalStorage().Set(siteKey, text); err != nil {
		return fmt.Errorf("keeping the site profile in this browser failed: %v", err)
	}
	// A choice of this site point made before a reload comes back once the point is here.
	var s savedOperating
	if err := ctx.LocalStorage().Get(operatingKey, &s); err == nil && s.Model == p.model.sha256 && s.Name == sp.Operating.Name {
		p.operating = s.Name
	}
	return nil
}

// restoreSite sends the kept profile, if any, to the worker to check against the model just
// loaded; it is used once the worker accepts it.
func (p *Page) restoreSite(ctx app.Context) {
	var text string
	if err := ctx.LocalStorage().Get(siteKey, &text); err != nil || text == "" {
		return
	}
	p.siteCall("checkSite", "profile", text, "restore")
}

// siteCall posts a calibrate or checkSite message to a ready worker; why comes back with the
// answer (its id: restore, import, calibrate).
func (p *Page) siteCall(kind, field, text, why string) {
	w := p.pool.anyReady()
	if w == nil && p.pool != nil && len(p.pool.workers) > 0 {
		w = p.pool.workers[0].w // worker 0 answers once its model is loaded (it is, on "ready")
	}
	if w == nil {
		p.calib.err = "no worker is ready yet"
		return
	}
	msg := app.Window().Get("Object").New()
	msg.Set("type", kind)
	msg.Set("id", why)
	msg.Set(field, text)
	w.w.Call("postMessage", msg)
}

// onSiteMessage takes the worker's answers to siteCall.
func (p *Page) onSiteMessage(ctx app.Context, d app.Value) {
	why := d.Get("id").String()
	switch d.Get("type").String() {
	case "calibrated":
		p.calib.busy = false
		var a struct {
			Calibration siteCalibration `json:"calibration"`
			Profile     string          `json:"profile"`
		}
		if err := json.Unmarshal([]byte(d.Get("answer").String()), &a); err != nil {
			p.calib.err = "the calibration answer does not read: " + err.Error()
			return
		}
		p.calib.err, p.calib.answer, p.calib.profile = "", &a.Calibration, a.Profile
	case "site-checked":
		if err := p.setSite(ctx, d.Get("profile").String()); err != nil {
			p.calib.siteErr = err.Error()
			return
		}
		p.calib.siteErr = ""
		switch why {
		case "import":
			p.calib.siteMsg = "Imported the site operating point " + p.calib.siteInfo.Operating.Name + "; choose it in the operating-point selector."
		case "save":
			p.calib.siteMsg = "Saved in this browser as the site operating point; choose it in the operating-point selector."
		}
	case "site-error":
		msg := d.Get("message").String()
		switch why {
		case "calibrate":
			p.calib.busy, p.calib.err = false, msg
		case "restore":
			// Kept for another model (or unreadable): it is dropped, and the page says why.
			ctx.LocalStorage().Del(siteKey)
			p.calib.siteErr = "The site operating point kept in this browser was dropped: " + msg
		default:
			p.calib.siteErr = "The site profile was refused: " + msg
		}
	}
}

// onCalibrationFilm takes a pool message about one of the calibration's films.
func (p *Page) onCalibrationFilm(i int, d app.Value) {
	switch d.Get("type").String() {
	case "result":
		p.pool.done(i)
		p.calib.done++
		p.calib.probs = append(p.calib.probs, d.Get("prob").Float())
		p.calib.labels = append(p.calib.labels, calibrationLabel(d.Get("id").Int()))
	case "error":
		p.pool.done(i)
		p.calib.done++
		p.calib.refused++
	default:
		return // stages
	}
	if p.calib.done == p.calib.total {
		p.recalibrate()
	}
}

// calibrationLabel reads a film's label back from its id: ids are 2*k+label below
// calibrationBase, so the label needs no table.
func calibrationLabel(id int) int { return (calibrationBase - id) % 2 }

// onCalibrationFolder queues the picked folder's films: the label is the name of the folder
// holding each file, NORMAL or PNEUMONIA (webkitRelativePath); other files are counted, not
// screened.
func (p *Page) onCalibrationFolder(ctx app.Context, e app.Event) {
	input := ctx.JSSrc()
	files := screenable(fileList(input.Get("files")))
	input.Set("value", "")
	c := &p.calib
	c.total, c.done, c.refused, c.ignored, c.probs, c.labels, c.answer, c.profile, c.err = 0, 0, 0, 0, nil, nil, nil, "", ""
	var jobs []job
	for _, f := range files {
		parts := strings.Split(f.Get("webkitRelativePath").String(), "/")
		label := -1
		if len(parts) >= 2 {
			switch parts[len(parts)-2] {
			case "NORMAL":
				label = 0
			case "PNEUMONIA":
				label = 1
			}
		}
		if label < 0 {
			c.ignored++
			continue
		}
		c.nextID++
		jobs = append(jobs, job{id: calibrationBase - 2*c.nextID - label, name: f.Get("name").String(), file: f})
	}
	if len(jobs) == 0 {
		c.err = "This folder has no films in NORMAL/ or PNEUMONIA/ sub-folders: pick a folder with both, holding your own labelled films."
		return
	}
	c.total = len(jobs)
	for _, j := range jobs {
		p.pool.add(j)
	}
}

// recalibrate asks the worker to measure the screened films at the target and label now set.
func (p *Page) recalibrate() {
	c := &p.calib
	if c.done < c.total || c.total == 0 {
		return
	}
	req, _ := json.Marshal(struct {
		Probs  []float64 `json:"probs"`
		Labels []int     `json:"labels"`
		Target float64   `json:"target"`
		Label  string    `json:"label"`
	}{c.probs, c.labels, c.target, c.label})
	c.busy = true
	p.siteCall("calibrate", "request", string(req), "calibrate")
}

func (p *Page) toggleCalibration(ctx app.Context, e app.Event) {
	p.calib.open = !p.calib.open
	if p.calib.target == 0 {
		p.calib.target, p.calib.label = 0.95, "this site"
	}
}

func (p *Page) onTarget(ctx app.Context, e app.Event) {
	v, err := strconv.ParseFloat(ctx.JSSrc().Get("value").String(), 64)
	if err != nil || !(v > 0 && v <= 1) {
		p.calib.err = "The target sensitivity is a number above 0 and at most 1, e.g. 0.95."
		return
	}
	p.calib.target = v
	p.recalibrate()
}

func (p *Page) onSiteLabel(ctx app.Context, e app.Event) {
	p.calib.label = ctx.JSSrc().Get("value").String()
	p.recalibrate()
}

// saveSite keeps the calibration's profile as the site point (checked by the worker first,
// as an imported one is).
func (p *Page) saveSite(ctx app.Context, e app.Event) {
	if p.calib.profile == "" {
		return
	}
	p.calib.siteMsg = ""
	p.siteCall("checkSite", "profile", p.calib.profile, "save")
}

func (p *Page) importSite(ctx app.Context, e app.Event) {
	input := ctx.JSSrc()
	files := input.Get("files")
	if files.Length() == 0 {
		return
	}
	f := files.Index(0)
	input.Set("value", "")
	p.calib.siteMsg, p.calib.siteErr = "", ""
	var then, fail app.Func
	then = app.FuncOf(func(this app.Value, args []app.Value) any {
		text := args[0].String()
		p.ctx.Dispatch(func(app.Context) { p.siteCall("checkSite", "profile", text, "import") })
		then.Release()
		fail.Release()
		return nil
	})
	fail = app.FuncOf(func(this app.Value, args []app.Value) any {
		p.ctx.Dispatch(func(app.Context) { p.calib.siteErr = "The site profile could not be read." })
		then.Release()
		fail.Release()
		return nil
	})
	f.Call("text").Call("then", then, fail)
}

func (p *Page) exportSite(ctx app.Context, e app.Event) {
	if p.calib.site != "" {
		p.calib.url = downloadURL(p.calib.url, "site-profile.json", "application/json", p.calib.site)
	}
}

// calibrationView is the button that opens the view and, when open, the view.
func (p *Page) calibrationView() app.UI {
	c := &p.calib
	body := []app.UI{
		app.Button().ID("calibration-toggle").Class("calibration-toggle").OnClick(p.toggleCalibration).
			Text(map[bool]string{false: "Site calibration…", true: "Close site calibration"}[c.open]),
		app.If(c.site != "", app.P().ID("site-current").Class("site-current").
			Text("Site operating point kept in this browser: "+c.siteInfo.Operating.Name)),
		app.If(c.siteErr != "", app.P().ID("site-error").Class("card-error").Text(c.siteErr)),
	}
	if c.open {
		body = append(body,
			app.H2().Text("Site calibration"),
			app.P().Class("hint").Text("Pick a folder of your own labelled films with NORMAL/ and PNEUMONIA/ sub-folders. "+
				"They are screened here, on this device, and measure how this model does on your films: the ROC curve, "+
				"its AUC with a 95% interval, and each operating point's sensitivity and specificity. "+
				"A few dozen films give wide intervals."),
			app.Label().For("calibration-input").Text("Labelled folder "),
			app.Input().Type("file").ID("calibration-input").Attr("webkitdirectory", true).Attr("multiple", true).OnChange(p.onCalibrationFolder),
			app.Div().Class("calibration-settings").Body(
				app.Label().For("site-target").Text("Target sensitivity "),
				app.Input().Type("number").ID("site-target").Attr("min", "0.5").Attr("max", "1").Attr("step", "0.01").
					Value(strconv.FormatFloat(c.target, 'f', -1, 64)).OnChange(p.onTarget),
				app.Label().For("site-label").Text(" Site label "),
				app.Input().Type("text").ID("site-label").Attr("maxlength", "80").Value(c.label).OnChange(p.onSiteLabel),
			),
			app.If(c.total > 0, app.P().ID("calibration-progress").DataSet("done", c.done).DataSet("total", c.total).
				Text(fmt.Sprintf("Screened %d of %d films (%d refused)%s", c.done, c.total, c.refused,
					map[bool]string{true: fmt.Sprintf("; %d files outside NORMAL/ and PNEUMONIA/ left out", c.ignored)}[c.ignored > 0]))),
			app.If(c.err != "", app.P().ID("calibration-error").Class("card-error").Text(c.err)),
			app.If(c.answer != nil, p.calibrationResult()),
			app.Div().Class("site-files").Body(
				app.Label().For("site-import").Text("Import site profile "),
				app.Input().Type("file").ID("site-import").Accept(".json,application/json").OnChange(p.importSite),
				app.Button().ID("site-export").Disabled(c.site == "").OnClick(p.exportSite).Text("Export site profile"),
			),
			app.If(c.siteMsg != "", app.P().ID("site-message").Text(c.siteMsg)),
		)
	}
	return app.Section().ID("calibration").Class("calibration").DataSet("site", c.siteInfo.Operating.Name).Body(body...)
}

// calibrationResult shows the worker's answer (nil when there is none).
func (p *Page) calibrationResult() app.UI {
	a := p.calib.answer
	if a == nil {
		return nil
	}
	row := func(r siteRates, id string) app.UI {
		return app.Tr().ID(id).DataSet("threshold", r.Threshold).Body(
			app.Td().Text(r.Name),
			app.Td().Text(fmt.Sprintf("%.3f", r.Threshold)),
			app.Td().Text(fmt.Sprintf("%s [%s, %s] (%d/%d)", percent(r.Sensitivity), percent(r.SensitivityCI.Lo), percent(r.SensitivityCI.Hi), r.Confusion.TP, a.Pneumonia)),
			app.Td().Text(fmt.Sprintf("%s [%s, %s] (%d/%d)", percent(r.Specificity), percent(r.SpecificityCI.Lo), percent(r.SpecificityCI.Hi), r.Confusion.TN, a.Normal)),
		)
	}
	site := a.Site
	site.Name = fmt.Sprintf("site point (sensitivity ≥ %s)", strconv.FormatFloat(a.Target, 'f', -1, 64))
	rows := []app.UI{app.Tr().Body(app.Th().Text("operating point"), app.Th().Text("threshold"),
		app.Th().Text("sensitivity [95% CI]"), app.Th().Text("specificity [95% CI]"))}
	for i, r := range a.Presets {
		rows = append(rows, row(r, "calibration-preset-"+strconv.Itoa(i)))
	}
	rows = append(rows, row(site, "calibration-site"))
	return app.Div().ID("calibration-result").Body(
		app.Raw(rocSVG(a.ROC, a.Presets, a.Site)),
		app.P().Class("hint").Text("ROC curve on these films. Orange circles: the model's own operating points; green square: the site point."),
		app.P().ID("calibration-auc").DataSet("auc", strconv.FormatFloat(a.AUC, 'g', -1, 64)).
			Text(fmt.Sprintf("ROC-AUC %.3f (95%% CI %.3f to %.3f) on %d films: %d normal, %d pneumonia.",
				a.AUC, a.AUCCI.Lo, a.AUCCI.Hi, a.Normal+a.Pneumonia, a.Normal, a.Pneumonia)),
		app.Table().Class("calibration-rates").Body(rows...),
		app.Button().ID("site-save").Disabled(p.calib.busy).OnClick(p.saveSite).Text("Save site operating point"),
	)
}

// rocSVG draws the ROC curve with the model's operating points (circles) and the site point
// (a square). Only numbers go into it.
func rocSVG(roc [][2]float64, presets []siteRates, site siteRates) string {
	const size, pad = 260.0, 30.0
	x := func(v float64) float64 { return pad + v*size }
	y := func(v float64) float64 { return pad + (1-v)*size }
	var b strings.Builder
	fmt.Fprintf(&b, `<svg id="roc" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %.0f %.0f" width="320" height="320" role="img" aria-label="ROC curve">`, size+2*pad, size+2*pad)
	fmt.Fprintf(&b, `<rect x="%.0f" y="%.0f" width="%.0f" height="%.0f" fill="none" stroke="#888"/>`, pad, pad, size, size)
	fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#bbb" stroke-dasharray="4 4"/>`, x(0), y(0), x(1), y(1))
	b.WriteString(`<polyline fill="none" stroke="#1565c0" stroke-width="2" points="`)
	for _, pt := range roc {
		fmt.Fprintf(&b, "%.1f,%.1f ", x(pt[0]), y(pt[1]))
	}
	b.WriteString(`"/>`)
	for _, r := range presets {
		fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="5" fill="#ef6c00"/>`, x(1-r.Specificity), y(r.Sensitivity))
	}
	fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="10" height="10" fill="#2e7d32"/>`, x(1-site.Specificity)-5, y(site.Sensitivity)-5)
	fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" font-size="12" text-anchor="middle">1 − specificity</text>`, pad+size/2, size+2*pad-6)
	fmt.Fprintf(&b, `<text x="12" y="%.0f" font-size="12" text-anchor="middle" transform="rotate(-90 12 %.0f)">sensitivity</text>`, pad+size/2, pad+size/2)
	b.WriteString(`</svg>`)
	return b.String()
}
