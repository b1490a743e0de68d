package gate

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image/color"
	"math"
	"path/filepath"
	"sort"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	"pneumoscan/atomicfile"
)

// Write writes report.json, report.md and distances.png into dir, atomically each.
func (r *Report) Write(dir string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.Write(filepath.Join(dir, "report.json"), append(b, '\n')); err != nil {
		return err
	}
	if err := atomicfile.Write(filepath.Join(dir, "report.md"), []byte(r.Markdown())); err != nil {
		return err
	}
	png, err := r.histogram()
	if err != nil {
		return err
	}
	return atomicfile.Write(filepath.Join(dir, "distances.png"), png)
}

func pct(x float64) string { return fmt.Sprintf("%.1f%%", 100*x) }

// Markdown is the report as tables.
func (r *Report) Markdown() string {
	var b strings.Builder
	s := r.Spec
	fmt.Fprintf(&b, "# Gate report\n\nModel sha256 `%s`.\n\n## Thresholds (chosen on validation)\n\n| threshold | value | how |\n|---|---|---|\n", r.Model)
	fmt.Fprintf(&b, "| accept: P(frontal chest X-ray) >= | %.4g | %s |\n", s.Accept, s.Criteria["accept"])
	fmt.Fprintf(&b, "| refuse: distance > | %.4g | %s |\n", s.RefuseDistance, s.Criteria["refuse_distance"])
	fmt.Fprintf(&b, "| orientation: correct when P >= | %.4g | %s |\n", s.Correct, s.Criteria["correct"])
	fmt.Fprintf(&b, "| orientation: refuse, unsure, when P(upright) < | %.4g | %s |\n", s.Unsure, s.Criteria["unsure"])
	fmt.Fprintf(&b, "| orientation head L2 | | %s |\n", s.Criteria["orientation_l2"])
	fmt.Fprintf(&b, "| population warning: distance > | %.4g | %s |\n\n", s.Warn, s.Criteria["warn"])
	keys := make([]string, 0, len(r.Counts))
	for k := range r.Counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	b.WriteString("## Images\n\n| set | images |\n|---|---|\n")
	for _, k := range keys {
		fmt.Fprintf(&b, "| %s | %d |\n", k, r.Counts[k])
	}
	table := func(title string, rows []Row) {
		fmt.Fprintf(&b, "\n## %s\n\n| category | sources | images | refused before the model | refused by the gate | refused, orientation | refused |\n|---|---|---|---|---|---|---|\n", title)
		var n, k int
		for _, rr := range rows {
			fmt.Fprintf(&b, "| %s | %s | %d | %d | %d | %d | %s |\n", rr.Name, strings.Join(rr.Sources, ", "), rr.Images, rr.BeforeModel, rr.Gate, rr.Orientation, pct(rr.Refused))
			n += rr.Images
			k += rr.BeforeModel + rr.Gate + rr.Orientation
		}
		if n > 0 {
			fmt.Fprintf(&b, "| **all** | | %d | | | | **%s** |\n", n, pct(float64(k)/float64(n)))
		}
	}
	table("not_cxr, held-out sources (never fitted on)", r.Negatives)
	table("Synthetic negatives, held-out third of each kind", r.Synthetic)
	table("not_cxr, the sources fitted on (in-sample, for reference)", r.FitSources)
	b.WriteString("\n## Chest films as supplied\n\n| set | images | refused: not a chest film | refused: orientation | false corrections | kept | outside the population | ROC-AUC all | ROC-AUC kept |\n|---|---|---|---|---|---|---|---|---|\n")
	for _, name := range []string{"validation", "test", "adult_cxr"} {
		fr, ok := r.Films[name]
		if !ok {
			continue
		}
		auc := func(v float64) string {
			if v == 0 {
				return "-"
			}
			return fmt.Sprintf("%.4f", v)
		}
		fmt.Fprintf(&b, "| %s | %d | %d | %d | %d | %s | %d (%s) | %s | %s |\n", name, fr.Images, fr.RefusedNotChest, fr.RefusedOrient, fr.FalseCorrections, pct(fr.Kept), fr.Flagged, pct(fr.FlaggedRate), auc(fr.AUC), auc(fr.AUCKept))
	}
	for _, name := range []string{"validation", "test"} {
		fmt.Fprintf(&b, "\n## Turned and inverted copies, %s\n\n| as supplied | images | corrected | refused | corrected wrongly | missed | caught |\n|---|---|---|---|---|---|---|\n", name)
		var n, c int
		for _, o := range r.Orientation[name] {
			fmt.Fprintf(&b, "| %s | %d | %d | %d | %d | %d | %s |\n", o.Orientation, o.Images, o.Corrected, o.Refused, o.Wrong, o.Missed, pct(o.Caught))
			n += o.Images
			c += o.Corrected + o.Refused
		}
		if n > 0 {
			fmt.Fprintf(&b, "| **all** | %d | | | | | **%s** |\n", n, pct(float64(c)/float64(n)))
		}
	}
	b.WriteString("\n![distances](distances.png)\n")
	return b.String()
}

// histogram draws the distance of each set's images to the training films, log scale.
func (r *Report) histogram() ([]byte, error) {
	p := plot.New()
	p.Title.Text = "Mahalanobis distance to the training films"
	p.X.Label.Text = "log10 distance"
	p.Y.Label.Text = "share of images"
	colors := []color.RGBA{{0, 114, 178, 255}, {0, 158, 115, 255}, {213, 94, 0, 255}, {204, 121, 167, 255}}
	names := make([]string, 0, len(r.Distances))
	for k := range r.Distances {
		names = append(names, k)
	}
	sort.Strings(names)
	for i, name := range names {
		d := r.Distances[name]
		if len(d) < 2 {
			continue
		}
		v := make(plotter.Values, len(d))
		for j, x := range d {
			v[j] = math.Log10(math.Max(x, 1e-3))
		}
		h, err := plotter.NewHist(v, 30)
		if err != nil {
			return nil, err
		}
		h.Normalize(1)
		c := colors[i%len(colors)]
		c.A = 120
		h.FillColor = c
		h.LineStyle.Width = 0
		p.Add(h)
		p.Legend.Add(fmt.Sprintf("%s (%d)", name, len(d)), h)
	}
	warn := math.Log10(r.Spec.Warn)
	line, err := plotter.NewLine(plotter.XYs{{X: warn, Y: 0}, {X: warn, Y: 1}})
	if err != nil {
		return nil, err
	}
	line.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
	p.Add(line)
	p.Legend.Add("population warning", line)
	p.Legend.Top = true
	w, err := p.WriterTo(7*vg.Inch, 4.5*vg.Inch, "png")
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if _, err := w.WriteTo(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
