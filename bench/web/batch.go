package main

import (
	"context"
	"fmt"
	"log"
	"path/filepath"
	"runtime"
	"strconv"
	"time"

	"github.com/chromedp/chromedp"

	"pneumoscan/bench/internal/benchimages"
)

// batchRun is one batch through the product page itself: every file chosen at once in its
// file input, timed until the batch progress line says all are finished.
type batchRun struct {
	workers int
	images  int
	seconds float64
	failed  int
}

// timeBatches screens imgs with the product page (not the benchmark page) with 1 worker,
// then with one per core: the page's own pool, queue and cards, as a clinic uses it.
func timeBatches(ctx context.Context, base string, imgs []benchimages.Image) ([]batchRun, error) {
	paths := make([]string, len(imgs))
	for i, im := range imgs {
		abs, err := filepath.Abs(im.Path) // the browser opens the files itself: no relative paths
		if err != nil {
			return nil, err
		}
		paths[i] = abs
	}
	counts := []int{1}
	if n := runtime.NumCPU(); n > 1 {
		counts = append(counts, n)
	}
	var runs []batchRun
	for _, n := range counts {
		r, err := timeBatch(ctx, base, n, paths)
		if err != nil {
			return nil, fmt.Errorf("batch with %d workers: %w", n, err)
		}
		log.Printf("batch of %d with %d worker(s): %.1f s (%.2f images/s)", r.images, n, r.seconds, float64(r.images)/r.seconds)
		runs = append(runs, r)
	}
	return runs, nil
}

func timeBatch(ctx context.Context, base string, workers int, paths []string) (batchRun, error) {
	r := batchRun{workers: workers, images: len(paths)}
	url := base + "/?workers=" + strconv.Itoa(workers)
	ready := fmt.Sprintf(`#workers[data-ready="%d"]`, workers)
	lctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	// The notice is accepted as a user would have before (the page remembers it); the page is
	// loaded fresh, so every worker starts and loads the model (from Cache Storage) first.
	if err := chromedp.Do(lctx, chromedp.Navigate(base+"/")); err != nil {
		return r, err
	}
	if _, err := evalJSON[bool](lctx, `(localStorage.setItem("pneumoscan.notice.accepted", "true"), true)`, time.Minute); err != nil {
		return r, err
	}
	if err := chromedp.Do(lctx,
		chromedp.Navigate(url),
		chromedp.WaitVisible(chromedp.CSS(`.page[data-client="true"] #model-ready`)),
		chromedp.WaitVisible(chromedp.CSS(ready)),
	); err != nil {
		return r, fmt.Errorf("loading %s: %w", url, err)
	}
	start := time.Now()
	if err := chromedp.Do(ctx, chromedp.SetUploadFiles(chromedp.ID("file-input"), paths)); err != nil {
		return r, err
	}
	deadline := start.Add(30 * time.Minute)
	for {
		done, err := evalJSON[int](ctx, `(() => { const p = document.getElementById("batch-progress"); return p ? Number(p.dataset.done) : 0; })()`, time.Minute)
		if err != nil {
			return r, err
		}
		if done == len(paths) {
			break
		}
		if time.Now().After(deadline) {
			return r, fmt.Errorf("%d of %d finished after %s", done, len(paths), time.Since(start).Round(time.Second))
		}
		time.Sleep(100 * time.Millisecond)
	}
	r.seconds = time.Since(start).Seconds()
	failed, err := evalJSON[int](ctx, `document.querySelectorAll('.card[data-stage="error"]').length`, time.Minute)
	if err != nil {
		return r, err
	}
	r.failed = failed
	if failed > 0 {
		// Test images that the product refuses would make the row a timing of error messages.
		msg, _ := evalJSON[string](ctx, `(document.querySelector('.card[data-stage="error"] .card-error') || {}).textContent || ""`, time.Minute)
		return r, fmt.Errorf("%d of %d files could not be screened (first: %q)", failed, len(paths), msg)
	}
	return r, nil
}
