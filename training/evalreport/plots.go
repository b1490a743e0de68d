package evalreport

import (
	"bytes"
	"fmt"
	"image/color"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"pneumoscan/metrics"
)

const plotSize = 5 * vg.Inch // 480 px at vgimg's 96 dpi

// Distinct, colour-blind-safe marks for operating points (Okabe-Ito).
var pointColors = []color.RGBA{
	{213, 94, 0, 255}, {0, 114, 178, 255}, {0, 158, 115, 255}, {204, 121, 167, 255}, {230, 159, 0, 255},
}
var pointShapes = []draw.GlyphDrawer{draw.CircleGlyph{}, draw.BoxGlyph{}, draw.PyramidGlyph{}, draw.CrossGlyph{}, draw.PlusGlyph{}}

func encodePNG(p *plot.Plot) ([]byte, error) {
	w, err := p.WriterTo(plotSize, plotSize, "png")
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if _, err := w.WriteTo(&b); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func xys(pts []metrics.Point) plotter.XYs {
	out := make(plotter.XYs, len(pts))
	for i, p := range pts {
		out[i] = plotter.XY{X: p.X, Y: p.Y}
	}
	return out
}

func unitPlot(title, x, y string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text, p.Y.Label.Text = x, y
	p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = 0, 1, 0, 1.02
	p.Add(plotter.NewGrid())
	return p
}

func dashed(a, b plotter.XY, c color.Color) (*plotter.Line, error) {
	l, err := plotter.NewLine(plotter.XYs{a, b})
	if err != nil {
		return nil, err
	}
	l.Color = c
	l.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
	return l, nil
}

// markOperating adds each operating point, at (x, y) chosen by at, to p
// with its own glyph and a legend entry.
func (r *Report) markOperating(p *plot.Plot, at func(o Operating) plotter.XY) error {
	for i, o := range r.Operating {
		s, err := plotter.NewScatter(plotter.XYs{at(o)})
		if err != nil {
			return err
		}
		s.GlyphStyle = draw.GlyphStyle{Color: pointColors[i%len(pointColors)], Radius: vg.Points(4.5), Shape: pointShapes[i%len(pointShapes)]}
		p.Add(s)
		p.Legend.Add(fmt.Sprintf("%s (t = %.3f)", o.Name, o.Value), s)
	}
	return nil
}

func (r *Report) rocPNG() ([]byte, error) {
	p := unitPlot("ROC: "+r.Name, "false positive rate (1 - specificity)", "true positive rate (sensitivity)")
	chance, err := dashed(plotter.XY{}, plotter.XY{X: 1, Y: 1}, color.Gray{150})
	if err != nil {
		return nil, err
	}
	curve, err := plotter.NewLine(xys(r.ROC))
	if err != nil {
		return nil, err
	}
	curve.Width = vg.Points(1.5)
	p.Add(chance, curve)
	p.Legend.Add(fmt.Sprintf("AUC %.3f (95%% CI %.3f-%.3f)", r.AUC, r.AUCCI.Lo, r.AUCCI.Hi), curve)
	p.Legend.Add("chance", chance)
	if err := r.markOperating(p, func(o Operating) plotter.XY {
		return plotter.XY{X: 1 - o.Specificity, Y: o.Recall}
	}); err != nil {
		return nil, err
	}
	p.Legend.Left, p.Legend.Top = false, false
	return encodePNG(p)
}

func (r *Report) prPNG() ([]byte, error) {
	p := unitPlot("Precision-recall: "+r.Name, "recall (sensitivity)", "precision")
	prevalence := float64(r.Positives) / float64(r.N)
	base, err := dashed(plotter.XY{Y: prevalence}, plotter.XY{X: 1, Y: prevalence}, color.Gray{150})
	if err != nil {
		return nil, err
	}
	curve, err := plotter.NewLine(xys(r.PR))
	if err != nil {
		return nil, err
	}
	curve.Width = vg.Points(1.5)
	p.Add(base, curve)
	p.Legend.Add(fmt.Sprintf("AP %.3f", r.AP), curve)
	p.Legend.Add(fmt.Sprintf("prevalence %.3f", prevalence), base)
	if err := r.markOperating(p, func(o Operating) plotter.XY {
		return plotter.XY{X: o.Recall, Y: o.Precision}
	}); err != nil {
		return nil, err
	}
	p.Legend.Left, p.Legend.Top = true, false
	return encodePNG(p)
}

func (r *Report) reliabilityPNG() ([]byte, error) {
	p := unitPlot(fmt.Sprintf("Reliability: %s (T = %.3g)", r.Name, r.Temperature), "mean predicted P(pneumonia)", "observed frequency of pneumonia")
	diag, err := dashed(plotter.XY{}, plotter.XY{X: 1, Y: 1}, color.Gray{150})
	if err != nil {
		return nil, err
	}
	p.Add(diag)
	p.Legend.Add("perfectly calibrated", diag)
	var pts plotter.XYs
	for _, b := range r.Reliability {
		if b.Count > 0 { // an empty bin has no observed frequency
			pts = append(pts, plotter.XY{X: b.MeanPredicted, Y: b.Observed})
		}
	}
	line, marks, err := plotter.NewLinePoints(pts)
	if err != nil {
		return nil, err
	}
	line.Width = vg.Points(1.5)
	marks.GlyphStyle.Shape = draw.CircleGlyph{}
	marks.GlyphStyle.Radius = vg.Points(3)
	p.Add(line, marks)
	p.Legend.Add(fmt.Sprintf("%d bins, ECE %.3f (raw %.3f)", len(r.Reliability), r.ECE, r.ECERaw), line, marks)
	p.Legend.Left, p.Legend.Top = true, true
	return encodePNG(p)
}

// confusionPNG draws one 2x2 heat grid per operating point, side by side.
// Cells are shaded by the share of their actual class (row), so both
// classes read alike despite the imbalance; the counts are written in.
func (r *Report) confusionPNG() ([]byte, error) {
	plots := make([]*plot.Plot, len(r.Operating))
	for i, o := range r.Operating {
		p, err := confusionPlot(o)
		if err != nil {
			return nil, err
		}
		plots[i] = p
	}
	w := vg.Length(len(plots)) * 4 * vg.Inch
	c := vgimg.New(w, 4*vg.Inch)
	dc := draw.New(c)
	tiles := draw.Tiles{Rows: 1, Cols: len(plots), PadX: vg.Inch / 4, PadTop: vg.Inch / 8, PadBottom: vg.Inch / 8, PadLeft: vg.Inch / 8, PadRight: vg.Inch / 8}
	canvases := plot.Align([][]*plot.Plot{plots}, tiles, dc)
	for i, p := range plots {
		p.Draw(canvases[0][i])
	}
	var b bytes.Buffer
	if _, err := (vgimg.PngCanvas{Canvas: c}).WriteTo(&b); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func confusionPlot(o Operating) (*plot.Plot, error) {
	c := o.Confusion
	p := plot.New()
	p.Title.Text = fmt.Sprintf("%s (t = %.3f)", o.Name, o.Value)
	p.X.Label.Text, p.Y.Label.Text = "predicted", "actual"
	p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = 0, 2, 0, 2
	ticks := plot.ConstantTicks([]plot.Tick{{Value: 0.5, Label: "NORMAL"}, {Value: 1.5, Label: "PNEUMONIA"}})
	p.X.Tick.Marker, p.Y.Tick.Marker = ticks, ticks
	// (column predicted, row actual): NORMAL is 0, PNEUMONIA 1.
	cells := []struct {
		pred, act, n, rowTotal int
	}{
		{0, 0, c.TN, c.TN + c.FP}, {1, 0, c.FP, c.TN + c.FP},
		{0, 1, c.FN, c.FN + c.TP}, {1, 1, c.TP, c.FN + c.TP},
	}
	var labels plotter.XYLabels
	for _, cell := range cells {
		share := 0.0
		if cell.rowTotal > 0 {
			share = float64(cell.n) / float64(cell.rowTotal)
		}
		x, y := float64(cell.pred), float64(cell.act)
		poly, err := plotter.NewPolygon(plotter.XYs{{X: x, Y: y}, {X: x + 1, Y: y}, {X: x + 1, Y: y + 1}, {X: x, Y: y + 1}})
		if err != nil {
			return nil, err
		}
		poly.Color = blues(share)
		poly.LineStyle.Color = color.White
		p.Add(poly)
		labels.XYs = append(labels.XYs, plotter.XY{X: x + 0.5, Y: y + 0.5})
		labels.Labels = append(labels.Labels, fmt.Sprintf("%d\n(%.1f%%)", cell.n, 100*share))
	}
	l, err := plotter.NewLabels(labels)
	if err != nil {
		return nil, err
	}
	for i, cell := range cells {
		share := 0.0
		if cell.rowTotal > 0 {
			share = float64(cell.n) / float64(cell.rowTotal)
		}
		l.TextStyle[i].XAlign, l.TextStyle[i].YAlign = -0.5, -0.5 // centred on the cell
		l.TextStyle[i].Font.Size = vg.Points(14)
		if share > 0.5 { // white on dark cells, black on light ones
			l.TextStyle[i].Color = color.White
		} else {
			l.TextStyle[i].Color = color.Black
		}
	}
	p.Add(l)
	return p, nil
}

// blues shades from near-white (0) to dark blue (1).
func blues(v float64) color.Color {
	lerp := func(a, b uint8) uint8 { return uint8(float64(a) + v*(float64(b)-float64(a)) + 0.5) }
	return color.RGBA{lerp(240, 8), lerp(246, 48), lerp(252, 107), 255}
}
