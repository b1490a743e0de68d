package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"pneumoscan/convnet"
	"pneumoscan/internal/testmodel"
	"pneumoscan/model"
	"pneumoscan/modelfile"
	"pneumoscan/screen"
	"pneumoscan/server/files"
	"pneumoscan/server/httpserve"
)

// threeDecimals is a number printed to three or more decimals, which no score may be.
var threeDecimals = regexp.MustCompile(`\d\.\d{3}`)

// serveSite serves a generated site under the server's own security headers.
func serveSite(t *testing.T, static string) string {
	t.Helper()
	index, err := os.ReadFile(filepath.Join(static, "index.html"))
	if err != nil {
		t.Fatal(err)
	}
	srv, base := serve(t, httpserve.SecurityHeaders(files.New(static), httpserve.CSP(index)))
	t.Cleanup(func() { srv.Close() })
	return base
}

// startOn starts the browser on ctx itself: started inside a step, the step's shorter context
// would own it and end it with the step.
func startOn(ctx context.Context, t *testing.T) {
	t.Helper()
	if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatal(err)
	}
}

// operatingModel is the tiny test model with three operating points placed around the score
// it gives the pneumonia fixture: "lenient" below it (positive), "strict" above it (negative,
// the model's default) and "banded" just above it with an indeterminate band that holds it.
// Their rates, the population, the test AUC and a Markdown card are made up, and made
// unusual, so the page can only show them by reading them from the file.
func operatingModel(t *testing.T, dir string) (path string, prob float64) {
	t.Helper()
	tiny := testmodel.Tiny(t)
	s, err := screen.New(tiny, convnet.Engine)
	if err != nil {
		t.Fatal(err)
	}
	xray, err := os.ReadFile(pneumonia)
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.Screen(xray)
	if err != nil {
		t.Fatal(err)
	}
	p := res.Prob
	if p < 0.65 || p >= 0.75 {
		t.Fatalf("the tiny model scores the fixture %v; the test places its thresholds around it and expects the page to say \"about 70%%\"", p)
	}
	data, _, err := modelfile.RewriteMetadata(tiny, func(m *model.Metadata) error {
		m.Thresholds = []model.Threshold{
			{Name: "lenient", Value: p - 0.05, Criterion: "a test threshold below the fixture's score",
				Validation: &model.Rates{Sensitivity: 0.83, Specificity: 0.61, Images: 123},
				Test:       &model.Rates{Sensitivity: 0.87, Specificity: 0.58, Images: 77, Pneumonia: 40, Normal: 37}},
			{Name: "strict", Value: p + 0.05, Criterion: "a test threshold above the fixture's score",
				Validation: &model.Rates{Sensitivity: 0.71, Specificity: 0.93, Images: 123}},
			{Name: "banded", Value: p + 0.01, Criterion: "a test threshold with a band", Indeterminate: 0.03},
		}
		m.Operating = "strict"
		m.Population = "twelve test children from one imaginary clinic"
		m.Metrics = map[string]float64{"test_auc": 0.812, "test_auc_ci_lo": 0.701, "test_auc_ci_hi": 0.903, "test_auc_ci_level": 0.95, "test_images": 77}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	path = filepath.Join(dir, "operating.onnx")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	card := "# Tiny card\n\nIntended use: *browser tests only*.\n\n| split | films |\n|---|---|\n| imaginary | 12 |\n"
	if err := os.WriteFile(strings.TrimSuffix(path, ".onnx")+".md", []byte(card), 0o644); err != nil {
		t.Fatal(err)
	}
	return path, p
}

// chooseOperating picks an operating point in the page's selector as a user would.
func chooseOperating(ctx context.Context, t *testing.T, name string) {
	t.Helper()
	js := fmt.Sprintf(`(() => { const s = document.getElementById("operating-point"); s.value = %q;
	  s.dispatchEvent(new Event("change", { bubbles: true })); return s.value; })()`, name)
	if got, err := chromedp.Run(ctx, chromedp.Evaluate[string](js)); err != nil || got != name {
		t.Fatalf("choosing operating point %q: %q, %v", name, got, err)
	}
}

type resultCard struct {
	Verdict   string `json:"verdict"`
	Operating string `json:"operating"`
	Text      string `json:"text"` // the card's whole text, cross-check aside
}

const readResult = `(() => { const c = document.querySelector(".card"); const d = c && c.querySelector(".decision");
  const cc = c && c.querySelector(".crosscheck");
  return { verdict: d ? d.dataset.verdict : "", operating: d ? d.dataset.operating : "",
           text: c ? c.innerText.replace(cc ? cc.innerText : "", "") : "" }; })()`

// waitVerdict waits until the card shows its verdict at operating point op.
func waitVerdict(ctx context.Context, t *testing.T, op string) resultCard {
	t.Helper()
	step(ctx, t, "the card shows its verdict at "+op, 30*time.Second,
		chromedp.WaitVisible(chromedp.CSS(`.card .decision[data-operating="`+op+`"]`)))
	r, err := chromedp.Run(ctx, chromedp.Evaluate[resultCard](readResult))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestOperatingPoints: the page offers the model's operating points with the rates its file
// records, the verdict of a film near the thresholds follows the chosen point (positive,
// negative, and indeterminate inside a band), every result says what the point means and
// whom the model was validated on, no score has three decimals, the choice survives a
// reload, and the footer's model card shows the file's figures and its Markdown card.
func TestOperatingPoints(t *testing.T) {
	tmp := t.TempDir()
	modelFile, p := operatingModel(t, tmp)
	static := filepath.Join(tmp, "static")
	res := generateSite(t, buildWasm(t), modelFile, static)
	base := serveSite(t, static)
	ctx := newBrowser(t, 6*time.Minute, chromedp.WindowSize(1200, 1000))
	startOn(ctx, t)

	step(ctx, t, "open the page, accept the notice and load the model", 3*time.Minute,
		chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.CSS(`.page[data-client="true"] #accept-notice`)),
		chromedp.Click(chromedp.ID("accept-notice")), chromedp.WaitVisible(chromedp.ID("model-ready")),
		chromedp.WaitVisible(chromedp.ID("operating-point")))
	options, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("#operating-point option")).map((o) => (o.selected ? "*" : "") + o.textContent)`))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("operating points offered: %q", options)
	if len(options) != 3 || !strings.HasPrefix(options[1], "*strict") {
		t.Fatalf("options %q: want the model's three points, its own (strict) chosen", options)
	}
	for i, want := range []string{
		"validation: sensitivity 83%, specificity 61% (123 films) · test: sensitivity 87%, specificity 58% (77 films)",
		"validation: sensitivity 71%, specificity 93% (123 films) · test: not recorded",
		"validation: not recorded · test: not recorded",
	} {
		if !strings.Contains(options[i], want) {
			t.Errorf("option %q does not show %q", options[i], want)
		}
	}

	upload, _ := filepath.Abs(pneumonia)
	if err := chromedp.Do(ctx, chromedp.SetUploadFiles(chromedp.ID("file-input"), []string{upload})); err != nil {
		t.Fatal(err)
	}
	waitCards(ctx, t, 1, 2*time.Minute)

	for _, c := range []struct{ op, verdict, text, meaning string }{
		{"strict", "negative", "No pneumonia detected at this operating point",
			"finds about 71 of 100 pneumonias and flags about 7 of 100 normal films (validation split, 123 films"},
		{"lenient", "positive", "Pneumonia suspected: refer for review",
			"finds about 87 of 100 pneumonias and flags about 42 of 100 normal films (test split, 77 films"},
		{"banded", "indeterminate", "Indeterminate: review the film",
			"How often the model is right at this operating point is not recorded in its file. Films scored within 3 percentage points of the threshold are marked indeterminate instead."},
	} {
		if c.op != "strict" {
			chooseOperating(ctx, t, c.op)
		}
		r := waitVerdict(ctx, t, c.op)
		t.Logf("score %.4f at %s: %q", p, c.op, r.Text)
		if r.Verdict != c.verdict || !strings.Contains(r.Text, c.text) {
			t.Errorf("at %s: verdict %q, card %q; want %s, %q", c.op, r.Verdict, r.Text, c.verdict, c.text)
		}
		for _, want := range []string{c.meaning, "Validated on twelve test children from one imaginary clinic.", "about 70%"} {
			if !strings.Contains(r.Text, want) {
				t.Errorf("at %s the card does not say %q:\n%s", c.op, want, r.Text)
			}
		}
		if m := threeDecimals.FindString(r.Text); m != "" {
			t.Errorf("at %s the card prints %q, three decimals:\n%s", c.op, m, r.Text)
		}
	}
	detail, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("operating-detail")))
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("indeterminate from %.2f to %.2f", p+0.01-0.03, p+0.01+0.03); !strings.Contains(detail, want) {
		t.Errorf("the banded point's detail %q does not say %q", detail, want)
	}
	if page, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText`)); threeDecimals.MatchString(page) {
		t.Errorf("the page prints %q, three decimals", threeDecimals.FindAllString(page, -1))
	}

	step(ctx, t, "reload: the chosen operating point is remembered", 2*time.Minute,
		chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS(`.page[data-client="true"] #operating[data-selected="banded"]`)))

	step(ctx, t, "open the model card from the footer", time.Minute,
		chromedp.Click(chromedp.ID("model-card-link")), chromedp.WaitVisible(chromedp.ID("model-card")))
	text, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("model-card")))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Validated on twelve test children from one imaginary clinic.", "test ROC-AUC 0.812 (95% CI 0.701-0.903)",
		"test images: 77", "sensitivity 87% (95% CI", "35 of 40 pneumonia films", "strict (the model's default)", "Tiny card", "browser tests only", "imaginary"} {
		if !strings.Contains(text, want) {
			t.Errorf("the model card does not say %q:\n%s", want, text)
		}
	}
	if sha, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById("model-card").dataset.sha256`)); sha != res.Model.SHA256 {
		t.Errorf("the model card is of model %s, the site ships %s", sha, res.Model.SHA256)
	}
	if n, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("#model-card .card-document table td").length`)); n != 2 {
		t.Errorf("the Markdown card's table has %d cells, want 2", n)
	}
}

// TestModelCard opens the shipped model's card straight from its address (no notice, no
// model download): it shows the population and the test metrics with their intervals from
// the model file, and models/default.md. It writes testout/model-card.png, and
// docs/model-card.png with UPDATE_SCREENSHOT=1.
func TestModelCard(t *testing.T) {
	static := filepath.Join(t.TempDir(), "static")
	generateSite(t, buildWasm(t), modelPath, static)
	base := serveSite(t, static)
	ctx := newBrowser(t, 4*time.Minute, chromedp.WindowSize(1100, 900))
	startOn(ctx, t)
	step(ctx, t, "open /model.html", 2*time.Minute,
		chromedp.Navigate(base+"/model.html"), chromedp.WaitVisible(chromedp.CSS(`.page[data-client="true"] #model-card`)))
	text, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("model-card")))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"Validated on children aged 1-5, anterior-posterior chest films from one hospital in Guangzhou, China (Kermany et al., Cell 2018).",
		"validation ROC-AUC 0.996 (95% CI 0.994-0.998)", "test ROC-AUC 0.947 (95% CI 0.928-0.963)",
		"377 of 390 pneumonia films", "174 of 234 normal films", "screening (the model's default)",
		"Intended use", "Known failure modes", "How it was quantized", "Not measured.",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("the shipped model's card does not say %q", want)
		}
	}
	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(root, "testout"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "testout", "model-card.png"), shot, 0o644); err != nil {
		t.Fatal(err)
	}
	if os.Getenv("UPDATE_SCREENSHOT") == "1" {
		if err := os.WriteFile(filepath.Join(root, "docs", "model-card.png"), shot, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
