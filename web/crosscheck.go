package web

import (
	"fmt"
	"math"
	"strconv"

	"github.com/maxence-charriere/go-app/v9/pkg/app"
)

// The cross-check runs a screened film through the reference engine (onnx-go + gorgonia,
// the ONNX interpreter the project's own engine is tested against) in a second worker, and
// shows both probabilities and their difference. That worker and its 30 MB binary exist
// only once the user asks: nobody else downloads them.

// crossCheck queues c's image in the reference worker, starting the worker first if needed.
func (p *Page) crossCheck(c *card) {
	if c.stage != stageDone || c.refStage == "running" {
		return
	}
	if p.ref == nil {
		p.ref = startWorker(func(data app.Value) {
			p.ctx.Dispatch(func(ctx app.Context) { p.onRefMessage(data) })
		})
		p.ref.load(refEngine)
	}
	c.refStage, c.refErr = "running", ""
	// The card keeps the File the user chose: the reference worker reads it as the product
	// worker did (cloning a File copies no bytes).
	p.ref.screen(c.id, c.name, c.file)
}

// onRefMessage applies one message of the reference worker (same protocol as the product's).
func (p *Page) onRefMessage(d app.Value) {
	switch d.Get("type").String() {
	case "result":
		if c := p.card(d.Get("id").Int()); c != nil {
			c.refStage, c.refProb = "done", d.Get("prob").Float()
		}
	case "error":
		if c := p.card(d.Get("id").Int()); c != nil {
			c.refStage, c.refErr = "error", d.Get("message").String()
		}
	case "fatal":
		for _, c := range p.cards {
			if c.refStage == "running" {
				c.refStage, c.refErr = "error", "the reference engine failed: "+d.Get("message").String()
			}
		}
		p.ref = nil // a later request starts a fresh worker
	}
}

func (c *card) renderCrossCheck(crossCheck func(*card)) app.UI {
	box := app.Div().Class("crosscheck").DataSet("refstage", c.refStage)
	switch c.refStage {
	case "running":
		return box.Body(app.P().Text("Cross-checking with the onnx-go reference engine (it is slower: tens of seconds)..."))
	case "done":
		return box.Body(app.P().DataSet("ref-prob", strconv.FormatFloat(c.refProb, 'g', -1, 64)).Text(fmt.Sprintf(
			"Reference engine (onnx-go): P = %.6f; this page's engine: P = %.6f; difference %.1e.",
			c.refProb, c.prob, math.Abs(c.refProb-c.prob))))
	case "error":
		return box.Body(app.P().Class("card-error").Text("Cross-check failed: " + c.refErr))
	}
	return box.Body(app.Button().Class("crosscheck-button").Text("Cross-check with the onnx-go reference engine").
		OnClick(func(ctx app.Context, e app.Event) { crossCheck(c) }))
}
