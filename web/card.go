package web

import (
	"cmp"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/maxence-charriere/go-app/v9/pkg/app"
)

// Stages of one file, as the worker reports them.
const (
	stageQueued   = "queued"
	stageDecoding = "decoding"
	stageRunning  = "running"
	stageExplain  = "explaining"
	stageDone     = "done"
	stageError    = "error"
	// stageCancelled is the page's own: the user cancelled the batch before the file
	// reached a worker.
	stageCancelled = "cancelled"
)

// decision is the worker's verdict on a film at one operating point (model.Metadata.Decide):
// the page shows it and decides nothing.
type decision struct {
	Verdict string `json:"verdict"` // "positive", "negative", "indeterminate"
	Text    string `json:"text"`    // in plain language
	// Site marks the verdict at the site operating point this browser keeps (calibration.go),
	// set on the site's own films rather than the model file's.
	Site bool `json:"site,omitempty"`
}

// openCards is how many cards of a page show their full image from the start; later ones
// show their thumbnail until the user opens them, so a batch of hundreds holds no more than
// this many decoded films (a chest film decodes to several MB).
const openCards = 12

// thumbPx is the longer side of a thumbnail, in CSS pixels.
const thumbPx = 96

// card is one screened file.
type card struct {
	id   int
	name string
	file app.Value // the File the user chose (a Blob: the browser reads it from disk when asked)
	// imageURL is a blob: URL of the file while the card is open (its full image shown),
	// "" otherwise: a closed card shows its thumbnail and holds no decoded film.
	imageURL string
	opened   bool
	thumb    string // data: URL of a thumbPx thumbnail, made once the result is in
	noThumb  bool   // the browser cannot draw this file (DICOM, a refused file)

	stage   string
	started time.Time // when the current stage began
	err     string

	prob        float64
	decisions   map[string]decision // the worker's verdict at each operating point, by name
	heatmap     app.Value           // ArrayBuffer of RGBA pixels
	heatmapSize int
	// width and height are the film's size as the worker decoded it: the figure keeps its
	// ratio (the heatmap, square at the model's input size, is stretched over it as the
	// model's resize stretched the film).
	width, height int
	seconds       float64 // model time as measured by the worker
	worker        int     // which of the page's workers screens it (-1: none yet)

	opacity     float64
	showHeatmap bool

	// The cross-check with the onnx-go reference engine, when the user asked for one.
	refStage string // "", "running", "done" or "error"
	refProb  float64
	refErr   string

	// What the table, the exports and the audit log need beside the above.
	gate       gateResult
	outside    string // the result's population warning, when it gives one
	category   string // a refusal's category, when the worker names one
	fileSHA256 string
	model      modelRef
	finishedAt time.Time
	wasmBytes  float64 // the worker's wasm memory after this file (bench and memory test)
}

// row is the card as the results table knows it.
func (c *card) row() resultRow {
	r := resultRow{ID: c.id, File: c.name, Status: c.stage, Prob: c.prob, Decisions: c.decisions, Gate: c.gate,
		Outside: c.outside, Message: c.err, Category: c.category, FileSHA256: c.fileSHA256, Model: c.model,
		thumb: c.thumb, card: c}
	if !c.finishedAt.IsZero() {
		r.Time = c.finishedAt.UTC().Format(time.RFC3339)
	}
	return r
}

// open shows the card's full image (a fresh blob: URL of its file).
func (c *card) open() {
	if c.imageURL == "" && c.file != nil && c.file.Truthy() {
		c.imageURL = app.Window().Get("URL").Call("createObjectURL", c.file).String()
	}
	c.opened = true
}

// close releases the full image: the card shows its thumbnail again.
func (c *card) close() {
	if c.imageURL != "" {
		app.Window().Get("URL").Call("revokeObjectURL", c.imageURL)
	}
	c.imageURL, c.opened = "", false
}

// makeThumb draws the file once into a thumbPx canvas and keeps it as a JPEG data: URL
// (a few KB), then calls done.
func (c *card) makeThumb(done func()) {
	drawScaled(c.file, thumbPx, func(canvas app.Value) {
		c.thumb = canvas.Call("toDataURL", "image/jpeg", 0.8).String()
		done()
	}, func() {
		c.noThumb = true // DICOM and other formats only the worker decodes
		done()
	})
}

// drawScaled draws file (a File the browser can decode) into a canvas whose longer side is
// at most longest pixels, at the file's own ratio, and hands it to then; fail is called when
// the browser cannot draw the file. The decoded bitmap is closed at once, and the canvas's
// pixels are freed when then returns.
func drawScaled(file app.Value, longest float64, then func(canvas app.Value), fail func()) {
	if file == nil || !file.Truthy() {
		fail()
		return
	}
	var ok, bad app.Func
	release := func() { ok.Release(); bad.Release() }
	ok = app.FuncOf(func(this app.Value, args []app.Value) any {
		defer release()
		bm := args[0]
		w, h := bm.Get("width").Float(), bm.Get("height").Float()
		scale := min(1, longest/max(w, h, 1))
		cw, ch := max(1, int(w*scale+0.5)), max(1, int(h*scale+0.5))
		canvas := app.Window().Get("document").Call("createElement", "canvas")
		canvas.Set("width", cw)
		canvas.Set("height", ch)
		canvas.Call("getContext", "2d").Call("drawImage", bm, 0, 0, cw, ch)
		bm.Call("close")
		then(canvas)
		canvas.Set("width", 0) // frees the canvas's pixels now, not at the next collection
		return nil
	})
	bad = app.FuncOf(func(this app.Value, args []app.Value) any {
		defer release()
		fail()
		return nil
	})
	app.Window().Call("createImageBitmap", file).Call("then", ok, bad)
}

func (c *card) setStage(s string) {
	c.stage = s
	c.started = time.Now()
}

func (c *card) fail(msg string) {
	c.stage = stageError
	c.err = msg
	if c.finishedAt.IsZero() {
		c.finishedAt = time.Now()
	}
}

func (c *card) setResult(d app.Value) {
	c.stage = stageDone
	c.prob = d.Get("prob").Float()
	c.decisions = map[string]decision{}
	ds := d.Get("decisions")
	for i := 0; i < ds.Length(); i++ {
		e := ds.Index(i)
		c.decisions[e.Get("name").String()] = decision{Verdict: e.Get("verdict").String(), Text: e.Get("text").String(),
			Site: e.Get("site").Truthy()}
	}
	c.heatmap = d.Get("heatmap")
	c.heatmapSize = d.Get("size").Int()
	c.width, c.height = d.Get("width").Int(), d.Get("height").Int()
	c.seconds = d.Get("seconds").Float()
	c.readCommon(d)
	// Fields a gate before the model may add: what it said, and a population warning.
	c.gate = readGate(d.Get("gate"))
	c.outside = jsString(d.Get("populationWarning"))
	if c.outside == "" && strings.Contains(strings.ToLower(c.gate.Verdict), "outside") {
		c.outside = cmp.Or(c.gate.Text, c.gate.Verdict)
	}
}

// readCommon reads what results and errors both carry.
func (c *card) readCommon(d app.Value) {
	c.finishedAt = time.Now()
	c.fileSHA256 = jsString(d.Get("fileSha256"))
	if w := d.Get("wasmBytes"); w.Type() == app.TypeNumber {
		c.wasmBytes = w.Float()
	}
}

// refuse fails the card with the worker's error message and what else the error says.
func (c *card) refuse(d app.Value) {
	c.fail(d.Get("message").String())
	c.readCommon(d)
	c.category = cmp.Or(jsString(d.Get("category")), jsString(d.Get("kind")))
	c.gate = readGate(d.Get("gate"))
}

func (c *card) canvasID() string { return "heatmap-" + strconv.Itoa(c.id) }

// drawHeatmap paints the Grad-CAM colours once; the slider and toggle only change CSS.
func (c *card) drawHeatmap() {
	canvas := app.Window().GetElementByID(c.canvasID())
	if !canvas.Truthy() || c.heatmap == nil || c.heatmapSize == 0 {
		return
	}
	pix := app.Window().Get("Uint8ClampedArray").New(c.heatmap)
	img := app.Window().Get("ImageData").New(pix, c.heatmapSize, c.heatmapSize)
	canvas.Call("getContext", "2d").Call("putImageData", img, 0, 0)
	// The canvas holds the pixels now: keeping the buffer too would double a batch's heatmaps.
	// The canvas element stays put (cards are appended, its figure's other child changes alone).
	c.heatmap = nil
	// A range input's value attribute is applied in whatever order go-app sets attributes:
	// before step and max it is rounded to an integer (0.5 -> 1), so the slider would show
	// 1.0 over a heatmap drawn at 0.5. Setting the property once the element exists is exact.
	if s := app.Window().GetElementByID(c.sliderID()); s.Truthy() {
		s.Set("value", strconv.FormatFloat(c.opacity, 'f', 2, 64))
	}
}

func (c *card) sliderID() string { return "opacity-" + strconv.Itoa(c.id) }

func (c *card) status() string {
	switch c.stage {
	case stageQueued:
		return "queued"
	case stageDecoding:
		return "decoding image"
	case stageRunning:
		return fmt.Sprintf("running model, %.0f s", time.Since(c.started).Seconds())
	case stageExplain:
		return "computing the heatmap"
	case stageDone:
		return fmt.Sprintf("done in %.1f s", c.seconds)
	case stageCancelled:
		return "cancelled before it was screened"
	}
	return c.stage
}

// render draws the card at the operating point op of the model m (both from the model's
// metadata, which the page received once, with the model).
// view opens the film viewer on the card.
func (c *card) render(m modelInfo, op operatingPoint, crossCheck, view func(*card)) app.UI {
	display := "block"
	if !c.showHeatmap {
		display = "none"
	}
	var result app.UI
	switch c.stage {
	case stageError:
		result = app.P().Class("card-error").DataSet("code", c.category).Text(c.err)
	case stageDone:
		d, ok := c.decisions[op.Name]
		if !ok {
			d = decision{Verdict: "unknown", Text: fmt.Sprintf("No verdict at operating point %q", op.Name)}
		}
		result = app.Div().Body(
			app.P().Class("decision "+d.Verdict).DataSet("verdict", d.Verdict).DataSet("operating", op.Name).DataSet("site", d.Site).Text(d.Text),
			app.If(d.Site, app.P().Class("site-mark").Text("At a site operating point ("+op.Name+"), set on this site's own films, not by the model's makers.")),
			app.If(c.outside != "", app.P().Class("outside").Text("Outside the population the model was validated on: "+c.outside)),
			app.If(c.gate.Verdict != "", app.P().Class("gate").Text("Gate: "+c.gate.Verdict+" "+c.gate.Text)),
			app.P().Class("prob").DataSet("prob", strconv.FormatFloat(c.prob, 'g', -1, 64)).
				Text(fmt.Sprintf("Probability of pneumonia (model estimate): %s; threshold %.2f (%s)", scoreText(c.prob), op.Value, op.Name)),
			app.P().Class("meaning").Text(op.meaning()),
			app.P().Class("population").Text(populationText(m)),
			c.renderCrossCheck(crossCheck),
			app.Div().Class("controls").Body(
				app.Button().Class("card-view").Disabled(!c.viewable()).Text("View film").
					Title("Open the film viewer: zoom, pan, window/level, invert, heatmap side by side").
					OnClick(func(ctx app.Context, e app.Event) { view(c) }),
				c.openButton(),
				app.Label().Body(
					app.Input().Type("checkbox").Class("heatmap-toggle").Checked(c.showHeatmap).
						OnChange(func(ctx app.Context, e app.Event) { c.showHeatmap = ctx.JSSrc().Get("checked").Bool() }),
					app.Text(" Grad-CAM heatmap"),
				),
				app.Label().Body(
					app.Text("opacity "),
					app.Input().Type("range").ID(c.sliderID()).Class("heatmap-opacity").Min(0).Max(1).Step(0.05).Value(c.opacity).
						OnInput(func(ctx app.Context, e app.Event) {
							if v, err := strconv.ParseFloat(ctx.JSSrc().Get("value").String(), 64); err == nil {
								c.opacity = v
							}
						}),
				),
			),
		)
	default:
		result = app.P().Class("stage").Text(c.status())
	}
	return app.Div().Class("card "+c.stage).ID("card-"+strconv.Itoa(c.id)).DataSet("stage", c.stage).DataSet("name", c.name).DataSet("worker", c.worker).DataSet("wasm", c.wasmBytes).Body(
		// A refused file has no picture worth showing (the browser would draw a broken-image
		// box, or a half-decoded film): the card says why instead.
		app.If(c.stage == stageError, app.Div().Class("figure-none").Text("no preview")),
		app.If(c.stage != stageError, app.Div().Class("figure").Style("aspect-ratio", c.ratio()).
			OnClick(func(ctx app.Context, e app.Event) {
				if c.viewable() {
					view(c)
				}
			}).Body(
			c.picture(),
			app.If(c.stage == stageDone,
				app.Canvas().ID(c.canvasID()).Class("heatmap").Width(c.heatmapSize).Height(c.heatmapSize).Style("opacity", strconv.FormatFloat(c.opacity, 'f', 2, 64)).Style("display", display)),
		)),
		// Always there once the result is in, hidden with the heatmap: a legend coming and
		// going would shift the card's body, which go-app diffs by position.
		app.If(c.stage == stageDone, app.Div().Class("card-legend").Style("display", display).Body(heatmapLegend())),
		app.Div().Class("card-body").Body(
			app.H3().Text(c.name),
			result,
		),
	)
}

// ratio is the figure's CSS aspect-ratio: the film's own once the worker has decoded it,
// square before (the picture is then contained in it, never stretched).
func (c *card) ratio() string {
	if c.width <= 0 || c.height <= 0 {
		return "1 / 1"
	}
	return strconv.Itoa(c.width) + " / " + strconv.Itoa(c.height)
}

// viewable says whether the film viewer can show the card: a result, and a file the
// browser can draw.
func (c *card) viewable() bool {
	return c.stage == stageDone && !c.noThumb && c.file != nil && c.file.Truthy()
}

// picture is the card's image: the full film while open, else its thumbnail, else a line
// saying why there is none yet.
func (c *card) picture() app.UI {
	switch {
	case c.opened && c.imageURL != "":
		return app.Img().Class("full").Src(c.imageURL).Alt(c.name)
	case c.thumb != "":
		return app.Img().Class("thumbnail").Src(c.thumb).Alt(c.name)
	case c.noThumb:
		return app.Div().Class("figure-wait").Text("no preview in the browser")
	case c.stage == stageCancelled:
		return app.Div().Class("figure-wait").Text("not screened")
	}
	return app.Div().Class("figure-wait").Text("preview when screened")
}

func (c *card) openButton() app.UI {
	if c.opened {
		return app.Button().Class("card-close").Text("Thumbnail only (frees memory)").OnClick(func(ctx app.Context, e app.Event) { c.close() })
	}
	return app.Button().Class("card-open").Disabled(c.noThumb).Text("Full image").OnClick(func(ctx app.Context, e app.Event) { c.open() })
}
