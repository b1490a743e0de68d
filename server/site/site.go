// Package site generates pneumoscan's static website: go-app's generated pages plus the two
// wasm binaries, the page's assets, Go's own wasm_exec.js, the icons, the model stored under
// its sha256 with a small manifest the inference worker reads, and the model card's data (the
// model's metadata and its Markdown card, x.md beside x.onnx, rendered to HTML).
package site

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"pneumoscan/atomicfile"
	"regexp"
	"runtime"
	"slices"
	"strings"

	"github.com/maxence-charriere/go-app/v9/pkg/app"

	"pneumoscan/web"
)

// Options says where the inputs are and where the site goes.
type Options struct {
	Dir        string // output directory, e.g. "static"
	AppWasm    string // built wasm/app
	WorkerWasm string // built wasm/worker
	// RefWorkerWasm is the built wasm/refworker (onnx-go), fetched by the page on request only;
	// it is outside go-app's cache and so outside the app version.
	RefWorkerWasm string
	Model         string // the ONNX model file
	// WasmExec is the wasm_exec.js matching the Go that built the binaries; empty: the one
	// in `go env GOROOT`.
	WasmExec string
}

// ModelManifest is static/web/model.json: where the worker finds the model and what it must hash to.
type ModelManifest struct {
	URL    string `json:"url"`
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
}

// Result describes a generated site.
type Result struct {
	Version string
	Model   ModelManifest
}

// Generate writes the site into o.Dir, replacing what an earlier run wrote there.
func Generate(o Options) (Result, error) {
	if o.WasmExec == "" {
		p, err := goWasmExec()
		if err != nil {
			return Result{}, err
		}
		o.WasmExec = p
	}
	webDir := filepath.Join(o.Dir, "web")
	if err := os.MkdirAll(filepath.Join(webDir, "models"), 0o755); err != nil {
		return Result{}, err
	}

	model, modelData, err := copyModel(o.Model, webDir)
	if err != nil {
		return Result{}, err
	}
	card, err := modelCard(o.Model, modelData, model.SHA256)
	if err != nil {
		return Result{}, err
	}
	manifest, err := json.MarshalIndent(model, "", "  ")
	if err != nil {
		return Result{}, err
	}

	// Every file that ends up in go-app's cache feeds the version, so any rebuild that
	// changes one of them makes the service worker fetch the new app.
	version := sha256.New()
	put := func(name string, data []byte) error {
		fmt.Fprintf(version, "%s %d\n", name, len(data))
		version.Write(data)
		return writeFileAtomic(filepath.Join(o.Dir, filepath.FromSlash(name)), data)
	}
	for _, f := range []struct{ src, dst string }{
		{o.AppWasm, "web/app.wasm"}, {o.WorkerWasm, "web/worker.wasm"}, {o.WasmExec, "wasm_exec.js"},
	} {
		data, err := os.ReadFile(f.src)
		if err != nil {
			return Result{}, fmt.Errorf("site: %w", err)
		}
		if err := put(f.dst, data); err != nil {
			return Result{}, err
		}
	}
	ref, err := os.ReadFile(o.RefWorkerWasm)
	if err != nil {
		return Result{}, fmt.Errorf("site: the reference worker: %w", err)
	}
	if err := writeFileAtomic(filepath.Join(o.Dir, "web", "refworker.wasm"), ref); err != nil {
		return Result{}, err
	}
	if err := put("web/model.json", manifest); err != nil {
		return Result{}, err
	}
	if err := put(strings.TrimPrefix(web.ModelCardData, "/"), card); err != nil {
		return Result{}, err
	}
	err = fs.WalkDir(web.Assets, "assets", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := web.Assets.ReadFile(p)
		if err != nil {
			return err
		}
		return put("web/"+strings.TrimPrefix(p, "assets/"), data)
	})
	if err != nil {
		return Result{}, fmt.Errorf("site: assets: %w", err)
	}
	ic := icons()
	for _, name := range slices.Sorted(maps.Keys(ic)) { // sorted: the version must be reproducible
		if err := put(name, ic[name]); err != nil {
			return Result{}, err
		}
	}
	if err := put(strings.TrimPrefix(web.HeatmapLegend, "/"), heatmapLegend()); err != nil {
		return Result{}, err
	}

	v := hex.EncodeToString(version.Sum(nil))[:16]
	web.RegisterRoutes()
	if err := app.GenerateStaticWebsite(o.Dir, web.NewHandler(v)); err != nil {
		return Result{}, fmt.Errorf("site: go-app generation: %w", err)
	}
	if err := fixPages(o.Dir); err != nil {
		return Result{}, err
	}
	// go-app writes its own copy of wasm_exec.js; the binaries were built by this Go, so
	// serve this Go's file (the runtime's imports must match the JS glue exactly).
	exec, err := os.ReadFile(o.WasmExec)
	if err != nil {
		return Result{}, err
	}
	if err := writeFileAtomic(filepath.Join(o.Dir, "wasm_exec.js"), exec); err != nil {
		return Result{}, err
	}
	return Result{Version: v, Model: model}, nil
}

// ogURL matches the address of the temporary server go-app renders pages from (it fills
// og:url with it); that address means nothing on the real site.
var ogURL = regexp.MustCompile(`http://127\.0\.0\.1:[0-9]+/`)

// noZoom is the part of go-app's viewport meta tag that forbids pinch-zoom
// ("maximum-scale=1, user-scalable=0"): a reader must be able to zoom into a film and its
// text (WCAG 1.4.4), so every generated page gets the tag without it.
var noZoom = regexp.MustCompile(`,\s*maximum-scale=1(\.0)?|,\s*user-scalable=(0|no)`)

// fixPages rewrites every generated page: og:url without the temporary server's address,
// and the viewport tag without its zoom limit.
func fixPages(dir string) error {
	pages, err := filepath.Glob(filepath.Join(dir, "*.html"))
	if err != nil {
		return err
	}
	for _, name := range pages {
		b, err := os.ReadFile(name)
		if err != nil {
			return err
		}
		b = ogURL.ReplaceAll(b, []byte("/"))
		if err := writeFileAtomic(name, noZoom.ReplaceAll(b, nil)); err != nil {
			return err
		}
	}
	return nil
}

// copyModel stores the model as web/models/<sha256>.onnx and drops older models; it returns
// the model's bytes as well.
func copyModel(src, webDir string) (ModelManifest, []byte, error) {
	data, err := os.ReadFile(src)
	if err != nil {
		return ModelManifest{}, nil, fmt.Errorf("site: model: %w", err)
	}
	if len(data) == 0 {
		return ModelManifest{}, nil, fmt.Errorf("site: model %s is empty", src)
	}
	sum := sha256.Sum256(data)
	m := ModelManifest{SHA256: hex.EncodeToString(sum[:]), Size: int64(len(data))}
	name := m.SHA256 + ".onnx"
	m.URL = web.ModelsDir + name
	dir := filepath.Join(webDir, "models")
	dst := filepath.Join(dir, name)
	if st, err := os.Stat(dst); err != nil || st.Size() != m.Size {
		if err := writeFileAtomic(dst, data); err != nil {
			return ModelManifest{}, nil, err
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return ModelManifest{}, nil, err
	}
	for _, e := range entries {
		if e.Name() != name {
			if err := os.Remove(filepath.Join(dir, e.Name())); err != nil {
				return ModelManifest{}, nil, err
			}
		}
	}
	return m, data, nil
}

// writeFileAtomic makes the folder, then writes atomically, so a server reading the
// directory never sees half a file.
func writeFileAtomic(name string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		return err
	}
	return atomicfile.Write(name, data)
}

func goWasmExec() (string, error) {
	root := ""
	if out, err := exec.Command("go", "env", "GOROOT").Output(); err == nil {
		root = strings.TrimSpace(string(out))
	} else {
		root = runtime.GOROOT() // no go command on PATH: the toolchain this was built with
	}
	p := filepath.Join(root, "lib", "wasm", "wasm_exec.js")
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("site: Go's wasm_exec.js not found: %w", err)
	}
	return p, nil
}
