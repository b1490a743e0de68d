package e2e

import (
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"

	"pneumoscan/convnet"
	"pneumoscan/metrics"
	"pneumoscan/model"
	"pneumoscan/screen"
	"pneumoscan/training/labelled"
)

// films is how many films of each class the calibration test screens: enough that the
// shipped model's AUC on them is neither 0 nor 1 (20 + 20: 0.99, one film refused by the gate).
const films = 20

// siteFilms copies n films of each class of the data set's test split into a new folder
// with NORMAL/ and PNEUMONIA/ sub-folders, under the test's temporary folder.
func siteFilms(t *testing.T, n int) string {
	t.Helper()
	src := filepath.Join(root, "..", "shared", "data", "chest_xray", "test")
	dir := filepath.Join(t.TempDir(), "site")
	for _, class := range []string{"NORMAL", "PNEUMONIA"} {
		names, err := filepath.Glob(filepath.Join(src, class, "*.jpeg"))
		if err != nil || len(names) < n {
			t.Skipf("the test split's %s films are not here (%s): %v", class, src, err)
		}
		sort.Strings(names)
		for _, f := range names[:n] {
			copyFile(t, f, filepath.Join(dir, class, filepath.Base(f)))
		}
	}
	return dir
}

// TestCalibration: site calibration in the page. A labelled folder is screened in the page;
// the AUC it shows is metrics' on the same films' native probabilities, and the site point's
// threshold is metrics'; the saved site point is offered in the selector, and a card screened
// at it says it is a site point (the decision's site flag and the "site: " name), as do the
// CSV export and the audit log; a profile the trainer's calibrate code writes for this model
// is imported, and one for another model is refused saying so; the kept point survives a
// reload. axe-core checks the open view.
func TestCalibration(t *testing.T) {
	dir := siteFilms(t, films)
	modelBytes, err := os.ReadFile(modelPath)
	if err != nil {
		t.Fatal(err)
	}
	native, err := screen.New(modelBytes, convnet.Engine)
	if err != nil {
		t.Fatal(err)
	}
	// The trainer's calibrate code path on the same films: its profile is imported below, and
	// its scores are the native probabilities the page's numbers are checked against.
	cli, err := labelled.Calibrate(context.Background(), native, dir, "CLI room", 0.9, time.Now(), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	probs, labels := cli.Scores.Prob, cli.Scores.Labels
	wantAUC, err := metrics.AUC(probs, labels)
	if err != nil {
		t.Fatal(err)
	}
	if wantAUC <= 0.05 || wantAUC >= 0.999 {
		t.Fatalf("the films chosen score an AUC of %v natively: a page showing 0 or 1 whatever the films would pass; choose others", wantAUC)
	}
	wantTh, err := metrics.ThresholdForSensitivity(probs, labels, 0.95)
	if err != nil {
		t.Fatal(err)
	}
	files, _, err := labelled.List(dir, 0)
	if err != nil {
		t.Fatal(err)
	}

	static := filepath.Join(t.TempDir(), "static")
	generateSite(t, buildWasm(t), modelPath, static)
	base := serveSite(t, static)
	ctx := newBrowser(t, 10*time.Minute, chromedp.WindowSize(1200, 1000))
	startOn(ctx, t)
	// The exports click a download link: no file may land in the test's home.
	if _, err := chromedp.CallBrowser(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{Behavior: browser.SetDownloadBehaviorBehaviorDeny}); err != nil {
		t.Fatal(err)
	}
	step(ctx, t, "open the page, accept the notice and load the model", 5*time.Minute,
		chromedp.Navigate(base+"/?workers=2"), chromedp.WaitVisible(chromedp.CSS(`.page[data-client="true"] #accept-notice`)),
		chromedp.Click(chromedp.ID("accept-notice")), chromedp.WaitVisible(chromedp.ID("model-ready")))

	click(ctx, t, "#calibration-toggle")
	step(ctx, t, "pick the labelled folder", 10*time.Second, chromedp.WaitVisible(chromedp.ID("calibration-input")),
		chromedp.SetUploadFiles(chromedp.ID("calibration-input"), []string{dir}))
	step(ctx, t, fmt.Sprintf("the page screens the %d files and shows the calibration", 2*films), 5*time.Minute,
		chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`#calibration-progress[data-done="%d"][data-total="%d"]`, 2*films, 2*films))),
		chromedp.WaitVisible(chromedp.ID("calibration-auc")), chromedp.WaitVisible(chromedp.ID("roc")))
	auc, err := strconv.ParseFloat(evalJS[string](ctx, t, `document.getElementById("calibration-auc").dataset.auc`), 64)
	if err != nil {
		t.Fatal(err)
	}
	aucText := evalJS[string](ctx, t, `document.getElementById("calibration-auc").textContent`)
	t.Logf("page: %s (data-auc %v); native AUC %v, site threshold %v", aucText, auc, wantAUC, wantTh)
	if math.Abs(auc-wantAUC) > 1e-3 || !strings.Contains(aucText, fmt.Sprintf("ROC-AUC %.3f", wantAUC)) {
		t.Errorf("the page's AUC %v (%q), metrics on the native probabilities %v", auc, aucText, wantAUC)
	}
	th, err := strconv.ParseFloat(evalJS[string](ctx, t, `document.getElementById("calibration-site").dataset.threshold`), 64)
	if err != nil || math.Abs(th-wantTh) > 1e-6 {
		t.Errorf("the page's site threshold %v (%v), metrics' %v", th, err, wantTh)
	}
	if n := evalJS[int](ctx, t, `document.querySelectorAll("[id^=calibration-preset-]").length`); n != len(native.Metadata().Thresholds) {
		t.Errorf("%d preset rows, the model has %d operating points", n, len(native.Metadata().Thresholds))
	}

	runAxe(ctx, t, "site calibration") // the open view, with its curve, table and file inputs

	// Label the point and save it.
	evalJS[string](ctx, t, `(() => { const i = document.getElementById("site-label"); i.value = "e2e room";
	  i.dispatchEvent(new Event("change", { bubbles: true })); return i.value; })()`)
	step(ctx, t, "the calibration is made again with the label", 20*time.Second,
		chromedp.WaitEnabled(chromedp.ID("site-save")))
	time.Sleep(time.Second) // the answer with the new label replaces the profile to save
	click(ctx, t, "#site-save")
	step(ctx, t, "the site point is kept", 20*time.Second, chromedp.WaitVisible(chromedp.ID("site-current")))
	siteName := evalJS[string](ctx, t, `document.getElementById("calibration").dataset.site`)
	if want := fmt.Sprintf("site: e2e room (sens ≥ 0.95 on %d films, %s)", len(probs), time.Now().UTC().Format(time.DateOnly)); siteName != want {
		t.Errorf("site point %q, want %q", siteName, want)
	}
	shot, err := chromedp.Run(ctx, chromedp.Screenshot(chromedp.ID("calibration")))
	if err != nil {
		t.Fatal(err)
	}
	writeShot(t, "calibration.png", shot)

	// Offered in the selector; a new film screened at it is marked a site point.
	chooseOperating(ctx, t, siteName)
	step(ctx, t, "screen one film", 10*time.Second, chromedp.SetUploadFiles(chromedp.ID("file-input"), files[:1]))
	r := waitVerdict(ctx, t, siteName)
	if !evalJS[bool](ctx, t, `document.querySelector(".card .decision").dataset.site === "true"`) ||
		!strings.Contains(r.Text, "site operating point ("+siteName+")") {
		t.Errorf("the card at the site point is not marked as one: %+v", r)
	}
	first, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	res, err := native.Screen(first)
	if err != nil {
		t.Fatal(err)
	}
	if (r.Verdict == "positive") != (res.Prob >= wantTh) {
		t.Errorf("verdict %q at the site point (threshold %v) of a film of P %v", r.Verdict, wantTh, res.Prob)
	}
	click(ctx, t, "#export-csv")
	if text := blobText(ctx, t, "#results-csv"); !strings.Contains(text, siteName) {
		t.Errorf("the CSV export does not name the site point %q:\n%s", siteName, text)
	}
	click(ctx, t, "#audit-open")
	step(ctx, t, "the audit log has the film", 20*time.Second, chromedp.WaitVisible(chromedp.CSS(`#audit-log[data-count="1"]`)))
	click(ctx, t, "#audit-export")
	if audit := blobText(ctx, t, "#audit-csv"); !strings.Contains(audit, siteName) {
		t.Errorf("the audit entry does not name the site point %q:\n%s", siteName, audit)
	}

	// The profile the trainer's calibrate code made for this model is imported.
	cliFile := filepath.Join(t.TempDir(), "site-profile.json")
	if err := cli.Write(cliFile); err != nil {
		t.Fatal(err)
	}
	step(ctx, t, "import the trainer's profile", 20*time.Second, chromedp.SetUploadFiles(chromedp.ID("site-import"), []string{cliFile}),
		chromedp.WaitVisible(chromedp.CSS(`#calibration[data-site^="site: CLI room"]`)))
	if got := evalJS[string](ctx, t, `document.getElementById("site-current").textContent`); !strings.Contains(got, cli.Profile.Operating.Name) {
		t.Errorf("after the import the page keeps %q, want %q", got, cli.Profile.Operating.Name)
	}
	if n := evalJS[int](ctx, t, `Array.from(document.querySelectorAll("#operating-point option")).filter((o) => o.value.startsWith("site: ")).length`); n != 1 {
		t.Errorf("%d site points in the selector after the import, want 1 (the imported one replaces the saved one)", n)
	}

	// One for another model is refused, and the page keeps the one it has.
	other := cli.Profile
	other.Model.SHA256 = strings.Repeat("ab", 32)
	text, err := other.Encode()
	if err != nil {
		t.Fatal(err)
	}
	otherFile := filepath.Join(t.TempDir(), "other-model.json")
	if err := os.WriteFile(otherFile, text, 0o644); err != nil {
		t.Fatal(err)
	}
	step(ctx, t, "import a profile for another model", 20*time.Second, chromedp.SetUploadFiles(chromedp.ID("site-import"), []string{otherFile}),
		chromedp.WaitVisible(chromedp.ID("site-error")))
	if msg := evalJS[string](ctx, t, `document.getElementById("site-error").textContent`); !strings.Contains(msg, model.ErrOtherModel.Error()) {
		t.Errorf("refusal %q does not say the profile is for another model", msg)
	}
	if got := evalJS[string](ctx, t, `document.getElementById("calibration").dataset.site`); got != cli.Profile.Operating.Name {
		t.Errorf("after the refused import the site point is %q, want %q", got, cli.Profile.Operating.Name)
	}

	// Kept in the browser: after a reload the worker checks it again and the page offers it.
	step(ctx, t, "reload: the kept site point comes back", 3*time.Minute, chromedp.Reload(),
		chromedp.WaitVisible(chromedp.CSS(`.page[data-client="true"] #model-ready`)),
		chromedp.WaitVisible(chromedp.CSS(`#calibration[data-site^="site: CLI room"]`)))
	if !evalJS[bool](ctx, t, fmt.Sprintf(`Array.from(document.querySelectorAll("#operating-point option")).some((o) => o.value === %q)`, cli.Profile.Operating.Name)) {
		t.Errorf("after a reload the selector does not offer %q", cli.Profile.Operating.Name)
	}
}
