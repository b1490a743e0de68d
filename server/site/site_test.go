package site

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"image/png"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"pneumoscan/gradcam"
	"pneumoscan/internal/testmodel"
	"pneumoscan/model"
	"pneumoscan/modelfile"
)

// tinyModel is the tiny contract model, its version set to version so that two calls give
// two different model files.
func tinyModel(t *testing.T, version string) string {
	t.Helper()
	b, _, err := modelfile.RewriteMetadata(testmodel.Tiny(t), func(m *model.Metadata) error { m.Version = version; return nil })
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func fakeInputs(t *testing.T, model string) Options {
	t.Helper()
	in := t.TempDir()
	o := Options{Dir: filepath.Join(t.TempDir(), "static"), AppWasm: filepath.Join(in, "app.wasm"),
		WorkerWasm: filepath.Join(in, "worker.wasm"), RefWorkerWasm: filepath.Join(in, "refworker.wasm"), Model: filepath.Join(in, "m.onnx")}
	for name, data := range map[string]string{o.AppWasm: "\x00asm app", o.WorkerWasm: "\x00asm worker", o.RefWorkerWasm: "\x00asm reference", o.Model: model} {
		if err := os.WriteFile(name, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return o
}

func TestGenerate(t *testing.T) {
	one := tinyModel(t, "one")
	o := fakeInputs(t, one)
	res, err := Generate(o)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(one))
	if res.Model.SHA256 != hex.EncodeToString(sum[:]) || res.Model.URL != "/web/models/"+res.Model.SHA256+".onnx" || res.Model.Size != int64(len(one)) {
		t.Errorf("manifest %+v", res.Model)
	}
	var m ModelManifest
	b, err := os.ReadFile(filepath.Join(o.Dir, "web", "model.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &m); err != nil || m != res.Model {
		t.Errorf("model.json = %s (%v), want %+v", b, err, res.Model)
	}
	for _, f := range []string{"index.html", "app.js", "app-worker.js", "manifest.webmanifest", "web/app.wasm", "web/worker.wasm",
		"web/worker.js", "web/pneumoscan.css", "web/model-card.json", "model.html", "web/icon-192.png", "web/icon-512.png", "web/icon.svg", "web/heatmap-legend.png", "web" + res.Model.URL[4:]} {
		if _, err := os.Stat(filepath.Join(o.Dir, f)); err != nil {
			t.Errorf("missing %s: %v", f, err)
		}
	}
	// Go's own wasm_exec.js, not go-app's copy.
	own, err := goWasmExec()
	if err != nil {
		t.Fatal(err)
	}
	want, _ := os.ReadFile(own)
	got, _ := os.ReadFile(filepath.Join(o.Dir, "wasm_exec.js"))
	if !bytes.Equal(got, want) {
		t.Error("static/wasm_exec.js is not the Go toolchain's")
	}
	// Nothing may point at another origin (go-app's default icons do).
	for _, f := range []string{"index.html", "manifest.webmanifest", "app.js", "app-worker.js"} {
		b, _ := os.ReadFile(filepath.Join(o.Dir, f))
		if bytes.Contains(b, []byte("https://")) || bytes.Contains(b, []byte("http://")) {
			t.Errorf("%s refers to another origin: %s", f, regexp.MustCompile(`https?://[^"' <>]*`).FindAll(b, -1))
		}
	}
	sw, _ := os.ReadFile(filepath.Join(o.Dir, "app-worker.js"))
	if testing.Verbose() {
		idx, _ := os.ReadFile(filepath.Join(o.Dir, "index.html"))
		t.Log(string(idx))
	}
	for _, r := range []string{"/web/worker.js", "/web/worker.wasm", "/wasm_exec.js", "/web/model.json", "/web/app.wasm", "/web/model-card.json", "/model.html", "/web/heatmap-legend.png"} {
		if !strings.Contains(string(sw), `"`+r+`"`) {
			t.Errorf("the service worker does not cache %s", r)
		}
	}
	// Pinch-zoom stays allowed on every page (go-app's viewport tag forbids it).
	pages, _ := filepath.Glob(filepath.Join(o.Dir, "*.html"))
	if len(pages) < 2 {
		t.Errorf("generated pages %q: want index.html and model.html at least", pages)
	}
	for _, name := range pages {
		b, _ := os.ReadFile(name)
		// go-app writes a tag's attributes in no fixed order: find the tag, then its content.
		var vp [][]byte
		if tag := regexp.MustCompile(`<meta [^>]*name="viewport"[^>]*>`).Find(b); tag != nil {
			vp = regexp.MustCompile(`content="([^"]*)"`).FindSubmatch(tag)
		}
		if vp == nil || !strings.Contains(string(vp[1]), "width=device-width") ||
			strings.Contains(string(vp[1]), "user-scalable") || strings.Contains(string(vp[1]), "maximum-scale") {
			t.Errorf("%s: viewport meta %q, want width=device-width and no zoom limit", filepath.Base(name), vp)
		}
		if regexp.MustCompile(`http://127\.0\.0\.1:[0-9]+/`).Match(b) {
			t.Errorf("%s names the generator's temporary server", filepath.Base(name))
		}
	}
	// The reference engine is fetched on request only: it must not grow the default download.
	if _, err := os.Stat(filepath.Join(o.Dir, "web", "refworker.wasm")); err != nil {
		t.Errorf("missing web/refworker.wasm: %v", err)
	}
	if strings.Contains(string(sw), "refworker.wasm") {
		t.Error("the reference worker must not be in go-app's cache (it would grow every visitor's download)")
	}
	if strings.Contains(string(sw), ".onnx") {
		t.Error("the model must not be in go-app's versioned cache")
	}

	// A new model replaces the old one and changes the version; an unchanged input keeps it.
	again, err := Generate(o)
	if err != nil || again.Version != res.Version {
		t.Errorf("regenerating the same inputs: version %s -> %s (%v)", res.Version, again.Version, err)
	}
	if err := os.WriteFile(o.Model, []byte(tinyModel(t, "two")), 0o644); err != nil {
		t.Fatal(err)
	}
	next, err := Generate(o)
	if err != nil {
		t.Fatal(err)
	}
	if next.Version == res.Version {
		t.Error("a new model did not change the app version")
	}
	entries, _ := os.ReadDir(filepath.Join(o.Dir, "web", "models"))
	if len(entries) != 1 || entries[0].Name() != next.Model.SHA256+".onnx" {
		t.Errorf("models dir holds %v, want only the new model", entries)
	}
}

func TestGenerateMissingModel(t *testing.T) {
	o := fakeInputs(t, tinyModel(t, "1"))
	o.Model = filepath.Join(t.TempDir(), "absent.onnx")
	if _, err := Generate(o); err == nil || !strings.Contains(err.Error(), "absent.onnx") {
		t.Errorf("err = %v, want one naming the missing model", err)
	}
}

// The legend is gradcam's ramp over a mid-gray film: gray at the low end (the overlay leaves
// cold regions untouched), red at the high end, and each column exactly the ramp composited.
func TestHeatmapLegend(t *testing.T) {
	img, err := png.Decode(bytes.NewReader(heatmapLegend()))
	if err != nil {
		t.Fatal(err)
	}
	b := img.Bounds()
	ramp := gradcam.Ramp(b.Dx(), b.Dy())
	for x := 0; x < b.Dx(); x++ {
		r, g, bl, _ := img.At(x, b.Dy()/2).RGBA()
		p := ramp.RGBAAt(x, b.Dy()/2)
		over := func(c uint8) uint32 { return uint32(c) + uint32(0x80)*(255-uint32(p.A))/255 }
		for i, pair := range [][2]uint32{{r >> 8, over(p.R)}, {g >> 8, over(p.G)}, {bl >> 8, over(p.B)}} {
			if d := int(pair[0]) - int(pair[1]); d < -1 || d > 1 {
				t.Fatalf("column %d channel %d: %d, the ramp over gray gives %d", x, i, pair[0], pair[1])
			}
		}
	}
	if r, g, bl, _ := img.At(0, 0).RGBA(); r>>8 != 0x80 || g>>8 != 0x80 || bl>>8 != 0x80 {
		t.Errorf("low end %d,%d,%d: want the film's gray", r>>8, g>>8, bl>>8)
	}
	if r, g, bl, _ := img.At(b.Dx()-1, 0).RGBA(); !(r>>8 > g>>8+60 && g>>8 == bl>>8) {
		t.Errorf("high end %d,%d,%d: want jet's dark red over the gray", r>>8, g>>8, bl>>8)
	}
}
