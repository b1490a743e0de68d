package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/heapprofiler"
	"github.com/chromedp/cdproto/performance"
	"github.com/chromedp/chromedp"
)

// tableRow is one row of the page's results table.
type tableRow struct {
	File    string `json:"file"`
	Verdict string `json:"verdict"`
	Prob    string `json:"prob"`
	Score   string `json:"score"`
	Gate    string `json:"gate"`
	Thumb   string `json:"thumb"` // the thumbnail's src, or the text shown instead
}

const readTable = `Array.from(document.querySelectorAll("#results tr.result-row")).map((r) => {
  const img = r.querySelector("img.thumb");
  return { file: r.dataset.file, verdict: r.dataset.verdict, prob: r.dataset.prob,
           score: r.querySelector("td.score").textContent, gate: r.querySelector("td.gate").textContent,
           thumb: img ? img.src : r.querySelector("td").textContent };
})`

func table(ctx context.Context, t *testing.T) []tableRow {
	t.Helper()
	rows, err := chromedp.Run(ctx, chromedp.Evaluate[[]tableRow](readTable))
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

func fileNames(rows []tableRow) []string {
	var out []string
	for _, r := range rows {
		out = append(out, r.File)
	}
	return out
}

// waitThumbs waits until no row of the table waits for its thumbnail.
func waitThumbs(ctx context.Context, t *testing.T) {
	t.Helper()
	for start := time.Now(); !evalJS[bool](ctx, t, `Array.from(document.querySelectorAll("#results .thumb-none")).every((e) => e.textContent !== "…")`); {
		if time.Since(start) > 20*time.Second {
			t.Fatal("after 20 s some finished rows still have no thumbnail")
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// waitBatch waits until the batch line says every one of n files is finished.
func waitBatch(ctx context.Context, t *testing.T, n int, limit time.Duration) {
	t.Helper()
	step(ctx, t, fmt.Sprintf("all %d files finished", n), limit,
		chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`#batch-progress[data-done="%d"][data-total="%d"]`, n, n))))
}

// evalJS runs a script and fails the test on an error.
func evalJS[T any](ctx context.Context, t *testing.T, js string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("%s: %v", js, err)
	}
	return v
}

func click(ctx context.Context, t *testing.T, sel string) {
	t.Helper()
	step(ctx, t, "click "+sel, 20*time.Second, chromedp.Click(chromedp.CSS(sel)))
}

// blobText is the text of the blob: URL a link of the page points to.
func blobText(ctx context.Context, t *testing.T, link string) string {
	t.Helper()
	step(ctx, t, "the link "+link+" appears", 20*time.Second, chromedp.WaitReady(chromedp.CSS(link)))
	return evalJS[string](ctx, t, `fetch(document.querySelector("`+link+`").href).then((r) => r.text())`)
}

func sha(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// openBatchPage builds a site for the tiny operating-point model (fast enough to screen
// batches on a small machine), opens it with the given query and loads the model.
func openBatchPage(t *testing.T, limit time.Duration, query string) (ctx context.Context, modelSHA256 string) {
	t.Helper()
	tmp := t.TempDir()
	modelFile, _ := operatingModel(t, tmp)
	static := filepath.Join(tmp, "static")
	res := generateSite(t, buildWasm(t), modelFile, static)
	base := serveSite(t, static)
	ctx = newBrowser(t, limit, chromedp.WindowSize(1200, 1000))
	startOn(ctx, t)
	// The exports click a download link: no file may land in the test's home.
	if _, err := chromedp.CallBrowser(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{Behavior: browser.SetDownloadBehaviorBehaviorDeny}); err != nil {
		t.Fatal(err)
	}
	step(ctx, t, "open the page, accept the notice and load the model", 3*time.Minute,
		chromedp.Navigate(base+"/"+query), chromedp.WaitVisible(chromedp.CSS(`.page[data-client="true"] #accept-notice`)),
		chromedp.Click(chromedp.ID("accept-notice")), chromedp.WaitVisible(chromedp.ID("model-ready")))
	return ctx, res.Model.SHA256
}

// TestBatch: a folder with a subfolder is picked (webkitdirectory) and screened, its hidden
// file skipped; the table shows each file with the card's verdict, its score as the card says
// it and "no gate"; it sorts by clicking headers and filters by verdict; the CSV and JSON
// exports hold the rows shown with the model and operating point in each; a long batch is
// cancelled (queued files cancelled, the rest finish); a reload restores the table without
// pictures; the audit log has one entry per screened file with the file's and the model's
// SHA-256, exports as CSV and is cleared after a confirmation.
func TestBatch(t *testing.T) {
	ctx, modelSHA := openBatchPage(t, 6*time.Minute, "?workers=1")

	folder := filepath.Join(t.TempDir(), "batch")
	copyFile(t, normal, filepath.Join(folder, "a-normal.jpeg"))
	copyFile(t, pneumonia, filepath.Join(folder, "sub", "b-pneumonia.jpeg"))
	if err := os.MkdirAll(filepath.Join(folder, "sub", "deeper"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(folder, "sub", "deeper", "c-not-an-image.png"), []byte("not an image\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(folder, ".DS_Store"), []byte("\x00\x00\x00\x01Bud1"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.SetUploadFiles(chromedp.ID("folder-input"), []string{folder})); err != nil {
		t.Fatal(err)
	}
	waitBatch(ctx, t, 3, 2*time.Minute)
	waitThumbs(ctx, t)
	rows := table(ctx, t)
	t.Logf("after the folder pick: %+v", rows)
	if got := fileNames(rows); !slices.Equal(got, []string{"a-normal.jpeg", "b-pneumonia.jpeg", "c-not-an-image.png"}) {
		t.Fatalf("the table lists %q; want the folder's three files with its subfolders', .DS_Store skipped", got)
	}
	// The table says what the cards say.
	cards := evalJS[map[string]string](ctx, t, `Object.fromEntries(Array.from(document.querySelectorAll(".card")).map((c) => {
	  const d = c.querySelector(".decision"); return [c.dataset.name, d ? d.dataset.verdict : c.dataset.stage]; }))`)
	for _, r := range rows {
		want := cards[r.File]
		if want == "error" {
			want = "refused"
		}
		if r.Verdict != want {
			t.Errorf("%s: table verdict %q, card %q", r.File, r.Verdict, cards[r.File])
		}
		// The tiny model is a contract-1 file: the worker reports its gate as not available;
		// a file refused before the model (not an image) never reached a gate at all.
		wantGate := "not available"
		if r.Verdict == "refused" {
			wantGate = "no gate"
		}
		if r.Gate != wantGate {
			t.Errorf("%s (%s): gate column %q, want %q", r.File, r.Verdict, r.Gate, wantGate)
		}
		if r.Verdict == "refused" {
			if r.Score != "—" {
				t.Errorf("%s: refused, but the score column says %q", r.File, r.Score)
			}
			continue
		}
		p, err := strconv.ParseFloat(r.Prob, 64)
		if err != nil || threeDecimals.MatchString(r.Score) || !strings.Contains(r.Score, "%") {
			t.Errorf("%s: prob %q, score %q: want a rounded percentage", r.File, r.Prob, r.Score)
		}
		if want := fmt.Sprintf("about %d%%", int(p*10+0.5)*10); p >= 0.05 && p < 0.95 && r.Score != want {
			t.Errorf("%s: score %q, want %q", r.File, r.Score, want)
		}
		if !strings.HasPrefix(r.Thumb, "data:image/jpeg") {
			t.Errorf("%s: thumbnail %.40q, want a data: JPEG", r.File, r.Thumb)
		}
	}
	if rows[2].Verdict != "refused" {
		t.Errorf("the text file's verdict is %q, want refused", rows[2].Verdict)
	}

	// The lenient point makes the pneumonia fixture positive (operatingModel).
	chooseOperating(ctx, t, "lenient")
	step(ctx, t, "the table follows the operating point", 10*time.Second,
		chromedp.WaitVisible(chromedp.CSS(`tr.result-row[data-file="b-pneumonia.jpeg"][data-verdict="positive"]`)))
	rows = table(ctx, t)
	var positive []string
	for _, r := range rows {
		if r.Verdict == "positive" {
			positive = append(positive, r.File)
		}
	}
	summary := evalJS[string](ctx, t, `document.getElementById("results-summary").textContent`)
	if !strings.HasPrefix(summary, "3 files: ") || !strings.Contains(summary, fmt.Sprintf("%d positive", len(positive))) ||
		!strings.Contains(summary, "1 refused") || !strings.Contains(summary, "lenient") {
		t.Errorf("summary %q with %d positive rows", summary, len(positive))
	}

	// Sorting: by score (refused last), then descending, then by file.
	byScore := func(desc bool) []string {
		scored := []tableRow{}
		for _, r := range rows {
			if r.Verdict != "refused" {
				scored = append(scored, r)
			}
		}
		sort.SliceStable(scored, func(i, j int) bool {
			a, _ := strconv.ParseFloat(scored[i].Prob, 64)
			b, _ := strconv.ParseFloat(scored[j].Prob, 64)
			if desc {
				return a > b
			}
			return a < b
		})
		return append(fileNames(scored), "c-not-an-image.png")
	}
	sortBy := func(col, dir string) []tableRow {
		t.Helper()
		click(ctx, t, `#results th button[data-col="`+col+`"]`)
		step(ctx, t, "sorted by "+col+" "+dir, 10*time.Second, chromedp.WaitVisible(chromedp.CSS(`#results th[aria-sort="`+dir+`"] button[data-col="`+col+`"]`)))
		return table(ctx, t)
	}
	if got, want := fileNames(sortBy("score", "ascending")), byScore(false); !slices.Equal(got, want) {
		t.Errorf("sorted by score: %q, want %q", got, want)
	}
	if got, want := fileNames(sortBy("score", "descending")), byScore(true); !slices.Equal(got, want) {
		t.Errorf("sorted by score, descending: %q, want %q", got, want)
	}
	if got := fileNames(sortBy("file", "ascending")); !slices.Equal(got, []string{"a-normal.jpeg", "b-pneumonia.jpeg", "c-not-an-image.png"}) {
		t.Errorf("sorted by file: %q", got)
	}
	if got := sortBy("verdict", "ascending"); got[0].Verdict != "positive" || got[2].Verdict != "refused" {
		t.Errorf("sorted by verdict: %+v", got)
	}

	// Filtering by verdict.
	filter := func(v string) {
		t.Helper()
		evalJS[bool](ctx, t, fmt.Sprintf(`(() => { const s = document.getElementById("results-filter"); s.value = %q;
		  return s.dispatchEvent(new Event("change", { bubbles: true })); })()`, v))
		time.Sleep(300 * time.Millisecond)
	}
	filter("refused")
	if got := fileNames(table(ctx, t)); !slices.Equal(got, []string{"c-not-an-image.png"}) {
		t.Errorf("filtered to refused: %q", got)
	}
	filter("positive")
	if got := fileNames(table(ctx, t)); !slices.Equal(got, positive) {
		t.Errorf("filtered to positive: %q, want %q", got, positive)
	}

	// Exports: the rows shown (the positive ones), with the model and operating point.
	click(ctx, t, "#export-csv")
	text := blobText(ctx, t, "#results-csv")
	recs, err := csv.NewReader(strings.NewReader(text)).ReadAll()
	if err != nil {
		t.Fatalf("the CSV export does not parse: %v\n%s", err, text)
	}
	t.Logf("CSV export:\n%s", text)
	if len(recs) != len(positive)+1 {
		t.Fatalf("the CSV has %d lines, want a header and the %d rows shown", len(recs), len(positive))
	}
	col := map[string]string{}
	for _, rec := range recs[1:] {
		if rec[0] == "b-pneumonia.jpeg" {
			for i, h := range recs[0] {
				col[h] = rec[i]
			}
		}
	}
	for k, want := range map[string]string{"file": "b-pneumonia.jpeg", "verdict": "positive", "operating_point": "lenient",
		"gate": "not available", "model_sha256": modelSHA, "file_sha256": sha(t, pneumonia), "score": "about 70%"} {
		if col[k] != want {
			t.Errorf("CSV column %s = %q, want %q", k, col[k], want)
		}
	}
	if col["model_name"] == "" || col["model_version"] == "" || col["screened_at"] == "" || col["probability"] == "" {
		t.Errorf("CSV row lacks the model, the time or the probability: %v", col)
	}
	filter("")
	click(ctx, t, "#export-json")
	js := blobText(ctx, t, "#results-json")
	if n := strings.Count(js, `"model_sha256": "`+modelSHA+`"`); n != 3 {
		t.Errorf("the JSON export has the model's sha256 in %d rows, want 3:\n%s", n, js)
	}

	// Cancel: queued files behind one worker; those not yet handed to it are cancelled. Enough
	// of them that the tiny model cannot finish them all between the pick and the click on a
	// quiet machine (12 could: CI once saw none left to cancel).
	const queued = 40
	upload := t.TempDir()
	var many []string
	for i := range queued {
		p := filepath.Join(upload, fmt.Sprintf("q%02d.jpeg", i))
		copyFile(t, normal, p)
		many = append(many, p)
	}
	if err := chromedp.Do(ctx, chromedp.SetUploadFiles(chromedp.ID("file-input"), many)); err != nil {
		t.Fatal(err)
	}
	click(ctx, t, "#batch-cancel")
	waitBatch(ctx, t, 3+queued, 2*time.Minute)
	waitThumbs(ctx, t)
	cancelled := evalJS[int](ctx, t, `Number(document.getElementById("batch-progress").dataset.cancelled)`)
	stages := evalJS[map[string]int](ctx, t, `Array.from(document.querySelectorAll(".card")).reduce((m, c) => (m[c.dataset.stage] = (m[c.dataset.stage] || 0) + 1, m), {})`)
	t.Logf("after cancel: %d cancelled, card stages %v", cancelled, stages)
	if cancelled < queued/2 || stages["cancelled"] != cancelled || stages["done"]+stages["error"]+cancelled != 3+queued {
		t.Errorf("cancelled %d of %d queued behind one worker, stages %v: want most cancelled, the rest finished", cancelled, queued, stages)
	}
	if got := evalJS[int](ctx, t, `document.querySelectorAll('tr.result-row[data-verdict="cancelled"]').length`); got != cancelled {
		t.Errorf("%d cancelled rows in the table, %d cancelled cards", got, cancelled)
	}
	shot, err := chromedp.Run(ctx, chromedp.Screenshot(chromedp.ID("results")))
	if err != nil {
		t.Fatal(err)
	}
	writeShot(t, "batch-table.png", shot)
	screened := 3 + queued - cancelled
	before := table(ctx, t)

	// The audit log: one entry per screened file (not the cancelled ones).
	click(ctx, t, "#audit-open")
	step(ctx, t, "the audit log lists the screened files", 20*time.Second,
		chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`#audit-log[data-count="%d"]`, screened))))
	click(ctx, t, "#audit-export")
	audit := blobText(ctx, t, "#audit-csv")
	arecs, err := csv.NewReader(strings.NewReader(audit)).ReadAll()
	if err != nil || len(arecs) != screened+1 {
		t.Fatalf("audit CSV: %v, %d lines, want %d:\n%s", err, len(arecs), screened+1, audit)
	}
	if !slices.Equal(arecs[0], []string{"time", "file_sha256", "model_sha256", "operating_point", "probability", "score", "verdict", "gate"}) {
		t.Errorf("audit CSV header %q", arecs[0])
	}
	shas := map[string]int{}
	for _, r := range arecs[1:] {
		shas[r[1]]++
		if r[2] != modelSHA || (r[7] != "not available" && r[7] != "no gate") { // refused files have no gate verdict
			t.Errorf("audit entry %q: want model %s and no gate", r, modelSHA)
		}
		if _, err := time.Parse(time.RFC3339, r[0]); err != nil {
			t.Errorf("audit time %q: %v", r[0], err)
		}
	}
	if shas[sha(t, normal)] != screened-2 || shas[sha(t, pneumonia)] != 1 || shas[sha(t, filepath.Join(folder, "sub", "deeper", "c-not-an-image.png"))] != 1 {
		t.Errorf("audit file hashes %v: want the normal fixture %d times, the pneumonia fixture and the text file once", shas, screened-2)
	}
	if strings.Contains(audit, "jpeg") || strings.Contains(audit, "not-an-image") {
		t.Errorf("the audit log holds a file name:\n%s", audit)
	}

	// A reload restores the table, without pictures; the audit log is still there.
	step(ctx, t, "reload: the table comes back", 2*time.Minute, chromedp.Reload(),
		chromedp.WaitVisible(chromedp.CSS(`.page[data-client="true"] #model-ready`)),
		chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`#results[data-total="%d"]`, len(before)))))
	after := table(ctx, t)
	key := func(rows []tableRow) []string {
		var out []string
		for _, r := range rows {
			out = append(out, r.File+" "+r.Verdict+" "+r.Score+" "+r.Prob+" "+r.Gate)
		}
		slices.Sort(out)
		return out
	}
	if !slices.Equal(key(after), key(before)) {
		t.Errorf("after a reload the table holds\n%q\nwant\n%q", key(after), key(before))
	}
	for _, r := range after {
		if r.Thumb != "not kept" {
			t.Errorf("%s: after a reload the image column shows %.40q, want \"not kept\"", r.File, r.Thumb)
		}
	}
	click(ctx, t, "#audit-open")
	step(ctx, t, "the audit log survives the reload", 20*time.Second,
		chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`#audit-log[data-count="%d"]`, screened))))
	click(ctx, t, "#audit-clear")
	click(ctx, t, "#audit-clear-no")
	step(ctx, t, "keeping them keeps them", 10*time.Second, chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`#audit-log[data-count="%d"]`, screened))))
	click(ctx, t, "#audit-clear")
	click(ctx, t, "#audit-clear-yes")
	step(ctx, t, "the audit log is cleared", 10*time.Second, chromedp.WaitVisible(chromedp.CSS(`#audit-log[data-count="0"]`)))
}

// writeShot writes a screenshot to testout/, and to docs/ with UPDATE_SCREENSHOT=1.
func writeShot(t *testing.T, name string, png []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(root, "testout"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "testout", name), png, 0o644); err != nil {
		t.Fatal(err)
	}
	if os.Getenv("UPDATE_SCREENSHOT") == "1" {
		if err := os.WriteFile(filepath.Join(root, "docs", name), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestBatchMemory screens a batch of copies of the two fixtures (200, or BATCH_FILES) with
// two workers and measures the page's JS heap (Performance.getMetrics JSHeapUsedSize) while
// it runs and after, the workers' wasm memory (each result carries it), and the Chromium
// processes' resident memory (from /proc; the renderer's apart: it holds the page, its
// app.wasm, the decoded images and the workers). It fails if any film is left unscreened, if
// more than the first 12 cards keep a full image, if the page's JS heap after the batch
// exceeds 50 MB, or if the renderer grew by more than 400 MB (a fixture film decodes to
// several MB: keeping every film of the batch would take far more).
func TestBatchMemory(t *testing.T) {
	n := 200
	if v, err := strconv.Atoi(os.Getenv("BATCH_FILES")); err == nil && v > 0 {
		n = v
	}
	ctx, _ := openBatchPage(t, 10*time.Minute, "?workers=2")
	upload := t.TempDir()
	var paths []string
	for i := range n {
		src := normal
		if i%2 == 1 {
			src = pneumonia
		}
		p := filepath.Join(upload, fmt.Sprintf("film-%03d%s", i, filepath.Ext(src)))
		copyFile(t, src, p)
		paths = append(paths, p)
	}
	heap := func() float64 {
		m, err := chromedp.Call(ctx, performance.GetMetrics, cdp.Empty{})
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range m.Metrics {
			if x.Name == "JSHeapUsedSize" {
				return x.Value
			}
		}
		t.Fatal("no JSHeapUsedSize metric")
		return 0
	}
	if _, err := chromedp.Call(ctx, performance.Enable, performance.EnableParams{}); err != nil {
		t.Fatal(err)
	}
	heap0 := heap()
	rss0, ren0 := chromiumRSS(t, ctx)
	start := time.Now()
	if err := chromedp.Do(ctx, chromedp.SetUploadFiles(chromedp.ID("file-input"), paths)); err != nil {
		t.Fatal(err)
	}
	var peakHeap, peakRSS, peakRen float64
	for {
		all, ren := chromiumRSS(t, ctx)
		peakHeap, peakRSS, peakRen = max(peakHeap, heap()), max(peakRSS, all), max(peakRen, ren)
		done := evalJS[string](ctx, t, `(document.getElementById("batch-progress") || {dataset: {}}).dataset.done || "0"`)
		if done == strconv.Itoa(n) {
			break
		}
		if time.Since(start) > 8*time.Minute {
			t.Fatalf("after %s, %s of %d files finished", time.Since(start), done, n)
		}
		time.Sleep(time.Second)
	}
	elapsed := time.Since(start)
	stages := evalJS[map[string]int](ctx, t, `Array.from(document.querySelectorAll(".card")).reduce((m, c) => (m[c.dataset.stage] = (m[c.dataset.stage] || 0) + 1, m), {})`)
	if stages["done"] != n {
		t.Errorf("card stages %v: want all %d done", stages, n)
	}
	wasm := evalJS[float64](ctx, t, `Math.max(...Array.from(document.querySelectorAll(".card")).map((c) => Number(c.dataset.wasm) || 0))`)
	full := evalJS[int](ctx, t, `document.querySelectorAll(".card img.full").length`)
	blobs := evalJS[int](ctx, t, `document.querySelectorAll('img[src^="blob:"]').length`)
	// Settle, collect garbage, then measure what the finished batch holds.
	evalJS[bool](ctx, t, `new Promise((r) => setTimeout(() => r(true), 1000))`)
	if _, err := chromedp.Call(ctx, heapprofiler.CollectGarbage, cdp.Empty{}); err != nil {
		t.Logf("collecting garbage: %v", err)
	}
	heap1 := heap()
	rss1, ren1 := chromiumRSS(t, ctx)
	t.Logf("%d files in %s (%.2f s/file, 2 workers): page JS heap %.1f MB before, peak %.1f MB while screening, %.1f MB after (GC); "+
		"largest worker wasm memory %.1f MB; renderer RSS %.0f MB before, peak %.0f MB, %.0f MB after; all Chromium processes RSS %.0f MB before, peak %.0f MB, %.0f MB after; "+
		"%d full images kept (open cards), %d blob: images in the page",
		n, elapsed.Round(time.Second), elapsed.Seconds()/float64(n), heap0/1e6, peakHeap/1e6, heap1/1e6, wasm/1e6,
		ren0/1e6, peakRen/1e6, ren1/1e6, rss0/1e6, peakRSS/1e6, rss1/1e6, full, blobs)
	if heap1 > 50e6 {
		t.Errorf("the page's JS heap is %.0f MB after %d files: more than 50 MB", heap1/1e6, n)
	}
	if grew := peakRen - ren0; grew > 400e6 {
		t.Errorf("the renderer grew by %.0f MB during %d files: more than 400 MB", grew/1e6, n)
	}
	if full > 12 || blobs > 12 {
		t.Errorf("%d full images and %d blob: images kept; want at most the 12 first cards'", full, blobs)
	}
}

// chromiumRSS is the resident memory of the test's Chromium: its browser process and every
// process under it (renderer with the page and its workers, GPU, utility), from /proc.
// Shared pages count once per process, so this overstates a little.
func chromiumRSS(t *testing.T, ctx context.Context) (all, renderer float64) {
	t.Helper()
	c := chromedp.FromContext(ctx)
	if c == nil || c.Browser == nil || c.Browser.Process() == nil {
		return 0, 0
	}
	root := c.Browser.Process().Pid
	parent := map[int]int{}
	rss := map[int]float64{}
	dirs, _ := os.ReadDir("/proc")
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		status, err := os.ReadFile(filepath.Join("/proc", d.Name(), "status"))
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(status), "\n") {
			f := strings.Fields(line)
			if len(f) < 2 {
				continue
			}
			switch f[0] {
			case "PPid:":
				parent[pid], _ = strconv.Atoi(f[1])
			case "VmRSS:":
				kb, _ := strconv.ParseFloat(f[1], 64)
				rss[pid] = kb * 1024
			}
		}
	}
	for pid, r := range rss {
		for p := pid; p > 1; p = parent[p] {
			if p == root {
				all += r
				// The renderer runs the page, its app.wasm and the dedicated workers.
				if cmd, _ := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "cmdline")); strings.Contains(string(cmd), "--type=renderer") {
					renderer += r
				}
				break
			}
		}
	}
	return all, renderer
}
