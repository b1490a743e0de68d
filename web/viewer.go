package web

import (
	"fmt"
	"math"
	"strconv"

	"github.com/maxence-charriere/go-app/v9/pkg/app"
)

// The film viewer shows one screened film large, at its true ratio: zoom (buttons, wheel,
// pinch), pan (drag, arrow keys), window/level as brightness and contrast, invert, the
// heatmap's opacity with its colour legend, and the film side by side with its heatmap.
// It is a modal <dialog> (the browser traps focus in it, closes it on Esc and gives focus
// back to the button that opened it), and a component of its own: a drag re-renders the
// viewer, not the page and its hundreds of cards.

// Limits and steps of the viewer's controls.
const (
	zoomMin, zoomMax = 1.0, 16.0
	zoomStep         = 1.25 // a button or key press
	panStep          = 40.0 // CSS pixels per arrow key press
)

// filmViewer is the viewer of Card. Card and OnClose are set by the page at every render;
// the rest is the viewer's own state, kept while it is open.
type filmViewer struct {
	app.Compo
	Card    *card
	OnClose func()

	url                  string // blob: URL of the film, the viewer's own (revoked when it goes)
	broken               bool   // the browser could not draw the file
	zoom, panX, panY     float64
	brightness, contrast int // percent, 100: as the file is
	invert, sideBySide   bool
	opacity              int                // the heatmap's, percent
	pointers             map[int][2]float64 // pointers down on the film: clientX, clientY
	pinch                float64            // distance between two pointers at the last move
}

func newViewer(c *card, onClose func()) *filmViewer {
	v := &filmViewer{Card: c, OnClose: onClose}
	v.reset()
	return v
}

// reset puts every control back as the viewer opened.
func (v *filmViewer) reset() {
	v.zoom, v.panX, v.panY = 1, 0, 0
	v.brightness, v.contrast, v.invert = 100, 100, false
	v.opacity = int(math.Round(100 * v.Card.opacity))
}

func (v *filmViewer) OnInit() {
	if f := v.Card.file; f != nil && f.Truthy() {
		v.url = app.Window().Get("URL").Call("createObjectURL", f).String()
	}
}

func (v *filmViewer) OnMount(ctx app.Context) {
	ctx.Defer(func(app.Context) {
		if d := v.JSValue(); d.Truthy() && !d.Get("open").Bool() {
			d.Call("showModal")
		}
		// The heatmap is copied from the card's canvas: the worker's pixels were dropped once
		// drawn there.
		src := app.Window().GetElementByID(v.Card.canvasID())
		dst := app.Window().GetElementByID("viewer-heatmap")
		if src.Truthy() && dst.Truthy() {
			dst.Call("getContext", "2d").Call("drawImage", src, 0, 0)
		}
	})
}

func (v *filmViewer) OnDismount() {
	if v.url != "" {
		app.Window().Get("URL").Call("revokeObjectURL", v.url)
		v.url = ""
	}
}

// closeDialog closes the dialog as Esc does; onClosed then tells the page.
func (v *filmViewer) closeDialog(ctx app.Context, e app.Event) { v.JSValue().Call("close") }

func (v *filmViewer) onClosed(ctx app.Context, e app.Event) {
	if v.OnClose != nil {
		v.OnClose()
	}
}

// zoomAt sets the zoom to z (within its limits), keeping the point of the film at (sx, sy),
// CSS pixels from the pane's centre, where it is on the screen.
func (v *filmViewer) zoomAt(z, sx, sy float64) {
	z = min(max(z, zoomMin), zoomMax)
	k := z / v.zoom
	v.panX, v.panY = sx-k*(sx-v.panX), sy-k*(sy-v.panY)
	v.zoom = z
	if v.zoom == zoomMin { // back to the whole film: nothing left to pan over
		v.panX, v.panY = 0, 0
	}
}

func (v *filmViewer) zoomIn(ctx app.Context, e app.Event)  { v.zoomAt(v.zoom*zoomStep, 0, 0) }
func (v *filmViewer) zoomOut(ctx app.Context, e app.Event) { v.zoomAt(v.zoom/zoomStep, 0, 0) }
func (v *filmViewer) onReset(ctx app.Context, e app.Event) { v.reset() }

// fromCentre is the event's pointer position relative to the centre of the pane it is on.
func fromCentre(ctx app.Context, e app.Event) (x, y float64) {
	r := ctx.JSSrc().Call("getBoundingClientRect")
	return e.Get("clientX").Float() - (r.Get("left").Float() + r.Get("width").Float()/2),
		e.Get("clientY").Float() - (r.Get("top").Float() + r.Get("height").Float()/2)
}

func (v *filmViewer) onWheel(ctx app.Context, e app.Event) {
	e.PreventDefault() // the page must not scroll under the viewer
	dy := e.Get("deltaY").Float()
	if e.Get("deltaMode").Int() == 1 { // lines, not pixels
		dy *= 16
	}
	x, y := fromCentre(ctx, e)
	v.zoomAt(v.zoom*math.Exp(-dy/300), x, y)
}

func (v *filmViewer) onPointerDown(ctx app.Context, e app.Event) {
	if v.pointers == nil {
		v.pointers = map[int][2]float64{}
	}
	id := e.Get("pointerId").Int()
	ctx.JSSrc().Call("setPointerCapture", id) // the drag goes on outside the pane
	v.pointers[id] = [2]float64{e.Get("clientX").Float(), e.Get("clientY").Float()}
	v.pinch = v.pinchDistance()
}

func (v *filmViewer) onPointerMove(ctx app.Context, e app.Event) {
	id := e.Get("pointerId").Int()
	last, ok := v.pointers[id]
	if !ok {
		return
	}
	now := [2]float64{e.Get("clientX").Float(), e.Get("clientY").Float()}
	v.pointers[id] = now
	switch len(v.pointers) {
	case 1: // a drag pans
		v.panX += now[0] - last[0]
		v.panY += now[1] - last[1]
	case 2: // a pinch zooms about the point between the fingers
		if d := v.pinchDistance(); v.pinch > 0 && d > 0 {
			x, y := fromCentre(ctx, e)
			v.zoomAt(v.zoom*d/v.pinch, x, y)
			v.pinch = d
		}
	}
}

func (v *filmViewer) onPointerUp(ctx app.Context, e app.Event) {
	delete(v.pointers, e.Get("pointerId").Int())
	v.pinch = v.pinchDistance()
}

func (v *filmViewer) pinchDistance() float64 {
	if len(v.pointers) != 2 {
		return 0
	}
	var p [][2]float64
	for _, q := range v.pointers {
		p = append(p, q)
	}
	return math.Hypot(p[0][0]-p[1][0], p[0][1]-p[1][1])
}

// onKey: the arrow keys pan, + and - zoom, 0 resets the view (Esc is the dialog's own).
func (v *filmViewer) onKey(ctx app.Context, e app.Event) {
	switch e.Get("key").String() {
	case "ArrowLeft":
		v.panX += panStep
	case "ArrowRight":
		v.panX -= panStep
	case "ArrowUp":
		v.panY += panStep
	case "ArrowDown":
		v.panY -= panStep
	case "+", "=":
		v.zoomAt(v.zoom*zoomStep, 0, 0)
	case "-", "_":
		v.zoomAt(v.zoom/zoomStep, 0, 0)
	case "0":
		v.zoom, v.panX, v.panY = 1, 0, 0
	default:
		return
	}
	e.PreventDefault()
}

// intInput reads a range input's value into *dst.
func intInput(dst *int) app.EventHandler {
	return func(ctx app.Context, e app.Event) {
		if n, err := strconv.Atoi(ctx.JSSrc().Get("value").String()); err == nil {
			*dst = n
		}
	}
}

func (v *filmViewer) onBrightness(ctx app.Context, e app.Event) { intInput(&v.brightness)(ctx, e) }
func (v *filmViewer) onContrast(ctx app.Context, e app.Event)   { intInput(&v.contrast)(ctx, e) }
func (v *filmViewer) onOpacity(ctx app.Context, e app.Event)    { intInput(&v.opacity)(ctx, e) }
func (v *filmViewer) onInvert(ctx app.Context, e app.Event) {
	v.invert = ctx.JSSrc().Get("checked").Bool()
}
func (v *filmViewer) onSideBySide(ctx app.Context, e app.Event) {
	v.sideBySide = ctx.JSSrc().Get("checked").Bool()
}
func (v *filmViewer) onBroken(ctx app.Context, e app.Event) { v.broken = true }

// filter is the film's CSS filter: inverted first, so brightness and contrast act on the
// film as it is seen.
func (v *filmViewer) filter() string {
	f := fmt.Sprintf("brightness(%.2f) contrast(%.2f)", float64(v.brightness)/100, float64(v.contrast)/100)
	if v.invert {
		f = "invert(1) " + f
	}
	return f
}

func (v *filmViewer) Render() app.UI {
	c := v.Card
	w, h := max(c.width, 1), max(c.height, 1)
	// The film keeps its ratio inside its pane (a CSS size container): as wide as the pane
	// allows, or as high, whichever binds first.
	size := fmt.Sprintf("min(100cqw, calc(100cqh * %.6f))", float64(w)/float64(h))
	transform := fmt.Sprintf("translate(%.1fpx, %.1fpx) scale(%.4f)", v.panX, v.panY, v.zoom)
	film := func(withHeatmap bool) app.UI {
		return app.Div().Class("viewer-film").Style("width", size).Style("aspect-ratio", fmt.Sprintf("%d / %d", w, h)).
			Style("transform", transform).Body(
			app.If(v.url != "" && !v.broken,
				app.Img().Class("viewer-img").Src(v.url).Alt("chest film "+c.name).Draggable(false).
					Style("filter", v.filter()).OnError(v.onBroken)),
			app.If(v.broken, app.P().Class("viewer-broken").Text("This browser cannot draw this file; the card shows its heatmap.")),
			app.If(withHeatmap,
				app.Canvas().ID("viewer-heatmap").Class("viewer-heatmap").Width(c.heatmapSize).Height(c.heatmapSize).
					Style("opacity", strconv.FormatFloat(float64(v.opacity)/100, 'f', 2, 64))),
		)
	}
	pane := func(class, label string, withHeatmap bool) app.UI {
		return app.Div().Class("viewer-pane "+class).TabIndex(0).Aria("label", label+": drag or use the arrow keys to pan, the wheel, a pinch or + and - to zoom, 0 to fit").
			OnWheel(v.onWheel).On("pointerdown", v.onPointerDown).On("pointermove", v.onPointerMove).
			On("pointerup", v.onPointerUp).On("pointercancel", v.onPointerUp).OnKeyDown(v.onKey).Body(
			app.Span().Class("viewer-pane-label").Text(label),
			film(withHeatmap),
		)
	}
	// The heatmap pane comes first in the document so that it stays put (and its drawn
	// canvas with it) when the original's pane is shown; CSS puts the original on the left.
	side := ""
	if v.sideBySide {
		side = " side-by-side"
	}
	return app.Dialog().ID("viewer").Class("viewer"+side).Aria("labelledby", "viewer-title").
		DataSet("zoom", v.zoom).On("close", v.onClosed).Body(
		app.Div().Class("viewer-head").Body(
			app.H2().ID("viewer-title").Text("Film viewer: "+c.name),
			app.Button().ID("viewer-close").Class("viewer-close").Text("Close (Esc)").OnClick(v.closeDialog),
		),
		app.Div().Class("viewer-tools").Body(
			app.Div().Class("viewer-group").Aria("label", "zoom").Body(
				app.Button().ID("viewer-zoom-out").Aria("label", "Zoom out").Text("−").Disabled(v.zoom <= zoomMin).OnClick(v.zoomOut),
				app.Output().ID("viewer-zoom").Aria("live", "polite").Text(fmt.Sprintf("zoom %.0f%%", 100*v.zoom)),
				app.Button().ID("viewer-zoom-in").Aria("label", "Zoom in").Text("+").Disabled(v.zoom >= zoomMax).OnClick(v.zoomIn),
				app.Button().ID("viewer-reset").Text("Reset").Title("Fit the film, and put every control back").OnClick(v.onReset),
			),
			viewerSlider("viewer-brightness", "Level (brightness)", 20, 300, 5, v.brightness, "%", v.onBrightness),
			viewerSlider("viewer-contrast", "Window (contrast)", 20, 400, 5, v.contrast, "%", v.onContrast),
			app.Label().Class("viewer-check").Body(
				app.Input().Type("checkbox").ID("viewer-invert").Checked(v.invert).OnChange(v.onInvert), app.Text(" Invert"),
			),
			viewerSlider("viewer-opacity", "Heatmap opacity", 0, 100, 5, v.opacity, "%", v.onOpacity),
			app.Label().Class("viewer-check").Body(
				app.Input().Type("checkbox").ID("viewer-side").Checked(v.sideBySide).OnChange(v.onSideBySide), app.Text(" Original and heatmap side by side"),
			),
		),
		app.Div().Class("viewer-panes").Body(
			pane("overlay", "Film with Grad-CAM heatmap", true),
			pane("original", "Original film", false),
		),
		heatmapLegend(),
	)
}

// viewerSlider is a labelled range input showing its value.
func viewerSlider(id, label string, lo, hi, step, value int, unit string, onInput app.EventHandler) app.UI {
	return app.Div().Class("viewer-slider").Body(
		app.Label().For(id).Text(label),
		app.Input().Type("range").ID(id).Min(lo).Max(hi).Step(float64(step)).Value(value).
			Aria("valuetext", strconv.Itoa(value)+unit).OnInput(onInput),
		app.Span().Class("viewer-value").Text(strconv.Itoa(value)+unit),
	)
}
