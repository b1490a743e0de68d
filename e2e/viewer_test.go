package e2e

import (
	"bytes"
	"context"
	"fmt"
	"image"
	_ "image/jpeg"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdruntime "github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// viewerState is what the open film viewer shows, read from the page.
type viewerState struct {
	Open      bool    `json:"open"`
	Transform string  `json:"transform"` // the overlay film's CSS transform
	Filter    string  `json:"filter"`    // the film's CSS filter
	Opacity   string  `json:"opacity"`   // the heatmap canvas's CSS opacity
	Heat      int     `json:"heat"`      // non-zero pixels of the viewer's heatmap canvas
	Panes     int     `json:"panes"`     // panes shown (with a size)
	OrigLeft  bool    `json:"origLeft"`  // the original's pane is left of the heatmap's
	Ratio     float64 `json:"ratio"`     // the overlay film's width / height on the screen
	FilmW     int     `json:"filmW"`     // the film image's natural size
	FilmH     int     `json:"filmH"`
	Legend    int     `json:"legend"` // the legend image's naturalWidth
	Zoom      string  `json:"zoom"`   // the zoom read-out
	Focus     bool    `json:"focus"`  // the focus is inside the dialog
}

const readViewer = `(() => {
  const d = document.getElementById("viewer");
  if (!d) return { open: false };
  const film = d.querySelector(".viewer-pane.overlay .viewer-film");
  const img = d.querySelector(".viewer-pane.overlay .viewer-img");
  const heat = document.getElementById("viewer-heatmap");
  let pixels = 0;
  if (heat && heat.width > 0) {
    const px = heat.getContext("2d").getImageData(0, 0, heat.width, heat.height).data;
    for (let i = 0; i < px.length; i += 4) if (px[i] || px[i + 1] || px[i + 2]) pixels++;
  }
  const panes = Array.from(d.querySelectorAll(".viewer-pane")).filter((p) => p.offsetWidth > 0 && p.offsetHeight > 0);
  const orig = d.querySelector(".viewer-pane.original").getBoundingClientRect();
  const over = d.querySelector(".viewer-pane.overlay").getBoundingClientRect();
  const r = film.getBoundingClientRect();
  const legend = d.querySelector(".legend-img");
  return { open: d.open, transform: film.style.transform, filter: img ? img.style.filter : "",
           opacity: heat ? heat.style.opacity : "", heat: pixels, panes: panes.length,
           origLeft: orig.width > 0 && orig.right <= over.left + 1, ratio: r.width / r.height,
           filmW: img ? img.naturalWidth : 0, filmH: img ? img.naturalHeight : 0,
           legend: legend && legend.complete ? legend.naturalWidth : 0,
           zoom: document.getElementById("viewer-zoom").textContent, focus: d.contains(document.activeElement) };
})()`

// setRange moves a range input as a user would: its value, then an input event.
func setRange(ctx context.Context, t *testing.T, id string, v int) {
	t.Helper()
	js := fmt.Sprintf(`(() => { const s = document.getElementById(%q); s.value = "%d";
	  s.dispatchEvent(new Event("input", { bubbles: true })); return s.value; })()`, id, v)
	if got := evalJS[string](ctx, t, js); got != strconv.Itoa(v) {
		t.Fatalf("setting %s to %d: it holds %q", id, v, got)
	}
}

// waitViewer polls the viewer until ok says it shows what is wanted.
func waitViewer(ctx context.Context, t *testing.T, what string, ok func(viewerState) bool) viewerState {
	t.Helper()
	var v viewerState
	for start := time.Now(); ; time.Sleep(100 * time.Millisecond) {
		v = evalJS[viewerState](ctx, t, readViewer)
		if ok(v) {
			return v
		}
		if time.Since(start) > 10*time.Second {
			t.Fatalf("after 10 s the viewer does not show %s: %+v", what, v)
		}
	}
}

func filmSize(t *testing.T, path string) (w, h int) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	c, _, err := image.DecodeConfig(f)
	if err != nil {
		t.Fatal(err)
	}
	return c.Width, c.Height
}

// pdfText is the text of page n of a PDF (pdftotext), its whitespace runs made single spaces.
func pdfText(t *testing.T, pdf string, n int) string {
	t.Helper()
	out, err := exec.Command("pdftotext", "-f", strconv.Itoa(n), "-l", strconv.Itoa(n), pdf, "-").Output()
	if err != nil {
		t.Fatalf("pdftotext page %d: %v", n, err)
	}
	return strings.Join(strings.Fields(string(out)), " ")
}

var printedDate = regexp.MustCompile(`\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}`)

// TestViewer screens the two upright fixtures with the tiny operating-point model, opens the
// film viewer on one and uses each of its controls (zoom, pan, window/level, invert, heatmap
// opacity, side by side), checks the film's true ratio and the legend, closes it with Esc,
// then prints the report to PDF and reads it back: a summary page, then one page per film with
// its verdict, operating point and its expected rates, the model's sha256, a date and the
// research-use notice, and none of the page's controls.
func TestViewer(t *testing.T) {
	if _, err := os.Stat(chromium); err != nil {
		t.Fatalf("%s is needed for the browser test: %v", chromium, err)
	}
	for _, tool := range []string{"pdftotext", "pdfinfo", "pdftoppm"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s (poppler-utils) is needed to read the printed report: %v", tool, err)
		}
	}
	tmp := t.TempDir()
	modelFile, _ := operatingModel(t, tmp)
	md := metadataOf(t, modelFile)
	static := filepath.Join(tmp, "static")
	res := generateSite(t, buildWasm(t), modelFile, static)
	base := serveSite(t, static)
	ctx := newBrowser(t, 10*time.Minute, chromedp.WindowSize(1280, 900))
	startOn(ctx, t)
	if err := chromedp.Listen(ctx, func(ev any) {
		if e, ok := ev.(*cdruntime.EventExceptionThrown); ok {
			t.Errorf("page exception: %s %v", e.ExceptionDetails.Text, e.ExceptionDetails.Exception)
		}
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(ctx, cdruntime.Enable, cdp.Empty{}); err != nil {
		t.Fatal(err)
	}
	step(ctx, t, "open the page, accept the notice and load the model", 3*time.Minute,
		chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.CSS(`.page[data-client="true"] #accept-notice`)),
		chromedp.Click(chromedp.ID("accept-notice")), chromedp.WaitVisible(chromedp.ID("model-ready")))

	films := []string{normal, pneumonia}
	var paths []string
	for _, f := range films {
		abs, _ := filepath.Abs(f)
		paths = append(paths, abs)
	}
	if err := chromedp.Do(ctx, chromedp.SetUploadFiles(chromedp.ID("file-input"), paths)); err != nil {
		t.Fatal(err)
	}
	for _, c := range waitCards(ctx, t, len(films), 4*time.Minute) {
		if c.Stage != "done" {
			t.Fatalf("%s: stage %s, error %q", c.Name, c.Stage, c.Error)
		}
	}
	waitThumbs(ctx, t)

	// The cards' figures keep each film's ratio.
	for _, f := range films {
		w, h := filmSize(t, f)
		got := evalJS[float64](ctx, t, fmt.Sprintf(`(() => { const r = document.querySelector('.card[data-name=%q] .figure').getBoundingClientRect(); return r.width / r.height; })()`, filepath.Base(f)))
		if want := float64(w) / float64(h); math.Abs(got-want) > 0.01*want {
			t.Errorf("%s: the card's figure is %.4f wide per high; the film is %dx%d (%.4f)", filepath.Base(f), got, w, h, want)
		}
	}

	t.Log("cards screened")
	// The viewer, on the pneumonia film.
	name := filepath.Base(pneumonia)
	w, h := filmSize(t, pneumonia)
	viewBtn := fmt.Sprintf(`.card[data-name=%q] button.card-view`, name)
	click(ctx, t, viewBtn)
	v := waitViewer(ctx, t, "the film, its heatmap and the legend", func(v viewerState) bool {
		return v.Open && v.FilmW > 0 && v.Heat > 0 && v.Legend > 0
	})
	if v.FilmW != w || v.FilmH != h {
		t.Errorf("the viewer shows a %dx%d image; the film is %dx%d", v.FilmW, v.FilmH, w, h)
	}
	if want := float64(w) / float64(h); math.Abs(v.Ratio-want) > 0.01*want {
		t.Errorf("the viewer's film is %.4f wide per high; the film is %.4f", v.Ratio, want)
	}
	if !v.Focus {
		t.Error("the focus is not inside the open viewer")
	}
	if v.Panes != 1 {
		t.Errorf("before side by side the viewer shows %d panes; want 1", v.Panes)
	}
	if cardOpacity := evalJS[string](ctx, t, fmt.Sprintf(`document.querySelector('.card[data-name=%q] canvas.heatmap').style.opacity`, name)); v.Opacity != cardOpacity {
		t.Errorf("the viewer opens at heatmap opacity %q, the card shows %q", v.Opacity, cardOpacity)
	}

	t.Log("viewer open")
	before := v
	click(ctx, t, "#viewer-zoom-in")
	v = waitViewer(ctx, t, "a zoom of 125%", func(v viewerState) bool { return v.Transform != before.Transform })
	if !strings.Contains(v.Transform, "scale(1.25") || v.Zoom != "zoom 125%" {
		t.Errorf("after zoom in: transform %q, read-out %q; want scale(1.25), zoom 125%%", v.Transform, v.Zoom)
	}
	zoomed := v
	step(ctx, t, "pan with the arrow keys", 10*time.Second, chromedp.Focus(chromedp.CSS(".viewer-pane.overlay")), chromedp.KeyEvent(kb.ArrowLeft))
	v = waitViewer(ctx, t, "the film panned", func(v viewerState) bool { return v.Transform != zoomed.Transform })
	if !strings.Contains(v.Transform, "translate(40") {
		t.Errorf("after ArrowLeft the transform is %q; want the film moved 40 px right", v.Transform)
	}

	click(ctx, t, "#viewer-invert")
	v = waitViewer(ctx, t, "the film inverted", func(v viewerState) bool { return strings.Contains(v.Filter, "invert(1)") })
	setRange(ctx, t, "viewer-brightness", 150)
	v = waitViewer(ctx, t, "brightness 150%", func(v viewerState) bool { return strings.Contains(v.Filter, "brightness(1.5") })
	setRange(ctx, t, "viewer-contrast", 200)
	v = waitViewer(ctx, t, "contrast 200%", func(v viewerState) bool { return strings.Contains(v.Filter, "contrast(2") })
	setRange(ctx, t, "viewer-opacity", 80)
	v = waitViewer(ctx, t, "heatmap opacity 80%", func(v viewerState) bool { return v.Opacity == "0.8" })
	// Back to the film as it is, for the screenshot.
	click(ctx, t, "#viewer-invert")
	setRange(ctx, t, "viewer-brightness", 100)
	setRange(ctx, t, "viewer-contrast", 100)
	setRange(ctx, t, "viewer-opacity", 50)
	click(ctx, t, "#viewer-reset")
	click(ctx, t, "#viewer-side")
	v = waitViewer(ctx, t, "the original and the heatmap side by side", func(v viewerState) bool { return v.Panes == 2 })
	if !v.OrigLeft {
		t.Error("side by side, the original's pane is not on the left of the heatmap's")
	}
	if v.Heat == 0 {
		t.Error("side by side, the heatmap pane's canvas is blank")
	}
	if want := float64(w) / float64(h); math.Abs(v.Ratio-want) > 0.01*want {
		t.Errorf("side by side the film is %.4f wide per high; the film is %.4f", v.Ratio, want)
	}
	t.Log("viewer controls checked")
	shot, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatal(err)
	}
	small := smallPNG(t, shot, 1000)
	writeShot(t, "viewer.png", small)
	if len(small) > 300<<10 {
		t.Errorf("viewer.png is %d KB; docs screenshots stay under 300 KB", len(small)>>10)
	}

	step(ctx, t, "Esc closes the viewer", 10*time.Second, chromedp.KeyEvent(kb.Escape), chromedp.WaitNotPresent(chromedp.ID("viewer")))
	if !evalJS[bool](ctx, t, fmt.Sprintf(`document.activeElement === document.querySelector('%s')`, viewBtn)) {
		t.Errorf("after Esc the focus is on %s, not the View film button", evalJS[string](ctx, t, `document.activeElement.outerHTML.slice(0, 120)`))
	}

	// The report. The browser's print dialog is replaced by a counter: headless Chromium has
	// none, and the page drops the report when the dialog closes (afterprint).
	verdicts := evalJS[map[string]string](ctx, t, `Object.fromEntries(Array.from(document.querySelectorAll(".card")).map((c) => [c.dataset.name, c.querySelector(".decision").innerText]))`)
	// The table's sort buttons are its headers, words the report uses as headers too.
	buttons := evalJS[[]string](ctx, t, `Array.from(document.querySelectorAll("button:not(th button)")).map((b) => b.innerText.trim()).filter((s) => s.length > 3)`)
	evalJS[bool](ctx, t, `(() => { window.printed = 0; window.print = () => { window.printed++; }; return true; })()`)
	click(ctx, t, "#print-report")
	step(ctx, t, "the report is made", 60*time.Second, chromedp.WaitReady(chromedp.CSS(`#report[data-ready="true"]`)))
	for start := time.Now(); evalJS[int](ctx, t, `window.printed`) != 1; time.Sleep(100 * time.Millisecond) {
		if time.Since(start) > 10*time.Second {
			t.Fatalf("the page called print() %d times; want once", evalJS[int](ctx, t, `window.printed`))
		}
	}
	// Each film page: the film, and the film again under its heatmap.
	if n := evalJS[int](ctx, t, `Array.from(document.querySelectorAll("#report .report-frame img")).filter((i) => i.complete && i.naturalWidth > 0).length`); n != 3*len(films) {
		t.Errorf("the report has %d pictures decoded; want the film twice and its heatmap once for each of %d films", n, len(films))
	}
	t.Log("report made; printing to PDF")
	pdf, err := chromedp.Run(ctx, chromedp.PrintToPDF(chromedp.PDFPaper(chromedp.PaperA4), chromedp.PDFPrintBackground()))
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(root, "testout")
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	pdfPath := filepath.Join(out, "report.pdf")
	if err := os.WriteFile(pdfPath, pdf, 0o644); err != nil {
		t.Fatal(err)
	}
	info, err := exec.Command("pdfinfo", pdfPath).Output()
	if err != nil {
		t.Fatal(err)
	}
	pages := 0
	if m := regexp.MustCompile(`(?m)^Pages:\s+(\d+)`).FindSubmatch(info); m != nil {
		pages, _ = strconv.Atoi(string(m[1]))
	}
	if pages != len(films)+1 {
		t.Errorf("the report has %d pages; want a summary and one page per film: %d", pages, len(films)+1)
	}

	var op *struct{ name, sens, spec string }
	for _, th := range md.Thresholds {
		if th.Name != md.Operating {
			continue
		}
		r := th.Test
		if r == nil {
			r = th.Validation
		}
		op = &struct{ name, sens, spec string }{th.Name, fmt.Sprintf("sensitivity %.0f%%", 100*r.Sensitivity), fmt.Sprintf("specificity %.0f%%", 100*r.Specificity)}
	}
	if op == nil {
		t.Fatalf("the model's operating point %q is not among its thresholds", md.Operating)
	}
	summary := pdfText(t, pdfPath, 1)
	if !strings.Contains(summary, "screening report") || !strings.Contains(summary, "Research use only") {
		t.Errorf("page 1 is not the summary: %q", summary)
	}
	for _, f := range films {
		if !strings.Contains(summary, filepath.Base(f)) {
			t.Errorf("the summary page does not list %s", filepath.Base(f))
		}
	}
	for i := 2; i <= min(pages, len(films)+1); i++ {
		text := pdfText(t, pdfPath, i)
		film := ""
		for _, f := range films {
			if strings.Contains(text, filepath.Base(f)) {
				if film != "" {
					t.Errorf("page %d names more than one film", i)
				}
				film = filepath.Base(f)
			}
		}
		if film == "" {
			t.Errorf("page %d names no film: %q", i, text)
			continue
		}
		verdict := strings.Join(strings.Fields(verdicts[film]), " ")
		for _, want := range []string{verdict, "Operating point " + op.name, op.sens, op.spec, "Research use only, not for diagnosis", "Screened ", md.Name, md.Version} {
			if want == "" || !strings.Contains(text, want) {
				t.Errorf("page %d (%s) lacks %q: %q", i, film, want, text)
			}
		}
		if !strings.Contains(strings.Join(strings.Fields(text), ""), res.Model.SHA256) {
			t.Errorf("page %d (%s) lacks the model's sha256 %s", i, film, res.Model.SHA256)
		}
		if !printedDate.MatchString(text) {
			t.Errorf("page %d (%s) carries no date and time", i, film)
		}
	}
	for i := 1; i <= pages; i++ {
		text := pdfText(t, pdfPath, i)
		for _, b := range append(buttons, "View film", "Print report", "Zoom in", "Close (Esc)") {
			if strings.Contains(text, b) {
				t.Errorf("page %d shows the control %q", i, b)
			}
		}
	}
	if pages >= 2 {
		png, err := exec.Command("pdftoppm", "-r", "60", "-f", "2", "-l", "2", "-png", pdfPath).Output()
		if err != nil {
			t.Fatal(err)
		}
		writeShot(t, "report-print.png", png)
		if len(png) > 300<<10 {
			t.Errorf("report-print.png is %d KB; docs screenshots stay under 300 KB", len(png)>>10)
		}
	}

	// The print dialog closing releases the report.
	evalJS[bool](ctx, t, `window.dispatchEvent(new Event("afterprint"))`)
	step(ctx, t, "the report goes once the print dialog closed", 10*time.Second, chromedp.WaitNotPresent(chromedp.ID("report")))
}

// smallPNG scales a screenshot to width pixels and 256 colours (ImageMagick), so a docs copy
// stays small.
func smallPNG(t *testing.T, png []byte, width int) []byte {
	t.Helper()
	cmd := exec.Command("convert", "png:-", "-resize", fmt.Sprintf("%dx", width), "-colors", "256", "-strip", "png:-")
	cmd.Stdin = bytes.NewReader(png)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("convert: %v", err)
	}
	return out
}
