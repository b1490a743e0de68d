// Package e2e drives the real page in headless Chromium: it builds both wasm binaries,
// generates the site, serves it on 127.0.0.1, screens the committed X-ray fixtures and bad
// files, compares the browser's probabilities with the native screening path, checks that
// nothing left the origin, and screens again with the server gone (service worker + model
// Cache Storage).
package e2e

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"image"
	"image/png"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	cdruntime "github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"pneumoscan/convnet"
	"pneumoscan/filmcheck"
	"pneumoscan/imagedecode"
	"pneumoscan/inference"
	"pneumoscan/screen"
	"pneumoscan/server/files"
	"pneumoscan/server/httpserve"
	"pneumoscan/server/site"
)

const (
	chromium  = "/usr/bin/chromium"
	root      = ".."
	modelPath = "../models/default.onnx"
	normal    = "../testdata/xray/normal-IM-0001-0001.jpeg"
	pneumonia = "../testdata/xray/pneumonia-person100_bacteria_475.jpeg"
)

// buildSite builds the wasm binaries and generates the site for the shipped model.
func buildSite(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "static")
	generateSite(t, buildWasm(t), modelPath, dir)
	return dir
}

// buildWasm builds the three wasm binaries into a temporary folder and returns it.
func buildWasm(t *testing.T) string {
	t.Helper()
	bin := t.TempDir()
	for _, target := range []struct{ out, pkg string }{{"app.wasm", "./wasm/app"}, {"worker.wasm", "./wasm/worker"}, {"refworker.wasm", "./wasm/refworker"}} {
		cmd := exec.Command("go", "build", "-trimpath", "-o", filepath.Join(bin, target.out), target.pkg)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "GOOS=js", "GOARCH=wasm")
		start := time.Now()
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("building %s: %v\n%s", target.pkg, err, out)
		}
		st, _ := os.Stat(filepath.Join(bin, target.out))
		t.Logf("built %s: %d bytes in %s", target.out, st.Size(), time.Since(start).Round(time.Second))
	}
	return bin
}

// generateSite generates (or regenerates, replacing what was there) the site in dir from the
// wasm binaries in bin and the model file.
func generateSite(t *testing.T, bin, model, dir string) site.Result {
	t.Helper()
	res, err := site.Generate(site.Options{Dir: dir, Model: model,
		AppWasm: filepath.Join(bin, "app.wasm"), WorkerWasm: filepath.Join(bin, "worker.wasm"), RefWorkerWasm: filepath.Join(bin, "refworker.wasm")})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("site version %s, model sha256 %s", res.Version, res.Model.SHA256)
	return res
}

// otherOrigins is an HTTP proxy that answers nothing: Chromium sends every request for a
// host other than loopback through it, so anything it sees left the page's origin (page,
// worker and service worker alike).
type otherOrigins struct {
	mu   sync.Mutex
	urls []string
}

func (o *otherOrigins) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	o.mu.Lock()
	o.urls = append(o.urls, r.Method+" "+r.Host+" "+r.URL.String())
	o.mu.Unlock()
	http.Error(w, "pneumoscan e2e: no requests to other origins", http.StatusBadGateway)
}

func (o *otherOrigins) seen() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]string(nil), o.urls...)
}

func serve(t *testing.T, h http.Handler) (*http.Server, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(ln)
	return srv, "http://" + ln.Addr().String()
}

// badFiles are inputs the page must refuse, each with its own message.
func badFiles(t *testing.T) map[string][]byte {
	t.Helper()
	good, err := os.ReadFile(normal)
	if err != nil {
		t.Fatal(err)
	}
	encode := func(img image.Image) []byte {
		var b bytes.Buffer
		if err := png.Encode(&b, img); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	return map[string][]byte{
		"not-an-image.png":   []byte("this is a text file, not an X-ray\n"),
		"truncated.jpeg":     good[:len(good)/3],
		"empty.jpeg":         {},
		"tiny-10x10.png":     encode(image.NewGray(image.Rect(0, 0, 10, 10))),
		"huge-8000x8000.png": pngHeader(8000, 8000),
		// Decodable, but no film to read (filmcheck, after decoding, before the model).
		"black-512x512.png":  encode(image.NewGray(image.Rect(0, 0, 512, 512))),
		"strip-2000x300.png": encode(image.NewGray(image.Rect(0, 0, 2000, 300))),
	}
}

// pngHeader is a PNG signature and IHDR chunk claiming w x h pixels, with no pixel data:
// enough for a decoder that checks sizes before allocating.
func pngHeader(w, h uint32) []byte {
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9] = 8, 0 // 8-bit gray
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	binary.Write(&b, binary.BigEndian, uint32(len(ihdr)))
	chunk := append([]byte("IHDR"), ihdr...)
	b.Write(chunk)
	binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(chunk))
	return b.Bytes()
}

// step runs actions with a time limit; on failure it shows what the page showed.
func step(ctx context.Context, t *testing.T, what string, limit time.Duration, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	if err := chromedp.Do(sctx, actions...); err != nil {
		text, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
		t.Fatalf("%s: %v\npage text:\n%s", what, err, text)
	}
}

// chromeOwn matches the Google hosts Chromium itself talks to despite the flags that disable
// its background networking (connectivity checks, component updates, sign-in; which ones
// differs between Chromium builds). The page cannot hide behind it: the page-level request
// log, which sees every request of the page and its workers, is checked separately.
var chromeOwn = regexp.MustCompile(`^(GET|POST|CONNECT) ([a-z0-9-]+\.)*(google\.com|googleapis\.com|gvt1\.com|gstatic\.com)[: ]`)

type card struct {
	Name   string `json:"name"`
	Stage  string `json:"stage"`
	Prob   string `json:"prob"`
	Error  string `json:"error"`
	Pixels int    `json:"pixels"` // non-zero heatmap pixels
	// Opacity is the heatmap canvas's CSS opacity, Slider the opacity slider's value: the
	// slider must show what is drawn.
	Opacity string `json:"opacity"`
	Slider  string `json:"slider"`
	Img     bool   `json:"img"` // the card shows the file's picture
}

const readCards = `Array.from(document.querySelectorAll(".card")).map((c) => {
  const canvas = c.querySelector("canvas.heatmap");
  let pixels = 0;
  if (canvas && canvas.width > 0) {
    const d = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
    for (let i = 0; i < d.length; i += 4) if (d[i] || d[i + 1] || d[i + 2]) pixels++;
  }
  const p = c.querySelector("[data-prob]");
  const e = c.querySelector(".card-error");
  const slider = c.querySelector("input.heatmap-opacity");
  return { name: c.dataset.name, stage: c.dataset.stage, prob: p ? p.dataset.prob : "",
           error: e ? e.textContent : "", pixels, opacity: canvas ? canvas.style.opacity : "",
           slider: slider ? slider.value : "", img: !!c.querySelector("img") };
})`

// waitCards polls until n cards are done or failed.
func waitCards(ctx context.Context, t *testing.T, n int, timeout time.Duration) []card {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var cards []card
	for {
		var err error
		if cards, err = chromedp.Run(ctx, chromedp.Evaluate[[]card](readCards)); err != nil {
			t.Fatal(err)
		}
		finished := 0
		for _, c := range cards {
			if c.Stage == "done" || c.Stage == "error" {
				finished++
			}
		}
		if len(cards) == n && finished == n {
			return cards
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s, %d of %d cards finished: %+v", timeout, finished, n, cards)
		}
		time.Sleep(time.Second)
	}
}

func TestBrowser(t *testing.T) {
	if _, err := os.Stat(chromium); err != nil {
		t.Fatalf("%s is needed for the browser test (make test installs it): %v", chromium, err)
	}
	modelBytes, err := os.ReadFile(modelPath)
	if err != nil {
		t.Fatal(err)
	}
	native, err := screen.New(modelBytes, convnet.Engine)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{}
	for _, f := range []string{normal, pneumonia} {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		res, err := native.Screen(data)
		if err != nil {
			t.Fatalf("native screening of %s: %v", f, err)
		}
		want[filepath.Base(f)] = res.Prob
	}

	static := buildSite(t)
	var reqMu sync.Mutex
	var served []string
	// The site is served with the server's own security headers, so the page is tested under
	// the Content-Security-Policy a clinic gets.
	index, err := os.ReadFile(filepath.Join(static, "index.html"))
	if err != nil {
		t.Fatal(err)
	}
	fileServer := httpserve.SecurityHeaders(files.New(static), httpserve.CSP(index))
	srv, base := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reqMu.Lock()
		served = append(served, r.URL.Path)
		reqMu.Unlock()
		fileServer.ServeHTTP(w, r)
	}))
	defer srv.Close()
	proxy := &otherOrigins{}
	psrv, proxyURL := serve(t, proxy)
	defer psrv.Close()

	upload := t.TempDir()
	bad := badFiles(t)
	paths := []string{}
	for _, f := range []string{normal, pneumonia} {
		abs, _ := filepath.Abs(f)
		paths = append(paths, abs)
	}
	wantErr := map[string]string{}
	for name, data := range bad {
		p := filepath.Join(upload, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
		img, err := imagedecode.Decode(data)
		if err == nil {
			err = filmcheck.Check(img)
		}
		if err == nil {
			t.Fatalf("fixture %s decodes and passes filmcheck; it should be refused", name)
		}
		wantErr[name] = err.Error()
	}

	ctx := newBrowser(t, 15*time.Minute, chromedp.Flag("proxy-server", proxyURL), chromedp.WindowSize(1200, 1000))

	var reqMu2 sync.Mutex
	var requested []string
	if err := chromedp.Listen(ctx, func(ev any) {
		switch e := ev.(type) {
		case *network.EventRequestWillBeSent:
			reqMu2.Lock()
			requested = append(requested, e.Request.URL)
			reqMu2.Unlock()
		case *cdruntime.EventConsoleAPICalled:
			for _, a := range e.Args {
				t.Logf("console.%s: %s", e.Type, a.Value)
			}
		case *cdruntime.EventExceptionThrown:
			t.Logf("page exception: %s %v", e.ExceptionDetails.Text, e.ExceptionDetails.Exception)
		}
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatal(err)
	}

	if _, err := chromedp.Call(ctx, cdruntime.Enable, cdp.Empty{}); err != nil {
		t.Fatal(err)
	}

	start := time.Now()
	step(ctx, t, "open the page and start app.wasm", 2*time.Minute, chromedp.Navigate(base+"/"),
		chromedp.WaitVisible(chromedp.CSS(`.page[data-client="true"] #accept-notice`)))
	step(ctx, t, "accept the notice and load the model", 5*time.Minute,
		chromedp.Click(chromedp.ID("accept-notice")), chromedp.WaitVisible(chromedp.ID("model-ready")))
	t.Logf("model ready %s after navigation", time.Since(start).Round(time.Second))

	banner, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`!!document.getElementById("untrained-banner")`))
	if err != nil {
		t.Fatal(err)
	}
	if trained := native.Metadata().Trained; banner == trained {
		t.Errorf("untrained banner shown = %v, but the model's metadata says trained = %v", banner, trained)
	}
	footer, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("model-info")))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains([]byte(footer), []byte(native.SHA256()[:12])) || !bytes.Contains([]byte(footer), []byte(native.Metadata().Version)) {
		t.Errorf("footer %q lacks the model version or sha256 prefix %s", footer, native.SHA256()[:12])
	}

	start = time.Now()
	if err := chromedp.Do(ctx, chromedp.SetUploadFiles(chromedp.ID("file-input"), paths)); err != nil {
		t.Fatal(err)
	}
	cards := waitCards(ctx, t, len(paths), 8*time.Minute)
	t.Logf("%d files screened in %s", len(paths), time.Since(start).Round(time.Second))
	for _, c := range cards {
		if p, ok := want[c.Name]; ok {
			got, err := strconv.ParseFloat(c.Prob, 64)
			if c.Stage != "done" || err != nil {
				t.Errorf("%s: stage %s, error %q, prob %q", c.Name, c.Stage, c.Error, c.Prob)
				continue
			}
			t.Logf("%s: browser p=%.8f native p=%.8f", c.Name, got, p)
			if math.Abs(got-p) > 1e-4 {
				t.Errorf("%s: browser p=%v, native p=%v: differ by more than 1e-4", c.Name, got, p)
			}
			if c.Pixels == 0 {
				t.Errorf("%s: the heatmap canvas is blank", c.Name)
			}
			if o, err1 := strconv.ParseFloat(c.Opacity, 64); err1 != nil || c.Slider == "" || fmt.Sprint(o) != c.Slider {
				t.Errorf("%s: heatmap drawn at opacity %q but the slider shows %q", c.Name, c.Opacity, c.Slider)
			}
			continue
		}
		if c.Stage != "error" || c.Error != wantErr[c.Name] {
			t.Errorf("%s: stage %s, message %q; want error %q", c.Name, c.Stage, c.Error, wantErr[c.Name])
		}
		if c.Img {
			t.Errorf("%s: a refused file still shows its (broken or half-decoded) picture", c.Name)
		}
	}

	crossCheck(ctx, t, modelBytes, want, func() []string {
		reqMu.Lock()
		defer reqMu.Unlock()
		return append([]string(nil), served...)
	})

	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100) /* 100: PNG */)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(root, "testout"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "testout", "e2e.png"), shot, 0o644); err != nil {
		t.Fatal(err)
	}
	if os.Getenv("UPDATE_SCREENSHOT") == "1" {
		if err := os.WriteFile(filepath.Join(root, "docs", "screenshot.png"), shot, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	// Offline: the service worker must have cached the app, and the worker the model.
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`navigator.serviceWorker.ready.then(() => true)`, chromedp.EvalAwaitPromise)); err != nil {
		t.Fatal(err)
	}
	srv.Close()
	reqMu.Lock()
	servedOnline := len(served)
	reqMu.Unlock()
	start = time.Now()
	step(ctx, t, "reload offline and load the model from Cache Storage", 5*time.Minute,
		chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS(`.page[data-client="true"] #model-ready`)), chromedp.SetUploadFiles(chromedp.ID("file-input"), paths[:1]))
	cards = waitCards(ctx, t, 1, 4*time.Minute)
	t.Logf("offline: model ready and one file screened in %s", time.Since(start).Round(time.Second))
	if got, err := strconv.ParseFloat(cards[0].Prob, 64); err != nil || math.Abs(got-want[cards[0].Name]) > 1e-4 {
		t.Errorf("offline: %s: prob %q (error %q), native %v", cards[0].Name, cards[0].Prob, cards[0].Error, want[cards[0].Name])
	}

	reqMu2.Lock()
	defer reqMu2.Unlock()
	// The proxy also sees Chromium's own traffic (network time, component updates, sign-in),
	// which no page can cause; everything else through it came from the page or its workers.
	for _, r := range proxy.seen() {
		if !chromeOwn.MatchString(r) {
			t.Errorf("a request left the page's origin: %s", r)
		}
	}
	for _, u := range requested {
		if !(len(u) >= len(base) && u[:len(base)] == base) && !bytes.HasPrefix([]byte(u), []byte("blob:"+base)) && !bytes.HasPrefix([]byte(u), []byte("data:")) {
			t.Errorf("page requested %s, outside %s", u, base)
		}
	}
	t.Logf("page-level requests: %d; served online: %d", len(requested), servedOnline)
}

// crossCheck asks the page for a cross-check of the pneumonia fixture with the onnx-go
// reference engine and checks that the reference worker was not downloaded before the
// request, that the page shows both probabilities, and that the reference probability is
// the native onnx-go one and the page's own (convnet) one within 1e-4.
func crossCheck(ctx context.Context, t *testing.T, modelBytes []byte, want map[string]float64, served func() []string) {
	t.Helper()
	const ref = "/web/refworker.wasm"
	if slices.Contains(served(), ref) {
		t.Errorf("%s was downloaded before any cross-check was asked for", ref)
	}
	reference, err := screen.New(modelBytes, inference.Engine)
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(pneumonia)
	if err != nil {
		t.Fatal(err)
	}
	res, err := reference.Screen(data)
	if err != nil {
		t.Fatal(err)
	}
	name := filepath.Base(pneumonia)
	sel := `.card[data-name="` + name + `"]`
	start := time.Now()
	step(ctx, t, "cross-check with the onnx-go reference engine", 8*time.Minute,
		chromedp.Click(chromedp.CSS(sel+` .crosscheck-button`)),
		chromedp.WaitVisible(chromedp.CSS(sel+` .crosscheck[data-refstage="done"] [data-ref-prob], `+sel+` .crosscheck[data-refstage="error"]`)))
	t.Logf("cross-check done in %s", time.Since(start).Round(time.Second))
	if failed, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`(document.querySelector('`+sel+` .crosscheck[data-refstage="error"]') || {}).textContent || ""`)); failed != "" {
		t.Fatalf("the cross-check failed in the page: %s", failed)
	}
	got, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('`+sel+` [data-ref-prob]').dataset.refProb`))
	if err != nil {
		t.Fatal(err)
	}
	text, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel+` .crosscheck`)))
	if err != nil {
		t.Fatal(err)
	}
	p, err := strconv.ParseFloat(got, 64)
	if err != nil {
		t.Fatalf("reference probability %q: %v", got, err)
	}
	t.Logf("%s: browser onnx-go p=%.8f, native onnx-go p=%.8f, native convnet p=%.8f; card: %q", name, p, res.Prob, want[name], text)
	if math.Abs(p-res.Prob) > 1e-4 || math.Abs(p-want[name]) > 1e-4 {
		t.Errorf("%s: browser reference p=%v, native reference %v, convnet %v: differ by more than 1e-4", name, p, res.Prob, want[name])
	}
	if !strings.Contains(text, "difference") || !strings.Contains(text, fmt.Sprintf("%.6f", p)) || !strings.Contains(text, fmt.Sprintf("%.6f", want[name])) {
		t.Errorf("the cross-check shows %q; want both probabilities and their difference", text)
	}
	if !slices.Contains(served(), ref) {
		t.Errorf("the cross-check finished but %s was never fetched", ref)
	}
}

// newBrowser starts headless Chromium with a fresh profile and the flags that keep it quiet
// (plus extra), for at most limit; it is closed when the test ends.
func newBrowser(t *testing.T, limit time.Duration, extra ...chromedp.ExecAllocatorOption) context.Context {
	t.Helper()
	opts := append([]chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium), chromedp.Headless, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("no-sandbox", true), chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.UserDataDir(t.TempDir()),
	}, extra...)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	ctx, cancelTime := context.WithTimeout(ctx, limit)
	t.Cleanup(func() { cancelTime(); cancelCtx(); cancelAlloc() })
	return ctx
}
