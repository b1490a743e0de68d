// Command web is `make bench-web`: it measures the page's own inference worker against
// onnxruntime-web in one headless Chromium run and prints a Markdown table.
//
// It builds nothing: `make bench-web` first runs `make static` (the site, with the same
// worker.js and worker.wasm the product serves) and installs onnxruntime-web into
// node_modules/. This program then serves static/ plus a benchmark page (bench/web/page,
// embedded; the product site never has it) on a free loopback port, starts Chromium with a
// fresh profile and, on the benchmark page:
//
//  1. loads the model into the product worker, then into onnxruntime-web (cold: empty
//     profile), reloads the page and loads both again (warm: same profile, the worker's
//     model from its Cache Storage, ORT's from the HTTP cache);
//  2. screens each image with the product worker (time: image decoded -> probability and
//     Grad-CAM heatmap drawn) and with onnxruntime-web (session.run on the input tensor
//     Go's preprocess package made from the same decoded image), alternating, so both see
//     the same machine load;
//  3. loads the old onnx-go engine into a fresh product worker and screens the first
//     -onnxgo images with it;
//
// while sampling the JS heaps over the DevTools protocol. The table goes to stdout and to
// -out; progress goes to stderr.
package main

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"log"
	"math"
	"mime"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/performance"
	cdruntime "github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"pneumoscan/atomicfile"
	"pneumoscan/bench/internal/benchimages"
	"pneumoscan/internal/benchstat"
	"pneumoscan/model"
	"pneumoscan/onnxpb"
	"pneumoscan/server/files"
	"pneumoscan/server/site"
	"pneumoscan/web"
)

//go:embed page
var pageFiles embed.FS

// ortVersion is the onnxruntime-web release the Makefile installs; the program refuses
// another, so every table compares against the same build.
const ortVersion = "1.30.0"

// probTolerance is how far the two engines' P(pneumonia) may differ on one image: both
// run the same float32 graph, so anything larger means they did not run the same model
// or the same input.
const probTolerance = 1e-3

type options struct {
	data     string
	n        int
	onnxgo   int
	batch    int
	static   string
	model    string
	ortDir   string
	out      string
	chromium string
	verbose  bool
}

func main() {
	var o options
	flag.StringVar(&o.data, "data", "../shared/data/chest_xray/test", "image folder: class subfolders (NORMAL, PNEUMONIA) or images")
	flag.IntVar(&o.n, "n", 20, "images to screen with both engines: the first sorted files, shared out evenly between the class subfolders")
	flag.IntVar(&o.onnxgo, "onnxgo", 2, "of those, how many also to screen with the old onnx-go engine (about 30 s each); 0 skips it")
	flag.IntVar(&o.batch, "batch", 50, "images of a batch screened through the product page itself with 1 worker, then one per core; 0 skips it")
	flag.StringVar(&o.static, "static", "static", "the generated site (make static)")
	flag.StringVar(&o.model, "model", "models/default.onnx", "the model file the site was generated with")
	flag.StringVar(&o.ortDir, "ort", "node_modules/onnxruntime-web", "the onnxruntime-web npm package (make bench-web installs it)")
	flag.StringVar(&o.out, "out", "runs/bench-web.md", "also write the table here")
	flag.StringVar(&o.chromium, "chromium", "/usr/bin/chromium", "the browser")
	flag.BoolVar(&o.verbose, "v", false, "log the page's console")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("bench-web: ")
	if o.n < 1 || o.onnxgo < 0 || o.onnxgo > o.n || o.batch < 0 {
		log.Fatalf("want -n >= 1 and 0 <= -onnxgo <= -n, got -n %d -onnxgo %d", o.n, o.onnxgo)
	}
	if err := run(o); err != nil {
		log.Fatal(err)
	}
}

// Results from the page (window.bench.*), decoded from JSON.
type loadResult struct {
	MS        float64  `json:"ms"`
	Memories  int      `json:"memories"` // WebAssembly.Memory objects ORT's wasm uses
	Engine    string   `json:"engine"`
	SHA256    string   `json:"sha256"`
	Inputs    []string `json:"inputs"`
	Outputs   []string `json:"outputs"`
	WasmBytes float64  `json:"wasmBytes"`
}

type screenResult struct {
	MS        float64 `json:"ms"`
	TotalMS   float64 `json:"totalMs"`
	WorkerMS  float64 `json:"workerMs"`
	Prob      float64 `json:"prob"`
	WasmBytes float64 `json:"wasmBytes"`
}

// engineRun is what one engine did: its loads, its per-image results and its peaks.
type engineRun struct {
	cold, warm   float64 // load ms; NaN: not measured
	results      []screenResult
	peakWasm     float64 // bytes of wasm linear memory, largest seen
	peakWorkerJS float64 // bytes, the worker's JS heap (Runtime.getHeapUsage), largest sampled
}

func (r engineRun) times() []float64 {
	var ms []float64
	for _, s := range r.results {
		ms = append(ms, s.MS)
	}
	return ms
}

func run(o options) error {
	facts := machineFacts() // load average before this program adds its own

	modelBytes, err := os.ReadFile(o.model)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(modelBytes)
	manifestPath := filepath.Join(o.static, "web", "model.json")
	var manifest site.ModelManifest
	if b, err := os.ReadFile(manifestPath); err != nil {
		return fmt.Errorf("%w (run `make static` first)", err)
	} else if err := json.Unmarshal(b, &manifest); err != nil {
		return fmt.Errorf("%s: %w", manifestPath, err)
	}
	if manifest.SHA256 != hex.EncodeToString(sum[:]) {
		return fmt.Errorf("%s serves model %.12s but %s is %.12s: run `make static`", o.static, manifest.SHA256, o.model, hex.EncodeToString(sum[:]))
	}
	mp := &onnxpb.ModelProto{}
	if err := onnxpb.Unmarshal(modelBytes, mp); err != nil {
		return err
	}
	meta, err := model.ParseMetadata(mp.MetadataProps)
	if err != nil {
		return err
	}
	ortDist, err := checkORT(o.ortDir)
	if err != nil {
		return err
	}

	imgs, err := benchimages.PickImages(o.data, o.n)
	if err != nil {
		return err
	}
	for i := range imgs {
		if err := imgs[i].Prepare(meta.Preprocess); err != nil {
			return err
		}
	}

	srv, base, err := serve(o.static, ortDist, imgs, meta, manifest)
	if err != nil {
		return err
	}
	defer srv.Close()

	profile, err := os.MkdirTemp("", "bench-web-profile-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(profile)
	actx, cancel := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(o.chromium), chromedp.Headless, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("no-sandbox", true), chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.UserDataDir(profile), chromedp.WindowSize(1000, 800),
	)
	defer cancel()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		return fmt.Errorf("starting %s: %w", o.chromium, err)
	}
	if v, err := chromedp.CallBrowser(ctx, browser.GetVersion, cdp.Empty{}); err == nil {
		facts.browser = v.Product
	}
	if err := chromedp.Listen(ctx, func(ev any) {
		switch e := ev.(type) {
		case *cdruntime.EventConsoleAPICalled:
			if o.verbose {
				for _, a := range e.Args {
					log.Printf("console.%s: %s", e.Type, a.Value)
				}
			}
		case *cdruntime.EventExceptionThrown:
			log.Printf("page exception: %s %v", e.ExceptionDetails.Text, e.ExceptionDetails.Exception)
		}
	}); err != nil {
		return err
	}

	var pageEng, ortEng, oldEng engineRun
	oldEng.cold = math.NaN()
	var pageJS float64 // the benchmark page's JS heap (Performance.getMetrics), largest sampled

	// Cold: a fresh profile; then warm: the same profile, a new document. The worker goes
	// first: ORT's fetch bypasses the HTTP cache that the worker's download fills.
	for _, load := range []struct {
		cold      bool
		page, ort *float64
	}{{true, &pageEng.cold, &ortEng.cold}, {false, &pageEng.warm, &ortEng.warm}} {
		if err := openBench(ctx, base); err != nil {
			return err
		}
		if *load.page, err = loadPage(ctx, "", manifest.SHA256); err != nil {
			return err
		}
		if *load.ort, err = loadORT(ctx, load.cold); err != nil {
			return err
		}
	}

	heap := startSampler(ctx, base)
	for i, im := range imgs {
		p, err := evalJSON[screenResult](ctx, fmt.Sprintf("bench.screenPage(%d)", i), 5*time.Minute)
		if err != nil {
			return fmt.Errorf("page engine, %s: %w", im.Name, err)
		}
		if p.MS <= 0 || p.MS > p.TotalMS {
			return fmt.Errorf("page engine, %s: time %v ms from decoded to drawn makes no sense (the worker sent no decodedAt?)", im.Name, p.MS)
		}
		pageEng.results = append(pageEng.results, p)
		pageEng.peakWasm = max(pageEng.peakWasm, p.WasmBytes)
		r, err := evalJSON[screenResult](ctx, fmt.Sprintf("bench.screenOrt(%d)", i), 5*time.Minute)
		if err != nil {
			return fmt.Errorf("onnxruntime-web, %s: %w", im.Name, err)
		}
		ortEng.results = append(ortEng.results, r)
		ortEng.peakWasm = max(ortEng.peakWasm, r.WasmBytes)
		log.Printf("%d/%d %s: page %.0f ms (p=%.6f), onnxruntime-web %.0f ms (p=%.6f)", i+1, len(imgs), im.Name, p.MS, p.Prob, r.MS, r.Prob)
	}
	pageJS, pageEng.peakWorkerJS = heap.stop()

	if o.onnxgo > 0 {
		// A fresh product worker with the old engine (the convnet worker is terminated).
		if oldEng.warm, err = loadPage(ctx, "onnx-go", manifest.SHA256); err != nil {
			return err
		}
		heap := startSampler(ctx, base)
		for i, im := range imgs[:o.onnxgo] {
			p, err := evalJSON[screenResult](ctx, fmt.Sprintf("bench.screenPage(%d)", i), 15*time.Minute)
			if err != nil {
				return fmt.Errorf("onnx-go engine, %s: %w", im.Name, err)
			}
			oldEng.results = append(oldEng.results, p)
			oldEng.peakWasm = max(oldEng.peakWasm, p.WasmBytes)
			log.Printf("onnx-go %d/%d %s: %.0f ms (p=%.6f)", i+1, o.onnxgo, im.Name, p.MS, p.Prob)
		}
		var js float64
		js, oldEng.peakWorkerJS = heap.stop()
		pageJS = max(pageJS, js)
	}

	var batches []batchRun
	if o.batch > 0 {
		batchImgs, err := benchimages.PickImages(o.data, o.batch)
		if err != nil {
			return err
		}
		if batches, err = timeBatches(ctx, base, batchImgs); err != nil {
			return err
		}
	}

	report := formatReport(o, facts, imgs, pageEng, ortEng, oldEng, pageJS, batches)
	fmt.Print(report)
	if o.out != "" {
		if err := os.MkdirAll(filepath.Dir(o.out), 0o755); err != nil {
			return err
		}
		if err := atomicfile.Write(o.out, []byte(report)); err != nil {
			return err
		}
		log.Printf("wrote %s", o.out)
	}
	if dp := maxAbsDP(pageEng.results, ortEng.results); dp > probTolerance {
		return fmt.Errorf("max |dP| %.3g between the page engine and onnxruntime-web is over %g", dp, probTolerance)
	}
	return nil
}

// checkORT finds onnxruntime-web's dist folder and checks its version.
func checkORT(dir string) (string, error) {
	b, err := os.ReadFile(filepath.Join(dir, "package.json"))
	if err != nil {
		return "", fmt.Errorf("onnxruntime-web is not installed (`make bench-web` installs it): %w", err)
	}
	var pkg struct{ Version string }
	if err := json.Unmarshal(b, &pkg); err != nil {
		return "", fmt.Errorf("%s/package.json: %w", dir, err)
	}
	if pkg.Version != ortVersion {
		return "", fmt.Errorf("%s is onnxruntime-web %s, want %s (`make bench-web` installs it)", dir, pkg.Version, ortVersion)
	}
	dist := filepath.Join(dir, "dist")
	for _, f := range []string{"ort.wasm.min.mjs", "ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm"} {
		if _, err := os.Stat(filepath.Join(dist, f)); err != nil {
			return "", err
		}
	}
	return dist, nil
}

// serve starts the site plus /bench/ on a free loopback port.
func serve(static, ortDist string, imgs []benchimages.Image, meta model.Metadata, manifest site.ModelManifest) (*http.Server, string, error) {
	mime.AddExtensionType(".mjs", "text/javascript; charset=utf-8") // module scripts need a JS type
	type imageRef struct {
		Name   string `json:"name"`
		URL    string `json:"url"`
		Tensor string `json:"tensor"`
	}
	cfg := struct {
		WorkerScript string     `json:"workerScript"`
		Manifest     string     `json:"manifest"`
		Images       []imageRef `json:"images"`
		InputName    string     `json:"inputName"`
		InputDims    []int      `json:"inputDims"`
		ProbName     string     `json:"probName"`
		FeaturesName string     `json:"featuresName"`
		Temperature  float64    `json:"temperature"`
		ORT          struct {
			Module string `json:"module"`
			Dir    string `json:"dir"`
		} `json:"ort"`
	}{
		WorkerScript: web.WorkerScript, Manifest: web.ModelManifest,
		InputName: model.InputName, ProbName: model.ProbName, FeaturesName: model.FeaturesName,
		InputDims:   []int{1, 3, meta.Preprocess.Size, meta.Preprocess.Size},
		Temperature: meta.Temperature,
	}
	cfg.ORT.Module, cfg.ORT.Dir = "/bench/ort/ort.wasm.min.mjs", "/bench/ort/"
	for i, im := range imgs {
		cfg.Images = append(cfg.Images, imageRef{im.Name, fmt.Sprintf("/bench/image/%d", i), fmt.Sprintf("/bench/tensor/%d", i)})
	}
	cfgJSON, err := json.Marshal(cfg)
	if err != nil {
		return nil, "", err
	}

	pageFS, err := fs.Sub(pageFiles, "page")
	if err != nil {
		return nil, "", err
	}
	mux := http.NewServeMux()
	mux.Handle("/", files.New(static)) // the product's own files, exactly as the server serves them
	mux.Handle("/bench/", http.StripPrefix("/bench/", http.FileServerFS(pageFS)))
	mux.Handle("/bench/ort/", http.StripPrefix("/bench/ort/", http.FileServer(http.Dir(ortDist))))
	mux.HandleFunc("/bench/config.json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		w.Write(cfgJSON)
	})
	item := func(get func(benchimages.Image) []byte) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			var i int
			if _, err := fmt.Sscanf(r.PathValue("i"), "%d", &i); err != nil || i < 0 || i >= len(imgs) {
				http.NotFound(w, r)
				return
			}
			w.Header().Set("Content-Type", "application/octet-stream")
			w.Write(get(imgs[i]))
		}
	}
	mux.HandleFunc("/bench/image/{i}", item(func(im benchimages.Image) []byte { return im.Bytes }))
	mux.HandleFunc("/bench/tensor/{i}", item(func(im benchimages.Image) []byte { return im.Tensor }))

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	return srv, "http://" + ln.Addr().String(), nil
}

// evalJSON awaits a promise on the benchmark page and decodes its value.
func evalJSON[T any](ctx context.Context, expr string, limit time.Duration) (T, error) {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	return chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
}

func openBench(ctx context.Context, base string) error {
	nctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if err := chromedp.Do(nctx, chromedp.Navigate(base+"/bench/")); err != nil {
		return fmt.Errorf("opening the benchmark page: %w", err)
	}
	if _, err := chromedp.Call(ctx, performance.Enable, performance.EnableParams{}); err != nil {
		return err
	}
	n, err := evalJSON[int](ctx, "bench.prepare()", 2*time.Minute)
	if err != nil {
		return fmt.Errorf("preparing the benchmark page: %w", err)
	}
	log.Printf("benchmark page open with %d images", n)
	return nil
}

func loadPage(ctx context.Context, engine, wantSHA string) (float64, error) {
	r, err := evalJSON[loadResult](ctx, fmt.Sprintf("bench.loadPage(%q)", engine), 10*time.Minute)
	if err != nil {
		return 0, fmt.Errorf("loading the model into the product worker (engine %q): %w", engine, err)
	}
	if r.SHA256 != wantSHA {
		return 0, fmt.Errorf("the product worker loaded model %.12s, want %.12s", r.SHA256, wantSHA)
	}
	log.Printf("product worker ready (engine %s) in %.0f ms", r.Engine, r.MS)
	return r.MS, nil
}

func loadORT(ctx context.Context, cold bool) (float64, error) {
	r, err := evalJSON[loadResult](ctx, fmt.Sprintf("bench.loadOrt(%v)", cold), 10*time.Minute)
	if err != nil {
		return 0, fmt.Errorf("loading the model into onnxruntime-web: %w", err)
	}
	if !slices.Contains(r.Inputs, model.InputName) || !slices.Contains(r.Outputs, model.ProbName) || !slices.Contains(r.Outputs, model.FeaturesName) {
		return 0, fmt.Errorf("onnxruntime-web sees inputs %v and outputs %v, not the contract's", r.Inputs, r.Outputs)
	}
	log.Printf("onnxruntime-web session ready in %.0f ms (wasm memory %.0f MiB in %d WebAssembly.Memory)", r.MS, r.WasmBytes/(1<<20), r.Memories)
	if r.Memories != 1 {
		return 0, fmt.Errorf("found %d WebAssembly.Memory objects of onnxruntime-web, want 1: its wasm memory figure would be wrong", r.Memories)
	}
	return r.MS, nil
}

// sampler polls the JS heaps every 500 ms while images are screened: the benchmark page's
// (Performance.getMetrics JSHeapUsedSize: the page's script and onnxruntime-web's JS; ORT's
// wasm memory is an ArrayBuffer outside it) and the product worker's (Runtime.getHeapUsage
// on its target; Chromium answers it even while worker.wasm is busy screening).
// The Go worker's wasm memory is not JS heap: the worker reports it with each result.
type sampler struct {
	cancel  context.CancelFunc
	done    chan struct{}
	mu      sync.Mutex
	page    float64
	worker  float64
	workerE error
}

func startSampler(ctx context.Context, base string) *sampler {
	sctx, cancel := context.WithCancel(ctx)
	s := &sampler{cancel: cancel, done: make(chan struct{})}
	wctx, wcancel, err := attachWorker(sctx, base)
	if err != nil {
		s.workerE = err
		log.Printf("worker JS heap not sampled: %v", err)
	}
	go func() {
		defer close(s.done)
		if wcancel != nil {
			defer wcancel()
		}
		t := time.NewTicker(500 * time.Millisecond)
		defer t.Stop()
		logged := false // the first failed worker sample, not every one
		for {
			call := func(c context.Context, f func(context.Context) (float64, error)) float64 {
				c, cancel := context.WithTimeout(c, 10*time.Second)
				defer cancel()
				v, _ := f(c) // a sample that times out is skipped
				return v
			}
			p := call(sctx, func(c context.Context) (float64, error) {
				m, err := chromedp.Call(c, performance.GetMetrics, cdp.Empty{})
				if err != nil {
					return 0, err
				}
				for _, x := range m.Metrics {
					if x.Name == "JSHeapUsedSize" {
						return x.Value, nil
					}
				}
				return 0, nil
			})
			var w float64
			if wctx != nil {
				w = call(wctx, func(c context.Context) (float64, error) {
					h, err := chromedp.Call(c, cdruntime.GetHeapUsage, cdp.Empty{})
					if err != nil && !logged {
						log.Printf("sampling the worker's JS heap: %v", err)
						logged = true
					}
					return h.UsedSize, err
				})
			}
			s.mu.Lock()
			s.page, s.worker = max(s.page, p), max(s.worker, w)
			s.mu.Unlock()
			select {
			case <-sctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return s
}

// stop ends the sampling and returns the largest page and worker JS heaps seen (bytes;
// worker NaN when its target could not be attached).
func (s *sampler) stop() (page, worker float64) {
	s.cancel()
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.workerE != nil {
		return s.page, math.NaN()
	}
	return s.page, s.worker
}

// attachWorker attaches a DevTools session to the product worker (the dedicated worker
// running /web/worker.js) so its heap can be read.
func attachWorker(ctx context.Context, base string) (context.Context, context.CancelFunc, error) {
	targets, err := chromedp.Targets(ctx)
	if err != nil {
		return nil, nil, err
	}
	for _, t := range targets {
		if t.Type == "worker" && t.URL == base+web.WorkerScript {
			wctx, cancel := chromedp.NewContext(ctx, chromedp.WithTargetID(t.TargetID))
			// The first call attaches, and the session lives as long as that call's
			// context: so no timeout on it, but a timer that cancels the whole session.
			timer := time.AfterFunc(30*time.Second, cancel)
			_, err := chromedp.Call(wctx, cdruntime.GetHeapUsage, cdp.Empty{})
			if !timer.Stop() || err != nil {
				cancel()
				return nil, nil, fmt.Errorf("attaching to the worker: %v", err)
			}
			return wctx, cancel, nil
		}
	}
	return nil, nil, errors.New("no worker target for " + web.WorkerScript)
}

// facts are the machine facts printed with the table.
type facts struct {
	cpu     string
	nproc   int
	load    string
	browser string
	goVer   string
	started time.Time
}

func machineFacts() facts {
	m := benchstat.ReadMachine()
	return facts{cpu: m.CPU, nproc: m.Cores, load: m.Load, goVer: runtime.Version(), started: time.Now()}
}
