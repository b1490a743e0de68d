package web

import (
	"fmt"
	"time"

	"github.com/maxence-charriere/go-app/v9/pkg/app"
)

// batchProgress is the line above the cards: how many files of the batch are finished (a
// result, an error or cancelled), running and waiting, a bar, the time left at the rate of
// the files finished since the batch started (start, done), and a Cancel button while files
// wait. data-done and data-total let a test or a benchmark wait for the batch without
// reading the text.
func batchProgress(cards []*card, start time.Time, done int, onCancel app.EventHandler) app.UI {
	var ok, failed, cancelled, running int
	for _, c := range cards {
		switch c.stage {
		case stageDone:
			ok++
		case stageError:
			failed++
		case stageCancelled:
			cancelled++
		case stageRunning, stageDecoding, stageExplain:
			running++
		}
	}
	finished := ok + failed + cancelled
	waiting := len(cards) - finished - running
	text := fmt.Sprintf("%d of %d finished", finished, len(cards))
	if failed > 0 {
		text += fmt.Sprintf(" (%d could not be screened)", failed)
	}
	if cancelled > 0 {
		text += fmt.Sprintf(" (%d cancelled)", cancelled)
	}
	if running+waiting > 0 {
		text += fmt.Sprintf(" · %d screening, %d waiting", running, waiting)
		text += " · " + eta(time.Since(start), done, running+waiting)
	}
	return app.Div().Class("batch").Body(
		app.P().ID("batch-progress").Class("batch-progress").
			DataSet("done", finished).DataSet("total", len(cards)).DataSet("cancelled", cancelled).
			Aria("live", "polite").Text(text),
		app.Progress().ID("batch-bar").Max(len(cards)).Value(finished).Aria("label", "batch progress"),
		app.If(waiting > 0, app.Button().ID("batch-cancel").Text("Cancel the files not yet started").OnClick(onCancel)),
	)
}

// eta is the time left for remaining files at the rate done files took in elapsed; it says
// nothing until a file has finished (a first file also loads caches: its time is no rate).
func eta(elapsed time.Duration, done, remaining int) string {
	if done == 0 {
		return "time left: estimated after the first file"
	}
	left := time.Duration(float64(elapsed) / float64(done) * float64(remaining))
	switch {
	case left < time.Minute:
		return fmt.Sprintf("about %d s left", int(left.Seconds()+0.5))
	case left < time.Hour:
		return fmt.Sprintf("about %d min left", int(left.Minutes()+0.5))
	}
	return fmt.Sprintf("about %.1f h left", left.Hours())
}
