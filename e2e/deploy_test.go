package e2e

import (
	"bufio"
	"context"
	"fmt"
	"io/fs"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"pneumoscan/convnet"
	"pneumoscan/model"
	"pneumoscan/modelfile"
	"pneumoscan/screen"
	"pneumoscan/server/files"
	"pneumoscan/server/httpserve"
	"pneumoscan/server/site"
)

// tinyModelPath is the tiny contract model (random weights, "tiny-test 0.0.1"): a site
// generated for it differs from the shipped model's site in model.json, so in app version.
const tinyModelPath = "../screen/testdata/tiny.onnx"

// TestPlainStatic serves the generated site with nothing but net/http's FileServer, in a
// process of its own (see testdata/plainserve): no CSP, no security or cache headers, no
// gzip, no API, and only the MIME types a plain Go file server knows. The page must load
// the model, screen an X-ray to the native probability, fetch nothing the server lacks,
// and screen again with the server gone.
func TestPlainStatic(t *testing.T) {
	modelBytes, err := os.ReadFile(modelPath)
	if err != nil {
		t.Fatal(err)
	}
	native, err := screen.New(modelBytes, convnet.Engine)
	if err != nil {
		t.Fatal(err)
	}
	xray, err := os.ReadFile(pneumonia)
	if err != nil {
		t.Fatal(err)
	}
	res, err := native.Screen(xray)
	if err != nil {
		t.Fatal(err)
	}
	want := res.Prob
	upload, _ := filepath.Abs(pneumonia)

	dir := buildSite(t)
	base, stop := plainServe(t, dir)
	for _, p := range []string{"/", "/app.js", "/app-worker.js", "/manifest.webmanifest", "/web/app.wasm", "/web/worker.js", "/web/worker.wasm", "/web/model.json"} {
		resp, err := http.Get(base + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		t.Logf("plain server: %s %d %q", p, resp.StatusCode, resp.Header.Get("Content-Type"))
	}

	ctx := newBrowser(t, 4*time.Minute)
	// Any answer the page gets other than 2xx or 304 is something the plain server lacks.
	var mu sync.Mutex
	var failed []string
	if err := chromedp.Listen(ctx, func(ev any) {
		if e, ok := ev.(*network.EventResponseReceived); ok && (e.Response.Status >= 400) {
			mu.Lock()
			failed = append(failed, fmt.Sprintf("%d %s", e.Response.Status, e.Response.URL))
			mu.Unlock()
		}
	}); err != nil {
		t.Fatal(err)
	}
	// Start the browser on ctx itself (a step's shorter context would own it otherwise).
	if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	step(ctx, t, "open the page and start app.wasm", time.Minute, chromedp.Navigate(base+"/"),
		chromedp.WaitVisible(chromedp.CSS(`.page[data-client="true"] #accept-notice`)))
	step(ctx, t, "accept the notice and load the model", 2*time.Minute,
		chromedp.Click(chromedp.ID("accept-notice")), chromedp.WaitVisible(chromedp.ID("model-ready")))
	t.Logf("model ready %s after navigation", time.Since(start).Round(time.Second))
	checkFooter(ctx, t, native.Metadata(), native.SHA256())

	screenOne := func(when string) {
		t.Helper()
		start := time.Now()
		step(ctx, t, when+": choose the X-ray", 10*time.Second, chromedp.SetUploadFiles(chromedp.ID("file-input"), []string{upload}))
		cards := waitCards(ctx, t, 1, 2*time.Minute)
		c := cards[0]
		got, err := strconv.ParseFloat(c.Prob, 64)
		if c.Stage != "done" || err != nil {
			t.Fatalf("%s: %s: stage %s, error %q, prob %q", when, c.Name, c.Stage, c.Error, c.Prob)
		}
		t.Logf("%s: %s screened in %s: browser p=%.8f native p=%.8f", when, c.Name, time.Since(start).Round(time.Second), got, want)
		if math.Abs(got-want) > 1e-4 {
			t.Errorf("%s: browser p=%v, native p=%v: differ by more than 1e-4", when, got, want)
		}
		if c.Pixels == 0 {
			t.Errorf("%s: the heatmap canvas is blank", when)
		}
	}
	screenOne("online")

	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`navigator.serviceWorker.ready.then(() => true)`, chromedp.EvalAwaitPromise)); err != nil {
		t.Fatal(err)
	}
	stop()
	start = time.Now()
	step(ctx, t, "reload offline and load the model from Cache Storage", 2*time.Minute,
		chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS(`.page[data-client="true"] #model-ready`)))
	t.Logf("offline: model ready %s after reload", time.Since(start).Round(time.Second))
	screenOne("offline")

	mu.Lock()
	defer mu.Unlock()
	for _, f := range failed {
		t.Errorf("the page got an error answer from the plain server: %s", f)
	}
}

// TestUpdate checks go-app's service-worker update flow end to end: the page is loaded and
// its service worker installed for one site, the site is regenerated in the same folder for
// another model (so another app version), and the next load must offer the new version;
// its reload button must bring the new model up. Once behind the server's own file handler
// (which tells HTTP caches to revalidate), once behind a plain file server that sends only
// Last-Modified, with the first site's files a month old as on a site deployed a while ago:
// there the browser's HTTP cache holds the old files as fresh for days (heuristic freshness),
// and the new version's service worker must not cache those.
func TestUpdate(t *testing.T) {
	bin := buildWasm(t)
	t.Run("server", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "static")
		before := generateSite(t, bin, tinyModelPath, dir)
		// The CSP is the same for every version: go-app's page has no inline code.
		srv, base := serve(t, httpserve.SecurityHeaders(files.New(dir), httpserve.BaseCSP))
		defer srv.Close()
		checkUpdate(t, base, before, func() site.Result { return generateSite(t, bin, modelPath, dir) })
	})
	t.Run("plain", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "static")
		before := generateSite(t, bin, tinyModelPath, dir)
		month := time.Now().Add(-30 * 24 * time.Hour)
		err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			return os.Chtimes(p, month, month)
		})
		if err != nil {
			t.Fatal(err)
		}
		base, _ := plainServe(t, dir)
		checkUpdate(t, base, before, func() site.Result { return generateSite(t, bin, modelPath, dir) })
	})
}

// checkUpdate loads the site at base (generated as before), lets its service worker take
// control, calls regenerate, and checks that the page offers the new version and that its
// Reload button loads it.
func checkUpdate(t *testing.T, base string, before site.Result, regenerate func() site.Result) {
	ctx := newBrowser(t, 3*time.Minute)
	if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatal(err)
	}
	step(ctx, t, "open the first version", time.Minute, chromedp.Navigate(base+"/"),
		chromedp.WaitVisible(chromedp.CSS(`.page[data-client="true"] #accept-notice`)))
	step(ctx, t, "accept the notice and load the first model", time.Minute,
		chromedp.Click(chromedp.ID("accept-notice")), chromedp.WaitVisible(chromedp.ID("model-ready")))
	checkFooter(ctx, t, metadataOf(t, tinyModelPath), before.Model.SHA256)
	// The first version's service worker must control the page before the site changes:
	// only a controlled page is told of an update.
	step(ctx, t, "the first version's service worker takes control", time.Minute,
		chromedp.Poll[chromedp.Void](`navigator.serviceWorker.controller !== null`, chromedp.WithPollingInterval(200*time.Millisecond)))
	if n, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("#update-ready").length`)); n != 0 {
		t.Fatalf("the update banner is shown before there is any update")
	}

	after := regenerate()
	if after.Version == before.Version {
		t.Fatalf("regenerating for another model kept the app version %s", after.Version)
	}
	start := time.Now()
	step(ctx, t, "reload: the page finds the new version", time.Minute,
		chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS(`.page[data-client="true"] #update-ready`)))
	t.Logf("update offered %s after the reload", time.Since(start).Round(time.Second))
	banner, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("update-ready")))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(banner, "new version") || !strings.Contains(banner, "Reload") {
		t.Errorf("the update banner says %q; want that a new version is ready and a Reload button", banner)
	}
	// Until reloaded, the page still runs the first version, the first model included.
	checkFooter(ctx, t, metadataOf(t, tinyModelPath), before.Model.SHA256)

	start = time.Now()
	step(ctx, t, "reload through the banner and load the new model", 2*time.Minute,
		chromedp.Click(chromedp.CSS(`#update-ready button`)),
		chromedp.WaitNotPresent(chromedp.CSS(`#update-ready`)),
		chromedp.WaitVisible(chromedp.CSS(`.page[data-client="true"] #model-ready`)))
	t.Logf("new model ready %s after the click", time.Since(start).Round(time.Second))
	checkFooter(ctx, t, metadataOf(t, modelPath), after.Model.SHA256)
	if v, err := chromedp.Run(ctx, chromedp.Evaluate[string](`goappGetenv("GOAPP_VERSION")`)); err != nil || v != after.Version {
		t.Errorf("after the reload the page runs app version %q (%v); want the new %s", v, err, after.Version)
	}
	if n, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("#update-ready").length`)); n != 0 {
		t.Errorf("the update banner is still shown after reloading into the new version")
	}
}

// checkFooter checks that the footer names the model the page loaded: name, version and
// the first 12 hex digits of its sha256.
func checkFooter(ctx context.Context, t *testing.T, md model.Metadata, sha string) {
	t.Helper()
	footer, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("model-info")))
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("model %s %s, sha256 %s", md.Name, md.Version, sha[:12])
	if footer != want {
		t.Errorf("footer says %q; want %q", footer, want)
	}
}

func metadataOf(t *testing.T, path string) model.Metadata {
	t.Helper()
	mp, err := modelfile.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	md, err := model.ParseMetadata(mp.MetadataProps)
	if err != nil {
		t.Fatal(err)
	}
	return md
}

// plainServe builds and starts testdata/plainserve on dir; stop (also run when the test
// ends) kills it.
func plainServe(t *testing.T, dir string) (base string, stop func()) {
	t.Helper()
	exe := filepath.Join(t.TempDir(), "plainserve")
	build := exec.Command("go", "build", "-o", exe, "./e2e/testdata/plainserve")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building plainserve: %v\n%s", err, out)
	}
	cmd := exec.Command(exe, "-dir", dir)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cmd.Process.Kill()
			cmd.Wait()
		})
	}
	t.Cleanup(stop)
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("plainserve printed no address: %v", err)
	}
	return strings.TrimSpace(line), stop
}
