package web

import (
	"fmt"

	"github.com/maxence-charriere/go-app/v9/pkg/app"
)

func untrainedBanner() app.UI {
	return app.Div().Class("banner").ID("untrained-banner").Text("untrained demonstration model: outputs are meaningless")
}

// insecureNotice replaces the page when it is not in a secure context, saying what to do.
func insecureNotice() app.UI {
	origin := app.Window().Get("location").Get("origin").String()
	return app.Section().Class("notice").ID("insecure-context").Body(
		app.H2().Text("This page needs HTTPS"),
		app.P().Text("pneumoscan keeps the model and the app on this device (Cache Storage and a service worker), and browsers allow "+
			"those only on https:// addresses or on localhost. "+origin+" is neither, so nothing can be screened here."),
		app.P().Text("Ask whoever runs the server to start it with HTTPS, for example: make run ADDR=0.0.0.0:8443 TLS_DIR=.cache/tls "+
			"TLS_HOSTS=<this host's name>, then open https://<this host's name>:8443 and trust its certificate after checking the "+
			"fingerprint the server logs. On the server machine itself, http://127.0.0.1:8080 works as it is."),
	)
}

// updateBanner offers the new version go-app's service worker has downloaded.
func updateBanner() app.UI {
	return app.Div().Class("update").ID("update-ready").Body(
		app.Text("A new version of pneumoscan is ready. "),
		app.Button().Text("Reload").OnClick(func(ctx app.Context, e app.Event) { ctx.Reload() }),
	)
}

func notice(accept app.EventHandler) app.UI {
	return app.Section().Class("notice").ID("notice").Body(
		app.H2().Text("Research use only, not for diagnosis"),
		app.P().Text("pneumoscan is a research tool. Its output is not a medical diagnosis and must not be used to make clinical decisions. "+
			"Images never leave this device: the model runs in your browser."),
		app.Button().ID("accept-notice").Text("I understand").OnClick(accept),
	)
}

func modelLoader(m modelState) app.UI {
	switch {
	case m.err != "":
		return app.Div().Class("model-error").ID("model-error").Text(m.err)
	case m.ready:
		return app.Div().Class("model-ready").ID("model-ready").Text("Model ready.")
	}
	label := m.stage
	bar := app.Progress().ID("model-progress")
	if m.total > 0 {
		bar = bar.Max(m.total).Value(m.loaded)
		label = fmt.Sprintf("%s: %.1f / %.1f MB", m.stage, m.loaded/1e6, m.total/1e6)
	}
	return app.Div().Class("loader").Body(
		app.Label().For("model-progress").Text("Loading model, "+label),
		bar,
	)
}

func dropZone(onFiles, onDrop app.EventHandler) app.UI {
	return app.Div().Class("dropzone-wrap").Body(
		app.Label().Class("dropzone").ID("dropzone").
			On("dragover", func(ctx app.Context, e app.Event) { e.PreventDefault() }).
			On("drop", onDrop).
			Body(
				app.Span().Text("Drop chest X-rays or folders of them here (DICOM, JPEG, PNG, TIFF, BMP, GIF, WebP), or click to choose files"),
				app.Input().Type("file").ID("file-input").Accept(".dcm,.dicom,application/dicom,image/jpeg,image/png,image/tiff,image/bmp,image/gif,image/webp").Multiple(true).OnChange(onFiles),
			),
		// A folder is picked with its subfolders (webkitdirectory); its hidden and system
		// files are skipped (folders.go).
		app.Label().Class("folder-pick").For("folder-input").Body(
			app.Text("Or choose a whole folder (subfolders included): "),
			app.Input().Type("file").ID("folder-input").Attr("webkitdirectory", true).Multiple(true).OnChange(onFiles),
		),
	)
}

func footer(m modelState) app.UI {
	model := "model not loaded"
	if m.ready {
		sha := m.sha256
		if len(sha) > 12 {
			sha = sha[:12]
		}
		model = fmt.Sprintf("model %s %s, sha256 %s", m.name, m.version, sha)
	}
	return app.Footer().Class("footer").Body(
		app.Span().ID("model-info").Text(model),
		app.Text(" · "),
		app.A().ID("model-card-link").Href(ModelCardPage).Text("model card"),
		app.Span().Text(" · research use only, not for diagnosis"),
	)
}
