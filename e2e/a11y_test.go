package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// axeScript is axe-core as `make axe` installs it (npm, pinned in the Makefile). A missing
// file fails the test: an accessibility check that did not run is not a pass.
const axeScript = "../.cache/axe/node_modules/axe-core/axe.min.js"

// axeViolation is what the check keeps of one axe-core violation.
type axeViolation struct {
	ID     string   `json:"id"`
	Impact string   `json:"impact"`
	Help   string   `json:"help"`
	Nodes  []string `json:"nodes"` // CSS selectors of the offending elements
}

// axeRun runs axe-core's WCAG 2.1 A and AA rules on the page as it stands.
func axeRun(ctx context.Context, t *testing.T, view string) []axeViolation {
	t.Helper()
	src, err := os.ReadFile(axeScript)
	if err != nil {
		t.Fatalf("axe-core is not installed (run `make axe`): %v", err)
	}
	// Injected through DevTools, not the page: the page's CSP would (rightly) refuse a script
	// that is not its own, and the check must not need the page to allow one.
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](string(src)+";true", chromedp.EvalIgnoreExceptions)); err != nil {
		t.Fatalf("%s: injecting axe-core: %v", view, err)
	}
	const run = `axe.run(document, {runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}})
		.then((r) => JSON.stringify(r.violations.map((v) => ({id: v.id, impact: v.impact || "", help: v.help,
			nodes: v.nodes.map((n) => n.target.join(" "))}))))`
	text, err := chromedp.Run(ctx, chromedp.Evaluate[string](run, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("%s: axe.run: %v", view, err)
	}
	var vs []axeViolation
	if err := json.Unmarshal([]byte(text), &vs); err != nil {
		t.Fatalf("%s: axe's answer %q: %v", view, text, err)
	}
	return vs
}

// axeCanFail plants a button with no name (a critical violation) and requires axe to report
// it: the check proves it runs and sees the page before the page's own views are judged.
func axeCanFail(ctx context.Context, t *testing.T) {
	t.Helper()
	evalJS[bool](ctx, t, `(() => { const b = document.createElement("button"); b.id = "axe-probe"; document.body.appendChild(b); return true; })()`)
	found := false
	for _, v := range axeRun(ctx, t, "probe") {
		if v.ID == "button-name" && strings.Contains(strings.Join(v.Nodes, " "), "#axe-probe") {
			found = v.Impact == "critical"
		}
	}
	evalJS[bool](ctx, t, `document.getElementById("axe-probe").remove(), true`)
	if !found {
		t.Fatal("axe-core did not report a planted button without a name: the check is not running")
	}
}

// runAxe runs axe-core's WCAG 2.1 A and AA rules on the page as it stands and fails on every
// serious or critical violation; minor and moderate ones are logged.
func runAxe(ctx context.Context, t *testing.T, view string) {
	t.Helper()
	vs := axeRun(ctx, t, view)
	for _, v := range vs {
		msg := fmt.Sprintf("%s: axe %s (%s): %s, at %s", view, v.ID, v.Impact, v.Help, strings.Join(v.Nodes, ", "))
		if v.Impact == "serious" || v.Impact == "critical" {
			t.Error(msg)
		} else {
			t.Log(msg)
		}
	}
	t.Logf("%s: axe-core found %d violations (serious or critical fail the test)", view, len(vs))
}

// press types one key (as a user's keyboard would: key down, key up) on the focused element.
func press(ctx context.Context, t *testing.T, key string) {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.KeyEvent(key)); err != nil {
		t.Fatal(err)
	}
}

// tabOrder presses Tab n times from the top of the page and returns, for each press, the
// focused element as "tag#id" (or "tag.class" without an id).
func tabOrder(ctx context.Context, t *testing.T, n int) []string {
	t.Helper()
	evalJS[bool](ctx, t, `document.activeElement && document.activeElement.blur(), window.scrollTo(0, 0), true`)
	var got []string
	for i := 0; i < n; i++ {
		press(ctx, t, kb.Tab)
		got = append(got, evalJS[string](ctx, t, `(() => { const e = document.activeElement;
			if (!e || e === document.body) return "body";
			return e.tagName.toLowerCase() + (e.id ? "#" + e.id : (typeof e.className === "string" && e.className ? "." + e.className.split(" ")[0] : "")); })()`))
	}
	return got
}

// TestAccessibility runs axe-core on each view of the page (before and after screening, with
// the results table, the film viewer, the site calibration view, the audit log, the model
// card) and fails on a serious or critical WCAG
// 2.1 A/AA violation; checks that the controls are reached with the keyboard alone and that
// a sort header and the audit log answer Enter; and lays the page out at 360 px (a phone):
// nothing may stick out sideways, the verdict stays in words beside its colour. It writes
// testout/phone.png, and docs/phone.png with UPDATE_SCREENSHOT=1.
func TestAccessibility(t *testing.T) {
	ctx, _ := openBatchPage(t, 6*time.Minute, "")
	axeCanFail(ctx, t)
	runAxe(ctx, t, "the page, model loaded")

	// Keyboard: every control a user needs before screening is reached with Tab.
	order := tabOrder(ctx, t, 25)
	t.Logf("tab order: %s", strings.Join(order, " "))
	for _, want := range []string{"#file-input", "#folder-input", "select#operating-point"} {
		if !slices.ContainsFunc(order, func(got string) bool { return strings.HasSuffix(got, want) }) {
			t.Errorf("Tab never reaches %s (order %v)", want, order)
		}
	}

	abs := func(p string) string {
		a, err := filepath.Abs(p)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	if err := chromedp.Do(ctx, chromedp.SetUploadFiles(chromedp.ID("file-input"), []string{abs(normal), abs(pneumonia)})); err != nil {
		t.Fatal(err)
	}
	waitBatch(ctx, t, 2, 3*time.Minute)
	runAxe(ctx, t, "results: cards and table")

	// The verdict is in words, not in colour alone, on every card and table row.
	if n := evalJS[int](ctx, t, `Array.from(document.querySelectorAll(".card .verdict, #results tbody tr")).filter((e) => e.textContent.trim() === "").length`); n != 0 {
		t.Errorf("%d verdicts or rows carry no text", n)
	}
	// Positive and negative verdict colours stay apart for red-green colour-blind readers: the
	// page's own colours, through the Viénot-Brettel-Mollon dichromat simulation (linear RGB),
	// are compared for protanopia and deuteranopia.
	dist := evalJS[string](ctx, t, `(() => {
		const colour = (cls) => { const e = document.createElement("p"); e.className = cls; document.body.appendChild(e);
			const c = getComputedStyle(e).color.match(/[0-9.]+/g).slice(0, 3).map(Number); e.remove();
			return c.map((v) => { v /= 255; return v <= 0.04045 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); }); };
		const sims = {protanopia: ([r, g, b]) => [0.11238*r + 0.88762*g, 0.11238*r + 0.88762*g, 0.00401*r - 0.00401*g + b],
			deuteranopia: ([r, g, b]) => [0.29275*r + 0.70725*g, 0.29275*r + 0.70725*g, -0.02234*r + 0.02234*g + b]};
		const pos = colour("decision positive"), neg = colour("decision negative");
		return Object.entries(sims).map(([k, f]) => { const a = f(pos), b = f(neg);
			return k + "=" + Math.hypot(a[0]-b[0], a[1]-b[1], a[2]-b[2]).toFixed(3); }).join(" ");
	})()`)
	for _, kv := range strings.Fields(dist) {
		name, v, _ := strings.Cut(kv, "=")
		if d, err := strconv.ParseFloat(v, 64); err != nil || d < 0.15 {
			t.Errorf("positive and negative verdict colours are %s apart for %s (linear RGB; want >= 0.15)", v, name)
		}
	}
	t.Logf("verdict colours apart, simulated: %s", dist)

	// A sort header is a button: Enter on it sorts.
	before := evalJS[string](ctx, t, `Array.from(document.querySelectorAll("#results tbody tr")).map((r) => r.textContent).join("|")`)
	hdr := evalJS[int](ctx, t, `document.querySelectorAll("#results thead button").length`)
	if hdr == 0 {
		t.Fatal("the results table has no header buttons to sort with")
	}
	evalJS[bool](ctx, t, `(() => { const b = Array.from(document.querySelectorAll("#results thead button")).find((b) => /score/i.test(b.textContent)) || document.querySelector("#results thead button"); b.focus(); return true; })()`)
	press(ctx, t, kb.Enter)
	time.Sleep(300 * time.Millisecond)
	after := evalJS[string](ctx, t, `Array.from(document.querySelectorAll("#results tbody tr")).map((r) => r.textContent).join("|")`)
	sorted := evalJS[string](ctx, t, `Array.from(document.querySelectorAll("#results thead [aria-sort]")).map((h) => h.getAttribute("aria-sort")).join(",")`)
	if before == after && !strings.Contains(sorted, "ascending") && !strings.Contains(sorted, "descending") {
		t.Errorf("Enter on a sort header changed neither the order nor aria-sort (%q)", sorted)
	}

	// The film viewer (a modal dialog), opened from the keyboard on the pneumonia card.
	evalJS[bool](ctx, t, fmt.Sprintf(`document.querySelector('.card[data-name=%q] button.card-view').focus(), true`, filepath.Base(pneumonia)))
	press(ctx, t, kb.Enter)
	step(ctx, t, "the viewer opens with Enter", 30*time.Second, chromedp.WaitVisible(chromedp.CSS(`dialog#viewer[open]`)))
	// The mouse wheel zooms (a real wheel event from the input layer, over the film's pane).
	box := evalJS[[]float64](ctx, t, `(() => { const r = document.querySelector("dialog#viewer .viewer-pane").getBoundingClientRect(); return [r.left + r.width/2, r.top + r.height/2]; })()`)
	if _, err := chromedp.Call(ctx, input.DispatchMouseEvent, input.DispatchMouseEventParams{Type: input.DispatchMouseEventTypeMouseWheel, X: box[0], Y: box[1], DeltaX: 0.001, DeltaY: -300}); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); evalJS[string](ctx, t, `document.getElementById("viewer-zoom").textContent`) == "zoom 100%"; {
		if time.Now().After(deadline) {
			t.Fatal("the mouse wheel over the film did not zoom it")
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("after one wheel step: %s", evalJS[string](ctx, t, `document.getElementById("viewer-zoom").textContent`))
	// Pinch-zoom is the browser's to allow: the served page's viewport tag must not forbid it.
	if vp := evalJS[string](ctx, t, `document.querySelector('meta[name="viewport"]').content`); strings.Contains(vp, "user-scalable") || strings.Contains(vp, "maximum-scale") {
		t.Errorf("the page's viewport tag %q forbids pinch-zoom", vp)
	}
	click(ctx, t, "#viewer-side")
	runAxe(ctx, t, "film viewer, side by side")
	press(ctx, t, kb.Escape)
	step(ctx, t, "Esc closes the viewer", 20*time.Second, chromedp.WaitNotPresent(chromedp.CSS(`dialog#viewer[open]`)))

	// The site calibration view, opened.
	click(ctx, t, "#calibration-toggle")
	step(ctx, t, "the calibration view opens", 20*time.Second, chromedp.WaitVisible(chromedp.ID("calibration-input")))
	runAxe(ctx, t, "site calibration")
	click(ctx, t, "#calibration-toggle")

	// The audit log, opened from the keyboard.
	evalJS[bool](ctx, t, `document.getElementById("audit-open").focus(), true`)
	press(ctx, t, kb.Enter)
	step(ctx, t, "the audit log opens with Enter", 20*time.Second, chromedp.WaitVisible(chromedp.ID("audit-log")))
	runAxe(ctx, t, "audit log")

	// A phone: 360 CSS pixels wide.
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(360, 780, chromedp.EmulateScale(2), chromedp.EmulateMobile)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	if w := evalJS[int](ctx, t, `document.documentElement.scrollWidth`); w > 360 {
		wide := evalJS[string](ctx, t, `Array.from(document.querySelectorAll("body *")).filter((e) => e.getBoundingClientRect().right > 361).slice(0, 8).map((e) => e.tagName.toLowerCase() + (e.id ? "#" + e.id : "." + (typeof e.className === "string" ? e.className.split(" ")[0] : ""))).join(" ")`)
		t.Errorf("at 360 px the page is %d px wide: it scrolls sideways (%s)", w, wide)
	}
	runAxe(ctx, t, "phone, 360 px")
	// The shot shows a result as a phone shows it: the first card at the top.
	evalJS[bool](ctx, t, `document.querySelector(".card").scrollIntoView(), true`)
	shot, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatal(err)
	}
	writeShot(t, "phone.png", shot)

	// The model card page.
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1200, 1000)); err != nil {
		t.Fatal(err)
	}
	step(ctx, t, "open the model card", 2*time.Minute,
		chromedp.Click(chromedp.ID("model-card-link")), chromedp.WaitVisible(chromedp.CSS(`.page[data-client="true"] #model-card`)))
	runAxe(ctx, t, "model card")
}
