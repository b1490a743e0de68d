// Package web is the pneumoscan screening page: go-app components shared by the browser
// entry point (wasm/app) and the static-site generator (server/site), which must agree on
// the routes and on the files the service worker caches.
package web

import "github.com/maxence-charriere/go-app/v9/pkg/app"

// Paths of the files the page and its inference worker load, relative to the site root.
const (
	WorkerScript = "/web/worker.js"
	WorkerWasm   = "/web/worker.wasm"
	// RefWorkerWasm is the onnx-go reference engine's worker binary. It is not in
	// CacheableResources: the page fetches it only when the user asks for a cross-check.
	RefWorkerWasm = "/web/refworker.wasm"
	ModelManifest = "/web/model.json"
	// ModelCardData is the model card's data (server/site.ModelCard): the model's metadata
	// and its Markdown card rendered to HTML, written by the site generator.
	ModelCardData = "/web/model-card.json"
	// ModelCardPage is the route of the model card view. go-app writes a route's
	// prerendered page under the route's name, and with the .html in it any static file
	// server (which the service worker's cache list needs) serves it as a page.
	ModelCardPage = "/model.html"
	Stylesheet    = "/web/pneumoscan.css"
	IconSmall     = "/web/icon-192.png"
	IconLarge     = "/web/icon-512.png"
	IconSVG       = "/web/icon.svg"
	// HeatmapLegend is the heatmap's colour ramp, low to high, drawn by the site generator
	// from the colours the worker's heatmaps are drawn with (the page imports no project
	// package, so it never spells them out itself).
	HeatmapLegend = "/web/heatmap-legend.png"
	// ModelsDir holds the model under its sha256; it is not in go-app's versioned cache
	// (the worker keeps it in its own Cache Storage entry).
	ModelsDir = "/web/models/"
)

// RegisterRoutes registers every page of the app; both wasm/app and the generator call it.
func RegisterRoutes() {
	app.Route("/", &Page{})
	app.Route(ModelCardPage, &ModelCard{})
}

// CacheableResources are the files go-app's service worker must cache, beside its own,
// for the page to work offline. The model is deliberately absent (see ModelsDir).
func CacheableResources() []string {
	return []string{WorkerScript, WorkerWasm, ModelManifest, ModelCardData, ModelCardPage, Stylesheet, IconSmall, IconLarge, IconSVG, HeatmapLegend, "/wasm_exec.js"}
}

// NewHandler is the go-app handler the site is generated from; version should change
// whenever any built file changes so the service worker picks up the new app.
func NewHandler(version string) *app.Handler {
	return &app.Handler{
		Name:            "pneumoscan",
		ShortName:       "pneumoscan",
		Title:           "pneumoscan: chest X-ray pneumonia screening (research use only)",
		Description:     "Offline chest X-ray pneumonia screening with a ResNet50 in the browser. Research use only, not for diagnosis.",
		Lang:            "en",
		BackgroundColor: "#ffffff",
		ThemeColor:      "#1f4e79",
		LoadingLabel:    "Loading pneumoscan {progress}%",
		Icon: app.Icon{
			Default:    IconSmall,
			Large:      IconLarge,
			AppleTouch: IconSmall,
			SVG:        IconSVG,
		},
		Styles:             []string{Stylesheet},
		CacheableResources: CacheableResources(),
		Version:            version,
		// Keeps the model's own cache across app versions (see serviceworker.go).
		ServiceWorkerTemplate: serviceWorkerTemplate,
	}
}
