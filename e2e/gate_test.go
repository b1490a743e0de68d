package e2e

import (
	"bytes"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"

	"pneumoscan/convnet"
	"pneumoscan/imagedecode"
	"pneumoscan/model"
	"pneumoscan/preprocess"
	"pneumoscan/screen"
)

// gateCard is what a card of the page says about one file.
type gateCard struct {
	Name  string `json:"name"`
	Stage string `json:"stage"`
	Error string `json:"error"`
	Code  string `json:"code"`
	Prob  string `json:"prob"`
	Gate  string `json:"gate"`
}

const readGateCards = `Array.from(document.querySelectorAll(".card")).map((c) => {
  const e = c.querySelector(".card-error"), p = c.querySelector(".prob"), g = c.querySelector(".gate");
  return { name: c.dataset.name, stage: c.dataset.stage, error: e ? e.textContent : "", code: e ? (e.dataset.code || "") : "",
           prob: p ? p.dataset.prob : "", gate: g ? g.textContent : "" };
})`

// documentImage is a page of typed lines as a phone photographs or a scanner reads it: the
// paper shaded from top to bottom, the type's edges soft. A clinician drops such a picture by
// mistake. It is gray, has contrast and many gray levels, so the film checks before the model
// pass it and only the gate can tell it is not a chest film.
func documentImage() image.Image {
	const w, h = 620, 800
	typed := image.NewGray(image.Rect(0, 0, w, h))
	draw.Draw(typed, typed.Bounds(), image.NewUniform(color.Gray{Y: 255}), image.Point{}, draw.Src)
	d := font.Drawer{Dst: typed, Src: image.NewUniform(color.Gray{Y: 0}), Face: basicfont.Face7x13}
	lines := []string{
		"DISCHARGE SUMMARY", "",
		"Reason for admission: fever and cough for three days.",
		"Findings: the child was treated with oral antibiotics and",
		"improved. Follow-up in the outpatient clinic in two weeks.",
		"Medication: amoxicillin 40 mg/kg/day in two doses.",
		"Allergies: none known.",
	}
	for i := 0; i < 44; i++ {
		d.Dot = fixed.P(40, 60+i*16)
		d.DrawString(lines[i%len(lines)])
	}
	img := image.NewGray(typed.Bounds())
	for y := 0; y < h; y++ {
		paper := 250 - 60*float64(y)/h // lit from the top
		for x := 0; x < w; x++ {
			// A 3x3 box blur softens the type; ink darkens the paper in proportion.
			var sum, n float64
			for dy := -1; dy <= 1; dy++ {
				for dx := -1; dx <= 1; dx++ {
					if xx, yy := x+dx, y+dy; xx >= 0 && yy >= 0 && xx < w && yy < h {
						sum += float64(typed.GrayAt(xx, yy).Y)
						n++
					}
				}
			}
			ink := 1 - sum/n/255
			img.SetGray(x, y, color.Gray{Y: uint8(paper*(1-0.85*ink) + 0.5)})
		}
	}
	return img
}

// TestGate: with the shipped model (contract 2, which carries the gate), a batch holding a
// blank image, a film turned by 90 degrees, a scanned document and the two upright fixtures
// is screened in the page. The blank image and the document each get their own refusal
// message and code and no score; the turned film is either turned back and screened (the
// card says so) or refused for its orientation, exactly as the native screening path
// decides; the upright films get scores, as natively, with the gate's verdict on the card.
func TestGate(t *testing.T) {
	modelBytes, err := os.ReadFile(modelPath)
	if err != nil {
		t.Fatal(err)
	}
	native, err := screen.New(modelBytes, convnet.Engine)
	if err != nil {
		t.Fatal(err)
	}
	if native.Gate() == nil {
		t.Fatalf("%s carries no gate: the shipped model must refuse what it cannot judge", modelPath)
	}

	encode := func(img image.Image) []byte {
		var b bytes.Buffer
		if err := png.Encode(&b, img); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	film, err := os.ReadFile(pneumonia)
	if err != nil {
		t.Fatal(err)
	}
	filmImg, err := imagedecode.Decode(film)
	if err != nil {
		t.Fatal(err)
	}
	blank := image.NewGray(image.Rect(0, 0, 512, 512))
	draw.Draw(blank, blank.Bounds(), image.NewUniform(color.Gray{Y: 128}), image.Point{}, draw.Src)
	dir := t.TempDir()
	files := map[string][]byte{
		"gray-512x512.png":     encode(blank),
		"turned-90.png":        encode(preprocess.Orient(filmImg, model.Rotated90)),
		"discharge-letter.png": encode(documentImage()),
	}
	for _, f := range []string{normal, pneumonia} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		files[filepath.Base(f)] = b
	}
	var paths []string
	type outcome struct {
		code, message string
		prob          float64
		correction    string
	}
	want := map[string]outcome{}
	for name, data := range files {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
		res, err := native.Screen(data)
		if err != nil {
			code := screen.RefusalCode(err)
			if code == "" {
				t.Fatalf("native screening of %s failed, not refused: %v", name, err)
			}
			want[name] = outcome{code: code, message: err.Error()}
			continue
		}
		want[name] = outcome{prob: res.Prob, correction: res.Correction}
	}
	t.Logf("native: %+v", want)
	// What the gate must say of each, whatever the page shows.
	if w := want["gray-512x512.png"]; w.code != "blank" {
		t.Errorf("the gray image: native code %q, want blank", w.code)
	}
	if w := want["discharge-letter.png"]; w.code != model.RefusedNotChest {
		t.Errorf("the document: native code %q, want %s", w.code, model.RefusedNotChest)
	}
	if w := want["turned-90.png"]; w.code != model.RefusedOrientation && !strings.Contains(w.correction, "rotated") {
		t.Errorf("the turned film: native %+v; want it turned back (a correction) or refused for its orientation", w)
	}
	for _, f := range []string{normal, pneumonia} {
		if w := want[filepath.Base(f)]; w.code != "" || w.correction != "" {
			t.Errorf("the upright fixture %s: native %+v; want a score as supplied", f, w)
		}
	}

	static := buildSite(t)
	base := serveSite(t, static)
	ctx := newBrowser(t, 6*time.Minute, chromedp.WindowSize(1200, 1000))
	startOn(ctx, t)
	step(ctx, t, "open the page, accept the notice and load the shipped model", 3*time.Minute,
		chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.CSS(`.page[data-client="true"] #accept-notice`)),
		chromedp.Click(chromedp.ID("accept-notice")), chromedp.WaitVisible(chromedp.ID("model-ready")))
	if err := chromedp.Do(ctx, chromedp.SetUploadFiles(chromedp.ID("file-input"), paths)); err != nil {
		t.Fatal(err)
	}
	waitBatch(ctx, t, len(paths), 4*time.Minute)
	cards := evalJS[[]gateCard](ctx, t, readGateCards)
	if len(cards) != len(paths) {
		t.Fatalf("%d cards for %d files: %+v", len(cards), len(paths), cards)
	}
	for _, c := range cards {
		w, ok := want[c.Name]
		if !ok {
			t.Errorf("a card for %q, which was not chosen", c.Name)
			continue
		}
		if w.code != "" {
			if c.Code != w.code || c.Error != w.message || c.Prob != "" {
				t.Errorf("%s: card code %q, message %q, score %q; want code %q, message %q and no score", c.Name, c.Code, c.Error, c.Prob, w.code, w.message)
			}
			continue
		}
		p, err := strconv.ParseFloat(c.Prob, 64)
		if c.Stage != "done" || err != nil || math.Abs(p-w.prob) > 1e-4 {
			t.Errorf("%s: card stage %q, score %q; want done with the native %.6f", c.Name, c.Stage, c.Prob, w.prob)
		}
		if !strings.Contains(c.Gate, "frontal chest X-ray") || !strings.Contains(c.Gate, w.correction) {
			t.Errorf("%s: the card's gate line is %q; want the gate's verdict and the correction %q", c.Name, c.Gate, w.correction)
		}
	}
}
