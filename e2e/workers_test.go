package e2e

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"pneumoscan/server/files"
)

// TestWorkerPool screens a batch with two workers (?workers=2): both take files, every file
// gets its result, and the cards stay in file order. Then the user picks one worker in the
// selector; after a reload (no parameter) the choice holds and one worker screens everything.
func TestWorkerPool(t *testing.T) {
	if _, err := os.Stat(chromium); err != nil {
		t.Fatalf("%s is needed for the browser test (make test installs it): %v", chromium, err)
	}
	static := buildSite(t)
	srv, base := serve(t, files.New(static))
	defer srv.Close()

	// Six files, three copies of each fixture under names that sort differently from the
	// upload order, so file order and name order differ.
	upload := t.TempDir()
	var paths, names []string
	for i, name := range []string{"f-normal.jpeg", "e-pneumonia.jpeg", "d-normal.jpeg", "c-pneumonia.jpeg", "b-normal.jpeg", "a-pneumonia.jpeg"} {
		src := normal
		if i%2 == 1 {
			src = pneumonia
		}
		data, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(upload, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		paths, names = append(paths, p), append(names, name)
	}

	ctx := newBrowser(t, 10*time.Minute)
	// The first action starts the browser; it must run on ctx itself, not on a step's
	// shorter-lived child, which would take the browser with it when it ends.
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatal(err)
	}
	step(ctx, t, "open the page with ?workers=2 and accept the notice", 5*time.Minute,
		chromedp.Navigate(base+"/?workers=2"),
		chromedp.WaitVisible(chromedp.CSS(`.page[data-client="true"] #accept-notice`)),
		chromedp.Click(chromedp.ID("accept-notice")), chromedp.WaitVisible(chromedp.ID("model-ready")),
		chromedp.WaitVisible(chromedp.CSS(`#workers[data-ready="2"]`)))
	screenBatch := func(want []string) []string {
		t.Helper()
		if err := chromedp.Do(ctx, chromedp.SetUploadFiles(chromedp.ID("file-input"), paths)); err != nil {
			t.Fatal(err)
		}
		cards := waitCards(ctx, t, len(want), 5*time.Minute)
		var got []string
		for _, c := range cards {
			got = append(got, c.Name)
			if c.Stage != "done" {
				t.Errorf("%s: stage %s, error %q", c.Name, c.Stage, c.Error)
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("cards in order %v, want file order %v", got, want)
		}
		workers, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll(".card")).map((c) => c.dataset.worker)`))
		if err != nil {
			t.Fatal(err)
		}
		progress, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById("batch-progress").dataset.done + "/" + document.getElementById("batch-progress").dataset.total`))
		if err != nil {
			t.Fatal(err)
		}
		if wantP := strconv.Itoa(len(want)) + "/" + strconv.Itoa(len(want)); progress != wantP {
			t.Errorf("batch progress %s, want %s", progress, wantP)
		}
		return workers
	}
	used := screenBatch(names)
	slices.Sort(used)
	if used = slices.Compact(used); !slices.Equal(used, []string{"0", "1"}) {
		t.Errorf("with 2 workers the files went to workers %v, want both 0 and 1", used)
	}

	// The select as a user changes it: a new value, then its change event.
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(() => { const s = document.getElementById("workers"); s.value = "1"; return s.dispatchEvent(new Event("change")); })()`)); err != nil {
		t.Fatal(err)
	}
	step(ctx, t, "reload without the parameter", 5*time.Minute,
		chromedp.Sleep(500*time.Millisecond),
		chromedp.Navigate(base+"/"),
		chromedp.WaitVisible(chromedp.CSS(`.page[data-client="true"] #model-ready`)),
		chromedp.WaitVisible(chromedp.CSS(`#workers[data-ready="1"]`)))
	chosen, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById("workers").value`))
	if err != nil {
		t.Fatal(err)
	}
	if chosen != "1" {
		t.Errorf("after a reload the selector shows %q workers, want the chosen 1", chosen)
	}
	used = screenBatch(names)
	slices.Sort(used)
	if used = slices.Compact(used); !slices.Equal(used, []string{"0"}) {
		t.Errorf("with 1 worker the files went to workers %v, want only 0", used)
	}
}
