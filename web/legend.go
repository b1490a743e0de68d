package web

import "github.com/maxence-charriere/go-app/v9/pkg/app"

// legendNote says what the heatmap is and is not, wherever its legend is shown.
const legendNote = "Colours show where the model looked (Grad-CAM attention), not lesions: this is not a lesion map."

// heatmapLegend is the heatmap's colour key: the ramp the site generator draws from the
// worker's own heatmap colours (HeatmapLegend), from low to high model attention.
func heatmapLegend() app.UI {
	return app.Figure().Class("legend").Body(
		app.Div().Class("legend-ramp").Body(
			app.Span().Class("legend-end").Text("low"),
			app.Img().Class("legend-img").Src(HeatmapLegend).Alt("heatmap colour scale: gray (film untouched) for low attention, through blue, green and yellow, to red for high attention"),
			app.Span().Class("legend-end").Text("high"),
		),
		app.FigCaption().Text("Model attention, low to high. "+legendNote),
	)
}
