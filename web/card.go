package web

import (
	"fmt"
	"strconv"
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
)

// decision is the worker's verdict on a film at one operating point (model.Metadata.Decide):
// the page shows it and decides nothing.
type decision struct {
	verdict string // "positive", "negative", "indeterminate"
	text    string // in plain language
}

// card is one screened file.
type card struct {
	id       int
	name     string
	imageURL string // blob: URL of the file itself

	stage   string
	started time.Time // when the current stage began
	err     string

	prob        float64
	decisions   map[string]decision // the worker's verdict at each operating point, by name
	heatmap     app.Value           // ArrayBuffer of RGBA pixels
	heatmapSize int
	seconds     float64 // model time as measured by the worker
	worker      int     // which of the page's workers screens it (-1: none yet)

	opacity     float64
	showHeatmap bool

	// The cross-check with the onnx-go reference engine, when the user asked for one.
	refStage string // "", "running", "done" or "error"
	refProb  float64
	refErr   string
}

func (c *card) setStage(s string) {
	c.stage = s
	c.started = time.Now()
}

func (c *card) fail(msg string) {
	c.stage = stageError
	c.err = msg
}

func (c *card) setResult(d app.Value) {
	c.stage = stageDone
	c.prob = d.Get("prob").Float()
	c.decisions = map[string]decision{}
	ds := d.Get("decisions")
	for i := 0; i < ds.Length(); i++ {
		e := ds.Index(i)
		c.decisions[e.Get("name").String()] = decision{verdict: e.Get("verdict").String(), text: e.Get("text").String()}
	}
	c.heatmap = d.Get("heatmap")
	c.heatmapSize = d.Get("size").Int()
	c.seconds = d.Get("seconds").Float()
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
	}
	return c.stage
}

// render draws the card at the operating point op of the model m (both from the model's
// metadata, which the page received once, with the model).
func (c *card) render(m modelInfo, op operatingPoint, crossCheck func(*card)) app.UI {
	display := "block"
	if !c.showHeatmap {
		display = "none"
	}
	var result app.UI
	switch c.stage {
	case stageError:
		result = app.P().Class("card-error").Text(c.err)
	case stageDone:
		d, ok := c.decisions[op.Name]
		if !ok {
			d = decision{verdict: "unknown", text: fmt.Sprintf("No verdict at operating point %q", op.Name)}
		}
		result = app.Div().Body(
			app.P().Class("decision "+d.verdict).DataSet("verdict", d.verdict).DataSet("operating", op.Name).Text(d.text),
			app.P().Class("prob").DataSet("prob", strconv.FormatFloat(c.prob, 'g', -1, 64)).
				Text(fmt.Sprintf("Probability of pneumonia (model estimate): %s; threshold %.2f (%s)", scoreText(c.prob), op.Value, op.Name)),
			app.P().Class("meaning").Text(op.meaning()),
			app.P().Class("population").Text(populationText(m)),
			c.renderCrossCheck(crossCheck),
			app.Div().Class("controls").Body(
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
	return app.Div().Class("card "+c.stage).ID("card-"+strconv.Itoa(c.id)).DataSet("stage", c.stage).DataSet("name", c.name).DataSet("worker", c.worker).Body(
		// A refused file has no picture worth showing (the browser would draw a broken-image
		// box, or a half-decoded film): the card says why instead.
		app.If(c.stage == stageError, app.Div().Class("figure-none").Text("no preview")),
		app.If(c.stage != stageError, app.Div().Class("figure").Body(
			app.Img().Src(c.imageURL).Alt(c.name),
			app.If(c.stage == stageDone,
				app.Canvas().ID(c.canvasID()).Class("heatmap").Width(c.heatmapSize).Height(c.heatmapSize).Style("opacity", strconv.FormatFloat(c.opacity, 'f', 2, 64)).Style("display", display)),
		)),
		app.Div().Class("card-body").Body(
			app.H3().Text(c.name),
			result,
		),
	)
}
