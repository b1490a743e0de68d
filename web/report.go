package web

import (
	"fmt"
	"strconv"
	"time"

	"github.com/maxence-charriere/go-app/v9/pkg/app"
)

// The printable report is the batch on paper: a summary page (counts per verdict, a table of
// the files and their verdicts, the model and the operating point), then one page per file
// with its film, its heatmap, its verdict and everything needed to read it without the
// screen: the operating point and its expected sensitivity and specificity, the model's
// name, version and sha256, when it was screened, and the research-use notice. It is drawn
// only for printing (the print stylesheet hides the rest of the page while it exists, and
// the screen never shows it), from pictures made for it, one file at a time, so the report
// holds no decoded film: each film a JPEG, each heatmap a PNG, as blob: URLs, released once
// the print dialog closes.

// reportPx is the longer side of a film in the report: about 300 dpi over the 11 cm a film
// takes on the page.
const reportPx = 1300

// researchNotice is printed on every page of the report.
const researchNotice = "Research use only, not for diagnosis. pneumoscan is a research tool: its output is not a medical diagnosis and must not be used to make clinical decisions."

// report is a report being made (ready false: pictures still being drawn) or made.
type report struct {
	at     time.Time
	images map[int]reportImages // by card id; absent: no picture (refused, not drawable, restored)
	made   int                  // files whose pictures are done
	total  int
	ready  bool // every picture made: the report is rendered
	loaded bool // its pictures decoded: printed
}

type reportImages struct {
	film, heatmap string // blob: URLs
}

// release frees the report's pictures.
func (r *report) release() {
	url := app.Window().Get("URL")
	for _, im := range r.images {
		for _, u := range []string{im.film, im.heatmap} {
			if u != "" {
				url.Call("revokeObjectURL", u)
			}
		}
	}
	r.images = nil
}

// canvasBlob encodes canvas (mime, quality) into a blob: URL, "" if it fails.
func canvasBlob(canvas app.Value, mime string, quality float64, done func(url string)) {
	var f app.Func
	f = app.FuncOf(func(this app.Value, args []app.Value) any {
		defer f.Release()
		url := ""
		if len(args) > 0 && args[0].Truthy() {
			url = app.Window().Get("URL").Call("createObjectURL", args[0]).String()
		}
		done(url)
		return nil
	})
	canvas.Call("toBlob", f, mime, quality)
}

// printReport makes the report's pictures, one file after another, then renders the report,
// waits for its pictures to decode and opens the browser's print dialog.
func (p *Page) printReport(ctx app.Context, e app.Event) {
	if p.pending() > 0 || (p.report != nil && !p.report.loaded) {
		return
	}
	p.dropReport()
	r := &report{at: time.Now(), images: map[int]reportImages{}, total: len(p.cards)}
	p.report = r
	cards := append([]*card(nil), p.cards...)
	var next func(i int)
	next = func(i int) {
		if p.report != r {
			return // dropped meanwhile
		}
		if i == len(cards) {
			r.ready = true
			p.ctx.Defer(func(app.Context) { p.printWhenLoaded(r) })
			return
		}
		c := cards[i]
		step := func() {
			r.made++
			p.ctx.Dispatch(func(app.Context) { next(i + 1) })
		}
		heat := app.Window().GetElementByID(c.canvasID())
		if !c.viewable() || !heat.Truthy() {
			step()
			return
		}
		canvasBlob(heat, "image/png", 1, func(heatURL string) {
			drawScaled(c.file, reportPx, func(canvas app.Value) {
				canvasBlob(canvas, "image/jpeg", 0.9, func(filmURL string) {
					if filmURL != "" {
						r.images[c.id] = reportImages{film: filmURL, heatmap: heatURL}
					}
					step()
				})
			}, step)
		})
	}
	next(0)
}

// printWhenLoaded opens the print dialog once every picture of the report has decoded (the
// browser prints what it has, and would leave a blank where a picture is still decoding).
func (p *Page) printWhenLoaded(r *report) {
	// The promises are gathered in Go: a Go callback given to Array.map for this hung the
	// page in Chromium (TestViewer).
	imgs := app.Window().Get("document").Call("querySelectorAll", "#report img")
	var noop, done app.Func
	noop = app.FuncOf(func(this app.Value, args []app.Value) any { return nil })
	decoded := app.Window().Get("Array").New()
	for i := 0; i < imgs.Length(); i++ {
		decoded.Call("push", imgs.Index(i).Call("decode").Call("catch", noop))
	}
	done = app.FuncOf(func(this app.Value, args []app.Value) any {
		noop.Release()
		done.Release()
		p.ctx.Dispatch(func(ctx app.Context) {
			if p.report != r {
				return
			}
			r.loaded = true
			ctx.Defer(func(app.Context) {
				// The pictures go once the dialog has closed (printed or cancelled): a batch's
				// films held as JPEGs are megabytes the page has no other use for.
				var after app.Func
				after = app.FuncOf(func(this app.Value, args []app.Value) any {
					after.Release()
					p.ctx.Dispatch(func(app.Context) {
						if p.report == r {
							p.dropReport()
						}
					})
					return nil
				})
				opts := app.Window().Get("Object").New()
				opts.Set("once", true)
				app.Window().Call("addEventListener", "afterprint", after, opts)
				app.Window().Call("print")
			})
		})
		return nil
	})
	app.Window().Get("Promise").Call("all", decoded).Call("then", done)
}

// dropReport releases the report (after the print dialog closed, or before a new one).
func (p *Page) dropReport() {
	if p.report != nil {
		p.report.release()
		p.report = nil
	}
}

// printButton is the results' "Print report" action and what it is doing.
func (p *Page) printButton() app.UI {
	label := "Print report"
	switch {
	case p.report != nil && !p.report.ready:
		label = fmt.Sprintf("Preparing the report: %d of %d files", p.report.made, p.report.total)
	case p.report != nil && !p.report.loaded:
		label = "Preparing the report: loading its pictures"
	}
	return app.Button().ID("print-report").Disabled(p.pending() > 0 || (p.report != nil && !p.report.loaded)).
		Title("One page per film with its heatmap and verdict, after a summary page").Text(label).OnClick(p.printReport)
}

// screenedAt is when a row's result came, in the browser's time zone.
func screenedAt(r resultRow) string {
	t, err := time.Parse(time.RFC3339, r.Time)
	if err != nil {
		return "not recorded"
	}
	return t.Local().Format("2006-01-02 15:04:05 MST")
}

// expected says what the verdict at op is worth: the expected sensitivity and specificity
// from the figures the model file records.
func expected(op operatingPoint) string {
	r, where := op.bestRates()
	if r == nil {
		return "Expected sensitivity and specificity at this operating point: not recorded in the model file."
	}
	return fmt.Sprintf("Expected at this operating point: sensitivity %s, specificity %s (%s).", percent(r.Sensitivity), percent(r.Specificity), where)
}

// modelLine names a model in full.
func modelLine(m modelRef) string {
	return fmt.Sprintf("Model: %s %s, sha256 %s", m.Name, m.Version, m.SHA256)
}

// render draws the report of rows at operating point op with the model m.
func (r *report) render(rows []resultRow, op operatingPoint, info modelInfo, m modelRef) app.UI {
	return app.Section().ID("report").Class("report").DataSet("ready", r.loaded).DataSet("pages", 1+len(rows)).Body(
		app.Section().Class("report-summary").Body(
			app.H1().Text("pneumoscan screening report"),
			app.P().Class("report-notice").Text(researchNotice),
			app.P().Text("Printed "+r.at.Format("2006-01-02 15:04:05 MST")+". "+modelLine(m)+"."),
			app.P().Text(fmt.Sprintf("Operating point %s (threshold %.2f). %s", op.Name, op.Value, expected(op))),
			app.P().Class("report-counts").Text(summary(rows, op.Name)+"."),
			app.Table().Class("report-table").Body(
				app.THead().Body(app.Tr().Body(
					app.Th().Text("#"), app.Th().Text("File"), app.Th().Text("Verdict"), app.Th().Text("Score"), app.Th().Text("Screened"),
				)),
				app.TBody().Body(app.Range(rows).Slice(func(i int) app.UI {
					key, _ := rows[i].verdict(op.Name)
					score := rows[i].score()
					if score == "" {
						score = "—"
					}
					return app.Tr().Body(
						app.Td().Text(strconv.Itoa(i+1)), app.Td().Class("file").Text(rows[i].File),
						app.Td().Class("verdict "+key).Text(verdictLabel(key)), app.Td().Text(score), app.Td().Text(screenedAt(rows[i])),
					)
				})),
			),
			app.P().Class("report-population").Text(populationText(info)),
		),
		app.Range(rows).Slice(func(i int) app.UI { return r.filmPage(i, len(rows), rows[i], op, m) }),
	)
}

// filmPage is one file's page.
func (r *report) filmPage(i, n int, row resultRow, op operatingPoint, m modelRef) app.UI {
	key, text := row.verdict(op.Name)
	if row.Model.SHA256 != "" {
		m = row.Model
	}
	im, pictured := r.images[row.ID]
	var picture app.UI
	switch {
	case row.Status != stageDone:
		// A refused or cancelled file has no picture: its page says why, and nothing else
		// stands in for the film.
	case pictured:
		w, h := 1, 1
		if row.card != nil && row.card.width > 0 && row.card.height > 0 {
			w, h = row.card.width, row.card.height
		}
		opacity := 0.5
		if row.card != nil {
			opacity = row.card.opacity
		}
		figure := func(caption string, heat bool) app.UI {
			return app.Figure().Class("report-figure").Style("width", fmt.Sprintf("min(48%%, calc(10.5cm * %.6f))", float64(w)/float64(h))).Body(
				app.Div().Class("report-frame").Style("aspect-ratio", fmt.Sprintf("%d / %d", w, h)).Body(
					app.Img().Src(im.film).Alt("chest film "+row.File),
					app.If(heat && im.heatmap != "", app.Img().Class("report-heatmap").Src(im.heatmap).Alt("Grad-CAM heatmap").
						Style("opacity", strconv.FormatFloat(opacity, 'f', 2, 64))),
				),
				app.FigCaption().Text(caption),
			)
		}
		picture = app.Div().Class("report-pictures").Body(
			app.Div().Class("report-figures").Body(
				figure("Film", false),
				figure(fmt.Sprintf("Grad-CAM heatmap over the film (opacity %.0f%%)", 100*opacity), true),
			),
			heatmapLegend(),
		)
	case row.restored:
		picture = app.P().Class("report-nopicture").Text("Picture not kept: this result was restored after the page was reloaded.")
	default:
		picture = app.P().Class("report-nopicture").Text("This browser cannot draw this file (the worker decoded it): no picture in the report.")
	}
	var score app.UI
	if row.Status == stageDone {
		score = app.P().Text(fmt.Sprintf("Probability of pneumonia (model estimate): %s; threshold %.2f.", row.score(), op.Value))
	}
	gate := ""
	if row.Gate.Verdict != "" {
		gate = "Gate: " + row.Gate.Verdict
		if row.Gate.Text != "" {
			gate += ". " + row.Gate.Text
		}
	}
	return app.Article().Class("report-film").DataSet("verdict", key).Body(
		app.H2().Text(fmt.Sprintf("File %d of %d: %s", i+1, n, row.File)),
		app.P().Class("report-verdict "+key).Text(text),
		picture,
		score,
		app.P().Text(fmt.Sprintf("Operating point %s (threshold %.2f). %s %s", op.Name, op.Value, expected(op), op.meaning())),
		app.If(gate != "", app.P().Text(gate)),
		app.P().Text("Screened "+screenedAt(row)+"."),
		app.P().Class("report-model").Text(modelLine(m)),
		app.P().Class("report-notice").Text(researchNotice),
	)
}
