package web

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/maxence-charriere/go-app/v9/pkg/app"
)

// ModelCard is the model card view (ModelCardPage): what the model file says about itself (its
// metadata, shown in tables here) and the Markdown card that ships with it (rendered to HTML
// by the site generator), both read from ModelCardData. Nothing in it is written in Go: a
// different model brings its own figures and its own card.
type ModelCard struct {
	app.Compo

	loaded bool
	err    string
	data   modelCardData
}

// modelCardData is server/site.ModelCard.
type modelCardData struct {
	SHA256   string    `json:"sha256"`
	Metadata modelInfo `json:"metadata"`
	Document string    `json:"document"`
	HTML     string    `json:"html"`
}

func (mc *ModelCard) OnMount(ctx app.Context) {
	if !app.IsClient {
		return
	}
	fetchText(ModelCardData, func(text string, err error) {
		ctx.Dispatch(func(app.Context) {
			mc.loaded = true
			if err == nil {
				err = json.Unmarshal([]byte(text), &mc.data)
			}
			if err != nil {
				mc.err = fmt.Sprintf("the model card cannot be read: %v", err)
			}
		})
	})
}

// fetchText GETs a file of the site with the browser's fetch, calling done on the JS event
// loop (Go's net/http would grow app.wasm for one request).
func fetchText(url string, done func(string, error)) {
	var onResp, onText, onErr app.Func
	release := func() { onResp.Release(); onText.Release(); onErr.Release() }
	onErr = app.FuncOf(func(this app.Value, args []app.Value) any {
		defer release()
		done("", fmt.Errorf("%s", args[0].Call("toString").String()))
		return nil
	})
	onText = app.FuncOf(func(this app.Value, args []app.Value) any {
		defer release()
		done(args[0].String(), nil)
		return nil
	})
	onResp = app.FuncOf(func(this app.Value, args []app.Value) any {
		r := args[0]
		if !r.Get("ok").Bool() {
			defer release()
			done("", fmt.Errorf("HTTP %d for %s", r.Get("status").Int(), url))
			return nil
		}
		r.Call("text").Call("then", onText, onErr)
		return nil
	})
	app.Window().Call("fetch", url).Call("then", onResp, onErr)
}

func (mc *ModelCard) Render() app.UI {
	var body app.UI = app.P().Class("stage").Text("Loading the model card…")
	switch {
	case mc.err != "":
		body = app.P().Class("model-error").ID("model-card-error").Text(mc.err)
	case mc.loaded:
		body = mc.card()
	}
	return app.Div().Class("page model-card").DataSet("client", app.IsClient).Body(
		app.Header().Class("top").Body(
			app.H1().Text("pneumoscan: model card"),
			app.P().Class("tagline").Body(app.A().Href("/").Text("Back to screening")),
		),
		body,
		app.Footer().Class("footer").Body(app.Span().Text("research use only, not for diagnosis")),
	)
}

func (mc *ModelCard) card() app.UI {
	m, d := mc.data.Metadata, mc.data
	trained := "trained"
	if !m.Trained {
		trained = "untrained demonstration model: its outputs are meaningless"
	}
	var doc app.UI = app.P().Class("card-document-missing").Text("No model card document ships with this model: only what its file records is shown above.")
	if d.HTML != "" {
		doc = app.Raw(d.HTML) // rendered and made safe by the site generator (server/site)
	}
	return app.Div().ID("model-card").DataSet("sha256", d.SHA256).Body(
		app.H2().Text(m.Name+" "+m.Version),
		app.P().Text(fmt.Sprintf("%s · model file sha256 %s", trained, d.SHA256)),
		app.P().Class("population").ID("card-population").Text(populationText(m)),
		app.H3().Text("Operating points"),
		app.Table().Class("figures").ID("card-operating").Body(
			app.THead().Body(app.Tr().Body(
				app.Th().Text("operating point"), app.Th().Text("threshold"), app.Th().Text("chosen for"),
				app.Th().Text("validation"), app.Th().Text("test"), app.Th().Text("indeterminate band"),
			)),
			app.TBody().Body(app.Range(m.Thresholds).Slice(func(i int) app.UI {
				t := m.Thresholds[i]
				name := t.Name
				if t.Name == m.Operating {
					name += " (the model's default)"
				}
				band := "none"
				if t.Indeterminate > 0 {
					band = fmt.Sprintf("%.2f to %.2f", t.Value-t.Indeterminate, t.Value+t.Indeterminate)
				}
				return app.Tr().Body(
					app.Td().Text(name), app.Td().Text(fmt.Sprintf("%.2f", t.Value)), app.Td().Text(t.Criterion),
					app.Td().Text(ratesDetail(t.Validation)), app.Td().Text(ratesDetail(t.Test)), app.Td().Text(band),
				)
			})),
		),
		app.H3().Text("Measured"),
		app.Ul().Class("figures").ID("card-metrics").Body(app.Range(measured(m)).Slice(func(i int) app.UI {
			return app.Li().Text(measured(m)[i])
		})),
		app.P().Class("about").Text(m.Description),
		doc,
	)
}

// ratesDetail is one set of rates with the counts behind them and, where the counts are
// recorded, 95% Wilson intervals: a few hundred films leave several points of doubt.
func ratesDetail(r *rates) string {
	if r == nil {
		return "not recorded"
	}
	if r.Pneumonia == 0 || r.Normal == 0 {
		return fmt.Sprintf("sensitivity %s, specificity %s (%d films)", percent(r.Sensitivity), percent(r.Specificity), r.Images)
	}
	tp, tn := int(math.Round(r.Sensitivity*float64(r.Pneumonia))), int(math.Round(r.Specificity*float64(r.Normal)))
	return fmt.Sprintf("sensitivity %s (%s; %d of %d pneumonia films), specificity %s (%s; %d of %d normal films)",
		percent(r.Sensitivity), wilson(tp, r.Pneumonia), tp, r.Pneumonia, percent(r.Specificity), wilson(tn, r.Normal), tn, r.Normal)
}

// wilson is the 95% Wilson score interval of k successes in n, as whole percentages. Unlike
// the normal approximation it stays inside [0, 100%] and is fair near 0 and 1, where
// sensitivities live.
func wilson(k, n int) string {
	const z = 1.959963984540054
	p, nf := float64(k)/float64(n), float64(n)
	centre := (p + z*z/(2*nf)) / (1 + z*z/nf)
	half := z * math.Sqrt(p*(1-p)/nf+z*z/(4*nf*nf)) / (1 + z*z/nf)
	return fmt.Sprintf("95%% CI %s-%s", percent(max(0, centre-half)), percent(min(1, centre+half))) // rounding can leave 0 a hair below zero
}

// measured lists the model's recorded figures in words: the AUCs with their intervals, the
// image counts, the calibration error, then any other metric under its own name.
func measured(m modelInfo) []string {
	mt := m.Metrics
	var out []string
	seen := map[string]bool{}
	use := func(keys ...string) bool {
		for _, k := range keys {
			if _, ok := mt[k]; !ok {
				return false
			}
		}
		for _, k := range keys {
			seen[k] = true
		}
		return true
	}
	for _, split := range []struct{ prefix, name string }{{"val_", "validation"}, {"test_", "test"}} {
		p := split.prefix
		if use(p+"auc", p+"auc_ci_lo", p+"auc_ci_hi") {
			level := "95%"
			if use(p + "auc_ci_level") {
				level = percent(mt[p+"auc_ci_level"])
			}
			out = append(out, fmt.Sprintf("%s ROC-AUC %.3f (%s CI %.3f-%.3f)", split.name, mt[p+"auc"], level, mt[p+"auc_ci_lo"], mt[p+"auc_ci_hi"]))
		}
		if use(p + "images") {
			out = append(out, fmt.Sprintf("%s images: %.0f", split.name, mt[p+"images"]))
		}
		if use(p + "ece") {
			out = append(out, fmt.Sprintf("%s expected calibration error: %.2f", split.name, mt[p+"ece"]))
		}
	}
	if use("train_images") {
		out = append(out, fmt.Sprintf("training images: %.0f", mt["train_images"]))
	}
	var rest []string
	for k := range mt {
		if !seen[k] {
			rest = append(rest, k)
		}
	}
	sort.Strings(rest)
	for _, k := range rest {
		out = append(out, fmt.Sprintf("%s: %.4g", strings.ReplaceAll(k, "_", " "), mt[k]))
	}
	if len(out) == 0 {
		out = append(out, "The model file records no measured figures.")
	}
	return out
}
