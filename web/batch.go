package web

import (
	"fmt"

	"github.com/maxence-charriere/go-app/v9/pkg/app"
)

// batchProgress is the line above the cards: how many files of the batch are finished (a
// result or an error), running and waiting. data-done and data-total let a test or a
// benchmark wait for the batch without reading the text.
func batchProgress(cards []*card) app.UI {
	var done, failed, running int
	for _, c := range cards {
		switch c.stage {
		case stageDone:
			done++
		case stageError:
			failed++
		case stageRunning:
			running++
		}
	}
	finished := done + failed
	waiting := len(cards) - finished - running
	text := fmt.Sprintf("%d of %d finished", finished, len(cards))
	if failed > 0 {
		text += fmt.Sprintf(" (%d could not be screened)", failed)
	}
	if running+waiting > 0 {
		text += fmt.Sprintf(" · %d screening, %d waiting", running, waiting)
	}
	return app.P().ID("batch-progress").Class("batch-progress").
		DataSet("done", finished).DataSet("total", len(cards)).
		Aria("live", "polite").Text(text)
}
