package main

import (
	"fmt"
	"math"
	"strings"

	"pneumoscan/bench/internal/benchimages"
	"pneumoscan/internal/benchstat"
)

// The goal the benchmark measures (docs/performance.md): the page's own worker, image
// decoded -> probability and Grad-CAM drawn, median at most 3 s per 224x224 image, with
// the wasm heap under 500 MB while screening.
const (
	goalMedianMS  = 3000
	goalWasmBytes = 500e6
)

// maxAbsDP is the largest |P(page) - P(onnxruntime-web)| over the images both screened.
func maxAbsDP(page, ort []screenResult) float64 {
	d := 0.0
	for i := range min(len(page), len(ort)) {
		d = max(d, math.Abs(page[i].Prob-ort[i].Prob))
	}
	return d
}

func ms(v float64) string {
	if math.IsNaN(v) {
		return "-"
	}
	return fmt.Sprintf("%.0f", v)
}

func mib(v float64) string {
	if math.IsNaN(v) || v == 0 {
		return "n/a"
	}
	if v < 10<<20 {
		return fmt.Sprintf("%.1f", v/(1<<20))
	}
	return fmt.Sprintf("%.0f", v/(1<<20))
}

func first(r engineRun) float64 {
	if len(r.results) == 0 {
		return math.NaN()
	}
	return r.results[0].MS
}

func formatReport(o options, f facts, imgs []benchimages.Image, page, ort, old engineRun, pageJS float64, batches []batchRun) string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }

	perClass := map[string]int{}
	var classes []string
	for _, im := range imgs {
		if perClass[im.Class] == 0 {
			classes = append(classes, im.Class)
		}
		perClass[im.Class]++
	}
	var mix []string
	for _, c := range classes {
		name := c
		if name == "" {
			name = "unlabelled"
		}
		mix = append(mix, fmt.Sprintf("%d %s", perClass[c], name))
	}

	p("## bench-web %s\n\n", f.started.Format("2006-01-02 15:04 MST"))
	p("- machine: %s, nproc %d, load average at start %s\n", f.cpu, f.nproc, f.load)
	p("- browser: %s (headless, fresh profile); %s; onnxruntime-web %s (wasm backend, numThreads 1, ort.wasm.min.mjs)\n", f.browser, f.goVer, ortVersion)
	p("- images: the first %d of %s (%s), screened alternately by (a) and (b) in one Chromium run; onnx-go on the first %d\n\n",
		len(imgs), o.data, strings.Join(mix, " + "), len(old.results))

	p("| engine | time per image measured from -> to | images | median ms | p90 ms | first image ms | model load cold ms | model load warm ms | peak wasm memory MiB | peak worker JS heap MiB |\n")
	p("|---|---|---|---|---|---|---|---|---|---|\n")
	row := func(name, what string, r engineRun) {
		t := r.times()
		p("| %s | %s | %d | %s | %s | %s | %s | %s | %s | %s |\n", name, what, len(t), ms(benchstat.Median(t)), ms(benchstat.NearestRank(t, 0.9)), ms(first(r)),
			ms(r.cold), ms(r.warm), mib(r.peakWasm), mib(r.peakWorkerJS))
	}
	row("(a) page worker, convnet (default)", "image decoded -> P + Grad-CAM drawn", page)
	row("(b) onnxruntime-web "+ortVersion, "input tensor -> session.run outputs read", ort)
	if len(old.results) > 0 {
		row("page worker, onnx-go + gorgonia (old)", "image decoded -> P + Grad-CAM drawn", old)
	}
	p("\n")

	pm, om := benchstat.Median(page.times()), benchstat.Median(ort.times())
	p("- ratio page / onnxruntime-web (medians): %.2fx", pm/om)
	if len(old.results) > 0 {
		p("; onnx-go / page: %.1fx", benchstat.Median(old.times())/pm)
	}
	p("\n")
	dp := maxAbsDP(page.results, ort.results)
	verdict := "ok"
	if dp > probTolerance {
		verdict = "MISMATCH: the engines did not run the same model on the same input"
	}
	if len(batches) > 0 {
		p("\n| batch through the product page (files chosen at once -> all cards finished) | images | workers | seconds | images/s | could not be screened |\n|---|---|---|---|---|---|\n")
		for _, r := range batches {
			p("| page, %d worker(s) | %d | %d | %.1f | %.2f | %d |\n", r.workers, r.images, r.workers, r.seconds, float64(r.images)/r.seconds, r.failed)
		}
		if len(batches) > 1 {
			last := batches[len(batches)-1]
			p("\n- batch speed-up, %d workers vs 1 (same %d images): %.2fx\n", last.workers, last.images, batches[0].seconds/last.seconds)
		}
		p("\n")
	}
	p("- max |dP| page vs onnxruntime-web over %d images: %.2g (tolerance %g: %s)\n", min(len(page.results), len(ort.results)), dp, probTolerance, verdict)
	var total, worker []float64
	for _, r := range page.results {
		total, worker = append(total, r.TotalMS), append(worker, r.WorkerMS)
	}
	p("- page worker, median file posted -> drawn (adds decode and messages): %s ms; the worker's own decode + screen: %s ms\n", ms(benchstat.Median(total)), ms(benchstat.Median(worker)))
	p("- peak JS heap of the benchmark page (its script and onnxruntime-web's JS; Performance.getMetrics JSHeapUsedSize, sampled every 500 ms): %s MiB\n", mib(pageJS))
	p("- wasm memory: the Go worker's linear memory (WebAssembly.Memory byteLength after each image; it never shrinks) and onnxruntime-web's (its Memory, caught at instantiation)\n")
	p("- (a) covers preprocess, model, Grad-CAM, colormap, the transfer to the page and putImageData; (b) covers only the model: its input tensor comes from Go's preprocess (run natively before), and ORT has no Grad-CAM\n")
	if len(old.results) > 0 {
		p("- onnx-go's first image includes building its gorgonia graph, which onnx-go does on the first run\n")
	}
	p("- model load: new Worker -> \"ready\" (wasm fetch + compile, model from network or Cache Storage, sha256, engine build) / ORT import -> session created; cold = fresh profile, warm = page reloaded in the same profile\n")
	met := func(ok bool) string {
		if ok {
			return "met"
		}
		return "NOT met"
	}
	p("- goal (page worker, default engine): median decoded -> drawn <= %d ms: %s ms, %s; wasm heap < 500 MB while screening: %.0f MB, %s\n\n",
		goalMedianMS, ms(pm), met(pm <= goalMedianMS), page.peakWasm/1e6, met(page.peakWasm > 0 && page.peakWasm < goalWasmBytes))

	p("| image | page ms | onnxruntime-web ms | page P | onnxruntime-web P | \\|dP\\| |")
	if len(old.results) > 0 {
		p(" onnx-go ms | onnx-go P |")
	}
	p("\n|---|---|---|---|---|---|")
	if len(old.results) > 0 {
		p("---|---|")
	}
	p("\n")
	for i, im := range imgs {
		if i >= len(page.results) || i >= len(ort.results) {
			break
		}
		a, r := page.results[i], ort.results[i]
		p("| %s | %s | %s | %.6f | %.6f | %.1e |", im.Name, ms(a.MS), ms(r.MS), a.Prob, r.Prob, math.Abs(a.Prob-r.Prob))
		if len(old.results) > 0 {
			if i < len(old.results) {
				p(" %s | %.6f |", ms(old.results[i].MS), old.results[i].Prob)
			} else {
				p(" | |")
			}
		}
		p("\n")
	}
	return b.String()
}
