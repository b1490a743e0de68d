// Command native is `make bench`: one image at a time on one thread, the project's convnet
// engine with each sgemm micro-kernel this build and CPU have (scalar, and with
// GOEXPERIMENT=simd the SIMD ones) against onnxruntime-node with one intra-op thread, on the
// same input tensors, and prints a Markdown table with the CPU model.
//
// Both sides time the model only: input tensor -> P(pneumonia) and features (Grad-CAM and
// decoding are the page's and bench-web's business). Each image runs -runs times after a
// warm-up and counts with its median; the table gives the median and p90 over the images.
// onnxruntime-node is installed by the Makefile into node_modules/ for this benchmark only.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"time"

	"pneumoscan/atomicfile"
	"pneumoscan/bench/internal/benchimages"
	"pneumoscan/convnet"
	"pneumoscan/internal/benchstat"
	"pneumoscan/model"
	"pneumoscan/modelfile"
	"pneumoscan/sgemm"
)

// probTolerance: both engines run the same graph on the same tensor; a larger difference
// means they did not.
const probTolerance = 1e-4

type options struct {
	model, data, out, ort, node string
	n, runs                     int
}

func main() {
	var o options
	flag.StringVar(&o.model, "model", "models/default.onnx", "model file")
	flag.StringVar(&o.data, "data", "../shared/data/chest_xray/test", "image folder: class subfolders (NORMAL, PNEUMONIA) or images; testdata/xray works without the data set")
	flag.IntVar(&o.n, "n", 6, "images")
	flag.IntVar(&o.runs, "runs", 3, "timed runs per image (after one warm-up); an image counts with its median")
	flag.StringVar(&o.ort, "ort", "node_modules/onnxruntime-node", "the onnxruntime-node npm package; empty: skip it")
	flag.StringVar(&o.node, "node", "node", "node.js")
	flag.StringVar(&o.out, "out", "runs/bench-native.md", "also write the table here")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("bench: ")
	if o.n < 1 || o.runs < 1 {
		log.Fatal("want -n >= 1 and -runs >= 1")
	}
	if err := run(o); err != nil {
		log.Fatal(err)
	}
}

type row struct {
	engine, kernel string
	ms             []float64 // per image
	probs          []float64
}

func run(o options) error {
	machine, started := benchstat.ReadMachine(), time.Now()
	mp, err := modelfile.ReadFile(o.model)
	if err != nil {
		return err
	}
	md, err := model.ParseMetadata(mp.GetMetadataProps())
	if err != nil {
		return err
	}
	imgs, err := benchimages.PickImages(o.data, o.n)
	if err != nil {
		return err
	}
	for i := range imgs {
		if err := imgs[i].Prepare(md.Preprocess); err != nil {
			return err
		}
	}
	// One thread for Go as for onnxruntime: the engine never starts goroutines, and this keeps
	// the garbage collector's background work off a second core too.
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	var rows []row
	for _, kern := range sgemm.Kernels() {
		if err := sgemm.Use(kern); err != nil {
			return err
		}
		r, err := timeConvnet(o, imgs, kern)
		if err != nil {
			return err
		}
		rows = append(rows, r)
	}
	ortRow, ortNote := row{}, ""
	if o.ort != "" {
		ortRow, ortNote, err = timeORT(o, imgs)
		if err != nil {
			return err
		}
	}
	report := format(o, machine, started, imgs, rows, ortRow, ortNote)
	fmt.Print(report)
	if o.out != "" {
		if err := os.MkdirAll(filepath.Dir(o.out), 0o755); err != nil {
			return err
		}
		return atomicfile.Write(o.out, []byte(report))
	}
	return nil
}

func timeConvnet(o options, imgs []benchimages.Image, kern string) (row, error) {
	mp, err := modelfile.ReadFile(o.model) // Canonicalize rewrites it in place: a fresh copy per load
	if err != nil {
		return row{}, err
	}
	net, err := convnet.Engine.Load(mp)
	if err != nil {
		return row{}, err
	}
	r := row{engine: "convnet", kernel: kern}
	for i, im := range imgs {
		fmt.Fprintf(os.Stderr, "bench: convnet/%s image %d/%d\n", kern, i+1, len(imgs))
		p, _, err := net.Run(im.Input) // warm-up
		if err != nil {
			return row{}, err
		}
		times := make([]float64, o.runs)
		for k := range times {
			t0 := time.Now()
			if p, _, err = net.Run(im.Input); err != nil {
				return row{}, err
			}
			times[k] = float64(time.Since(t0).Microseconds()) / 1000
		}
		r.ms = append(r.ms, benchstat.Median(times))
		r.probs = append(r.probs, float64(p))
	}
	runtime.GC()
	debug.FreeOSMemory()
	return r, nil
}

func timeORT(o options, imgs []benchimages.Image) (row, string, error) {
	pkg, err := os.ReadFile(filepath.Join(o.ort, "package.json"))
	if err != nil {
		return row{}, "", fmt.Errorf("onnxruntime-node not installed (make bench installs it; -ort '' skips it): %w", err)
	}
	var meta struct{ Version string }
	if err := json.Unmarshal(pkg, &meta); err != nil {
		return row{}, "", err
	}
	dir, err := os.MkdirTemp("", "bench-native")
	if err != nil {
		return row{}, "", err
	}
	defer os.RemoveAll(dir)
	var all []byte
	for _, im := range imgs {
		all = append(all, im.Tensor...)
	}
	tensors := filepath.Join(dir, "tensors.bin")
	if err := os.WriteFile(tensors, all, 0o644); err != nil {
		return row{}, "", err
	}
	script, err := filepath.Abs("bench/native/ort.mjs")
	if err != nil {
		return row{}, "", err
	}
	modelPath, err := filepath.Abs(o.model)
	if err != nil {
		return row{}, "", err
	}
	fmt.Fprintf(os.Stderr, "bench: onnxruntime-node %s on %d images\n", meta.Version, len(imgs))
	cmd := exec.Command(o.node, script, modelPath, tensors, fmt.Sprint(len(imgs)), fmt.Sprint(o.runs))
	cmd.Dir = filepath.Dir(filepath.Dir(filepath.Clean(o.ort))) // node_modules/..: where require looks
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return row{}, "", fmt.Errorf("onnxruntime-node: %w", err)
	}
	var res struct {
		MS    []float64 `json:"ms"`
		Probs []float64 `json:"probs"`
	}
	if err := json.Unmarshal(out, &res); err != nil || len(res.MS) != len(imgs) {
		return row{}, "", fmt.Errorf("onnxruntime-node printed %q: %v", strings.TrimSpace(string(out)), err)
	}
	return row{engine: "onnxruntime-node " + meta.Version, kernel: "its own (MLAS)", ms: res.MS, probs: res.Probs},
		"1 intra-op thread, 1 inter-op thread, sequential, graph optimizations all", nil
}

func format(o options, m benchstat.Machine, started time.Time, imgs []benchimages.Image, rows []row, ortRow row, ortNote string) string {
	var b strings.Builder
	p := func(f string, a ...any) { fmt.Fprintf(&b, f, a...) }
	p("## bench (native, one image, one thread) %s\n\n", started.Format("2006-01-02 15:04 MST"))
	p("- machine: %s, %d cores, load average at start %s; %s %s/%s\n", m.CPU, m.Cores, m.Load, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	p("- sgemm micro-kernels in this build on this CPU: %s (GOEXPERIMENT=%q)\n", strings.Join(sgemm.Kernels(), ", "), os.Getenv("GOEXPERIMENT"))
	p("- model: %s; %d images from %s; each image: 1 warm-up + %d timed runs, its median counts\n", o.model, len(imgs), o.data, o.runs)
	if ortNote != "" {
		p("- onnxruntime-node: %s\n", ortNote)
	}
	p("\n| engine | sgemm kernel | images | median ms | p90 ms | max abs dP vs onnxruntime |\n|---|---|---|---|---|---|\n")
	all := rows
	if ortRow.engine != "" {
		all = append(all, ortRow)
	}
	for _, r := range all {
		dp := "-"
		if ortRow.engine != "" {
			d := 0.0
			for i := range r.probs {
				d = max(d, math.Abs(r.probs[i]-ortRow.probs[i]))
			}
			dp = fmt.Sprintf("%.2g", d)
			if d > probTolerance {
				dp += " (ABOVE 1e-4)"
			}
		}
		p("| %s | %s | %d | %.0f | %.0f | %s |\n", r.engine, r.kernel, len(r.ms), benchstat.Median(r.ms), benchstat.NearestRank(r.ms, 0.9), dp)
	}
	if ortRow.engine != "" && len(rows) > 0 {
		best := rows[0] // Kernels lists the best first
		p("\nratio convnet (%s) / onnxruntime-node (medians): %.2fx\n", best.kernel, benchstat.Median(best.ms)/benchstat.Median(ortRow.ms))
	}
	return b.String()
}
